/**
 * The wiring of kadmium's layers: what the service is made of, built from the libp2p components
 * and the resolved settings. The service keeps the lifecycle and the public methods; this file
 * only says which part gets what.
 */
import { AcceleratedRouting } from './accelerated/accelerated.ts'
import * as C from './constants.ts'
import { createHandlers } from './handlers.ts'
import { kadId } from './keys.ts'
import { DHTMetrics } from './metrics.ts'
import { ModeController } from './mode.ts'
import { Client } from './network/client.ts'
import { Counters } from './network/counters.ts'
import { RateLimiter } from './network/rate-limit.ts'
import { Server } from './network/server.ts'
import { PeerRouting } from './peers/peer-routing.ts'
import { ProviderRouting } from './providers/provider-routing.ts'
import { ProviderStore } from './providers/provider-store.ts'
import { Reprovider } from './providers/reprovider.ts'
import { regionBits } from './providers/schedule.ts'
import { NetworkSize } from './providers/size-samples.ts'
import { setTimer } from './query/run-lookup.ts'
import { inBucket } from './query/table-lookup.ts'
import { TableKeeper } from './table/keeper.ts'
import { Refresher } from './table/refresher.ts'
import { RecordValidator } from './values/validators.ts'
import { ValueRouting } from './values/value-routing.ts'
import { ValueStore } from './values/value-store.ts'
import type { DHTPeer } from './network/dht-peer.ts'
import type { Settings } from './settings.ts'
import type { Validator } from './values/validators.ts'
import type { ComponentLogger, Libp2pEvents, Logger, Metrics, PeerId, PeerInfo, PeerStore, TypedEventTarget } from '@libp2p/interface'
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

/** What the layers need of the service that holds them. */
export interface ServiceHooks {
  log: Logger
  /** The prefix of every logger kadmium makes. */
  logPrefix: string
  /** Aborts when the service stops. */
  lifetime(): AbortSignal
  /** Our own addresses as we announce them. */
  selfAddresses(): Multiaddr[]
  /** Told about each peer first heard of in a lookup (the service's peer discovery). */
  onDiscovered(peer: PeerInfo): void
}

/** Every part of a running kadmium node. */
export interface Layers {
  counters: Counters
  client: Client
  keeper: TableKeeper
  valueStore: ValueStore
  providerStore: ProviderStore
  reprovider: Reprovider
  server: Server
  modes: ModeController
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

/** Builds every layer and wires each to what it needs. */
export function assemble (components: KadDHTComponents, settings: Settings, validators: Record<string, Validator> | undefined, hooks: ServiceHooks): Layers {
  const { log, lifetime, selfAddresses } = hooks
  const counters = new Counters()
  const client = new Client(components, {
    protocol: settings.protocol,
    maxMessageSize: C.MAX_MESSAGE_SIZE,
    counters,
    logPrefix: hooks.logPrefix,
    readTimeout: settings.requestTimeout,
    idleTimeout: settings.connections.outboundIdleTimeout,
    maxKept: C.MAX_KEPT_STREAMS
  })
  const validator = new RecordValidator(validators)
  const valueStore = new ValueStore({ datastore: components.datastore, validator, onSweepError: (err) => { log('record sweep failed: %s', err.message) } })
  const providerStore = new ProviderStore({ datastore: components.datastore, onSweepError: (err) => { log('provider sweep failed: %s', err.message) } })

  // the refresher is made last, but the keeper tells it when the table gets its first peer
  const keeper = new TableKeeper({
    self: components.peerId,
    events: components.events,
    peerStore: components.peerStore,
    connectionManager: components.connectionManager,
    protocol: settings.protocol,
    addresses: settings.addresses,
    kBucketSize: settings.kBucketSize,
    diversity: settings.diversity,
    client,
    log,
    tags: settings.connections,
    onFirstPeer: () => {
      refresher.joined()
      reprovider.wake()
    }
  })
  const table = keeper.table
  const selfKadId = kadId(components.peerId.toMultihash().bytes)
  const networkSize = new NetworkSize({
    table,
    self: selfKadId,
    kBucketSize: settings.kBucketSize,
    maxSamples: C.NETWORK_SIZE_MAX_SAMPLES,
    maxAge: C.NETWORK_SIZE_MAX_AGE,
    now: Date.now,
    // the first reprovide cycle waits for a network size to cut the keyspace by
    onSample: () => {
      if (reprovider.stats().waiting === 'network-size') {
        reprovider.wake()
      }
    }
  })

  const server = new Server(components, {
    maxMessageSize: C.MAX_MESSAGE_SIZE,
    messageTimeout: C.MESSAGE_READ_TIMEOUT,
    idleTimeout: settings.streamIdleTimeout,
    counters,
    logPrefix: hooks.logPrefix,
    rateLimiter: settings.rateLimit == null ? undefined : new RateLimiter({ ...settings.rateLimit, maxPeers: C.RATE_LIMIT_MAX_PEERS, now: Date.now }),
    bytesPerRequest: C.RATE_LIMIT_BYTES_PER_REQUEST,
    onRequest: (from) => { table.touch(from.toString()) }
  }, createHandlers({
    self: components.peerId,
    peerStore: components.peerStore,
    connectionManager: components.connectionManager,
    kBucketSize: settings.kBucketSize,
    addresses: settings.addresses,
    table,
    values: valueStore,
    providers: providerStore,
    counters,
    selfAddresses
  }))
  const modes = new ModeController({
    registrar: components.registrar,
    addressManager: components.addressManager,
    events: components.events,
    protocol: settings.protocol,
    handler: server.handle,
    handlerOptions: { maxInboundStreams: C.MAX_INBOUND_STREAMS, maxOutboundStreams: C.MAX_OUTBOUND_STREAMS },
    addresses: settings.addresses,
    log,
    onChange: (active) => {
      if (active === 'client') {
        server.closeAll()
        // a client is found only through the servers it stays connected to
        refresher.checkClosest().catch(err => { log('closest-servers check failed: %s', err.message) })
      }
    }
  }, settings.mode)

  const accelerated = new AcceleratedRouting({
    self: components.peerId,
    client,
    protocol: settings.protocol,
    connectionManager: components.connectionManager,
    peerStore: components.peerStore,
    addresses: settings.addresses,
    kBucketSize: settings.kBucketSize,
    maxAddresses: C.ACCELERATED_MAX_ADDRESSES,
    visitTimeout: C.CRAWL_VISIT_TIMEOUT,
    // the k closest carry the keep-alive tag: closing their connection would only make libp2p dial again
    keepsConnected: (peer) => settings.connections.keepAlive && table.has(peer.id) &&
      table.closest(selfKadId, settings.kBucketSize).some(entry => entry.id === peer.id),
    log,
    now: Date.now,
    schedule: setTimer,
    settings: settings.accelerated ?? { crawlInterval: C.CRAWL_INTERVAL, crawlConcurrency: C.CRAWL_CONCURRENCY, maxPeers: C.ACCELERATED_MAX_PEERS },
    table,
    maxDepth: C.CRAWL_MAX_DEPTH,
    maxFailedVisits: C.CRAWL_MAX_FAILED_VISITS,
    retryDelay: C.CRAWL_RETRY_DELAY,
    maxFailures: C.ACCELERATED_MAX_FAILURES,
    idleRecheck: C.CRAWL_IDLE_RECHECK,
    bulkConcurrency: C.BULK_SEND_CONCURRENCY,
    requestTimeout: settings.requestTimeout,
    selfAddresses
  })
  const peerRouting = new PeerRouting({
    self: components.peerId,
    table,
    client,
    connectionManager: components.connectionManager,
    peerStore: components.peerStore,
    log,
    kBucketSize: settings.kBucketSize,
    alpha: settings.alpha,
    queryTimeout: settings.queryTimeout,
    requestTimeout: settings.requestTimeout,
    stall: settings.stall,
    addresses: settings.addresses,
    lifetime,
    onDiscovered: hooks.onDiscovered,
    observe: (type, target, options) => {
      const observers = [metrics?.lookup(type), networkSize.observe(type, target, options)].filter(o => o != null)
      return {
        event: (event) => {
          observers.forEach(o => { o.event(event) })
          accelerated.observe(event)
        },
        end: (outcome) => { observers.forEach(o => { o.end(outcome) }) }
      }
    },
    fullView: (target, count) => accelerated.seeds(target, count)
  })
  const values = new ValueRouting({
    peerRouting,
    client,
    connectionManager: components.connectionManager,
    store: valueStore,
    validator,
    counters,
    log,
    requestTimeout: settings.requestTimeout,
    lifetime
  })
  // the reprovider publishes through provider routing, which tracks what it provides in it
  const reprovider: Reprovider = new Reprovider({
    datastore: components.datastore,
    self: selfKadId,
    interval: C.REPROVIDE_INTERVAL,
    prefix: C.PROVIDED_PREFIX,
    stateKey: C.REPROVIDE_STATE_KEY,
    regionBits: () => {
      const estimate = networkSize.estimate(1)
      return estimate == null ? undefined : regionBits(estimate.size, settings.kBucketSize)
    },
    online: () => table.size > 0,
    recheckDelay: C.REPROVIDE_RECHECK_DELAY,
    retryDelay: C.REPROVIDE_RETRY_DELAY,
    maxRetries: C.REPROVIDE_MAX_RETRIES,
    publish: (keys, options) => {
      const results = providers.publishMany(keys, (key: Uint8Array) => key, options)
      return metrics?.reprovide(keys.length, results) ?? results
    },
    onProgress: (event) => {
      if (event.type === 'kadmium:reprovide:failed') {
        log('reproviding failed, tried again with the next region: %s', event.detail.error.message)
      }
      settings.onReprovideProgress?.(event)
    }
  })
  const providers: ProviderRouting = new ProviderRouting({
    self: components.peerId,
    peerRouting,
    client,
    connectionManager: components.connectionManager,
    peerStore: components.peerStore,
    store: providerStore,
    reprovider,
    addresses: settings.addresses,
    selfAddresses,
    log,
    requestTimeout: settings.requestTimeout,
    kBucketSize: settings.kBucketSize,
    maxRegionLookups: C.MAX_REGION_LOOKUPS,
    minRegionKeys: C.MIN_REGION_KEYS,
    defaultCount: C.FIND_PROVIDERS_COUNT,
    beta: settings.beta,
    lifetime,
    fullTable: () => accelerated.ready ? accelerated : undefined,
    optimistic: settings.optimisticProvide
      ? {
          certainty: C.OPTIMISTIC_CERTAINTY,
          strictness: C.OPTIMISTIC_STRICTNESS,
          returnRatio: C.OPTIMISTIC_RETURN_RATIO,
          closestAnswered: C.OPTIMISTIC_CLOSEST_ANSWERED,
          networkSize: () => networkSize.estimate(C.OPTIMISTIC_MIN_SAMPLES)?.size
        }
      : undefined
  })
  const refresher: Refresher<DHTPeer> = new Refresher({
    table,
    selfKey: components.peerId.toMultihash().bytes,
    selfKadId,
    lookup: async (key, { within, ...options }) => peerRouting.lookup(key, {
      ...options,
      accept: inBucket(table, within)
    }),
    ping: async (entry) => keeper.isAlive(entry.peer),
    interval: settings.refreshInterval,
    queryTimeout: settings.refreshQueryTimeout,
    maxBucket: C.MAX_REFRESH_BUCKET,
    kBucketSize: settings.kBucketSize,
    joinWindow: settings.joinWindow,
    closestCheckInterval: settings.connections.checkInterval,
    isClient: () => modes.mode === 'client',
    randomWalkInterval: settings.randomWalkInterval,
    firstRefreshDelay: C.FIRST_REFRESH_DELAY,
    now: Date.now,
    log
  })
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
    })
  return { counters, client, keeper, valueStore, providerStore, reprovider, server, modes, peerRouting, values, providers, refresher, networkSize, accelerated, metrics }
}
