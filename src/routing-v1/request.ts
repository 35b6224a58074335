/**
 * Reading a Delegated Routing V1 request: which endpoint its path names and the key in it, which
 * media type its `Accept` header asks for, and its filters. Pure: nothing here waits or touches
 * the network.
 */
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { base64, base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { MAX_FILTER_LENGTH, MAX_FILTERS, ROUTING_V1_PATH } from './constants.ts'
import type { PeerId } from '@libp2p/interface'

/** The media type of JSON answers. */
export const JSON_TYPE = 'application/json'

/** The media type of streamed answers (IPIP-410). */
export const NDJSON_TYPE = 'application/x-ndjson'

/** The media type of an IPNS record. */
export const IPNS_RECORD_TYPE = 'application/vnd.ipfs.ipns-record'

/** What a request asks for, once its path is read. */
export type Route =
  | { endpoint: 'providers', cid: CID }
  | { endpoint: 'peers', peerId: PeerId }
  | { endpoint: 'closest', key: Uint8Array }
  | { endpoint: 'ipns', peerId: PeerId }

/** Why a request cannot be served: the HTTP status to answer and what to tell the caller. */
export class RequestError extends Error {
  /** Always `'RequestError'`. */
  readonly name = 'RequestError'
  /** The HTTP status to answer. */
  readonly status: number

  constructor (status: number, message: string) {
    super(message)
    this.status = status
  }
}

/** Every multibase a CID in a path may come in (base32 and base36 are the usual ones). */
const MULTIBASE = base32.decoder.or(base36.decoder).or(base58btc.decoder).or(base64.decoder).or(base64url.decoder)

/** Reads a CID in any of the multibases above, or a CIDv0. */
export function parseCid (text: string): CID {
  return CID.parse(text, MULTIBASE)
}

/**
 * Reads a peer id: a base58btc multihash (`12D3Koo…`, `Qm…`) or a CID of it (`k51…`, `bafz…`).
 * Like boxo, a CID whose codec is not `libp2p-key` is read by its multihash.
 */
export function parsePeerId (text: string): PeerId {
  if (text.startsWith('1') || text.startsWith('Q')) {
    return peerIdFromString(text)
  }
  return peerIdFromMultihash(parseCid(text).multihash)
}

/**
 * The key of a closest-peers request (IPIP-476): a peer id (base58btc, or a CID) or any CID; a
 * lookup key is the multihash's bytes either way.
 */
function parseKey (text: string): Uint8Array {
  if (text.startsWith('1') || text.startsWith('Q')) {
    try {
      return peerIdFromString(text).toMultihash().bytes
    } catch {
      // a CIDv0 starts with Qm as well
    }
  }
  return parseCid(text).multihash.bytes
}

/** The endpoints: the segments after `/routing/v1/` and how their last one is read. */
const ENDPOINTS: Array<{ path: string[], methods: string[], read(text: string): Route }> = [
  { path: ['providers'], methods: ['GET'], read: (text) => ({ endpoint: 'providers', cid: parseCid(text) }) },
  { path: ['peers'], methods: ['GET'], read: (text) => ({ endpoint: 'peers', peerId: parsePeerId(text) }) },
  { path: ['dht', 'closest', 'peers'], methods: ['GET'], read: (text) => ({ endpoint: 'closest', key: parseKey(text) }) },
  { path: ['ipns'], methods: ['GET', 'PUT'], read: (text) => ({ endpoint: 'ipns', peerId: parsePeerId(text) }) }
]

/**
 * Reads the endpoint and key of a request's path. Throws {@link RequestError}: 400 for a path
 * that is not one of the API's or whose key does not parse (the spec: an unknown path is a 400),
 * 501 for a method the endpoint does not serve (the spec: an unsupported method is a 501).
 *
 * @example
 * ```ts
 * parseRoute('GET', '/routing/v1/providers/bafkrei…')   // { endpoint: 'providers', cid }
 * ```
 */
export function parseRoute (method: string, pathname: string): Route {
  const prefix = `${ROUTING_V1_PATH}/`
  if (!pathname.startsWith(prefix)) {
    throw new RequestError(400, `unknown path: the API lives under ${prefix}`)
  }
  const segments = pathname.slice(prefix.length).split('/')
  for (const endpoint of ENDPOINTS) {
    const { path } = endpoint
    if (segments.length !== path.length + 1 || path.some((segment, i) => segments[i] !== segment)) {
      continue
    }
    if (!endpoint.methods.includes(method)) {
      throw new RequestError(501, `${method} is not supported on ${prefix}${path.join('/')}/: use ${endpoint.methods.join(' or ')}`)
    }
    const text = segments[path.length]
    let decoded: string
    try {
      decoded = decodeURIComponent(text)
    } catch {
      decoded = text
    }
    if (decoded === '') {
      throw new RequestError(400, `the path ${prefix}${path.join('/')}/ needs a key after it`)
    }
    try {
      return endpoint.read(decoded)
    } catch (err: any) {
      throw new RequestError(400, `cannot read ${JSON.stringify(decoded.slice(0, 100))} as the key of ${path.join('/')}: ${err.message}`)
    }
  }
  throw new RequestError(400, `unknown path: the API has ${ENDPOINTS.map(e => `${prefix}${e.path.join('/')}/{key}`).join(', ')}`)
}

/** One media range of an `Accept` header: its type and its weight. */
interface MediaRange {
  type: string
  q: number
}

/** The media ranges of an `Accept` header, lower-cased, with their `q` weights (1 when absent). */
function mediaRanges (accept: string): MediaRange[] {
  const ranges: MediaRange[] = []
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map(s => s.trim().toLowerCase())
    if (type === '') {
      continue
    }
    let q = 1
    for (const param of params) {
      if (param.startsWith('q=')) {
        const value = Number(param.slice(2))
        q = Number.isFinite(value) ? value : 0
      }
    }
    ranges.push({ type, q })
  }
  return ranges
}

/** Whether `ranges` accept `type`: by name, by `type/*` or by `*\/*`, with a weight above 0. */
function accepts (ranges: MediaRange[], type: string): boolean {
  const [major] = type.split('/')
  return ranges.some(range => range.q > 0 && (range.type === type || range.type === `${major}/*` || range.type === '*/*'))
}

/**
 * The media type a JSON endpoint answers in: NDJSON when the `Accept` header names it (IPIP-410:
 * streaming is opt-in), else JSON when the header is absent or accepts it. Throws
 * {@link RequestError} 406 when it accepts neither.
 */
export function negotiateJson (accept: string | null): typeof JSON_TYPE | typeof NDJSON_TYPE {
  if (accept == null || accept.trim() === '') {
    return JSON_TYPE
  }
  const ranges = mediaRanges(accept)
  if (ranges.some(range => range.type === NDJSON_TYPE && range.q > 0)) {
    return NDJSON_TYPE
  }
  if (accepts(ranges, JSON_TYPE)) {
    return JSON_TYPE
  }
  throw new RequestError(406, `this endpoint answers ${JSON_TYPE} or ${NDJSON_TYPE}`)
}

/**
 * Checks that an IPNS GET accepts the record's media type (an absent header does). Throws
 * {@link RequestError} 406, as the spec asks, when it does not.
 */
export function checkAcceptsIpns (accept: string | null): void {
  if (accept != null && accept.trim() !== '' && !accepts(mediaRanges(accept), IPNS_RECORD_TYPE)) {
    throw new RequestError(406, `an IPNS record is served as ${IPNS_RECORD_TYPE}: retry with "Accept: ${IPNS_RECORD_TYPE}"`)
  }
}

/**
 * Checks that an IPNS PUT sends a record. Throws {@link RequestError} 406, as the spec asks, when
 * the `Content-Type` is another.
 */
export function checkIpnsContentType (contentType: string | null): void {
  const type = contentType?.split(';')[0].trim().toLowerCase()
  if (type !== IPNS_RECORD_TYPE) {
    throw new RequestError(406, `an IPNS record is sent as ${IPNS_RECORD_TYPE}: retry with "Content-Type: ${IPNS_RECORD_TYPE}"`)
  }
}

/**
 * The names a filter parameter lists (IPIP-484): comma-separated, empty ones dropped; undefined when the parameter is absent. Throws
 * {@link RequestError} 400 for more than {@link MAX_FILTERS} names or a name longer than
 * {@link MAX_FILTER_LENGTH} characters (after a leading `!`).
 */
export function parseFilter (params: URLSearchParams, name: string): string[] | undefined {
  const values = params.getAll(name)
  if (values.length === 0) {
    return undefined
  }
  const names = values.join(',').split(',').map(s => s.trim()).filter(s => s !== '')
  if (names.length > MAX_FILTERS) {
    throw new RequestError(400, `${name} lists ${names.length} names, more than ${MAX_FILTERS}`)
  }
  const long = names.find(n => n.replace(/^!/, '').length > MAX_FILTER_LENGTH)
  if (long != null) {
    throw new RequestError(400, `${name}: a name is at most ${MAX_FILTER_LENGTH} characters`)
  }
  return names
}
