/**
 * The wiring of a kadmium node: what the service is made of, built from the libp2p components
 * and the resolved settings. Each part is built once what it needs exists, so every dependency
 * points down; what flows back up (the table's first peer, a network-size sample, a mode change,
 * a peer discovered) goes through the node's event channel, whose listeners are connected last.
 * Every part that keeps time gets the node's one clock. The service keeps the lifecycle and the
 * public methods; this file only says which part gets what.
 */
import { AcceleratedRouting } from './accelerated/accelerated.ts'
import * as C from './constants.ts'
import * as D from './defaults.ts'
import { Channel } from './events.ts'
import { kadId } from './keys.ts'
import { DHTMetrics } from './metrics.ts'
import { ModeController } from './mode.ts'
import { Client } from './network/client.ts'
import { Counters } from './network/counters.ts'
import { RateLimiter } from './network/rate-limit.ts'
import { Server } from './network/server.ts'
import { findNodeHandler, pingHandler } from './peers/handlers.ts'
import { PeerRouting } from './peers/peer-routing.ts'
import { addProviderHandler, getProvidersHandler } from './providers/handlers.ts'
import { NetworkSize } from './providers/network-size.ts'
import { ProviderRouting } from './providers/provider-routing.ts'
import { ProviderStore } from './providers/provider-store.ts'
import { Reprovider } from './providers/reprovider.ts'
import { regionBits } from './providers/schedule.ts'
import { ROUND_TRIP_PEERS, RoundTrips } from './query/round-trips.ts'
import { QueryRunner } from './query/runner.ts'
import { inBucket } from './query/table-lookup.ts'
import { closerPeers } from './table/closer-peers.ts'
import { TableKeeper } from './table/keeper.ts'
import { Refresher } from './table/refresher.ts'
import { getValueHandler, putValueHandler } from './values/handlers.ts'
import { Republisher } from './values/republisher.ts'
import { RecordValidator } from './values/validators.ts'
import { ValueRouting } from './values/value-routing.ts'
import { ValueStore } from './values/value-store.ts'
import { MessageType } from './wire/codec.ts'
import type { Clock } from './clock.ts'
import type { NodeEvents } from './events.ts'
import type { DHTPeer } from './network/dht-peer.ts'
import type { Handlers } from './network/server.ts'
import type { Settings } from './settings.ts'
import type { RoutingTable } from './table/routing-table.ts'
import type { Validator } from './values/validators.ts'
import type { ComponentLogger, Libp2pEvents, Logger, Metrics, PeerId, PeerStore, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'

/** The libp2p components kadmium uses; libp2p passes them to the service. */
export interface KadDHTComponents {
  /** The node's own peer id. */
  peerId: PeerId
  /** Where the protocol handler is registered (server mode) and topologies followed. */
  registrar: Registrar
  /** Opens connections and streams to peers. */
  connectionManager: ConnectionManager
  /** The node's own addresses, and which of them are confirmed. */
  addressManager: AddressManager
  /** Other peers' addresses and protocols. */
  peerStore: PeerStore
  /** libp2p's events: identify results, address changes, connections. */
  events: TypedEventTarget<Libp2pEvents>
  /** Makes the loggers (`kadmium`, `kadmium:server`, …). */
  logger: ComponentLogger
  /** Where records, provider records and the reprovide list are stored. */
  datastore: Datastore
  /** libp2p's metrics, when the node was given an implementation. */
  metrics?: Metrics
}

/** What the parts need of the service that holds them. */
export interface ServiceHooks {
  log: Logger
  /** The prefix of every logger kadmium makes. */
  logPrefix: string
  /** Aborts when the service stops. */
  lifetime(): AbortSignal
  /** Our own addresses as we announce them. */
  selfAddresses(): Multiaddr[]
}

/** Every part of a running kadmium node. */
export interface Layers {
  /** What the parts tell each other, and the service hears (discovered peers). */
  channel: Channel<NodeEvents>
  counters: Counters
  client: Client
  keeper: TableKeeper
  valueStore: ValueStore
  providerStore: ProviderStore
  reprovider: Reprovider
  /** Puts the values this node keeps again before they expire. */
  republisher: Republisher
  server: Server
  modes: ModeController
  query: QueryRunner
  peerRouting: PeerRouting
  values: ValueRouting
  providers: ProviderRouting
  refresher: Refresher<DHTPeer>
  networkSize: NetworkSize
  /** The full table and its crawl; its rolling crawl runs only with `accelerated` on. */
  accelerated: AcceleratedRouting
  /** kadmium's metrics, when libp2p was given a metrics implementation. */
  metrics?: DHTMetrics
}

/** What every builder below gets. */
interface Context {
  components: KadDHTComponents
  settings: Settings
  hooks: ServiceHooks
  /** The node's one clock. */
  clock: Clock
  channel: Channel<NodeEvents>
}

/** Builds every part, in dependency order, and connects what flows back up. */
export function assemble (components: KadDHTComponents, settings: Settings, validators: Record<string, Validator> | undefined, hooks: ServiceHooks): Layers {
  const channel = new Channel<NodeEvents>((err) => { hooks.log('an event listener failed: %s', err.message) })
  const context: Context = { components, settings, hooks, clock: settings.clock, channel }
  const { counters, client } = buildNetwork(context)
  const { validator, valueStore, providerStore } = buildStores(context, validators)
  const { keeper, networkSize } = buildTable(context, client)
  const table = keeper.table
  const server = buildServer(context, counters, table, valueStore, providerStore)
  // the round trips measured by peer: the lookups' requests and the crawl's visits, one store
  // (large enough to hold every full-table peer besides the lookups' own when the crawl runs)
  const roundTrips = new RoundTrips(ROUND_TRIP_PEERS + (settings.accelerated?.maxPeers ?? 0))
  const accelerated = buildAccelerated(context, client, table, roundTrips)
  const modes = new ModeController({
    registrar: components.registrar,
    addressManager: components.addressManager,
    events: components.events,
    protocol: settings.protocol,
    handler: server.handle,
    handlerOptions: { maxInboundStreams: D.MAX_INBOUND_STREAMS, maxOutboundStreams: D.MAX_OUTBOUND_STREAMS },
    addresses: settings.addresses,
    log: hooks.log,
    channel
  }, settings.mode)
  const metrics = components.metrics == null
    ? undefined
    : new DHTMetrics(components.metrics, settings.metricsPrefix, {
      counters: () => counters.snapshot(),
      tableSize: () => table.size,
      bucketSizes: () => new Map(table.info().map(bucket => [bucket.index, bucket.peers.length])),
      records: () => valueStore.size,
      providers: () => providerStore.stats(),
      mode: () => modes.mode,
      accelerated: settings.accelerated == null ? undefined : () => accelerated.stats()
    }, settings.clock.now)
  const query = new QueryRunner({
    ...settings.clock,
    self: components.peerId,
    table,
    client,
    connectionManager: components.connectionManager,
    log: hooks.log,
    kBucketSize: settings.kBucketSize,
    alpha: settings.alpha,
    queryTimeout: settings.queryTimeout,
    requestTimeout: settings.requestTimeout,
    stall: settings.stall,
    roundTrips,
    addresses: settings.addresses,
    lifetime: hooks.lifetime,
    channel,
    observers: [
      (type) => metrics?.lookup(type),
      (_type, target, options) => networkSize.observe(target, options),
      () => accelerated.observeLookup()
    ],
    start: (target, count) => accelerated.seeds(target, count)
  })
  const { peerRouting, values, providers } = buildRouting(context, { query, client, counters, valueStore, validator, providerStore, networkSize, accelerated })
  const reprovider = buildReprovider(context, { providers, networkSize, table, counters, metrics })
  const republisher = buildRepublisher(context, { values, table, counters })
  const refresher = buildRefresher(context, { query, keeper, modes })

  // what flows back up
  channel.on('first-peer', () => {
    refresher.joined()
    reprovider.wake()
    republisher.wake()
  })
  channel.on('network-size', () => {
    // the first reprovide cycle waits for a network size to cut the keyspace by
    if (reprovider.stats().waiting === 'network-size') {
      reprovider.wake()
    }
  })
  channel.on('mode', (mode) => {
    if (mode === 'client') {
      server.closeAll()
      // a client is found only through the servers it stays connected to
      refresher.checkClosest().catch(err => { hooks.log('closest-servers check failed: %s', err.message) })
    }
  })
  return { channel, counters, client, keeper, valueStore, providerStore, reprovider, republisher, server, modes, query, peerRouting, values, providers, refresher, networkSize, accelerated, metrics }
}

function buildNetwork ({ components, settings, hooks }: Context): { counters: Counters, client: Client } {
  const counters = new Counters()
  const client = new Client(components, {
    protocol: settings.protocol,
    maxMessageSize: C.MAX_MESSAGE_SIZE,
    counters,
    logPrefix: hooks.logPrefix,
    readTimeout: settings.requestTimeout,
    idleTimeout: settings.connections.outboundIdleTimeout,
    maxKept: D.MAX_KEPT_STREAMS,
    protocolFirst: settings.connections.protocolFirst,
    maxOutboundStreams: D.MAX_OUTBOUND_STREAMS
  })
  return { counters, client }
}

function buildStores ({ components, settings, hooks }: Context, validators: Record<string, Validator> | undefined): { validator: RecordValidator, valueStore: ValueStore, providerStore: ProviderStore } {
  const { log } = hooks
  const validator = new RecordValidator(validators)
  const valueStore = new ValueStore({ ...settings.clock, datastore: components.datastore, validator, onSweepError: (err) => { log('record sweep failed: %s', err.message) } })
  const providerStore = new ProviderStore({ ...settings.clock, datastore: components.datastore, onSweepError: (err) => { log('provider sweep failed: %s', err.message) } })
  return { validator, valueStore, providerStore }
}

function buildTable ({ components, settings, hooks, channel }: Context, client: Client): { keeper: TableKeeper, networkSize: NetworkSize } {
  const keeper = new TableKeeper({
    ...settings.clock,
    self: components.peerId,
    events: components.events,
    peerStore: components.peerStore,
    connectionManager: components.connectionManager,
    protocol: settings.protocol,
    addresses: settings.addresses,
    kBucketSize: settings.kBucketSize,
    diversity: settings.diversity,
    client,
    log: hooks.log,
    tags: { ...settings.connections, delay: D.TAG_UPDATE_DELAY },
    freshness: D.PEER_FRESHNESS,
    maxFailures: D.MAX_PEER_FAILURES,
    pingTimeout: D.PING_TIMEOUT,
    channel
  })
  const networkSize = new NetworkSize({
    table: keeper.table,
    self: kadId(components.peerId.toMultihash().bytes),
    kBucketSize: settings.kBucketSize,
    maxSamples: D.NETWORK_SIZE_MAX_SAMPLES,
    maxAge: D.NETWORK_SIZE_MAX_AGE,
    now: settings.clock.now,
    channel
  })
  return { keeper, networkSize }
}

/** The inbound server with a handler for each message type. */
function buildServer ({ components, settings, hooks, clock }: Context, counters: Counters, table: RoutingTable<DHTPeer>, values: ValueStore, providers: ProviderStore): Server {
  const closer = closerPeers({
    self: components.peerId,
    table,
    peerStore: components.peerStore,
    connectionManager: components.connectionManager,
    kBucketSize: settings.kBucketSize,
    addresses: settings.addresses
  })
  const providing = {
    store: providers,
    peerStore: components.peerStore,
    counters,
    addresses: settings.addresses,
    maxKeyBytes: C.MAX_PROVIDER_KEY_BYTES,
    addressTtl: C.PROVIDER_ADDRESS_TTL,
    maxAddresses: D.MAX_PROVIDER_ADDRESSES,
    now: clock.now,
    closer,
    self: components.peerId,
    selfAddresses: hooks.selfAddresses
  }
  const handlers: Handlers = {
    [MessageType.FIND_NODE]: findNodeHandler(closer),
    [MessageType.PING]: pingHandler(),
    [MessageType.PUT_VALUE]: putValueHandler(values),
    [MessageType.GET_VALUE]: getValueHandler({ store: values, peerStore: components.peerStore, closer }),
    [MessageType.ADD_PROVIDER]: addProviderHandler(providing),
    [MessageType.GET_PROVIDERS]: getProvidersHandler(providing)
  }
  return new Server(components, {
    maxMessageSize: C.MAX_MESSAGE_SIZE,
    messageTimeout: D.MESSAGE_READ_TIMEOUT,
    idleTimeout: settings.streamIdleTimeout,
    counters,
    logPrefix: hooks.logPrefix,
    // the rate limit paces socket I/O: it runs on the host's clock
    rateLimiter: settings.rateLimit == null ? undefined : new RateLimiter({ ...settings.rateLimit, maxPeers: D.RATE_LIMIT_MAX_PEERS, now: Date.now }),
    bytesPerRequest: D.RATE_LIMIT_BYTES_PER_REQUEST,
    onRequest: (from) => { table.touch(from.toString()) }
  }, handlers)
}

/**
 * The accelerated client's full table and crawl (built also when `accelerated` is off: `crawl()`
 * runs a one-pass crawl on it).
 */
function buildAccelerated ({ components, settings, hooks }: Context, client: Client, table: RoutingTable<DHTPeer>, roundTrips: RoundTrips): AcceleratedRouting {
  const selfKadId = kadId(components.peerId.toMultihash().bytes)
  return new AcceleratedRouting({
    ...settings.clock,
    self: components.peerId,
    client,
    protocol: settings.protocol,
    connectionManager: components.connectionManager,
    peerStore: components.peerStore,
    addresses: settings.addresses,
    kBucketSize: settings.kBucketSize,
    maxAddresses: D.ACCELERATED_MAX_ADDRESSES,
    visitTimeout: D.CRAWL_VISIT_TIMEOUT,
    stall: settings.stall,
    // the k closest carry the keep-alive tag: closing their connection would only make libp2p dial again
    keepsConnected: (peer) => settings.connections.keepAlive && table.has(peer.id) &&
      table.closest(selfKadId, settings.kBucketSize).some(entry => entry.id === peer.id),
    log: hooks.log,
    settings: settings.accelerated ?? { crawlInterval: D.CRAWL_INTERVAL, crawlConcurrency: D.CRAWL_CONCURRENCY, maxPeers: D.ACCELERATED_MAX_PEERS },
    table,
    maxDepth: D.CRAWL_MAX_DEPTH,
    maxFailedVisits: D.CRAWL_MAX_FAILED_VISITS,
    retryDelay: D.CRAWL_RETRY_DELAY,
    maxFailures: D.ACCELERATED_MAX_FAILURES,
    idleRecheck: D.CRAWL_IDLE_RECHECK,
    bulkConcurrency: D.BULK_SEND_CONCURRENCY,
    bulkPerPeer: D.BULK_SEND_PER_PEER,
    roundTrips,
    requestTimeout: settings.requestTimeout,
    selfAddresses: hooks.selfAddresses
  })
}

interface RoutingParts {
  query: QueryRunner
  client: Client
  counters: Counters
  valueStore: ValueStore
  validator: RecordValidator
  providerStore: ProviderStore
  networkSize: NetworkSize
  accelerated: AcceleratedRouting
}

function buildRouting ({ components, settings, hooks }: Context, parts: RoutingParts): { peerRouting: PeerRouting, values: ValueRouting, providers: ProviderRouting } {
  const { query, client } = parts
  const peerRouting = new PeerRouting({ self: components.peerId, query, peerStore: components.peerStore })
  const values = new ValueRouting({
    ...settings.clock,
    query,
    client,
    connectionManager: components.connectionManager,
    store: parts.valueStore,
    validator: parts.validator,
    counters: parts.counters,
    log: hooks.log,
    requestTimeout: settings.requestTimeout,
    lifetime: hooks.lifetime
  })
  const providers = new ProviderRouting({
    ...settings.clock,
    self: components.peerId,
    query,
    client,
    connectionManager: components.connectionManager,
    peerStore: components.peerStore,
    store: parts.providerStore,
    addresses: settings.addresses,
    selfAddresses: hooks.selfAddresses,
    log: hooks.log,
    requestTimeout: settings.requestTimeout,
    kBucketSize: settings.kBucketSize,
    maxRegionLookups: D.MAX_REGION_LOOKUPS,
    minRegionKeys: D.MIN_REGION_KEYS,
    keysAtOnce: D.PUBLISH_MANY_KEYS_AT_ONCE,
    regionsAtOnce: D.PUBLISH_MANY_REGIONS_AT_ONCE,
    defaultCount: D.FIND_PROVIDERS_COUNT,
    beta: settings.beta,
    lifetime: hooks.lifetime,
    fullTable: () => parts.accelerated.ready ? parts.accelerated : undefined,
    optimistic: settings.optimisticProvide
      ? {
          certainty: D.OPTIMISTIC_CERTAINTY,
          strictness: D.OPTIMISTIC_STRICTNESS,
          returnRatio: D.OPTIMISTIC_RETURN_RATIO,
          closestAnswered: D.OPTIMISTIC_CLOSEST_ANSWERED,
          networkSize: () => parts.networkSize.estimate(D.OPTIMISTIC_MIN_SAMPLES)?.size
        }
      : undefined
  })
  return { peerRouting, values, providers }
}

interface ReproviderParts {
  providers: ProviderRouting
  networkSize: NetworkSize
  table: RoutingTable<DHTPeer>
  counters: Counters
  metrics?: DHTMetrics
}

/** The reprovider, which publishes again through provider routing what the service provides. */
function buildReprovider ({ components, settings, hooks }: Context, parts: ReproviderParts): Reprovider {
  const { providers, networkSize, metrics } = parts
  return new Reprovider({
    ...settings.clock,
    datastore: components.datastore,
    self: kadId(components.peerId.toMultihash().bytes),
    interval: C.REPROVIDE_INTERVAL,
    prefix: D.PROVIDED_PREFIX,
    stateKey: D.REPROVIDE_STATE_KEY,
    regionBits: () => {
      const estimate = networkSize.estimate(1)
      return estimate == null ? undefined : regionBits(estimate.size, settings.kBucketSize)
    },
    online: () => parts.table.size > 0,
    recheckDelay: D.REPROVIDE_RECHECK_DELAY,
    retryDelay: D.REPROVIDE_RETRY_DELAY,
    maxRetries: D.REPROVIDE_MAX_RETRIES,
    publish: (keys, options) => {
      const results = providers.publishMany(keys, (key: Uint8Array) => key, options)
      return metrics?.reprovide(keys.length, results) ?? results
    },
    onProgress: (event) => {
      if (event.type === 'kadmium:reprovide:failed') {
        hooks.log('reproviding failed, tried again with the next region: %s', event.detail.error.message)
      } else if (event.type === 'kadmium:reprovide:error') {
        parts.counters.error(event.detail.error)
        hooks.log('the reprovide schedule failed, tried again soon: %s', event.detail.error.message)
      }
      settings.onReprovideProgress?.(event)
    }
  })
}

interface RepublisherParts {
  values: ValueRouting
  table: RoutingTable<DHTPeer>
  counters: Counters
}

/** The republisher, which puts again through value routing what the service keeps. */
function buildRepublisher ({ components, settings, hooks }: Context, { values, table, counters }: RepublisherParts): Republisher {
  return new Republisher({
    ...settings.clock,
    datastore: components.datastore,
    prefix: D.KEPT_PREFIX,
    self: kadId(components.peerId.toMultihash().bytes),
    interval: settings.republishInterval,
    put: async (key, value, options) => values.put(key, value, options),
    online: () => table.size > 0,
    recheckDelay: D.REPUBLISH_RECHECK_DELAY,
    retryDelay: D.REPUBLISH_RETRY_DELAY,
    onProgress: (event) => {
      if (event.type === 'kadmium:republish:failed') {
        hooks.log('putting a kept value again failed, tried again later: %s', event.detail.error.message)
      } else if (event.type === 'kadmium:republish:error') {
        counters.error(event.detail.error)
        hooks.log('the republisher failed, tried again soon: %s', event.detail.error.message)
      }
      settings.onRepublishProgress?.(event)
    }
  })
}

interface RefresherParts {
  query: QueryRunner
  keeper: TableKeeper
  modes: ModeController
}

function buildRefresher ({ components, settings, hooks }: Context, { query, keeper, modes }: RefresherParts): Refresher<DHTPeer> {
  const table = keeper.table
  return new Refresher({
    ...settings.clock,
    table,
    selfKey: components.peerId.toMultihash().bytes,
    selfKadId: kadId(components.peerId.toMultihash().bytes),
    lookup: async (key, { within, ...options }) => query.lookup(key, { ...options, accept: inBucket(table, within) }),
    ping: async (entry) => keeper.isAlive(entry.peer),
    concurrentChecks: settings.alpha,
    interval: settings.refreshInterval,
    queryTimeout: settings.refreshQueryTimeout,
    maxBucket: D.MAX_REFRESH_BUCKET,
    kBucketSize: settings.kBucketSize,
    joinWindow: settings.joinWindow,
    closestCheckInterval: settings.connections.checkInterval,
    isClient: () => modes.mode === 'client',
    randomWalkInterval: settings.randomWalkInterval,
    firstRefreshDelay: D.FIRST_REFRESH_DELAY,
    log: hooks.log
  })
}
