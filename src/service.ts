/**
 * The libp2p service: lifecycle, mode, the routing symbols and the public methods, over the
 * layers that assemble.ts builds.
 */
import { contentRoutingSymbol, peerDiscoverySymbol, peerRoutingSymbol, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { assemble } from './assemble.ts'
import { checkMode, resolveSettings } from './settings.ts'
import { MessageType } from './wire/codec.ts'
import type { KadDHTComponents, Layers } from './assemble.ts'
import type { Clock } from './clock.ts'
import type { ActiveMode, Mode } from './mode.ts'
import type { AddressScope } from './network/addresses.ts'
import type { CounterSnapshot } from './network/counters.ts'
import type { DHTPeer } from './network/dht-peer.ts'
import type { FindProvidersOptions, ProvideManyResult, ProvideOptions } from './providers/provider-routing.ts'
import type { ProviderStoreStats } from './providers/provider-store.ts'
import type { ReprovideStats } from './providers/reprovider.ts'
import type { LookupOptions } from './query/runner.ts'
import type { KadDHTInit } from './settings.ts'
import type { BucketInfo, RoutingTable } from './table/routing-table.ts'
import type { KeptInfo, RepublishStats } from './values/republisher.ts'
import type { GetOptions, PutOptions } from './values/value-routing.ts'
import type { AbortOptions, ContentRouting, Logger, PeerDiscovery, PeerDiscoveryEvents, PeerId, PeerInfo, PeerRouting as PeerRoutingInterface, Provider, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

export type { KadDHTComponents } from './assemble.ts'
export type { ProvideManyResult } from './providers/provider-routing.ts'

/** A record held for others, as {@link KadDHT.listStored} lists it. */
export interface StoredRecord {
  /** Its key. */
  key: Uint8Array
  /** The size of its value, in bytes. */
  bytes: number
  /** When it was received, if that can be read. */
  received?: Date
}

/** What {@link KadDHT.listStored} lists: the first few of each, in datastore order. */
export interface StoredLists {
  /** Records held for others. */
  records: StoredRecord[]
  /** Keys with provider records held (a CID's multihash bytes). */
  providerKeys: Uint8Array[]
  /** How many keys this node provides (and provides again every 22 h). */
  provided: number
  /** The first of those keys. */
  providedKeys: Uint8Array[]
  /** How many values this node keeps alive (`put` with `keep`). */
  kept: number
  /** The first of their keys. */
  keptKeys: Uint8Array[]
}

/** A value this node keeps alive, as {@link KadDHT.listKept} lists it. */
export interface KeptRecord {
  /** Its key. */
  key: Uint8Array
  /** The size of its value, in bytes. */
  bytes: number
  /** When it was last put (ms since the epoch); undefined while no put reached a peer. */
  put?: number
  /** When it is next put (ms since the epoch). */
  due: number
}

/** What {@link KadDHT.stats} reports. */
export interface KadDHTStats extends CounterSnapshot {
  /** Peers in the routing table. */
  routingTableSize: number
  /** Records held for others (expired ones until they are swept). */
  records: number
  /** Provider records held: keys and (key, provider) records. */
  providers: ProviderStoreStats
  /** The reprovide schedule: keys provided, regions, the next region due, the last region and cycle. */
  reprovide: ReprovideStats
  /** The values kept alive: how many, the next due, the last put, puts that reached a peer and that failed. */
  republish: RepublishStats
  /**
   * The network size estimated from the last complete lookups and the routing table (peers
   * besides this node), undefined before the first.
   */
  networkSize?: number
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
  /** Which peer addresses are shared and accepted (the `addresses` option, or its default). */
  readonly addressScope: AddressScope
  /** The k-bucket routing table. */
  readonly routingTable: RoutingTable<DHTPeer>
  /** The service's name in logs and `toString()`. */
  readonly [Symbol.toStringTag] = 'kadmium'
  /** What libp2p may find this service by. */
  readonly [serviceCapabilities]: string[] = ['@libp2p/content-routing', '@libp2p/peer-routing', '@libp2p/peer-discovery']
  /** Services libp2p must start first. */
  readonly [serviceDependencies]: string[] = ['@libp2p/identify']

  private readonly components: KadDHTComponents
  private readonly log: Logger
  private readonly layers: Layers
  /** The node's one clock. */
  private readonly clock: Clock
  private running: AbortController

  constructor (components: KadDHTComponents, init: KadDHTInit = {}) {
    super()
    const settings = resolveSettings(init)
    this.components = components
    this.clock = settings.clock
    this.protocol = settings.protocol
    this.addressScope = settings.addresses
    this.log = components.logger.forComponent(LOG_PREFIX)
    this.running = new AbortController()
    this.running.abort()
    this.layers = assemble(components, settings, init.validators, {
      log: this.log,
      logPrefix: LOG_PREFIX,
      lifetime: () => this.running.signal,
      selfAddresses: () => this.ownAddresses()
    })
    this.layers.channel.on('discovered', (peer) => { this.safeDispatchEvent('peer', { detail: peer }) })
    this.routingTable = this.layers.keeper.table
  }

  /** This DHT as a libp2p content router: what `node.contentRouting` calls. */
  get [contentRoutingSymbol] (): ContentRouting {
    return {
      put: async (key, value, options) => { await this.put(key, value, options) },
      get: async (key, options) => this.get(key, options),
      provide: async (cid, options) => { await this.provide(cid, options) },
      cancelReprovide: async (cid, options) => { await this.cancelReprovide(cid, options) },
      findProviders: (cid, options) => this.findProviders(cid, options)
    }
  }

  /** This DHT as a libp2p peer discovery: it reports each peer a lookup discovers. */
  get [peerDiscoverySymbol] (): PeerDiscovery {
    return this
  }

  /** This DHT as a libp2p peer router: what `node.peerRouting` calls. */
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
    return this.layers.modes.mode
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
    await this.layers.modes.set(checkMode(mode))
  }

  /**
   * Runs one routing-table refresh now and resolves when it ends: a lookup of our own id, a
   * check of every peer not heard from within the refresh interval and of every one of our k
   * closest that did not answer that lookup (those that fail are dropped), then a lookup for
   * every bucket left short of k that saw none within the interval.
   */
  async refreshRoutingTable (options: AbortOptions = {}): Promise<void> {
    await this.layers.refresher.refresh(options)
  }

  async start (): Promise<void> {
    if (this.isStarted()) {
      return
    }
    this.running = new AbortController()
    await Promise.all([this.layers.valueStore.start(), this.layers.providerStore.start()])
    this.layers.reprovider.start()
    this.layers.republisher.start()
    await this.layers.modes.start()
    this.layers.refresher.start()
    await this.layers.keeper.start()
    this.log('started in %s mode (%s) on %s', this.layers.modes.mode, this.layers.modes.request, this.protocol)
  }

  /** Called by libp2p once every component has started: the listen addresses are known now. */
  async afterStart (): Promise<void> {
    await this.layers.modes.check()
  }

  async stop (): Promise<void> {
    if (!this.isStarted()) {
      return
    }
    this.running.abort(new Error('the DHT stopped'))
    await Promise.all([this.layers.reprovider.stop(), this.layers.republisher.stop(), this.layers.refresher.stop(), this.layers.valueStore.stop(), this.layers.providerStore.stop()])
    await this.layers.modes.stop()
    this.layers.server.closeAll()
    this.layers.client.closeAll()
    await Promise.all([this.layers.keeper.stop(), this.layers.values.settled(), this.layers.providers.settled()])
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
    yield * this.layers.peerRouting.getClosestPeers(key, options)
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
    return this.layers.peerRouting.findPeer(peerId, options)
  }

  /**
   * Stores a value under a namespaced key on the k closest peers and locally; resolves to how
   * many peers confirmed. Throws before sending anything when the key's namespace is unknown or
   * its validator refuses the value, and `NotStoredError` when no peer confirmed.
   *
   * With `keep: true` this node owns the value and keeps it alive: it is put again, byte for
   * byte (an IPNS record is never signed again), every 12 h on average, spread with the other
   * kept values over the interval, also after a restart, paused while the node has no DHT peer,
   * until {@link forget}. A later put under a kept key, with or without `keep`, changes the
   * value kept. A value kept is kept even when no peer stored it now (`NotStoredError`): it
   * goes out once the node has peers.
   *
   * @example
   * ```ts
   * const count = await node.services.dht.put(uint8ArrayFromString('/ipns/…'), marshalledRecord, { keep: true })
   * ```
   */
  async put (key: Uint8Array, value: Uint8Array, options: PutOptions = {}): Promise<number> {
    const { values, republisher } = this.layers
    const started = this.clock.now()
    const keep = async (put: number | undefined): Promise<unknown> => options.keep === true
      ? republisher.keep(key, value, put, options)
      : republisher.update(key, value, put, options)
    let stored: number
    try {
      stored = await values.put(key, value, options)
    } catch (err: any) {
      if (err.name === 'NotStoredError') {
        // stored here only: kept, and due as soon as a peer is there
        await keep(undefined)
      }
      throw err
    }
    await keep(started)
    return stored
  }

  /**
   * Stops keeping the value under `key` alive: it is no longer put again (the records already
   * out live out their 48 h). Resolves whether it was kept.
   *
   * @example
   * ```ts
   * await node.services.dht.forget(key)
   * ```
   */
  async forget (key: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    return this.layers.republisher.forget(key, options)
  }

  /** Whether the value under `key` is kept alive (put with `keep`, not forgotten). */
  async isKept (key: Uint8Array, options: AbortOptions = {}): Promise<boolean> {
    return this.layers.republisher.has(key, options)
  }

  /**
   * The first `limit` values this node keeps alive, in datastore order: each key with the size
   * of its value, when it was last put and when it is next put.
   *
   * @example
   * ```ts
   * for (const { key, due } of await node.services.dht.listKept(10)) {
   *   console.log(new TextDecoder().decode(key), new Date(due))
   * }
   * ```
   */
  async listKept (limit: number, options: AbortOptions = {}): Promise<KeptRecord[]> {
    const out: KeptRecord[] = []
    if (limit <= 0) {
      return out
    }
    for await (const kept of this.layers.republisher.list(options)) {
      out.push(keptRecord(kept))
      if (out.length >= limit) {
        break
      }
    }
    return out
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
    return this.layers.values.get(key, options)
  }

  /**
   * Announces that this node provides `cid`: stores the record locally, sends ADD_PROVIDER to
   * the k closest peers and resolves to how many it was sent to (`NotStoredError` when none).
   * With `optimisticProvide` (the default) and a network size known, the records go out during
   * the lookup and the call resolves once 15 of the 20 were sent or failed, to how many had
   * arrived by then; the rest follow in the background. The CID is provided again every 22 h,
   * in its keyspace region's turn, also after a restart, until {@link cancelReprovide}.
   *
   * @example
   * ```ts
   * await node.services.dht.provide(cid)
   * ```
   */
  async provide (cid: CID, options: ProvideOptions = {}): Promise<number> {
    const key = cid.multihash.bytes
    const sent = await this.layers.providers.publish(key, options)
    await this.layers.reprovider.track(key, options)
    return sent
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
  async * provideMany (cids: Iterable<CID>, options: ProvideOptions = {}): AsyncGenerator<ProvideManyResult> {
    for await (const { item, sent, error } of this.layers.providers.publishMany(cids, cid => cid.multihash.bytes, options)) {
      if (error == null) {
        await this.layers.reprovider.track(item.multihash.bytes, options)
      }
      yield { cid: item, sent, error }
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
    yield * this.layers.providers.findProviders(cid.multihash.bytes, options)
  }

  /**
   * Asks one peer, with one FIND_NODE, for the peers it knows closest to `key` (raw key bytes),
   * as it answers: no lookup, and nothing of the answer enters the routing table.
   *
   * @example
   * ```ts
   * const peers = await node.services.dht.findNode(peerId, key, { signal: AbortSignal.timeout(5_000) })
   * ```
   */
  async findNode (peer: PeerId, key: Uint8Array, options: AbortOptions = {}): Promise<PeerInfo[]> {
    const answer = await this.layers.client.request(peer, { type: MessageType.FIND_NODE, key }, options)
    return answer.closer.all().map(({ id, multiaddrs }) => ({ id, multiaddrs }))
  }

  /** Stops providing `cid` again; resolves whether it was being provided. */
  async cancelReprovide (cid: CID, options: ProvideOptions = {}): Promise<boolean> {
    return this.layers.reprovider.forget(cid.multihash.bytes, options)
  }

  /** Whether `cid` is on the list of CIDs this node provides again. */
  async isReproviding (cid: CID): Promise<boolean> {
    return this.layers.reprovider.has(cid.multihash.bytes)
  }

  /** The routing table bucket by bucket: each peer with when it entered and was last seen. */
  routingTableInfo (): Array<BucketInfo<DHTPeer>> {
    return this.routingTable.info()
  }

  /**
   * The first `limit` records held for others, keys with provider records and keys this node
   * provides, each in datastore order, with how many keys it provides.
   *
   * @example
   * ```ts
   * const { records, providedKeys } = await node.services.dht.listStored(10)
   * ```
   */
  async listStored (limit: number, options: AbortOptions = {}): Promise<StoredLists> {
    const { valueStore, providerStore, reprovider, republisher } = this.layers
    const [provided, kept] = await Promise.all([reprovider.size(), republisher.size(options)])
    const providedKeys: Uint8Array[] = []
    if (limit <= 0) {
      // a datastore may read a limit of 0 as no limit
      return { records: [], providerKeys: [], provided, providedKeys, kept, keptKeys: [] }
    }
    for await (const { key } of reprovider.list(options)) {
      providedKeys.push(key)
      if (providedKeys.length >= limit) {
        break
      }
    }
    const [records, providerKeys, keptRecords] = await Promise.all([valueStore.list(limit, options), providerStore.listKeys(limit, options), this.listKept(limit, options)])
    return {
      records: records.map(record => ({ key: record.key, bytes: record.value.length, received: record.timeReceived })),
      providerKeys,
      provided,
      providedKeys,
      kept,
      keptKeys: keptRecords.map(record => record.key)
    }
  }

  /** Counters of requests and errors, the routing-table size, what is stored, the reprovide schedule, the values kept alive and the network size. */
  stats (): KadDHTStats {
    return {
      ...this.layers.counters.snapshot(),
      routingTableSize: this.routingTable.size,
      records: this.layers.valueStore.size,
      providers: this.layers.providerStore.stats(),
      reprovide: this.layers.reprovider.stats(),
      republish: this.layers.republisher.stats(),
      networkSize: this.layers.networkSize.estimate(1)?.size
    }
  }

  /** Our addresses as we announce them: without the trailing `/p2p/<our id>`. */
  private ownAddresses (): Multiaddr[] {
    return this.components.addressManager.getAddresses().map(ma => ma.decapsulateCode(P2P_CODE))
  }
}

/** A kept value as {@link KadDHT.listKept} lists it. */
function keptRecord ({ key, value, put, due }: KeptInfo): KeptRecord {
  return { key, bytes: value.length, put, due }
}
