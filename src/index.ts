/**
 * @packageDocumentation
 *
 * kadmium: a Kademlia DHT for libp2p that speaks `/ipfs/kad/1.0.0` like go-libp2p-kad-dht,
 * rust-libp2p and `@libp2p/kad-dht`.
 *
 * @example
 * ```ts
 * import { noise } from '@chainsafe/libp2p-noise'
 * import { yamux } from '@chainsafe/libp2p-yamux'
 * import { identify } from '@libp2p/identify'
 * import { tcp } from '@libp2p/tcp'
 * import { createLibp2p } from 'libp2p'
 * import { kadDHT } from 'kadmium'
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ['/ip4/0.0.0.0/tcp/0'] },
 *   transports: [tcp()],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 *   services: { identify: identify(), dht: kadDHT() }
 * })
 *
 * for await (const peer of node.services.dht.getClosestPeers(key)) {
 *   console.log(peer.id.toString())
 * }
 * const { multiaddrs } = await node.peerRouting.findPeer(peerId)
 * ```
 */
import { KadDHT } from './service.ts'
import type { Mode } from './mode.ts'
import type { AddressScope } from './network/addresses.ts'
import type { CounterSnapshot } from './network/counters.ts'
import type { ProviderStoreStats } from './providers/provider-store.ts'
import type { Validator } from './records/validators.ts'
import type { ComponentLogger, Libp2pEvents, PeerId, PeerStore, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Datastore } from 'interface-datastore'

export { KadDHT } from './service.ts'
export * from './errors.ts'
export * as constants from './constants.ts'
export { MessageType, ConnectionType } from './wire/codec.ts'
export type { Message, WirePeer, WireRecord } from './wire/codec.ts'
export type { AddressScope } from './network/addresses.ts'
export type { CounterSnapshot } from './network/counters.ts'
export type { DHTPeer } from './network/dht-peer.ts'
export type { BucketInfo, TableEntry } from './kademlia/routing-table.ts'
export type { LookupOptions, LookupProgressEvents } from './routing/peer-routing.ts'
export type { GetOptions, PutOptions, ValueProgressEvents } from './routing/values.ts'
export type { FindProvidersOptions, ProvideOptions, ProviderProgressEvents } from './routing/providers.ts'
export type { ProviderStoreStats } from './providers/provider-store.ts'
export type { Validator } from './records/validators.ts'
export { RecordValidator, pkValidator, ipnsRecordValidator } from './records/validators.ts'

export type { Mode, ActiveMode } from './mode.ts'

/** Options of {@link kadDHT}. */
export interface KadDHTInit {
  /**
   * The protocol spoken. A private network uses its own.
   *
   * @default '/ipfs/kad/1.0.0'
   */
  protocol?: string
  /**
   * `'server'` answers requests and advertises the protocol through identify; `'client'`
   * registers nothing and only asks; `'auto'` is a server while the node has an address the
   * `addresses` scope counts as reachable (a public one for `/ipfs/kad/1.0.0`), a client
   * otherwise, and switches as the node's addresses change.
   *
   * @default 'auto'
   */
  mode?: Mode
  /**
   * Peers per k-bucket, and peers returned by a closest-peers query (k).
   *
   * @default 20
   */
  kBucketSize?: number
  /**
   * Requests a lookup keeps in flight at once (α).
   *
   * @default 10
   */
  alpha?: number
  /**
   * How many of the closest peers must have answered before a `findProviders` lookup that has
   * not found its `count` ends (β). A closest-peers lookup (and so put, get, provide and
   * findPeer) waits for the closest k.
   *
   * @default 3
   */
  beta?: number
  /**
   * How long a whole query may take, in milliseconds.
   *
   * @default 30000
   */
  queryTimeout?: number
  /**
   * Which peer addresses are shared and accepted: `'public'` (no loopback or private ranges)
   * or `'all'` (LANs and tests).
   *
   * @default 'public' for '/ipfs/kad/1.0.0', 'all' for any other protocol
   */
  addresses?: AddressScope
  /**
   * Validators by namespace, added to (or replacing) the defaults `pk` and `ipns`. A record
   * whose key has no namespace, or one not listed here, is refused. The object is read at each
   * use: a namespace added to it later is accepted from then on.
   *
   * @example
   * ```ts
   * kadDHT({ validators: { greeting: { validate: (key, value) => {}, select: () => 0 } } })
   * ```
   */
  validators?: Record<string, Validator>
  /**
   * Bucket refresh, on unless `enabled: false`: every `interval` ms (10 min), each bucket that
   * saw no lookup in that time is looked up, then our own id, and peers not heard from are
   * checked. `queryTimeout` bounds each refresh lookup.
   */
  refresh?: { enabled?: boolean, interval?: number, queryTimeout?: number }
  /**
   * The random walk, off unless `enabled: true`: a lookup of a random key every `interval` ms
   * (1 min); every server that answers joins the routing table.
   */
  randomWalk?: { enabled?: boolean, interval?: number }
  /**
   * The IP-diversity filter of the routing table: at most `maxPerBucket` (2) peers of one IPv4
   * /16 or IPv6 /32 per bucket and `maxPerTable` (10) in the table. `true` or an object turns it
   * on, `false` off.
   *
   * @default true for the 'public' address scope, false for 'all'
   */
  diversity?: boolean | { maxPerBucket?: number, maxPerTable?: number }
  /**
   * The per-peer limit on inbound requests: a peer may send `burst` (200) requests at once and
   * `perSecond` (50) sustained. Requests over the rate wait their turn (a peer asking one
   * request after another is just slowed down); one that would wait more than `maxDelay` ms
   * (5000), which takes requests queued on parallel streams, resets its stream instead, counted
   * as `RateLimitedError`. `stats().throttled` counts the requests held back. `false` turns the
   * limit off.
   *
   * @default { perSecond: 50, burst: 200, maxDelay: 5000 }
   */
  rateLimit?: false | { perSecond?: number, burst?: number, maxDelay?: number }
  /**
   * Stall detection in lookups. A request with no answer by its stall deadline stops holding
   * one of the α slots, and the lookup no longer waits for it (another peer is asked), but its
   * answer is still taken if it comes within the 10 s request timeout and before the lookup
   * ends; a lookup that ends first aborts it without counting it against the peer. The deadline
   * is `initial` ms (2000) until the lookup's first answer, then `factor` (3) times the median
   * answer time, at least `min` ms (1000) and at most the request timeout. At most α stalled
   * requests stay open besides the α live ones. `true` or an object turns it on, `false` off
   * (every request is waited for until it answers or times out).
   *
   * @default true
   */
  stall?: boolean | { initial?: number, factor?: number, min?: number }
}

/** The libp2p components kadmium uses. */
export interface KadDHTComponents {
  peerId: PeerId
  registrar: Registrar
  connectionManager: ConnectionManager
  addressManager: AddressManager
  peerStore: PeerStore
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
  datastore: Datastore
}

/** What {@link KadDHT.stats} reports. */
export interface KadDHTStats extends CounterSnapshot {
  /** Peers in the routing table. */
  routingTableSize: number
  /** Records held for others (expired ones until they are swept). */
  records: number
  /** Provider records held: keys and (key, provider) records. */
  providers: ProviderStoreStats
}

/**
 * Creates the kadmium DHT as a libp2p service.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({
 *   // transports, encrypters, muxers…
 *   services: { identify: identify(), dht: kadDHT({ mode: 'server' }) }
 * })
 * ```
 */
export function kadDHT (init: KadDHTInit = {}): (components: KadDHTComponents) => KadDHT {
  return (components) => new KadDHT(components, init)
}
