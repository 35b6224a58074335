/**
 * The Delegated Routing V1 HTTP API server over kadmium's routing, as a fetch handler: a
 * `Request` in, a `Response` out, wherever the Fetch API's classes exist.
 */
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { deadline, realClock } from '../clock.ts'
import { NotFoundError } from '../errors.ts'
import { MAX_IPNS_RECORD_BYTES, ipnsRecordTimes } from '../values/ipns.ts'
import { CLOSEST_PEERS_LIMIT, JSON_RECORDS_LIMIT, LOOKUP_TIMEOUT, MAX_LOOKUPS, MAX_REQUESTS, MAX_REQUESTS_PER_CLIENT, MAX_WAITING, STREAM_RECORDS_LIMIT } from './constants.ts'
import { LookupGate, RequestLimits, TooManyRequestsError } from './limits.ts'
import { filterRecord } from './records.ts'
import { NDJSON_TYPE, RequestError, checkAcceptsIpns, checkIpnsContentType, negotiateJson, parseFilter, parseRoute } from './request.ts'
import { errorAnswer, ipnsAnswer, jsonAnswer, ndjsonAnswer, noIpnsRecord, preflight, published } from './responses.ts'
import { SharedLookups } from './shared.ts'
import type { FoundPeer, PeerRecord, RecordFilters } from './records.ts'
import type { Route } from './request.ts'
import type { SharedLookup } from './shared.ts'
import type { KadDHT } from '../service.ts'
import type { PeerId } from '@libp2p/interface'

/** The routing the server asks: a kadmium DHT (`node.services.dht`) has every method it needs. */
export type RoutingV1Routing = Pick<KadDHT, 'findProviders' | 'findPeer' | 'getClosestPeers' | 'get' | 'put'>

/** Bounds of a {@link RoutingV1Server}; each has a default (see the constants of the same names). */
export interface RoutingV1Init {
  /** Lookups that run at once; further ones wait in line. Default {@link MAX_LOOKUPS}. */
  maxLookups?: number
  /** Lookups that may wait in line; past this the answer is 429. Default {@link MAX_WAITING}. */
  maxWaiting?: number
  /** Requests served at once; past this the answer is 429. Default {@link MAX_REQUESTS}. */
  maxRequests?: number
  /** Requests one client may have in flight; past this it gets 429. Default {@link MAX_REQUESTS_PER_CLIENT}. */
  maxRequestsPerClient?: number
  /** How long one lookup may take, in ms. Default {@link LOOKUP_TIMEOUT}. */
  lookupTimeout?: number
  /** Told about routing failures that are not the caller's fault (never about a caller's mistake). */
  log?(message: string): void
  /** The clock, in ms since 1970 (for the HTTP dates). */
  now?(): number
}

/** What the handler knows of a request besides the request itself. */
export interface RoutingV1RequestInfo {
  /**
   * Who sent it, to bound the requests one client has in flight (its IP address, say). Requests
   * without it are bound only by the total.
   */
  client?: string
}

/** The counters of a {@link RoutingV1Server}. */
export interface RoutingV1Stats {
  /** Requests answered, by HTTP status. */
  answered: Record<number, number>
  /** Requests in flight now. */
  inFlight: number
  /** Lookups started, and requests that joined an identical one in flight instead. */
  lookups: {
    /** Lookups started. */
    started: number
    /** Requests that joined a lookup already in flight. */
    joined: number
  }
  /** Lookups running now. */
  running: number
  /** Lookups waiting in line for a place now. */
  waiting: number
}

/** A lookup's result: a peer (providers, peers, closest peers) or an IPNS record. */
type Found = FoundPeer | Uint8Array

/**
 * Serves the Delegated Routing V1 HTTP API (ipfs/specs `src/routing/http-routing-v1.md`) over a
 * kadmium DHT: `GET /routing/v1/providers/{cid}`, `GET /routing/v1/peers/{peer-id}`,
 * `GET /routing/v1/dht/closest/peers/{key}` and `GET|PUT /routing/v1/ipns/{name}`, in JSON or
 * streamed NDJSON, with the IPIP-484 filters, CORS for any origin and the reference server's cache
 * headers. Identical requests in flight share one lookup; each lookup ends within
 * `lookupTimeout`; the lookups at once, the requests in flight and each client's are bounded,
 * and requests past a bound are answered 429 with `Retry-After`.
 *
 * `fetch` takes a `Request` and resolves to a `Response`, so it mounts on any server of the
 * Fetch API (Deno, Bun, workers, service workers) or behind an adapter for `node:http`.
 *
 * @example
 * ```ts
 * import { RoutingV1Server } from 'kadmium/routing-v1'
 *
 * const routing = new RoutingV1Server(node.services.dht)
 * Deno.serve((request, info) => routing.fetch(request, { client: info.remoteAddr.hostname }))
 * ```
 */
export class RoutingV1Server {
  /** Answers one request; never throws (a failure is an error answer). Bound: pass it as it is. */
  readonly fetch: (request: Request, info?: RoutingV1RequestInfo) => Promise<Response>

  private readonly routing: RoutingV1Routing
  private readonly limits: RequestLimits
  private readonly gate: LookupGate
  private readonly shared: SharedLookups
  private readonly lookupTimeout: number
  private readonly log: (message: string) => void
  private readonly now: () => number
  private readonly answered: Map<number, number>

  constructor (routing: RoutingV1Routing, init: RoutingV1Init = {}) {
    this.routing = routing
    this.limits = new RequestLimits(init.maxRequests ?? MAX_REQUESTS, init.maxRequestsPerClient ?? MAX_REQUESTS_PER_CLIENT)
    this.gate = new LookupGate(init.maxLookups ?? MAX_LOOKUPS, init.maxWaiting ?? MAX_WAITING)
    this.shared = new SharedLookups()
    this.lookupTimeout = init.lookupTimeout ?? LOOKUP_TIMEOUT
    this.log = init.log ?? (() => {})
    this.now = init.now ?? Date.now
    this.answered = new Map()
    this.fetch = async (request, info) => {
      const response = await this.handle(request, info ?? {})
      this.answered.set(response.status, (this.answered.get(response.status) ?? 0) + 1)
      return response
    }
  }

  /** The counters: answers by status, requests in flight, lookups. */
  stats (): RoutingV1Stats {
    return {
      answered: Object.fromEntries(this.answered),
      inFlight: this.limits.size,
      lookups: this.shared.counts(),
      running: this.gate.running,
      waiting: this.gate.waiting
    }
  }

  private async handle (request: Request, info: RoutingV1RequestInfo): Promise<Response> {
    if (request.method === 'OPTIONS') {
      return preflight()
    }
    let release: (() => void) | undefined
    let handedOver = false
    try {
      const url = new URL(request.url)
      const route = parseRoute(request.method, url.pathname)
      release = this.limits.admit(info.client)
      const hand = release
      return await this.serve(route, request, url, () => {
        handedOver = true
        return hand
      })
    } catch (err: any) {
      if (err instanceof RequestError) {
        return errorAnswer(err.status, err.message, err)
      }
      this.log(`routing v1: ${request.method} ${request.url} failed: ${err?.stack ?? err}`)
      return errorAnswer(500, `routing error: ${err?.message ?? err}`)
    } finally {
      if (!handedOver) {
        release?.()
      }
    }
  }

  /**
   * Serves one parsed request. `handOver` gives the request's place to a streamed answer, which
   * gives it back when the stream ends; otherwise it is given back when this returns.
   */
  private async serve (route: Route, request: Request, url: URL, handOver: () => () => void): Promise<Response> {
    const { routing } = this
    if (route.endpoint === 'ipns') {
      return request.method === 'PUT' ? this.putIpns(route.peerId, request) : this.getIpns(route.peerId, request)
    }
    const type = negotiateJson(request.headers.get('accept'))
    const filters: RecordFilters = {
      addrs: parseFilter(url.searchParams, 'filter-addrs'),
      protocols: parseFilter(url.searchParams, 'filter-protocols')
    }
    let lookup: SharedLookup<FoundPeer>
    let field: 'Providers' | 'Peers' = 'Peers'
    let limit = type === NDJSON_TYPE ? STREAM_RECORDS_LIMIT : JSON_RECORDS_LIMIT
    if (route.endpoint === 'providers') {
      field = 'Providers'
      lookup = this.lookup(`providers/${keyText(route.cid.multihash.bytes)}`, signal => routing.findProviders(route.cid, { signal, count: STREAM_RECORDS_LIMIT }))
    } else if (route.endpoint === 'peers') {
      const peerId = route.peerId
      lookup = this.lookup(`peers/${peerId.toString()}`, async function * (signal) {
        yield await routing.findPeer(peerId, { signal })
      })
    } else {
      limit = CLOSEST_PEERS_LIMIT
      lookup = this.lookup(`closest/${keyText(route.key)}`, signal => routing.getClosestPeers(route.key, { signal }))
    }
    const records = this.records(lookup, filters, limit, request.signal)
    if (type === NDJSON_TYPE) {
      // the headers wait for the first record, so that they can say whether there are results
      const first = await records.next()
      return ndjsonAnswer(first.done === true ? undefined : first.value, records, this.now(), handOver())
    }
    const collected: PeerRecord[] = []
    try {
      for await (const record of records) {
        collected.push(record)
      }
    } catch (err) {
      // a lookup that failed after it found something answers with what it found
      if (collected.length === 0) {
        throw err
      }
    }
    return jsonAnswer(field, collected, this.now())
  }

  /** The filtered records a lookup finds, at most `limit`, until the lookup ends or `signal` aborts. */
  private async * records (lookup: SharedLookup<FoundPeer>, filters: RecordFilters, limit: number, signal: AbortSignal): AsyncGenerator<PeerRecord> {
    let count = 0
    for await (const peer of lookup.read(signal)) {
      const record = filterRecord(peer, filters)
      if (record != null) {
        yield record
        if (++count >= limit) {
          return
        }
      }
    }
  }

  /**
   * The lookup in flight under `key`, or a new one: it waits for a place at the gate, then
   * runs `find` until it ends, `lookupTimeout` passes or every request for it went away. A
   * lookup cut short by its time, or that found nothing (`NotFoundError`), ends normally with
   * what it found; one refused at the gate ends with the 429.
   */
  private lookup<T extends Found> (key: string, find: (signal: AbortSignal) => AsyncIterable<T>): SharedLookup<T> {
    return this.shared.join<T>(key, (lookup) => {
      const time = deadline(realClock, this.lookupTimeout, `the lookup took more than ${this.lookupTimeout} ms`, lookup.signal)
      const signal = time.signal
      void (async () => {
        let leave: (() => void) | undefined
        try {
          leave = await this.gate.enter(signal)
          for await (const found of find(signal)) {
            lookup.push(found)
          }
          lookup.end()
        } catch (err: any) {
          if (err instanceof TooManyRequestsError) {
            lookup.end(err)
          } else if (signal.aborted || err?.name === NotFoundError.name) {
            lookup.end()
          } else {
            this.log(`routing v1: lookup ${key} failed: ${err?.stack ?? err}`)
            lookup.end(err)
          }
        } finally {
          time.clear()
          leave?.()
        }
      })()
    })
  }

  private async getIpns (name: PeerId, request: Request): Promise<Response> {
    checkAcceptsIpns(request.headers.get('accept'))
    const { routing } = this
    const key = ipnsKey(name)
    const lookup = this.lookup(`ipns/${name.toString()}`, async function * (signal) {
      yield await routing.get(key, { signal })
    })
    const found = lookup.read(request.signal)
    const first = await found.next()
    await found.return(undefined)
    if (first.done === true) {
      return noIpnsRecord(this.now())
    }
    const record = first.value
    let times: { ttl: number, expires: number } | undefined
    try {
      times = ipnsRecordTimes(record)
    } catch {
      // served as it is, but not cached (the DHT validated it under its own rules)
    }
    return ipnsAnswer(name, record, times, this.now())
  }

  private async putIpns (name: PeerId, request: Request): Promise<Response> {
    checkIpnsContentType(request.headers.get('content-type'))
    const record = await readBody(request, MAX_IPNS_RECORD_BYTES)
    const time = deadline(realClock, this.lookupTimeout, `the put took more than ${this.lookupTimeout} ms`, request.signal)
    const signal = time.signal
    let leave: (() => void) | undefined
    try {
      leave = await this.gate.enter(signal)
      await this.routing.put(ipnsKey(name), record, { signal })
      return published()
    } catch (err: any) {
      switch (err?.name) {
        case 'InvalidRecordError':
        case 'InvalidKeyError':
          throw new RequestError(400, `the IPNS record is not valid for this name: ${err.message}`)
        case 'StaleRecordError':
          throw new RequestError(400, `a record with a higher sequence number is held for this name: ${err.message}`)
        case 'NotStoredError':
          throw new RequestError(502, `no peer stored the record: ${err.message}`)
        case 'TimeoutError':
          throw new RequestError(504, `the record was not stored in time: ${err.message}`)
        case 'StoreFullError':
          throw new RequestError(503, `the record store is full: ${err.message}`)
        default:
          throw err
      }
    } finally {
      time.clear()
      leave?.()
    }
  }
}

/** A lookup key as text, for the map of lookups in flight. */
function keyText (key: Uint8Array): string {
  return uint8ArrayToString(key, 'base64')
}

/** The DHT key of an IPNS name: `/ipns/` and the name's multihash bytes. */
function ipnsKey (name: PeerId): Uint8Array {
  const prefix = new TextEncoder().encode('/ipns/')
  const multihash = name.toMultihash().bytes
  const key = new Uint8Array(prefix.length + multihash.length)
  key.set(prefix)
  key.set(multihash, prefix.length)
  return key
}

/** Reads a request body of at most `max` bytes; throws {@link RequestError} 413 past it. */
async function readBody (request: Request, max: number): Promise<Uint8Array> {
  const tooLarge = (): RequestError => new RequestError(413, `an IPNS record is at most ${max} bytes`)
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > max) {
    throw tooLarge()
  }
  if (request.body == null) {
    return new Uint8Array()
  }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  while (true) {
    const { done, value } = await reader.read()
    if (done) {
      break
    }
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw tooLarge()
    }
    chunks.push(value)
  }
  const body = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}
