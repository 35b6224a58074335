/**
 * Turns kadmium's progress events into `@libp2p/kad-dht`'s query events, as one query runs:
 * a lookup request is a SEND_QUERY, its answer a PEER_RESPONSE (a QUERY_ERROR when it failed or
 * held an invalid record), new providers a PROVIDER, and each record sent to one of the closest
 * peers a FINAL_PEER, SEND_QUERY and PEER_RESPONSE (or QUERY_ERROR) once the send has ended.
 */
import { pushable } from 'it-pushable'
import { CustomProgressEvent } from 'progress-events'
import { equals } from 'uint8arrays/equals'
import { EventTypes, MessageType } from './types.ts'
import type { DHTRecord, DisjointPath, PeerInfoMapper, QueryEvent } from './types.ts'
import type { ProviderProgressEvents, ValueProgressEvents } from '../index.ts'
import type { PeerId, PeerInfo, RoutingOptions } from '@libp2p/interface'

/** Every progress event a kadmium query reports. */
export type KadmiumProgressEvent = ValueProgressEvents | ProviderProgressEvents

/** The progress event name of each query event, as `options.onProgress` receives it. */
const PROGRESS_NAMES: Record<QueryEvent['name'], string> = {
  SEND_QUERY: 'kad-dht:query:send-query',
  PEER_RESPONSE: 'kad-dht:query:peer-response',
  FINAL_PEER: 'kad-dht:query:final-peer',
  QUERY_ERROR: 'kad-dht:query:query-error',
  PROVIDER: 'kad-dht:query:provider',
  VALUE: 'kad-dht:query:value',
  ADD_PEER: 'kad-dht:query:add-peer',
  DIAL_PEER: 'kad-dht:query:dial-peer',
  PATH_ENDED: 'kad-dht:query:path-ended'
}

/** Events of the network: kadmium runs one path per query. */
function networkPath (): DisjointPath {
  return { index: 0, queued: 0, running: 0, total: 1 }
}

/** Events of the local node (its own providers, records and results). */
function localPath (): DisjointPath {
  return { index: -1, queued: 0, running: 0, total: 0 }
}

/** What a {@link QueryFeed} needs. */
export interface QueryFeedInit {
  /** This node. */
  self: PeerId
  /** What each lookup request asks: FIND_NODE, GET_VALUE or GET_PROVIDERS. */
  lookup: MessageType
  /** Applied to every peer an event carries. */
  mapper: PeerInfoMapper
  /** The key of a `get` or `put`, for the records in its responses. */
  key?: Uint8Array
  /** The value of a `put`, echoed in its PUT_VALUE responses. */
  value?: Uint8Array
  /** The caller's progress listener, told each event as it is yielded. */
  onProgress?: RoutingOptions['onProgress']
}

/** Providers that one source listed, waiting for its PEER_RESPONSE. */
interface PendingProviders {
  from: PeerId
  providers: PeerInfo[]
}

/**
 * The query events of one kadmium call: pass {@link onProgress} to the call, and iterate
 * {@link run}.
 */
export class QueryFeed {
  private readonly init: QueryFeedInit
  private readonly events = pushable<QueryEvent>({ objectMode: true })
  /** Each peer heard of, with its addresses, and the first peer that listed it. */
  private readonly heard = new Map<string, { peer: PeerInfo, from: PeerId }>()
  /** The valid value each peer answered a GET_VALUE with. */
  private readonly values = new Map<string, { from: PeerId, value: Uint8Array }>()
  /** Peers whose answer was refused: a QUERY_ERROR stands for their response. */
  private readonly refused = new Set<string>()
  /** Peers that answered a lookup request. */
  private readonly responded = new Set<string>()
  private readonly pending = new Map<string, PendingProviders>()

  constructor (init: QueryFeedInit) {
    this.init = init
  }

  /**
   * Runs `work` (a kadmium call given `signal` and {@link onProgress}) and yields its events until
   * it ends, then throws its error if it failed. A caller that stops iterating early aborts it.
   */
  async * run (options: RoutingOptions, work: (signal: AbortSignal) => Promise<void>): AsyncGenerator<QueryEvent> {
    const stop = new AbortController()
    const signal = options.signal == null ? stop.signal : AbortSignal.any([options.signal, stop.signal])
    work(signal).then(() => {
      this.flushAll()
      this.events.end()
    }, (err: Error) => {
      this.flushAll()
      this.events.end(err)
    })
    try {
      yield * this.events
    } finally {
      stop.abort()
    }
  }

  /** Pass to the kadmium call as its `onProgress`. */
  readonly onProgress = (event: KadmiumProgressEvent): void => {
    const { self, lookup } = this.init
    switch (event.type) {
      case 'kadmium:lookup:ask':
        // our own providers came before the first request, as their own response
        this.flush(self.toString())
        this.sendQuery(event.detail.peer, lookup)
        break
      case 'kadmium:lookup:answer':
        this.answered(event.detail.peer, event.detail.closerPeers)
        break
      case 'kadmium:lookup:fail':
        this.queryError(event.detail.peer, event.detail.error)
        break
      case 'kadmium:get:value':
        this.values.set(event.detail.peer.toString(), { from: event.detail.peer, value: event.detail.value })
        break
      case 'kadmium:get:invalid':
        this.refused.add(event.detail.peer.toString())
        this.queryError(event.detail.peer, event.detail.error)
        break
      case 'kadmium:put:stored':
        this.sent(event.detail.peer, MessageType.PUT_VALUE)
        break
      case 'kadmium:put:failed':
        this.sent(event.detail.peer, MessageType.PUT_VALUE, event.detail.error)
        break
      case 'kadmium:provide:sent':
        this.sent(event.detail.peer, MessageType.ADD_PROVIDER)
        break
      case 'kadmium:provide:failed':
        this.sent(event.detail.peer, MessageType.ADD_PROVIDER, event.detail.error)
        break
      case 'kadmium:providers:found': {
        const from = event.detail.from ?? self
        const id = from.toString()
        const entry = this.pending.get(id) ?? { from, providers: [] }
        entry.providers.push(this.map({ id: event.detail.provider.id, multiaddrs: event.detail.provider.multiaddrs }))
        this.pending.set(id, entry)
        break
      }
      default:
        // stalls and corrections have no query event
        break
    }
  }

  /** A FINAL_PEER: one of the closest peers, or the peer found (listed by `from`). */
  finalPeer (peer: PeerInfo, from: PeerId = this.init.self): void {
    this.emitFinal(this.map(peer), from)
  }

  /**
   * A FINAL_PEER for one of the closest peers, unless the mapper leaves it no address: such a peer
   * is not handed out (`@libp2p/kad-dht` never admits it to its table, so never finds it).
   */
  closestPeer (peer: PeerInfo): void {
    const mapped = this.map(peer)
    if (mapped.multiaddrs.length > 0) {
      this.emitFinal(mapped, this.init.self)
    }
  }

  /**
   * Who told us of `id`: the first peer whose answer listed it, else `id` itself when it
   * answered, else us (it was known locally).
   */
  foundBy (id: PeerId): PeerId {
    return this.heard.get(id.toString())?.from ?? (this.responded.has(id.toString()) ? id : this.init.self)
  }

  /** The VALUE event of a `get`: `best`, from the first peer that held it, or from us. */
  value (best: Uint8Array): void {
    const from = [...this.values.values()].find(entry => equals(entry.value, best))?.from ?? this.init.self
    this.emit({ type: EventTypes.VALUE, name: 'VALUE', from, value: best, path: from.equals(this.init.self) ? localPath() : networkPath() })
  }

  private answered (from: PeerId, closer: PeerInfo[]): void {
    const id = from.toString()
    this.responded.add(id)
    for (const peer of closer) {
      const key = peer.id.toString()
      if (!this.heard.has(key)) {
        this.heard.set(key, { peer, from })
      }
    }
    if (this.refused.has(id)) {
      return
    }
    const held = this.values.get(id)
    const record: DHTRecord | undefined = held != null && this.init.key != null ? { key: this.init.key, value: held.value } : undefined
    this.response(from, this.init.lookup, closer.map(peer => this.map(peer)), record)
  }

  /** A record sent to one of the closest peers, once the send has ended. */
  private sent (peer: PeerId, type: MessageType, error?: Error): void {
    this.finalPeer(this.heard.get(peer.toString())?.peer ?? { id: peer, multiaddrs: [] })
    this.sendQuery(peer, type)
    if (error != null) {
      this.queryError(peer, error)
      return
    }
    const { key, value } = this.init
    this.response(peer, type, [], type === MessageType.PUT_VALUE && key != null && value != null ? { key, value } : undefined)
  }

  private sendQuery (to: PeerId, type: MessageType): void {
    this.emit({ type: EventTypes.SEND_QUERY, name: 'SEND_QUERY', to, messageName: type, messageType: type, path: networkPath() })
  }

  /** A PEER_RESPONSE carrying the providers `from` added, then a PROVIDER event of them. */
  private response (from: PeerId, type: MessageType, closer: PeerInfo[], record?: DHTRecord): void {
    const id = from.toString()
    const providers = this.pending.get(id)?.providers ?? []
    this.pending.delete(id)
    const path = from.equals(this.init.self) ? localPath() : networkPath()
    this.emit({ type: EventTypes.PEER_RESPONSE, name: 'PEER_RESPONSE', from, messageName: type, messageType: type, closer, providers, record, path })
    if (providers.length > 0) {
      this.emit({ type: EventTypes.PROVIDER, name: 'PROVIDER', from, providers, path })
    }
  }

  private queryError (from: PeerId, error: Error): void {
    this.emit({ type: EventTypes.QUERY_ERROR, name: 'QUERY_ERROR', from, error, path: networkPath() })
  }

  /** The providers of `id` that no response has carried yet (our own, or a peer's cut short). */
  private flush (id: string): void {
    const entry = this.pending.get(id)
    if (entry != null) {
      this.response(entry.from, MessageType.GET_PROVIDERS, [])
    }
  }

  private flushAll (): void {
    for (const id of [...this.pending.keys()]) {
      this.flush(id)
    }
  }

  private map (peer: PeerInfo): PeerInfo {
    return this.init.mapper(peer)
  }

  private emitFinal (peer: PeerInfo, from: PeerId): void {
    this.emit({ type: EventTypes.FINAL_PEER, name: 'FINAL_PEER', from, peer, path: from.equals(this.init.self) ? localPath() : networkPath() })
  }

  private emit (event: QueryEvent): void {
    this.init.onProgress?.(new CustomProgressEvent(PROGRESS_NAMES[event.name], event))
    this.events.push(event)
  }
}
