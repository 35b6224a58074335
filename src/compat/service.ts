/**
 * The compat service: `@libp2p/kad-dht`'s `KadDHT` interface over one kadmium service. Each
 * method makes one kadmium call and yields the query events its progress events stand for; the
 * lifecycle, the libp2p routers and peer discovery are kadmium's own.
 */
import { contentRoutingSymbol, peerDiscoverySymbol, peerRoutingSymbol, serviceCapabilities, serviceDependencies } from '@libp2p/interface'
import { ALPHA, K_BUCKET_SIZE } from '../constants.ts'
import { KadDHT as Kadmium } from '../service.ts'
import { QueryFeed } from './events.ts'
import { passthroughMapper, scopeOf } from './mappers.ts'
import { MessageType } from './types.ts'
import { defaultSelectors, defaultValidators, kadmiumValidators } from './validators.ts'
import type { KadDHTInit, PeerInfoMapper, PutOptions, QueryEvent, Selectors, SetModeOptions, SingleKadDHT, Validators } from './types.ts'
import type { KadDHTComponents, KadDHTInit as KadmiumInit, Mode } from '../index.ts'
import type { AbortOptions, ContentRouting, PeerDiscovery, PeerId, PeerRouting, RoutingOptions, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** The options of `@libp2p/kad-dht` that kadmium has no equivalent of. */
const IGNORED: ReadonlyArray<keyof KadDHTInit> = [
  'kBucketSplitThreshold', 'disjointPaths', 'routingTableUpdateQueueConcurrency', 'routingTableUpdateMaxQueueSize',
  'prefixLength', 'initialQuerySelfInterval', 'allowQueryWithZeroPeers', 'logPrefix', 'datastorePrefix',
  'pingOldContactTimeout', 'pingOldContactConcurrency', 'pingOldContactMaxQueueSize', 'pingNewContactTimeout',
  'pingNewContactConcurrency', 'pingNewContactMaxQueueSize', 'maxInboundStreams', 'maxOutboundStreams', 'providers',
  'reprovide', 'networkDialTimeout', 'onPeerConnectTimeout', 'incomingMessageTimeout'
]

/** `clientMode` as a kadmium mode: unset follows the node's addresses, as it does there. */
function modeOf (clientMode: boolean | undefined): Mode {
  if (clientMode == null) {
    return 'auto'
  }
  return clientMode ? 'client' : 'server'
}

/** kadmium's options for `@libp2p/kad-dht`'s; `init.kadmium` wins over the mapped ones. */
export function kadmiumInit (init: KadDHTInit, validators: KadmiumInit['validators']): KadmiumInit {
  return {
    protocol: init.protocol,
    metricsPrefix: init.metricsPrefix,
    mode: modeOf(init.clientMode),
    kBucketSize: init.kBucketSize,
    alpha: init.alpha,
    addresses: scopeOf(init.peerInfoMapper),
    refresh: init.querySelfInterval == null ? undefined : { interval: init.querySelfInterval },
    ...init.kadmium,
    validators
  }
}

/**
 * `@libp2p/kad-dht`'s service, made by `kadDHT` from `kadmium/kad-dht`. Its queries yield
 * `@libp2p/kad-dht`'s events; `kadmium` is the kadmium service underneath, for its own API.
 */
export class CompatKadDHT implements SingleKadDHT, Startable {
  /** The kadmium service that does the work: its methods return values and peers. */
  readonly kadmium: Kadmium
  /** Peers per bucket, and the closest peers a query looks for (kadmium's `kBucketSize`). */
  readonly k: number
  /** Requests a query keeps in flight (kadmium's `alpha`). */
  readonly a: number
  /** One: kadmium does not split a query into disjoint paths. */
  readonly d = 1
  /** Validators by namespace, read at each use: assign to add or replace one. */
  readonly validators: Validators
  /** Selectors by namespace, read at each use: assign to add or replace one. */
  readonly selectors: Selectors
  /** `'kadmium/kad-dht'`. */
  readonly [Symbol.toStringTag] = 'kadmium/kad-dht'
  /** kadmium's capabilities and `@libp2p/kad-dht`'s name, for services that need either. */
  readonly [serviceCapabilities]: string[]
  /** What kadmium needs: identify. */
  readonly [serviceDependencies]: string[]

  private readonly self: PeerId
  private readonly mapper: PeerInfoMapper

  constructor (components: KadDHTComponents, init: KadDHTInit = {}) {
    this.validators = { ...defaultValidators(), ...init.validators }
    this.selectors = { ...defaultSelectors(), ...init.selectors }
    const options = kadmiumInit(init, kadmiumValidators(this.validators, this.selectors))
    this.kadmium = new Kadmium(components, options)
    this.k = options.kBucketSize ?? K_BUCKET_SIZE
    this.a = options.alpha ?? ALPHA
    this.self = components.peerId
    this.mapper = init.peerInfoMapper ?? passthroughMapper
    this[serviceCapabilities] = [...this.kadmium[serviceCapabilities], '@libp2p/kad-dht']
    this[serviceDependencies] = this.kadmium[serviceDependencies]
    const ignored = IGNORED.filter(name => init[name] != null)
    if (ignored.length > 0) {
      components.logger.forComponent('kadmium:kad-dht')('options with no kadmium equivalent, ignored: %s', ignored.join(', '))
    }
  }

  /** The routing table (its `size` is the number of peers in it). */
  get routingTable (): Kadmium['routingTable'] {
    return this.kadmium.routingTable
  }

  /** kadmium's content routing: libp2p's `node.contentRouting` reaches it. */
  get [contentRoutingSymbol] (): ContentRouting {
    return this.kadmium[contentRoutingSymbol]
  }

  /** kadmium's peer routing: libp2p's `node.peerRouting` reaches it. */
  get [peerRoutingSymbol] (): PeerRouting {
    return this.kadmium[peerRoutingSymbol]
  }

  /** kadmium's service, which reports each peer its lookups discover. */
  get [peerDiscoverySymbol] (): PeerDiscovery {
    return this.kadmium
  }

  /** Starts kadmium (libp2p calls it). */
  async start (): Promise<void> {
    await this.kadmium.start()
  }

  /** Lets kadmium look at the node's addresses once they are known (libp2p calls it). */
  async afterStart (): Promise<void> {
    await this.kadmium.afterStart()
  }

  /** Stops kadmium (libp2p calls it). */
  async stop (): Promise<void> {
    await this.kadmium.stop()
  }

  /** Whether the service is running. */
  isStarted (): boolean {
    return this.kadmium.isStarted()
  }

  /** What the node is now: `'server'` answers DHT requests, `'client'` only asks. */
  getMode (): 'client' | 'server' {
    return this.kadmium.getMode()
  }

  /**
   * Pins the mode, or with kadmium's own `'auto'` lets it follow the node's addresses. `force`
   * changes nothing: kadmium applies a mode only when it differs from the current one.
   */
  async setMode (mode: Mode, options?: SetModeOptions): Promise<void> {
    await this.kadmium.setMode(mode)
  }

  /** Runs one refresh of the routing table now and resolves when it ends. */
  async refreshRoutingTable (options?: AbortOptions): Promise<void> {
    await this.kadmium.refreshRoutingTable(options)
  }

  /** Stops providing `key` again every 22 h. */
  async cancelReprovide (key: CID, options?: AbortOptions): Promise<void> {
    await this.kadmium.cancelReprovide(key, options)
  }

  /**
   * The lookup's events, then a FINAL_PEER for each of the k closest peers that answered,
   * closest first, with the addresses `peerInfoMapper` leaves it; a peer left with none is not
   * handed out, as `@libp2p/kad-dht` does not.
   *
   * @example
   * ```ts
   * for await (const event of dht.getClosestPeers(key)) {
   *   if (event.name === 'FINAL_PEER') console.log(event.peer.id.toString())
   * }
   * ```
   */
  async * getClosestPeers (key: Uint8Array, options: RoutingOptions = {}): AsyncGenerator<QueryEvent> {
    const feed = this.feed(MessageType.FIND_NODE, options)
    yield * feed.run(options, async (signal) => {
      for await (const peer of this.kadmium.getClosestPeers(key, { ...options, signal, onProgress: feed.onProgress })) {
        feed.closestPeer(peer)
      }
    })
  }

  /**
   * The lookup's events until a FINAL_PEER with the peer's addresses (from us when they were
   * known locally); throws an error named `NotFoundError` when no peer knows it.
   */
  async * findPeer (id: PeerId, options: RoutingOptions = {}): AsyncGenerator<QueryEvent> {
    const feed = this.feed(MessageType.FIND_NODE, options)
    yield * feed.run(options, async (signal) => {
      const peer = await this.kadmium.findPeer(id, { ...options, signal, onProgress: feed.onProgress })
      feed.finalPeer(peer, feed.foundBy(id))
    })
  }

  /**
   * The GET_VALUE lookup's events, then one VALUE with the best valid value (none when no peer
   * held one). Invalid records are QUERY_ERRORs.
   */
  async * get (key: Uint8Array, options: RoutingOptions & { quorum?: number } = {}): AsyncGenerator<QueryEvent> {
    const feed = this.feed(MessageType.GET_VALUE, options, key)
    yield * feed.run(options, async (signal) => {
      let best: Uint8Array
      try {
        best = await this.kadmium.get(key, { ...options, signal, onProgress: feed.onProgress })
      } catch (err: any) {
        if (err.name === 'NotFoundError') {
          return
        }
        throw err
      }
      feed.value(best)
    })
  }

  /**
   * The lookup's events, then for each of the closest peers a FINAL_PEER, its PUT_VALUE
   * SEND_QUERY and its PEER_RESPONSE (or QUERY_ERROR). Throws before anything is sent when the
   * namespace is unknown or the record invalid, and `NotStoredError` when no peer stored it.
   * With kadmium's `keep: true` the value is put again every 12 h on average, until
   * {@link forget} (`@libp2p/kad-dht` puts a value once; its users republish it themselves, as
   * `@helia/ipns` does).
   *
   * @example
   * ```ts
   * for await (const event of dht.put(key, record, { keep: true })) { ... }
   * ```
   */
  async * put (key: Uint8Array, value: Uint8Array, options: PutOptions = {}): AsyncGenerator<QueryEvent> {
    const feed = this.feed(MessageType.FIND_NODE, options, key, value)
    yield * feed.run(options, async (signal) => {
      await this.kadmium.put(key, value, { ...options, signal, onProgress: feed.onProgress })
    })
  }

  /** Stops putting the value under `key` again (kept with `put(key, value, { keep: true })`); resolves whether it was kept. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return this.kadmium.forget(key, options)
  }

  /**
   * The lookup's events, then for each of the closest peers a FINAL_PEER, its ADD_PROVIDER
   * SEND_QUERY and a PEER_RESPONSE once sent (or QUERY_ERROR). kadmium provides the CID again
   * every 22 h until `cancelReprovide`.
   */
  async * provide (key: CID, options: RoutingOptions = {}): AsyncGenerator<QueryEvent> {
    const feed = this.feed(MessageType.FIND_NODE, options)
    yield * feed.run(options, async (signal) => {
      await this.kadmium.provide(key, { ...options, signal, onProgress: feed.onProgress })
    })
  }

  /**
   * Our own providers first (a PEER_RESPONSE and a PROVIDER from us), then the GET_PROVIDERS
   * lookup's events; each PEER_RESPONSE lists the providers new to this query, which follow in a
   * PROVIDER event. Ends after k providers.
   */
  async * findProviders (key: CID, options: RoutingOptions = {}): AsyncGenerator<QueryEvent> {
    const feed = this.feed(MessageType.GET_PROVIDERS, options)
    yield * feed.run(options, async (signal) => {
      for await (const _ of this.kadmium.findProviders(key, { ...options, count: this.k, signal, onProgress: feed.onProgress })) { // eslint-disable-line @typescript-eslint/no-unused-vars
        // each provider comes as a progress event, with the peer that listed it
      }
    })
  }

  private feed (lookup: MessageType, options: RoutingOptions, key?: Uint8Array, value?: Uint8Array): QueryFeed {
    return new QueryFeed({ self: this.self, lookup, mapper: this.mapper, key, value, onProgress: options.onProgress })
  }
}
