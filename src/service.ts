/**
 * The libp2p service: lifecycle, mode, the routing symbols and the wiring of the layers below.
 */
import { contentRoutingSymbol, peerDiscoverySymbol, peerRoutingSymbol, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import * as C from './constants.ts'
import { InvalidParametersError } from './errors.ts'
import { kadId } from './kademlia/keys.ts'
import { RoutingTable } from './kademlia/routing-table.ts'
import { ModeController } from './mode.ts'
import { peerGroups } from './network/diversity.ts'
import { Refresher } from './routing/refresher.ts'
import { inScope } from './network/addresses.ts'
import { Client } from './network/client.ts'
import { Counters } from './network/counters.ts'
import { dhtPeer } from './network/dht-peer.ts'
import { closerPeers } from './network/handlers/closer-peers.ts'
import { findNodeHandler } from './network/handlers/find-node.ts'
import { pingHandler } from './network/handlers/ping.ts'
import { addProviderHandler, getProvidersHandler } from './network/handlers/providers.ts'
import { getValueHandler, putValueHandler } from './network/handlers/values.ts'
import { Server } from './network/server.ts'
import { ProviderStore } from './providers/provider-store.ts'
import { Reprovider } from './providers/reprovider.ts'
import { RecordValidator } from './records/validators.ts'
import { ValueStore } from './records/value-store.ts'
import { PeerRouting } from './routing/peer-routing.ts'
import { ProviderRouting } from './routing/providers.ts'
import { ValueRouting } from './routing/values.ts'
import { deadline } from './utils/abort.ts'
import { MessageType } from './wire/codec.ts'
import type { KadDHTComponents, KadDHTInit, KadDHTStats } from './index.ts'
import type { ActiveMode, Mode } from './mode.ts'
import type { BucketInfo } from './kademlia/routing-table.ts'
import type { AddressScope } from './network/addresses.ts'
import type { DHTPeer } from './network/dht-peer.ts'
import type { Handlers } from './network/server.ts'
import type { LookupOptions } from './routing/peer-routing.ts'
import type { FindProvidersOptions, ProvideOptions } from './routing/providers.ts'
import type { GetOptions, PutOptions } from './routing/values.ts'
import type { AbortOptions, ContentRouting, Provider, Logger, PeerDiscovery, PeerDiscoveryEvents, PeerId, PeerInfo, PeerRouting as PeerRoutingInterface, PeerUpdate, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

const LOG_PREFIX = 'kadmium'

/** The multiaddr code of `/p2p`. */
const P2P_CODE = 0x01a5

function checkMode (mode: Mode): Mode {
  if (mode !== 'server' && mode !== 'client' && mode !== 'auto') {
    throw new InvalidParametersError(`mode must be 'auto', 'server' or 'client', got ${String(mode)}`)
  }
  return mode
}

function nonNegative (name: string, value: number | undefined, fallback: number): number {
  return value === 0 ? 0 : positive(name, value, fallback)
}

function positive (name: string, value: number | undefined, fallback: number): number {
  const out = value ?? fallback
  if (!Number.isInteger(out) || out < 1) {
    throw new InvalidParametersError(`${name} must be a positive integer, got ${value}`)
  }
  return out
}

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
  private readonly modes: ModeController
  private readonly refresher: Refresher<DHTPeer>
  private readonly addresses: AddressScope
  private readonly kBucketSize: number
  private readonly counters: Counters
  private readonly client: Client
  private readonly server: Server
  private readonly peerRouting: PeerRouting
  private readonly values: ValueRouting
  private readonly valueStore: ValueStore
  private readonly providerStore: ProviderStore
  private readonly reprovider: Reprovider
  private readonly providers: ProviderRouting
  private sweepers: Array<ReturnType<typeof setInterval>>
  private running: AbortController
  private topologyId?: string
  private readonly selfId: string

  constructor (components: KadDHTComponents, init: KadDHTInit = {}) {
    super()
    this.components = components
    this.protocol = init.protocol ?? C.PROTOCOL
    const mode = checkMode(init.mode ?? 'auto')
    this.addresses = init.addresses ?? (this.protocol === C.PROTOCOL ? 'public' : 'all')
    if (this.addresses !== 'public' && this.addresses !== 'all') {
      throw new InvalidParametersError(`addresses must be 'public' or 'all', got ${String(this.addresses)}`)
    }
    this.kBucketSize = positive('kBucketSize', init.kBucketSize, C.K_BUCKET_SIZE)
    const alpha = positive('alpha', init.alpha, C.ALPHA)
    const beta = positive('beta', init.beta, C.BETA)
    const queryTimeout = positive('queryTimeout', init.queryTimeout, C.QUERY_TIMEOUT)
    this.log = components.logger.forComponent(LOG_PREFIX)
    this.selfId = components.peerId.toString()
    this.counters = new Counters()
    this.running = new AbortController()
    this.running.abort()
    this.sweepers = []

    this.client = new Client(components, {
      protocol: this.protocol,
      maxMessageSize: C.MAX_MESSAGE_SIZE,
      counters: this.counters,
      logPrefix: LOG_PREFIX
    })
    const diversity = init.diversity ?? this.addresses === 'public'
    this.routingTable = new RoutingTable<DHTPeer>({
      localKey: kadId(components.peerId.toMultihash().bytes),
      kBucketSize: this.kBucketSize,
      freshness: C.PEER_FRESHNESS,
      maxFailures: C.MAX_PEER_FAILURES,
      now: Date.now,
      ping: async (entry) => this.isAlive(entry.peer),
      onAdd: () => {
        if (this.routingTable.size === 1) {
          this.refresher.joined()
        }
      },
      ...(diversity === false
        ? {}
        : {
            groups: peerGroups,
            maxPerGroupPerBucket: positive('diversity.maxPerBucket', diversity === true ? undefined : diversity.maxPerBucket, C.MAX_PEERS_PER_GROUP_PER_BUCKET),
            maxPerGroupInTable: positive('diversity.maxPerTable', diversity === true ? undefined : diversity.maxPerTable, C.MAX_PEERS_PER_GROUP_IN_TABLE)
          })
    })
    const validator = new RecordValidator(init.validators)
    this.valueStore = new ValueStore({ datastore: components.datastore, validator })
    this.providerStore = new ProviderStore({ datastore: components.datastore })
    const closer = closerPeers({
      self: components.peerId,
      table: this.routingTable,
      peerStore: components.peerStore,
      connectionManager: components.connectionManager,
      kBucketSize: this.kBucketSize,
      addresses: this.addresses
    })
    this.server = new Server(components, {
      maxMessageSize: C.MAX_MESSAGE_SIZE,
      messageTimeout: C.MESSAGE_READ_TIMEOUT,
      idleTimeout: C.STREAM_IDLE_TIMEOUT,
      counters: this.counters,
      logPrefix: LOG_PREFIX,
      onRequest: (from) => { this.routingTable.touch(from.toString()) }
    }, {
      [MessageType.FIND_NODE]: findNodeHandler(closer),
      [MessageType.PING]: pingHandler(),
      [MessageType.PUT_VALUE]: putValueHandler(this.valueStore),
      [MessageType.GET_VALUE]: getValueHandler({ store: this.valueStore, peerStore: components.peerStore, closer }),
      ...this.providerHandlers(closer)
    })
    this.peerRouting = new PeerRouting({
      self: components.peerId,
      table: this.routingTable,
      client: this.client,
      connectionManager: components.connectionManager,
      peerStore: components.peerStore,
      log: this.log,
      kBucketSize: this.kBucketSize,
      alpha,
      beta,
      queryTimeout,
      requestTimeout: Math.min(C.REQUEST_TIMEOUT, queryTimeout),
      addresses: this.addresses,
      stopped: () => this.running.signal,
      onDiscovered: (peer) => { this.safeDispatchEvent('peer', { detail: peer }) }
    })
    this.values = new ValueRouting({
      peerRouting: this.peerRouting,
      client: this.client,
      connectionManager: components.connectionManager,
      store: this.valueStore,
      validator,
      counters: this.counters,
      log: this.log,
      requestTimeout: Math.min(C.REQUEST_TIMEOUT, queryTimeout),
      stopped: () => this.running.signal
    })
    this.refresher = new Refresher<DHTPeer>({
      table: this.routingTable,
      selfKey: components.peerId.toMultihash().bytes,
      selfKadId: kadId(components.peerId.toMultihash().bytes),
      lookup: async (key, options) => this.peerRouting.lookup(key, options),
      ping: async (entry) => this.isAlive(entry.peer),
      interval: init.refresh?.enabled === false ? 0 : nonNegative('refresh.interval', init.refresh?.interval, C.REFRESH_INTERVAL),
      queryTimeout: positive('refresh.queryTimeout', init.refresh?.queryTimeout, C.REFRESH_QUERY_TIMEOUT),
      maxBucket: C.MAX_REFRESH_BUCKET,
      randomWalkInterval: init.randomWalk?.enabled === true ? positive('randomWalk.interval', init.randomWalk.interval, C.RANDOM_WALK_INTERVAL) : 0,
      firstRefreshDelay: C.FIRST_REFRESH_DELAY,
      now: Date.now,
      log: this.log
    })
    this.modes = new ModeController({
      registrar: components.registrar,
      addressManager: components.addressManager,
      events: components.events,
      protocol: this.protocol,
      handler: this.server.handle,
      handlerOptions: { maxInboundStreams: C.MAX_INBOUND_STREAMS, maxOutboundStreams: C.MAX_OUTBOUND_STREAMS },
      addresses: this.addresses,
      log: this.log,
      onChange: (active) => {
        if (active === 'client') {
          this.server.closeAll()
        }
      }
    }, mode)
    this.reprovider = new Reprovider({
      datastore: components.datastore,
      interval: C.REPROVIDE_INTERVAL,
      checkInterval: C.REPROVIDE_CHECK_INTERVAL,
      prefix: C.PROVIDED_PREFIX,
      provide: async (key, options) => this.providers.announce(key, options),
      onError: (key, err) => { this.log('reproviding failed, retried at the next check: %s', err.message) }
    })
    this.providers = new ProviderRouting({
      self: components.peerId,
      peerRouting: this.peerRouting,
      client: this.client,
      connectionManager: components.connectionManager,
      peerStore: components.peerStore,
      store: this.providerStore,
      reprovider: this.reprovider,
      addresses: this.addresses,
      selfAddresses: () => this.ownAddresses(),
      log: this.log,
      requestTimeout: Math.min(C.REQUEST_TIMEOUT, queryTimeout),
      defaultCount: C.FIND_PROVIDERS_COUNT,
      stopped: () => this.running.signal
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
    const { registrar, events } = this.components
    await Promise.all([this.valueStore.load(), this.providerStore.load()])
    this.sweepers = [
      setInterval(() => {
        this.valueStore.sweep({ signal: this.running.signal }).catch(err => { this.log('record sweep failed: %s', err.message) })
      }, C.RECORDS_SWEEP_INTERVAL),
      setInterval(() => {
        this.providerStore.sweep({ signal: this.running.signal }).catch(err => { this.log('provider sweep failed: %s', err.message) })
      }, C.PROVIDERS_SWEEP_INTERVAL)
    ]
    this.reprovider.start()
    await this.modes.start()
    this.refresher.start()
    // identify tells us which peers speak the protocol as servers: those enter the table
    this.topologyId = await registrar.register(this.protocol, {
      onConnect: (peerId) => { void this.offer(peerId) }
    })
    events.addEventListener('peer:update', this.onPeerUpdate)
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
    this.sweepers.forEach(clearInterval)
    this.sweepers = []
    await Promise.all([this.reprovider.stop(), this.refresher.stop()])
    const { registrar, events } = this.components
    events.removeEventListener('peer:update', this.onPeerUpdate)
    if (this.topologyId != null) {
      registrar.unregister(this.topologyId)
      this.topologyId = undefined
    }
    await this.modes.stop()
    this.server.closeAll()
    await Promise.all([this.routingTable.settled(), this.values.settled()])
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

  private providerHandlers (closer: ReturnType<typeof closerPeers>): Handlers {
    const init = {
      store: this.providerStore,
      peerStore: this.components.peerStore,
      counters: this.counters,
      addresses: this.addresses,
      maxKeyBytes: C.MAX_PROVIDER_KEY_BYTES,
      addressTtl: C.PROVIDER_ADDRESS_TTL,
      maxAddresses: C.MAX_PROVIDER_ADDRESSES,
      now: Date.now,
      closer,
      self: this.components.peerId,
      selfAddresses: () => this.ownAddresses()
    }
    return {
      [MessageType.ADD_PROVIDER]: addProviderHandler(init),
      [MessageType.GET_PROVIDERS]: getProvidersHandler(init)
    }
  }

  /** Our addresses as we announce them: without the trailing `/p2p/<our id>`. */
  private ownAddresses (): Multiaddr[] {
    return this.components.addressManager.getAddresses().map(ma => ma.decapsulateCode(P2P_CODE))
  }

  /** Offers a peer that speaks the protocol to the routing table. */
  private async offer (peerId: PeerId): Promise<void> {
    if (peerId.equals(this.components.peerId) || !this.isStarted()) {
      return
    }
    try {
      const peer = await this.components.peerStore.get(peerId)
      if (!peer.protocols.includes(this.protocol)) {
        return
      }
      const multiaddrs = inScope(this.addresses, peer.addresses.map(a => a.multiaddr))
      this.routingTable.add(peerId.toString(), kadId(peerId.toMultihash().bytes), dhtPeer(peerId, multiaddrs))
    } catch (err: any) {
      this.log('could not add %p to the routing table: %s', peerId, err.message)
    }
  }

  /** Keeps table entries' addresses current, and drops peers that stop serving the protocol. */
  private readonly onPeerUpdate = (event: CustomEvent<PeerUpdate>): void => {
    const { peer, previous } = event.detail
    const id = peer.id.toString()
    if (id === this.selfId) {
      return
    }
    const serves = peer.protocols.includes(this.protocol)
    const served = previous?.protocols.includes(this.protocol) === true
    const entry = this.routingTable.get(id)
    if (entry == null) {
      // a connected peer that became a server (identify push after a mode switch) is offered
      if (serves && !served && this.components.connectionManager.getConnections(peer.id).length > 0) {
        void this.offer(peer.id)
      }
      return
    }
    // a peer that stopped serving the protocol (it went to client mode) leaves the table; a
    // peer whose protocols are not known yet (identify still running) stays
    if (served && !serves) {
      this.routingTable.remove(id)
      return
    }
    entry.peer = dhtPeer(peer.id, inScope(this.addresses, peer.addresses.map(a => a.multiaddr)), entry.key)
  }

  /** A liveness check that the spec allows: FIND_NODE for our own id (PING is deprecated). */
  private async isAlive (peer: DHTPeer): Promise<boolean> {
    const check = deadline(C.PING_TIMEOUT, 'no answer to the liveness check', this.running.signal)
    try {
      await this.client.request(peer.peerId, {
        type: MessageType.FIND_NODE,
        key: this.components.peerId.toMultihash().bytes
      }, { signal: check.signal })
      return true
    } catch {
      return false
    } finally {
      check.clear()
    }
  }
}
