/**
 * The answers the server sends: their headers (CORS, caching, `Vary`), JSON, streamed NDJSON,
 * IPNS records, and errors.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { base36 } from 'multiformats/bases/base36'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { IPNS_DEFAULT_MAX_AGE, MAX_AGE_WITH_RESULTS, MAX_AGE_WITHOUT_RESULTS, MAX_ERROR_MESSAGE, MAX_STALE, PREFLIGHT_MAX_AGE } from './constants.ts'
import { TooManyRequestsError } from './limits.ts'
import { IPNS_RECORD_TYPE, JSON_TYPE, NDJSON_TYPE } from './request.ts'
import type { PeerId } from '@libp2p/interface'

/** What every answer carries so that a page on any origin may read it. */
const CORS = {
  'access-control-allow-origin': '*',
  // the headers a script may read besides the safelisted ones
  'access-control-expose-headers': 'Etag, Retry-After'
}

/** The answer to a CORS preflight (`OPTIONS`): any origin may GET and PUT. */
export function preflight (): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...CORS,
      'access-control-allow-methods': 'GET, PUT, OPTIONS',
      'access-control-allow-headers': 'Accept, Content-Type',
      'access-control-max-age': String(PREFLIGHT_MAX_AGE)
    }
  })
}

/** `Cache-Control` with a freshness of `maxAge` and a stale window of `stale`, in seconds. */
function cacheControl (maxAge: number, stale: number): string {
  return `public, max-age=${maxAge}, stale-while-revalidate=${stale}, stale-if-error=${stale}`
}

/** The headers of a routing answer: CORS, `Vary`, `Last-Modified` now, and the cache window for results or none. */
function routingHeaders (type: string, found: boolean, now: number): Record<string, string> {
  return {
    ...CORS,
    'content-type': type,
    vary: 'Accept',
    'last-modified': new Date(now).toUTCString(),
    'cache-control': cacheControl(found ? MAX_AGE_WITH_RESULTS : MAX_AGE_WITHOUT_RESULTS, MAX_STALE)
  }
}

/** A whole JSON answer: `{ [field]: records }`. */
export function jsonAnswer (field: 'Providers' | 'Peers', records: unknown[], now: number): Response {
  return new Response(JSON.stringify({ [field]: records }), { status: 200, headers: routingHeaders(JSON_TYPE, records.length > 0, now) })
}

/**
 * A streamed NDJSON answer: `first` (undefined: none was found, the body is empty), then every
 * record `rest` yields, one JSON object a line, each sent as it comes. `onEnd` runs once when the
 * stream ends, fails or is cancelled by the caller.
 */
export function ndjsonAnswer (first: unknown, rest: AsyncIterator<unknown>, now: number, onEnd: () => void): Response {
  const headers = routingHeaders(NDJSON_TYPE, first !== undefined, now)
  if (first === undefined) {
    onEnd()
    return new Response(null, { status: 200, headers })
  }
  const encoder = new TextEncoder()
  const line = (record: unknown): Uint8Array => encoder.encode(JSON.stringify(record) + '\n')
  let ended = false
  const end = async (): Promise<void> => {
    if (!ended) {
      ended = true
      onEnd()
      await rest.return?.()
    }
  }
  const body = new ReadableStream<Uint8Array>({
    start (controller) {
      controller.enqueue(line(first))
    },
    async pull (controller) {
      try {
        const next = await rest.next()
        if (next.done === true) {
          await end()
          controller.close()
        } else {
          controller.enqueue(line(next.value))
        }
      } catch {
        // the lookup failed after answers went out: the stream ends with what was sent
        await end()
        controller.close()
      }
    },
    async cancel () {
      await end()
    }
  })
  return new Response(body, { status: 200, headers })
}

/** A content hash of `bytes` for an `Etag`: what the spec asks, derived from the record. */
function etag (bytes: Uint8Array): string {
  return `"${uint8ArrayToString(sha256(bytes).subarray(0, 16), 'base16')}"`
}

/**
 * An IPNS record, cacheable for its TTL but never past its validity: `max-age` is the TTL (60 s
 * when unknown) capped at the validity left, and the stale window covers the rest of it; a
 * record whose validity is over is not stored by caches at all.
 */
export function ipnsAnswer (name: PeerId, record: Uint8Array, times: { ttl: number, expires: number } | undefined, now: number): Response {
  const headers: Record<string, string> = {
    ...CORS,
    'content-type': IPNS_RECORD_TYPE,
    vary: 'Accept',
    etag: etag(record),
    'last-modified': new Date(now).toUTCString(),
    'content-disposition': `attachment; filename="${name.toCID().toString(base36)}.ipns-record"`
  }
  const left = times == null ? 0 : Math.floor((times.expires - now) / 1000)
  if (times == null || left <= 0) {
    headers['cache-control'] = 'no-store'
  } else {
    const ttl = times.ttl > 0 ? Math.floor(times.ttl / 1000) : IPNS_DEFAULT_MAX_AGE
    const maxAge = Math.min(ttl, left)
    headers['cache-control'] = cacheControl(maxAge, left - maxAge)
    headers.expires = new Date(times.expires).toUTCString()
  }
  // a copy: a Response takes bytes over an ArrayBuffer of their own
  return new Response(new Uint8Array(record), { status: 200, headers })
}

/**
 * No IPNS record was found: a 200 that is not a record (IPIP-513: any other content type means
 * "no record"), cached briefly.
 */
export function noIpnsRecord (now: number): Response {
  return new Response('no record found for this name\n', { status: 200, headers: { ...routingHeaders('text/plain; charset=utf-8', false, now) } })
}

/** An IPNS record was published. */
export function published (): Response {
  return new Response(null, { status: 200, headers: { ...CORS, 'cache-control': 'no-store' } })
}

/** An error answer: `status` with its message as text (cut to a bounded length), never cached. */
export function errorAnswer (status: number, message: string, error?: unknown): Response {
  const headers: Record<string, string> = { ...CORS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }
  if (error instanceof TooManyRequestsError) {
    headers['retry-after'] = String(error.retryAfter)
  }
  return new Response(message.slice(0, MAX_ERROR_MESSAGE) + '\n', { status, headers })
}
