/**
 * The types of `@libp2p/kad-dht`'s public API as kadmium's compat entry produces them: the query
 * events, the service interface, the validator and selector maps and the init options. They are
 * declared here (not imported) so that the runtime and its typings need nothing from
 * `@libp2p/kad-dht`; the enums carry the same names and members as that package's, which is what
 * lets TypeScript treat the two as one.
 */
import type { KadDHTInit as KadmiumInit } from '../index.ts'
import type { AbortOptions, PeerId, PeerInfo, RoutingOptions } from '@libp2p/interface'
import type { AdaptiveTimeoutInit } from '@libp2p/utils'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent } from 'progress-events'

/** What a query event reports, by number (`event.type`). */
export enum EventTypes {
  /** A `SEND_QUERY` event. */
  SEND_QUERY = 0,
  /** A `PEER_RESPONSE` event. */
  PEER_RESPONSE = 1,
  /** A `FINAL_PEER` event. */
  FINAL_PEER = 2,
  /** A `QUERY_ERROR` event. */
  QUERY_ERROR = 3,
  /** A `PROVIDER` event. */
  PROVIDER = 4,
  /** A `VALUE` event. */
  VALUE = 5,
  /** An `ADD_PEER` event. */
  ADD_PEER = 6,
  /** A `DIAL_PEER` event. */
  DIAL_PEER = 7,
  /** A `PATH_ENDED` event. */
  PATH_ENDED = 8
}

/** The DHT request a {@link SendQueryEvent} or {@link PeerResponseEvent} is about, by name. */
export enum MessageType {
  /** A `PUT_VALUE` request. */
  PUT_VALUE = 'PUT_VALUE',
  /** A `GET_VALUE` request. */
  GET_VALUE = 'GET_VALUE',
  /** A `ADD_PROVIDER` request. */
  ADD_PROVIDER = 'ADD_PROVIDER',
  /** A `GET_PROVIDERS` request. */
  GET_PROVIDERS = 'GET_PROVIDERS',
  /** A `FIND_NODE` request. */
  FIND_NODE = 'FIND_NODE',
  /** A `PING` request. */
  PING = 'PING'
}

/** The name of a {@link MessageType}. */
export type MessageName = keyof typeof MessageType

/** A record as a peer returned it. */
export interface DHTRecord {
  /** The key the record is stored under. */
  key: Uint8Array
  /** The record's value. */
  value: Uint8Array
  /** When the peer received it, if it said. */
  timeReceived?: Date
}

/**
 * Where in a query an event happened. kadmium runs one path per query: network events carry
 * index 0 of 1, local ones index -1.
 */
export interface DisjointPath {
  /** The path: 0 for the network, -1 for the local node. */
  index: number
  /** Always 0. */
  queued: number
  /** Always 0. */
  running: number
  /** Paths in the query: 1 (0 for local events). */
  total: number
}

/** A request is sent to `to`. */
export interface SendQueryEvent {
  /** The peer asked. */
  to: PeerId
  /** The event's number. */
  type: EventTypes.SEND_QUERY
  /** The event's name. */
  name: 'SEND_QUERY'
  /** The request's name. */
  messageName: MessageName
  /** The request. */
  messageType: MessageType
  /** Where in the query it happened. */
  path: DisjointPath
}

/**
 * `from` answered: the closer peers it listed, the providers it added and the valid record it
 * held (for GET_VALUE), or the record it stored (for PUT_VALUE).
 */
export interface PeerResponseEvent {
  /** The peer that answered (us for our own providers). */
  from: PeerId
  /** The event's number. */
  type: EventTypes.PEER_RESPONSE
  /** The event's name. */
  name: 'PEER_RESPONSE'
  /** The request's name. */
  messageName: MessageName
  /** The request. */
  messageType: MessageType
  /** The closer peers it listed, with their addresses. */
  closer: PeerInfo[]
  /** The providers it listed that are new to this query. */
  providers: PeerInfo[]
  /** The valid record it held (GET_VALUE) or stored (PUT_VALUE). */
  record?: DHTRecord
  /** Where in the query it happened. */
  path: DisjointPath
}

/** One of the peers the query was after: the found peer of `findPeer`, one of the closest otherwise. */
export interface FinalPeerEvent {
  /** Who told us of the peer: us for the closest peers and local finds. */
  from: PeerId
  /** The peer, with its addresses. */
  peer: PeerInfo
  /** The event's number. */
  type: EventTypes.FINAL_PEER
  /** The event's name. */
  name: 'FINAL_PEER'
  /** Where in the query it happened. */
  path: DisjointPath
}

/** A request to `from` failed, or its answer was refused. */
export interface QueryErrorEvent {
  /** The peer whose request failed or whose record was refused. */
  from: PeerId
  /** The event's number. */
  type: EventTypes.QUERY_ERROR
  /** The event's name. */
  name: 'QUERY_ERROR'
  /** What went wrong. */
  error: Error
  /** Where in the query it happened. */
  path: DisjointPath
}

/** Providers not seen before in this query, as `from` listed them (ourselves for local ones). */
export interface ProviderEvent {
  /** The peer that listed them (us for our own). */
  from: PeerId
  /** The event's number. */
  type: EventTypes.PROVIDER
  /** The event's name. */
  name: 'PROVIDER'
  /** The providers, with their addresses. */
  providers: PeerInfo[]
  /** Where in the query it happened. */
  path: DisjointPath
}

/** The best valid value of a `get`, and who held it. */
export interface ValueEvent {
  /** A peer that held the value (us when it was our own). */
  from: PeerId
  /** The event's number. */
  type: EventTypes.VALUE
  /** The event's name. */
  name: 'VALUE'
  /** The best valid value. */
  value: Uint8Array
  /** Where in the query it happened. */
  path: DisjointPath
}

/** Part of the event union for type compatibility; kadmium never emits it. */
export interface AddPeerEvent {
  /** The event's number. */
  type: EventTypes.ADD_PEER
  /** The event's name. */
  name: 'ADD_PEER'
  /** The peer added. */
  peer: PeerId
  /** Where in the query it happened. */
  path: DisjointPath
}

/** Part of the event union for type compatibility; kadmium never emits it. */
export interface DialPeerEvent {
  /** The peer dialled. */
  peer: PeerId
  /** The event's number. */
  type: EventTypes.DIAL_PEER
  /** The event's name. */
  name: 'DIAL_PEER'
  /** Where in the query it happened. */
  path: DisjointPath
}

/** Part of the event union for type compatibility; kadmium never emits it. */
export interface PathEndedEvent {
  /** The event's number. */
  type: EventTypes.PATH_ENDED
  /** The event's name. */
  name: 'PATH_ENDED'
  /** Where in the query it happened. */
  path: DisjointPath
}

/** Every event a query may yield; switch on `event.name`. */
export type QueryEvent =
  | SendQueryEvent
  | PeerResponseEvent
  | FinalPeerEvent
  | QueryErrorEvent
  | ProviderEvent
  | ValueEvent
  | AddPeerEvent
  | DialPeerEvent
  | PathEndedEvent

/** The query events again, as progress events passed to `options.onProgress`. */
export type DHTProgressEvents =
  | ProgressEvent<'kad-dht:query:send-query', SendQueryEvent>
  | ProgressEvent<'kad-dht:query:peer-response', PeerResponseEvent>
  | ProgressEvent<'kad-dht:query:final-peer', FinalPeerEvent>
  | ProgressEvent<'kad-dht:query:query-error', QueryErrorEvent>
  | ProgressEvent<'kad-dht:query:provider', ProviderEvent>
  | ProgressEvent<'kad-dht:query:value', ValueEvent>
  | ProgressEvent<'kad-dht:query:add-peer', AddPeerEvent>
  | ProgressEvent<'kad-dht:query:dial-peer', DialPeerEvent>

/** Throws (or rejects) when `value` is not a valid record under `key`. */
export interface ValidateFn {
  (key: Uint8Array, value: Uint8Array, options?: AbortOptions): void | Promise<void>
}

/** The index of the best of `records`, all valid under `key`. */
export interface SelectFn {
  (key: Uint8Array, records: Uint8Array[]): number | Promise<number>
}

/** Validators by namespace (`ipns` for keys `/ipns/…`). */
export type Validators = Record<string, ValidateFn>

/** Selectors by namespace. */
export type Selectors = Record<string, SelectFn>

/** Rewrites the addresses of a peer. */
export interface PeerInfoMapper {
  (peer: PeerInfo): PeerInfo
}

/** Options of `setMode`. */
export interface SetModeOptions extends AbortOptions {
  /** Accepted; kadmium applies a mode only when it changes anything. */
  force?: boolean
}

/** The routing table, as the interface shows it. */
export interface RoutingTable {
  /** Peers in the routing table. */
  size: number
}

/**
 * The service `@libp2p/kad-dht` returns: every query an async iterable of {@link QueryEvent}s.
 *
 * @example
 * ```ts
 * for await (const event of dht.findPeer(peerId)) {
 *   if (event.name === 'FINAL_PEER') {
 *     console.log(event.peer.multiaddrs)
 *   }
 * }
 * ```
 */
export interface KadDHT {
  /** Peers per bucket, and the closest peers a query looks for. */
  readonly k: number
  /** Requests a query keeps in flight. */
  readonly a: number
  /** Disjoint paths per query: kadmium runs one. */
  readonly d: number
  /** Validators by namespace; assign to add or replace one at any time. */
  readonly validators: Validators
  /** Selectors by namespace; assign to add or replace one at any time. */
  readonly selectors: Selectors
  /** The best value under `key`: the last event is its VALUE. */
  get(key: Uint8Array, options?: RoutingOptions): AsyncIterable<QueryEvent>
  /** Providers of `key`, in PROVIDER events. */
  findProviders(key: CID, options?: RoutingOptions): AsyncIterable<QueryEvent>
  /** A peer's addresses, in a FINAL_PEER event; throws `NotFoundError` without one. */
  findPeer(id: PeerId, options?: RoutingOptions): AsyncIterable<QueryEvent>
  /** The closest peers to `key` that answered, in FINAL_PEER events at the end. */
  getClosestPeers(key: Uint8Array, options?: RoutingOptions): AsyncIterable<QueryEvent>
  /** Announces this node as a provider of `key` to the closest peers. */
  provide(key: CID, options?: RoutingOptions): AsyncIterable<QueryEvent>
  /** Stops providing `key` again. */
  cancelReprovide(key: CID, options?: AbortOptions): Promise<void>
  /** Stores `value` under `key` on the closest peers. */
  put(key: Uint8Array, value: Uint8Array, options?: RoutingOptions): AsyncIterable<QueryEvent>
  /** What the node is now. */
  getMode(): 'client' | 'server'
  /** Pins the mode. */
  setMode(mode: 'client' | 'server', options?: SetModeOptions): Promise<void>
  /** Runs a routing-table refresh now. */
  refreshRoutingTable(options?: AbortOptions): Promise<void>
}

/** {@link KadDHT} with its routing table's size. */
export interface SingleKadDHT extends KadDHT {
  /** The routing table. */
  routingTable: RoutingTable
}

/** Settings of an adaptive timeout; accepted, with no kadmium equivalent. */
export type AdaptiveTimeoutOptions = Omit<AdaptiveTimeoutInit, 'metrics'>

/** `@libp2p/kad-dht`'s provider store options; accepted, with no kadmium equivalent. */
export interface ProvidersInit {
  /** No equivalent. */
  cacheSize?: number
  /** No equivalent: kadmium sweeps expired records on its own schedule. */
  cleanupInterval?: number
  /** No equivalent: 48 h. */
  provideValidity?: number
}

/**
 * The options of the compat `put`: `@libp2p/kad-dht`'s, and kadmium's `keep` (this node owns the
 * value and puts it again every 12 h on average, also after a restart, until `forget(key)`;
 * `@libp2p/kad-dht` puts a value once).
 */
export interface PutOptions extends RoutingOptions {
  /** Keep the value alive, as kadmium's `put` does. */
  keep?: boolean
}

/** `@libp2p/kad-dht`'s reprovider options; accepted, with no kadmium equivalent. */
export interface ReProvideInit {
  /** No equivalent. */
  concurrency?: number
  /** No equivalent. */
  maxQueueSize?: number
  /** No equivalent. */
  threshold?: number
  /** No equivalent: kadmium provides again every 22 h. */
  interval?: number
  /** No equivalent: 48 h. */
  validity?: number
}

/**
 * `@libp2p/kad-dht`'s options. Those kadmium has map onto its own (see each); the others are
 * accepted and have no effect (kadmium logs which were given). `kadmium` passes any of kadmium's
 * own options, which win.
 */
export interface KadDHTInit {
  /** kadmium's `kBucketSize`. */
  kBucketSize?: number
  /** No equivalent: a kadmium bucket splits while it covers our own id. */
  kBucketSplitThreshold?: number
  /** kadmium's `alpha`. */
  alpha?: number
  /** No equivalent: one path per query. */
  disjointPaths?: number
  /** No equivalent: answers update the table as they come. */
  routingTableUpdateQueueConcurrency?: number
  /** No equivalent. */
  routingTableUpdateMaxQueueSize?: number
  /** No equivalent: kadmium's table has no depth limit. */
  prefixLength?: number
  /** `true` is kadmium's mode `'client'`, `false` `'server'`, unset `'auto'`. */
  clientMode?: boolean
  /** Selectors by namespace, added to `pk` and `ipns`. */
  selectors?: Selectors
  /** Validators by namespace, added to `pk` and `ipns`. */
  validators?: Validators
  /** kadmium's `refresh.interval`: the periodic refresh looks up our own id and stale buckets. */
  querySelfInterval?: number
  /** No equivalent: kadmium refreshes once the first peer joins the table. */
  initialQuerySelfInterval?: number
  /** No equivalent: kadmium never holds queries back; with no peers they end at once. */
  allowQueryWithZeroPeers?: boolean
  /** kadmium's `protocol`. */
  protocol?: string
  /** No equivalent: kadmium logs as `kadmium`. */
  logPrefix?: string
  /** No equivalent: kadmium keeps its own datastore prefixes. */
  datastorePrefix?: string
  /** kadmium's `metricsPrefix`: the prefix of its metric names. */
  metricsPrefix?: string
  /** No equivalent: kadmium checks a bucket's oldest peer with a FIND_NODE. */
  pingOldContactTimeout?: AdaptiveTimeoutOptions
  /** No equivalent. */
  pingOldContactConcurrency?: number
  /** No equivalent. */
  pingOldContactMaxQueueSize?: number
  /** No equivalent: kadmium adds a peer that answered a request, with no ping. */
  pingNewContactTimeout?: AdaptiveTimeoutOptions
  /** No equivalent. */
  pingNewContactConcurrency?: number
  /** No equivalent. */
  pingNewContactMaxQueueSize?: number
  /** No equivalent: kadmium takes 32 inbound DHT streams per connection. */
  maxInboundStreams?: number
  /** No equivalent: kadmium opens at most 64 outbound DHT streams per connection. */
  maxOutboundStreams?: number
  /** No equivalent: provider records live 48 h. */
  providers?: ProvidersInit
  /** No equivalent: kadmium provides again every 22 h. */
  reprovide?: ReProvideInit
  /**
   * `removePrivateAddressesMapper` (the default) is kadmium's address scope `'public'`,
   * `passthroughMapper` is `'all'`. Every peer this service yields has its addresses mapped,
   * and getClosestPeers leaves out a peer left with none, as `@libp2p/kad-dht` does (a peer
   * reachable only on 127.0.0.1 is not handed out under `removePrivateAddressesMapper`). Any
   * other mapper runs with the scope `'all'`: it rewrites what this service yields, but not the
   * addresses kadmium exchanges on the wire.
   */
  peerInfoMapper?(peer: PeerInfo): PeerInfo
  /** No equivalent: each request has 10 s. */
  networkDialTimeout?: AdaptiveTimeoutOptions
  /** No equivalent. */
  onPeerConnectTimeout?: number
  /** No equivalent: each inbound message has 10 s once its length prefix arrived. */
  incomingMessageTimeout?: number
  /**
   * kadmium's own options (`mode`, `addresses`, `beta`, `stall`, `rateLimit`…), applied over
   * the mapped ones. Validators go in `validators`.
   */
  kadmium?: Omit<KadmiumInit, 'validators'>
}
