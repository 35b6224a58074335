/**
 * Providing content and finding its providers. Three acts, one verb each: to *provide* a key is
 * to publish it now and keep it on the reprovide list (the service does both); to *publish* a
 * key is to store us as its provider locally and send an ADD_PROVIDER to each of its k closest
 * peers (the reprovider publishes again what we provide); *addProvider* sends one ADD_PROVIDER
 * to one peer. Finding providers yields the local ones first, then each new provider as
 * GET_PROVIDERS answers arrive.
 */
import { pushable } from 'it-pushable'
import { CustomProgressEvent } from 'progress-events'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { clockOf, deadline } from '../clock.ts'
import { NotStoredError } from '../errors.ts'
import { KAD_ID_BITS, kadId } from '../keys.ts'
import { inScope } from '../network/addresses.ts'
import { dialTarget } from '../network/dht-peer.ts'
import { keyWithPrefix } from '../table/trial-hash.ts'
import { MessageType } from '../wire/codec.ts'
import { provideOptimistically } from './optimistic-provide.ts'
import { settleBatch } from './region.ts'
import type { OptimisticSettings } from './optimistic-provide.ts'
import type { ProviderStore } from './provider-store.ts'
import type { Clock } from '../clock.ts'
import type { KadId } from '../keys.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { Client } from '../network/client.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { LookupOptions, LookupProgressEvents, QueryRunner } from '../query/runner.ts'
import type { AbortOptions, Logger, PeerId, PeerStore, Provider } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import type { ProgressEvent } from 'progress-events'

/** The name kadmium gives as the `routing` of the providers it finds. */
const ROUTING = 'kadmium'

/** The progress events of `provide` and `findProviders`, passed to `onProgress`. */
export type ProviderProgressEvents =
  | LookupProgressEvents
  | ProgressEvent<'kadmium:provide:sent', {
    /** A peer the provider record was sent to. */
    peer: PeerId
    /** The key (a CID's multihash bytes) whose record it was: `provideMany` sends several keys' at once. */
    key: Uint8Array
  }>
  | ProgressEvent<'kadmium:provide:failed', {
    /** A peer it could not be sent to. */
    peer: PeerId
    /** The key whose record it was. */
    key: Uint8Array
    /** What went wrong. */
    error: Error
  }>
  | ProgressEvent<'kadmium:providers:found', {
    /** The provider and its addresses. */
    provider: Provider
    /** The peer that named it (undefined: this node's own store). */
    from: PeerId | undefined
  }>

/** Options of `provide` and `cancelReprovide`. */
export interface ProvideOptions extends LookupOptions {
  /** Told about each step as it happens. */
  onProgress?(event: ProviderProgressEvents): void
}

/** What became of one item of {@link ProviderRouting.publishMany}. */
export interface Published<T> {
  /** The item (a CID, or a CID's multihash bytes). */
  item: T
  /** To how many of its k closest peers the record was sent. */
  sent: number
  /** Why it reached none (then `sent` is 0). */
  error?: Error
}

/** What `provideMany` yields for each CID. */
export interface ProvideManyResult {
  /** The CID. */
  cid: CID
  /** How many peers its provider record was sent to. */
  sent: number
  /** What kept it from every peer, if it reached none. */
  error?: Error
}

/** Options of `findProviders`. */
export interface FindProvidersOptions extends ProvideOptions {
  /**
   * Stop after this many providers.
   *
   * @default 20
   */
  count?: number
}

/** What provider routing needs; its clock is the real one unless `now` and `schedule` are given. */
export interface ProviderRoutingInit extends Partial<Clock> {
  self: PeerId
  query: QueryRunner
  client: Client
  connectionManager: ConnectionManager
  peerStore: PeerStore
  store: ProviderStore
  addresses: AddressScope
  /** Our own addresses, announced with our records. */
  selfAddresses(): Multiaddr[]
  log: Logger
  kBucketSize: number
  /** The most lookups {@link ProviderRouting.publishMany} spends to see one region whole. */
  maxRegionLookups: number
  /** The fewest keys a region must hold for {@link ProviderRouting.publishMany} to explore it. */
  minRegionKeys: number
  /** Keys of a `publishMany` whose records are on their way at once (`PUBLISH_MANY_KEYS_AT_ONCE` in defaults.ts). */
  keysAtOnce: number
  /** Regions a `publishMany` explores at once (`PUBLISH_MANY_REGIONS_AT_ONCE` in defaults.ts). */
  regionsAtOnce: number
  requestTimeout: number
  defaultCount: number
  /** A lookup that has not found `count` providers ends once the β closest peers answered (default k). */
  beta: number
  /** Aborts when the service stops. */
  lifetime(): AbortSignal
  /**
   * When given, {@link ProviderRouting.publish} is optimistic whenever `networkSize` knows the
   * network holds more than k peers (see optimistic-provide.ts).
   */
  optimistic?: OptimisticSettings & { networkSize(): number | undefined }
  /**
   * The accelerated client, when it is on and its full table ready: {@link ProviderRouting.publishMany}
   * sends through it with no lookup, and {@link ProviderRouting.publish} sends to each server its
   * (one-hop) lookup hears from as it answers (see `publishAlong`).
   */
  fullTable?(): FullTableSender | undefined
}

/** Sends provider records straight to each key's closest peers of the full table. */
export interface FullTableSender {
  /** Sends each entry's key to its k closest peers; yields each entry as its sends are over. */
  provideMany<T>(entries: Iterable<{ item: T, key: Uint8Array }>, options: AbortOptions): AsyncGenerator<Published<T>>
}

/** Providers over ADD_PROVIDER and GET_PROVIDERS. */
export class ProviderRouting {
  private readonly init: ProviderRoutingInit
  private readonly clock: Clock
  /** Sends of optimistic provides that outlived their call. */
  private readonly background: Set<Promise<unknown>>

  constructor (init: ProviderRoutingInit) {
    this.init = init
    this.clock = clockOf(init)
    this.background = new Set()
  }

  /** Resolves once the sends still under way after optimistic provides returned have settled. */
  async settled (): Promise<void> {
    await Promise.all(this.background)
  }

  /**
   * Publishes `key` once: stores us as its provider locally, finds its k closest peers and sends
   * each an ADD_PROVIDER, without touching the reprovide list. Resolves to how many it was sent
   * to; throws `NotStoredError` when none. Optimistic (when on and the network size is known):
   * resolves once most of the sends settled, to how many had reached their peer by then.
   */
  async publish (key: Uint8Array, options: ProvideOptions = {}): Promise<number> {
    const { init } = this
    if (init.fullTable?.() != null) {
      return this.publishAlong(key, options)
    }
    const networkSize = init.optimistic?.networkSize()
    if (init.optimistic == null || networkSize == null || networkSize <= init.kBucketSize) {
      const { closest } = await init.query.lookup(key, options)
      return this.publishTo(key, closest, options)
    }
    await init.store.add(key, init.self, options)
    const multiaddrs = inScope(init.addresses, init.selfAddresses())
    // the sends outlive the call: what they report after it returned goes nowhere
    let returned = false
    const onProgress = (event: ProviderProgressEvents): void => {
      if (!returned) {
        options.onProgress?.(event)
      }
    }
    const { sent, chosen, rest } = await provideOptimistically<DHTPeer>({
      ...init.optimistic,
      kBucketSize: init.kBucketSize,
      networkSize,
      lookup: async (key, hooks) => init.query.lookup(key, {
        ...options,
        signal: hooks.signal,
        stopWhen: hooks.stopWhen,
        onProgress: (event) => {
          if (event.type === 'kadmium:lookup:fail') {
            hooks.failed(event.detail.peer.toString())
          }
          onProgress(event)
        }
      }),
      send: async (peer, sendOptions) => this.addProvider(peer, key, multiaddrs, { signal: sendOptions.signal, onProgress })
    }, key, options).finally(() => { returned = true })
    const done = rest.finally(() => { this.background.delete(done) })
    this.background.add(done)
    if (sent === 0) {
      throw notStored(chosen)
    }
    return sent
  }

  /**
   * Publishes many items (keys, or CIDs with `keyOf`) with far fewer lookups than one each,
   * without touching the reprovide list. Items with the same key count once. A few lookups
   * around the first pending key see a region of the keyspace whole, with every peer in it (see
   * {@link exploreRegion}); every pending key in that region is sent its records with no lookup
   * of its own. Several regions are explored at once, and the records of several keys are on
   * their way at once. Yields what became of each item, as it is done; when the caller stops
   * early (or aborts), the region lookups under way and the sends of items not yielded yet are
   * called off.
   */
  async * publishMany<T> (items: Iterable<T>, keyOf: (item: T) => Uint8Array, options: ProvideOptions = {}): AsyncGenerator<Published<T>> {
    const { init } = this
    const byKey = new Map<string, { item: T, key: Uint8Array }>()
    for (const item of items) {
      const key = keyOf(item)
      byKey.set(uint8ArrayToString(key, 'base64'), { item, key })
    }
    const full = init.fullTable?.()
    if (full != null) {
      for (const { key } of byKey.values()) {
        await init.store.add(key, init.self, options)
      }
      yield * full.provideMany(byKey.values(), options)
      return
    }
    // the sends of up to `keysAtOnce` keys are on their way at once, also during the next
    // region's lookups; each key's result is yielded as soon as it is over (at the next step
    // of this loop). Sends not yet yielded when the caller stops are called off, and tell the
    // caller nothing more.
    const keysAtOnce = Math.max(1, init.keysAtOnce)
    const stop = new AbortController()
    let stopped = false
    const sendOptions: ProvideOptions = {
      ...options,
      signal: options.signal == null ? stop.signal : AbortSignal.any([options.signal, stop.signal]),
      onProgress: (event) => {
        if (!stopped) {
          options.onProgress?.(event)
        }
      }
    }
    // the region lookups too are called off when the caller stops (several may be under way)
    const findFor = (anchor: { key: Uint8Array }) => async (prefix: KadId, bits: number) => {
      const key = bits >= KAD_ID_BITS ? anchor.key : await keyWithPrefix(prefix, bits, sendOptions)
      const { closest } = await init.query.lookup(key, sendOptions)
      return { target: kadId(key), peers: closest }
    }
    const over: Array<Published<T>> = []
    let sending = 0
    let wake: (() => void) | undefined
    const publish = (item: T, key: Uint8Array, peers: DHTPeer[]): void => {
      sending++
      // never rejects: a failed key is a result like any other
      void this.publishTo(key, peers, sendOptions).then(sent => ({ item, sent }), (error: Error) => ({ item, sent: 0, error })).then(result => {
        sending--
        over.push(result)
        wake?.()
      })
    }
    // (the sends' own callbacks change these counts while the loops below wait)
    const windowFull = (): boolean => sending >= keysAtOnce
    const pending = (): boolean => sending > 0 || over.length > 0
    const oneOver = async (): Promise<void> => new Promise<void>(resolve => { wake = resolve }).finally(() => { wake = undefined })
    try {
      for await (const step of settleBatch(byKey.values(), entry => kadId(entry.key), findFor, { k: init.kBucketSize, maxLookups: init.maxRegionLookups, minKeys: init.minRegionKeys, regionsAtOnce: init.regionsAtOnce })) {
        options.signal?.throwIfAborted()
        yield * over.splice(0)
        if ('failed' in step) {
          yield { item: step.failed.item, sent: 0, error: step.error ?? new NotStoredError('no peer answered the lookup') }
          continue
        }
        for (const { item: { item, key }, peers } of step.settled) {
          while (windowFull()) {
            await oneOver()
            options.signal?.throwIfAborted()
            yield * over.splice(0)
          }
          publish(item, key, peers)
        }
      }
      while (pending()) {
        if (over.length === 0) {
          await oneOver()
        }
        options.signal?.throwIfAborted()
        yield * over.splice(0)
      }
    } finally {
      stopped = true
      stop.abort()
    }
  }

  /**
   * The providers of `key`, each once: those in the local store first, then each new one as
   * GET_PROVIDERS answers arrive. Ends after `count` providers or when the lookup ends.
   */
  async * findProviders (key: Uint8Array, options: FindProvidersOptions = {}): AsyncGenerator<Provider> {
    const { init } = this
    const count = options.count ?? init.defaultCount
    const seen = new Set<string>()
    const found = pushable<Provider>({ objectMode: true })
    const stop = new AbortController()
    const offer = (provider: Provider, from: PeerId | undefined): void => {
      const id = provider.id.toString()
      if (seen.size >= count || seen.has(id)) {
        return
      }
      seen.add(id)
      options.onProgress?.(new CustomProgressEvent('kadmium:providers:found', { provider, from }))
      found.push(provider)
      if (seen.size >= count) {
        stop.abort()
        found.end()
      }
    }
    for (const id of await init.store.get(key, options)) {
      offer({ id, multiaddrs: await this.addressesOf(id), routing: ROUTING }, undefined)
    }
    if (seen.size < count) {
      const signal = options.signal == null ? stop.signal : AbortSignal.any([options.signal, stop.signal])
      init.query.lookup(key, {
        ...options,
        signal,
        type: MessageType.GET_PROVIDERS,
        // providers live on the k closest of their last provide: peers that joined near the key
        // since hold none, so the lookup gives up only once the β closest (k by default) answered
        resultSize: init.beta,
        onAnswer: (peer, answer) => {
          for (const provider of answer.providers) {
            if (seen.size >= count) {
              break
            }
            offer({ id: provider.id, multiaddrs: inScope(init.addresses, provider.multiaddrs), routing: ROUTING }, peer.peerId)
          }
        },
        stopWhen: () => seen.size >= count
      }).then(() => { found.end() }, (err) => {
        // our own early stop is not an error
        found.end(stop.signal.aborted && options.signal?.aborted !== true ? undefined : err)
      })
    } else {
      found.end()
    }
    try {
      yield * found
    } finally {
      stop.abort()
    }
  }

  private async addressesOf (id: PeerId): Promise<Multiaddr[]> {
    if (id.equals(this.init.self)) {
      return inScope(this.init.addresses, this.init.selfAddresses())
    }
    try {
      return inScope(this.init.addresses, (await this.init.peerStore.get(id)).addresses.map(a => a.multiaddr))
    } catch {
      return []
    }
  }

  /**
   * Publishes `key` with the full table: its one-hop lookup asks the key's closest servers at
   * once, and each that answers is sent the record then, over the connection its answer came on;
   * when the lookup ends, the closest it returned that were not sent yet are. Resolves to how many
   * the record reached: with optimistic providing on, once ⌈returnRatio × k⌉ sends settled (the
   * others go on in the background, as an optimistic provide's do), otherwise once every send
   * did. Throws `NotStoredError` when it reached none. A peer that answered but is not among the
   * final closest (a closer one was named) holds one record more than needed.
   */
  private async publishAlong (key: Uint8Array, options: ProvideOptions): Promise<number> {
    const { init } = this
    await init.store.add(key, init.self, options)
    const multiaddrs = inScope(init.addresses, init.selfAddresses())
    // the caller's signal aborts the lookup and the sends until the call returns, not after
    const work = new AbortController()
    const onCallerAbort = (): void => { work.abort(options.signal?.reason) }
    options.signal?.addEventListener('abort', onCallerAbort, { once: true })
    let returned = false
    const onProgress = (event: ProviderProgressEvents): void => {
      if (!returned) {
        options.onProgress?.(event)
      }
    }
    const enough = init.optimistic == null ? Infinity : Math.ceil(init.optimistic.returnRatio * init.kBucketSize)
    let reachedEnough = (): void => {}
    const early = new Promise<undefined>(resolve => { reachedEnough = () => { resolve(undefined) } })
    const sends = new Map<string, Promise<boolean>>()
    const tally = { settled: 0, sent: 0 }
    const sendTo = (peer: DHTPeer): void => {
      if (sends.has(peer.id)) {
        return
      }
      sends.set(peer.id, this.addProvider(peer, key, multiaddrs, { signal: work.signal, onProgress }).then(ok => {
        tally.settled++
        tally.sent += ok ? 1 : 0
        if (tally.settled >= enough && tally.sent > 0) {
          reachedEnough()
        }
        return ok
      }))
    }
    const lookup = init.query.lookup(key, {
      ...options,
      signal: work.signal,
      onProgress,
      onAnswer: (peer) => { sendTo(peer) }
    }).then(({ closest }) => {
      closest.forEach(sendTo)
      return closest.length
    })
    const all = lookup.then(async () => Promise.all(sends.values()))
    try {
      const closest = await Promise.race([early, all.then(async () => lookup)])
      if (tally.sent === 0) {
        throw notStored(closest ?? sends.size)
      }
      return tally.sent
    } finally {
      returned = true
      options.signal?.removeEventListener('abort', onCallerAbort)
      const rest = all.catch(() => {}).finally(() => { this.background.delete(rest) })
      this.background.add(rest)
    }
  }

  /**
   * Stores us as a provider of `key` locally and sends ADD_PROVIDER to `peers`; resolves to how
   * many it was sent to, or throws `NotStoredError` when none.
   */
  private async publishTo (key: Uint8Array, peers: DHTPeer[], options: ProvideOptions): Promise<number> {
    const { init } = this
    await init.store.add(key, init.self, options)
    const multiaddrs = inScope(init.addresses, init.selfAddresses())
    const sent = await Promise.all(peers.map(async peer => this.addProvider(peer, key, multiaddrs, options)))
    const count = sent.filter(Boolean).length
    if (count === 0) {
      throw notStored(peers.length)
    }
    return count
  }

  /** Sends ADD_PROVIDER to one peer; resolves whether it was sent. */
  private async addProvider (peer: DHTPeer, key: Uint8Array, multiaddrs: Multiaddr[], options: ProvideOptions): Promise<boolean> {
    const { init } = this
    const request = deadline(this.clock, init.requestTimeout, `sending to ${peer.id} took too long`, init.lifetime(), options.signal)
    try {
      await init.client.send(dialTarget(peer, init.connectionManager), {
        type: MessageType.ADD_PROVIDER,
        key,
        providers: [{ id: init.self, multiaddrs }]
      }, { signal: request.signal })
      options.onProgress?.(new CustomProgressEvent('kadmium:provide:sent', { peer: peer.peerId, key }))
      return true
    } catch (err: any) {
      init.log('ADD_PROVIDER to %p failed: %s', peer.peerId, err.message)
      options.onProgress?.(new CustomProgressEvent('kadmium:provide:failed', { peer: peer.peerId, key, error: err }))
      return false
    } finally {
      request.clear()
    }
  }
}

/** The error of a provide that reached no peer: `closest` is how many it tried. */
function notStored (closest: number): NotStoredError {
  return new NotStoredError(closest === 0
    ? 'the provider record was sent to no peer: the lookup found none (is the node connected to the DHT?)'
    : `the provider record reached none of the ${closest} closest peers`)
}
