/**
 * The libp2p service: lifecycle, mode, the routing symbols and the wiring of the layers below.
 */
import { contentRoutingSymbol, peerDiscoverySymbol, peerRoutingSymbol, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import * as C from './constants.ts'
import { kadId } from './kademlia/keys.ts'
import { ModeController } from './mode.ts'
import { Client } from './network/client.ts'
import { Counters } from './network/counters.ts'
import { createHandlers } from './network/handlers/index.ts'
import { RateLimiter } from './network/rate-limit.ts'
import { Server } from './network/server.ts'
import { ProviderStore } from './providers/provider-store.ts'
import { Reprovider } from './providers/reprovider.ts'
import { RecordValidator } from './records/validators.ts'
import { ValueStore } from './records/value-store.ts'
import { PeerRouting } from './routing/peer-routing.ts'
import { ProviderRouting } from './routing/providers.ts'
import { Refresher } from './routing/refresher.ts'
import { TableKeeper } from './routing/table-keeper.ts'
import { ValueRouting } from './routing/values.ts'
import { checkMode, resolveSettings } from './settings.ts'
import type { BucketInfo, RoutingTable } from './kademlia/routing-table.ts'
import type { ActiveMode, Mode } from './mode.ts'
import type { CounterSnapshot } from './network/counters.ts'
import type { DHTPeer } from './network/dht-peer.ts'
import type { ProviderStoreStats } from './providers/provider-store.ts'
import type { LookupOptions } from './routing/peer-routing.ts'
import type { FindProvidersOptions, ProvideOptions } from './routing/providers.ts'
import type { GetOptions, PutOptions } from './routing/values.ts'
import type { KadDHTInit } from './settings.ts'
import type { AbortOptions, ComponentLogger, ContentRouting, Libp2pEvents, PeerStore, TypedEventTarget, Logger, PeerDiscovery, PeerDiscoveryEvents, PeerId, PeerInfo, PeerRouting as PeerRoutingInterface, Provider, Startable } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

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

const LOG_PREFIX = 'kadmium'

/** The multiaddr code of `/p2p`. */
const P2P_CODE = 0x01a5

/**
 * A Kademlia DHT node. Create it with {@link kadDHT} and reach it as `node.services.dht`.
 */
export class KadDHT extends TypedEventEmitter<PeerDiscoveryEvents> implements PeerDiscovery, Startable {
  /** The protocol served and spoken. */
  readonly protocol: string
  /** The k-bucket routing table. */
  readonly routingTable: RoutingTable<DHTPeer>
  readonly [Symbol.toStringTag] = 'kadmium'
  readonly [serviceCapabilities]: string[] = ['@libp2p/content-routing', '@libp2p/peer-routing', '@libp2p/peer-discovery']
  readonly [serviceDependencies]: string[] = ['@libp2p/identify']

  private readonly components: KadDHTComponents
  private readonly log: Logger
  private readonly keeper: TableKeeper
  private readonly modes: ModeController
  private readonly refresher: Refresher<DHTPeer>
  private readonly counters: Counters
  private readonly server: Server
  private readonly peerRouting: PeerRouting
  private readonly values: ValueRouting
  private readonly valueStore: ValueStore
  private readonly providerStore: ProviderStore
  private readonly reprovider: Reprovider
  private readonly providers: ProviderRouting
  private running: AbortController

  constructor (components: KadDHTComponents, init: KadDHTInit = {}) {
    super()
    const settings = resolveSettings(init)
    this.components = components
    this.protocol = settings.protocol
    this.log = components.logger.forComponent(LOG_PREFIX)
    this.counters = new Counters()
    this.running = new AbortController()
    this.running.abort()
    const stopped = (): AbortSignal => this.running.signal
    const selfAddresses = (): Multiaddr[] => this.ownAddresses()

    const client = new Client(components, {
      protocol: settings.protocol,
      maxMessageSize: C.MAX_MESSAGE_SIZE,
      counters: this.counters,
      logPrefix: LOG_PREFIX
    })
    this.keeper = new TableKeeper({
      self: components.peerId,
      events: components.events,
      peerStore: components.peerStore,
      protocol: settings.protocol,
      addresses: settings.addresses,
      kBucketSize: settings.kBucketSize,
      diversity: settings.diversity,
      client,
      log: this.log,
      onFirstPeer: () => { this.refresher.joined() }
    })
    this.routingTable = this.keeper.table
    const validator = new RecordValidator(init.validators)
    this.valueStore = new ValueStore({ datastore: components.datastore, validator, onSweepError: (err) => { this.log('record sweep failed: %s', err.message) } })
    this.providerStore = new ProviderStore({ datastore: components.datastore, onSweepError: (err) => { this.log('provider sweep failed: %s', err.message) } })
    this.server = new Server(components, {
      maxMessageSize: C.MAX_MESSAGE_SIZE,
      messageTimeout: C.MESSAGE_READ_TIMEOUT,
      idleTimeout: C.STREAM_IDLE_TIMEOUT,
      counters: this.counters,
      logPrefix: LOG_PREFIX,
      rateLimiter: settings.rateLimit == null
        ? undefined
        : new RateLimiter({ ...settings.rateLimit, maxPeers: C.RATE_LIMIT_MAX_PEERS, now: Date.now }),
      onRequest: (from) => { this.routingTable.touch(from.toString()) }
    }, createHandlers({
      self: components.peerId,
      peerStore: components.peerStore,
      connectionManager: components.connectionManager,
      kBucketSize: settings.kBucketSize,
      addresses: settings.addresses,
      table: this.routingTable,
      values: this.valueStore,
      providers: this.providerStore,
      counters: this.counters,
      selfAddresses
    }))
    this.peerRouting = new PeerRouting({
      ...settings,
      self: components.peerId,
      table: this.routingTable,
      client,
      connectionManager: components.connectionManager,
      peerStore: components.peerStore,
      log: this.log,
      stopped,
      onDiscovered: (peer) => { this.safeDispatchEvent('peer', { detail: peer }) }
    })
    this.values = new ValueRouting({
      peerRouting: this.peerRouting,
      client,
      connectionManager: components.connectionManager,
      store: this.valueStore,
      validator,
      counters: this.counters,
      log: this.log,
      requestTimeout: settings.requestTimeout,
      stopped
    })
    this.refresher = new Refresher<DHTPeer>({
      table: this.routingTable,
      selfKey: components.peerId.toMultihash().bytes,
      selfKadId: kadId(components.peerId.toMultihash().bytes),
      lookup: async (key, options) => this.peerRouting.lookup(key, options),
      ping: async (entry) => this.keeper.isAlive(entry.peer),
      interval: settings.refreshInterval,
      queryTimeout: settings.refreshQueryTimeout,
      maxBucket: C.MAX_REFRESH_BUCKET,
      randomWalkInterval: settings.randomWalkInterval,
      firstRefreshDelay: C.FIRST_REFRESH_DELAY,
      now: Date.now,
      log: this.log
    })
    this.modes = new ModeController({
      registrar: components.registrar,
      addressManager: components.addressManager,
      events: components.events,
      protocol: settings.protocol,
      handler: this.server.handle,
      handlerOptions: { maxInboundStreams: C.MAX_INBOUND_STREAMS, maxOutboundStreams: C.MAX_OUTBOUND_STREAMS },
      addresses: settings.addresses,
      log: this.log,
      onChange: (active) => {
        if (active === 'client') {
          this.server.closeAll()
        }
      }
    }, settings.mode)
    this.reprovider = new Reprovider({
      datastore: components.datastore,
      interval: C.REPROVIDE_INTERVAL,
      checkInterval: C.REPROVIDE_CHECK_INTERVAL,
      prefix: C.PROVIDED_PREFIX,
      provide: (keys, options) => this.providers.announceMany(keys, options),
      onError: (key, err) => { this.log('reproviding failed, retried at the next check: %s', err.message) }
    })
    this.providers = new ProviderRouting({
      self: components.peerId,
      peerRouting: this.peerRouting,
      client,
      connectionManager: components.connectionManager,
      peerStore: components.peerStore,
      store: this.providerStore,
      reprovider: this.reprovider,
      addresses: settings.addresses,
      selfAddresses,
      log: this.log,
      requestTimeout: settings.requestTimeout,
      kBucketSize: settings.kBucketSize,
      maxRegionLookups: C.MAX_REGION_LOOKUPS,
      minRegionKeys: C.MIN_REGION_KEYS,
      defaultCount: C.FIND_PROVIDERS_COUNT,
      beta: settings.beta,
      stopped
    })
  }

  get [contentRoutingSymbol] (): ContentRouting {
    return {
      put: async (key, value, options) => { await this.put(key, value, options) },
      get: async (key, options) => this.get(key, options),
      provide: async (cid, options) => { await this.provide(cid, options) },
      cancelReprovide: async (cid, options) => { await this.cancelReprovide(cid, options) },
      findProviders: (cid, options) => this.findProviders(cid, options)
    }
  }

  get [peerDiscoverySymbol] (): PeerDiscovery {
    return this
  }

  get [peerRoutingSymbol] (): PeerRoutingInterface {
    return {
      findPeer: async (peerId, options) => this.findPeer(peerId, options),
      getClosestPeers: (key, options) => this.getClosestPeers(key, options)
    }
  }

  /** Whether the service is running. */
  isStarted (): boolean {
    return !this.running.signal.aborted
  }

  /** What the node is now: `'server'` answers DHT requests; `'client'` only asks. */
  getMode (): ActiveMode {
    return this.modes.mode
  }

  /**
   * Pins the mode to `'server'` or `'client'`, or lets it follow the node's addresses with
   * `'auto'`. In client mode the protocol is neither handled nor advertised.
   *
   * @example
   * ```ts
   * await node.services.dht.setMode('client')
   * ```
   */
  async setMode (mode: Mode): Promise<void> {
    await this.modes.set(checkMode(mode))
  }

  /**
   * Runs one routing-table refresh now and resolves when it ends: a lookup for every bucket
   * that saw none within the refresh interval, one for our own id, and a check of every peer
   * not heard from within the interval (those that fail are dropped).
   */
  async refreshRoutingTable (options: AbortOptions = {}): Promise<void> {
    await this.refresher.refresh(options)
  }

  async start (): Promise<void> {
    if (this.isStarted()) {
      return
    }
    this.running = new AbortController()
    await Promise.all([this.valueStore.start(), this.providerStore.start()])
    this.reprovider.start()
    await this.modes.start()
    this.refresher.start()
    await this.keeper.start()
    this.log('started in %s mode (%s) on %s', this.modes.mode, this.modes.request, this.protocol)
  }

  /** Called by libp2p once every component has started: the listen addresses are known now. */
  async afterStart (): Promise<void> {
    await this.modes.check()
  }

  async stop (): Promise<void> {
    if (!this.isStarted()) {
      return
    }
    this.running.abort(new Error('the DHT stopped'))
    await Promise.all([this.reprovider.stop(), this.refresher.stop(), this.valueStore.stop(), this.providerStore.stop()])
    await this.modes.stop()
    this.server.closeAll()
    await Promise.all([this.keeper.stop(), this.values.settled()])
  }

  /**
   * The `k` peers closest to `key` that answered a lookup, closest first. `key` is raw key
   * bytes (a peer id's multihash, a CID's multihash); it is hashed into the keyspace.
   *
   * @example
   * ```ts
   * for await (const peer of node.services.dht.getClosestPeers(key, { signal })) {
   *   console.log(peer.id.toString(), peer.multiaddrs)
   * }
   * ```
   */
  async * getClosestPeers (key: Uint8Array, options: LookupOptions = {}): AsyncGenerator<PeerInfo> {
    yield * this.peerRouting.getClosestPeers(key, options)
  }

  /**
   * Finds a peer's addresses; throws an error named `NotFoundError` when no peer knows it.
   *
   * @example
   * ```ts
   * const { multiaddrs } = await node.services.dht.findPeer(peerId)
   * ```
   */
  async findPeer (peerId: PeerId, options: LookupOptions = {}): Promise<PeerInfo> {
    return this.peerRouting.findPeer(peerId, options)
  }

  /**
   * Stores a value under a namespaced key on the k closest peers and locally; resolves to how
   * many peers confirmed. Throws before sending anything when the key's namespace is unknown or
   * its validator refuses the value, and `NotStoredError` when no peer confirmed.
   *
   * @example
   * ```ts
   * const count = await node.services.dht.put(uint8ArrayFromString('/ipns/…'), marshalledRecord)
   * ```
   */
  async put (key: Uint8Array, value: Uint8Array, options: PutOptions = {}): Promise<number> {
    return this.values.put(key, value, options)
  }

  /**
   * The best valid value under a namespaced key. `quorum` stops the lookup after that many valid
   * answers. Peers that hold a worse record are sent the best one afterwards. Throws
   * `NotFoundError` when no valid record exists.
   *
   * @example
   * ```ts
   * const value = await node.services.dht.get(key, { quorum: 3, signal: AbortSignal.timeout(10_000) })
   * ```
   */
  async get (key: Uint8Array, options: GetOptions = {}): Promise<Uint8Array> {
    return this.values.get(key, options)
  }

  /**
   * Announces that this node provides `cid`: stores the record locally, sends ADD_PROVIDER to
   * the k closest peers and resolves to how many it was sent to (`NotStoredError` when none).
   * The CID is provided again every 22 h, also after a restart, until {@link cancelReprovide}.
   *
   * @example
   * ```ts
   * await node.services.dht.provide(cid)
   * ```
   */
  async provide (cid: CID, options: ProvideOptions = {}): Promise<number> {
    return this.providers.provide(cid.multihash.bytes, options)
  }

  /**
   * Provides many CIDs at once with far fewer lookups than a `provide` of each: a few lookups
   * see the region of the keyspace around one CID whole (every peer in it), which settles the k
   * closest peers of every CID in that region; those are sent their records with no lookup of
   * their own. The more CIDs per node of the network, the larger the saving (about a tenth of
   * the lookups with as many CIDs as nodes); sparse CIDs cost what a `provide` of each does.
   * Yields each CID once, as it is done, with how many peers it was sent to (or the error that
   * kept it from all). Each one that reached a peer is provided again every 22 h, like `provide`.
   *
   * @example
   * ```ts
   * for await (const { cid, sent, error } of node.services.dht.provideMany(cids)) {
   *   console.log(cid.toString(), error == null ? `sent to ${sent}` : error.message)
   * }
   * ```
   */
  async * provideMany (cids: Iterable<CID>, options: ProvideOptions = {}): AsyncGenerator<{ cid: CID, sent: number, error?: Error }> {
    const byKey = new Map<string, CID>()
    for (const cid of cids) {
      byKey.set(uint8ArrayToString(cid.multihash.bytes, 'base64'), cid)
    }
    const keys = [...byKey.values()].map(cid => cid.multihash.bytes)
    for await (const { key, sent, error } of this.providers.announceMany(keys, options)) {
      if (error == null) {
        await this.reprovider.track(key, options)
      }
      yield { cid: byKey.get(uint8ArrayToString(key, 'base64')) as CID, sent, error }
    }
  }

  /**
   * The providers of `cid`, each once: the local ones first, then as answers arrive. Ends after
   * `count` (default 20) or when the lookup ends.
   *
   * @example
   * ```ts
   * for await (const provider of node.services.dht.findProviders(cid, { count: 5 })) {
   *   console.log(provider.id.toString(), provider.multiaddrs)
   * }
   * ```
   */
  async * findProviders (cid: CID, options: FindProvidersOptions = {}): AsyncGenerator<Provider> {
    yield * this.providers.findProviders(cid.multihash.bytes, options)
  }

  /** Stops providing `cid` again; resolves whether it was being provided. */
  async cancelReprovide (cid: CID, options: ProvideOptions = {}): Promise<boolean> {
    return this.providers.cancelReprovide(cid.multihash.bytes, options)
  }

  /** Whether `cid` is on the list of CIDs this node provides again. */
  async isReproviding (cid: CID): Promise<boolean> {
    return this.reprovider.has(cid.multihash.bytes)
  }

  /** The routing table bucket by bucket: each peer with when it entered and was last seen. */
  routingTableInfo (): Array<BucketInfo<DHTPeer>> {
    return this.routingTable.info()
  }

  /** Counters of requests and errors, and the routing-table size. */
  stats (): KadDHTStats {
    return {
      ...this.counters.snapshot(),
      routingTableSize: this.routingTable.size,
      records: this.valueStore.size,
      providers: this.providerStore.stats()
    }
  }

  /** Our addresses as we announce them: without the trailing `/p2p/<our id>`. */
  private ownAddresses (): Multiaddr[] {
    return this.components.addressManager.getAddresses().map(ma => ma.decapsulateCode(P2P_CODE))
  }
}
