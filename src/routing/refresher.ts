/**
 * Routing-table upkeep: bucket refresh (on by default) and the optional random walk.
 *
 * A refresh looks up, for every bucket up to the deepest non-empty one that saw no lookup within
 * the interval, a key that falls in that bucket (found by trial hashing), then our own id; then
 * it checks every peer not heard from within the interval, and every one of our k closest that
 * did not answer that self lookup, and drops those that fail. (A neighbour that went silent is
 * otherwise checked only once it has not been heard from for a whole interval, and until then
 * we hand it out in every answer about our part of the keyspace.) The random walk looks up a
 * random key every interval; every server that answers joins the table.
 */
import { TimeoutError } from '../errors.ts'
import { keyInBucket } from './trial-hash.ts'
import type { KadId } from '../kademlia/keys.ts'
import type { RoutingTable, TableEntry } from '../kademlia/routing-table.ts'
import type { AbortOptions, Logger } from '@libp2p/interface'

/** What the refresher needs. */
export interface RefresherInit<P> {
  table: RoutingTable<P>
  /** Our own raw key (our peer id's multihash bytes) and its place in the keyspace. */
  selfKey: Uint8Array
  selfKadId: KadId
  /** Runs a lookup of raw key bytes. */
  lookup(key: Uint8Array, options: AbortOptions): Promise<unknown>
  /** Checks that a peer is alive. */
  ping(entry: TableEntry<P>): Promise<boolean>
  /** Bucket refresh; `interval` 0 turns it off. */
  interval: number
  /** How long one refresh lookup may take. */
  queryTimeout: number
  /** Buckets deeper than this get no key of their own (the self lookup covers them). */
  maxBucket: number
  /** How many of our closest peers are checked after a self lookup they did not answer (k). */
  neighbours: number
  /** The random walk; `interval` 0 turns it off. */
  randomWalkInterval: number
  /** How soon after the table's first peer the first refresh runs. */
  firstRefreshDelay: number
  now(): number
  /**
   * Calls `fire` after `ms` milliseconds of the same clock as `now` and returns a function that
   * calls it off. `setTimeout` unless told otherwise; a simulation passes a virtual clock.
   */
  schedule?(ms: number, fire: () => void): () => void
  /**
   * A raw key that a refresh of bucket `bucket` looks up. Trial hashing unless told otherwise
   * (a simulation whose keys are positions needs none).
   */
  bucketKey?(bucket: number, options: AbortOptions): Promise<Uint8Array>
  /** A random raw key, for the random walk. `crypto.getRandomValues` unless told otherwise. */
  randomKey?(): Uint8Array
  log: Logger
}

function setTimer (ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms)
  return () => { clearTimeout(timer) }
}

/**
 * Keeps the routing table full and healthy.
 */
export class Refresher<P> {
  private readonly init: RefresherInit<P>
  private running?: AbortController
  /** The timers set, each as the function that calls it off. */
  private readonly timers: Set<() => void>
  private current?: Promise<void>
  private readonly schedule: (ms: number, fire: () => void) => () => void

  constructor (init: RefresherInit<P>) {
    this.init = init
    this.timers = new Set()
    this.schedule = init.schedule ?? setTimer
  }

  /** Starts the periodic refresh and, if enabled, the random walk. */
  start (): void {
    this.running = new AbortController()
    if (this.init.interval > 0) {
      this.every(this.init.interval, async () => this.refresh())
    }
    if (this.init.randomWalkInterval > 0) {
      this.every(this.init.randomWalkInterval, async () => this.randomWalk())
    }
  }

  /** Stops every timer and aborts the lookups under way. */
  async stop (): Promise<void> {
    this.running?.abort(new Error('the refresher stopped'))
    this.timers.forEach(cancel => { cancel() })
    this.timers.clear()
    await this.current?.catch(() => {})
  }

  /** Schedules a refresh soon: the table just got its first peer (we joined a network). */
  joined (): void {
    if (this.running?.signal.aborted === false && this.init.interval > 0) {
      this.later(this.init.firstRefreshDelay, async () => this.refresh())
    }
  }

  /**
   * One refresh, now; resolves when it ends. A refresh already under way is joined, not
   * repeated.
   */
  async refresh (options: AbortOptions = {}): Promise<void> {
    this.current ??= this.runRefresh(options).finally(() => { this.current = undefined })
    return this.current
  }

  /** One lookup of a random key. */
  async randomWalk (options: AbortOptions = {}): Promise<void> {
    await this.timedLookup(this.init.randomKey?.() ?? crypto.getRandomValues(new Uint8Array(32)), options)
  }

  private async runRefresh (options: AbortOptions): Promise<void> {
    const { init } = this
    const signal = this.signal(options)
    const stale = init.now() - init.interval
    const deepest = Math.min(init.table.deepestBucket(), init.maxBucket)
    for (let bucket = 0; bucket <= deepest; bucket++) {
      signal.throwIfAborted()
      if (init.table.lastLookup(bucket) > stale) {
        continue
      }
      const key = await (init.bucketKey?.(bucket, { signal }) ?? keyInBucket(init.selfKadId, bucket, { signal }))
      await this.timedLookup(key, { signal })
    }
    const selfLookup = init.now()
    await this.timedLookup(init.selfKey, { signal })
    // our neighbours answered the self lookup just now, unless they are gone: one that did not
    // is checked even if it was seen within the interval
    const neighbours = new Set(init.table.closest(init.selfKadId, init.neighbours).map(entry => entry.id))
    for (const entry of [...init.table.entries()]) {
      signal.throwIfAborted()
      if (entry.lastSeen > stale && !(neighbours.has(entry.id) && entry.lastSeen < selfLookup)) {
        continue
      }
      if (await init.ping(entry)) {
        init.table.touch(entry.id)
      } else {
        init.table.remove(entry.id)
        init.log('dropped %s: no answer to the refresh check', entry.id)
      }
    }
  }

  private async timedLookup (key: Uint8Array, options: AbortOptions): Promise<void> {
    const timeout = new AbortController()
    const cancel = this.schedule(this.init.queryTimeout, () => { timeout.abort(new TimeoutError('the refresh lookup took too long')) })
    try {
      await this.init.lookup(key, { signal: this.signal(options, timeout.signal) })
    } catch (err: any) {
      this.init.log('refresh lookup failed: %s', err.message)
    } finally {
      cancel()
    }
  }

  private signal (options: AbortOptions, ...more: AbortSignal[]): AbortSignal {
    const signals = [this.running?.signal, options.signal, ...more].filter((s): s is AbortSignal => s != null)
    return AbortSignal.any(signals)
  }

  /** Runs `task` after `ms`, then again every `ms` after it ends, until stopped. */
  private every (ms: number, task: () => Promise<void>): void {
    this.later(ms, async () => {
      await task()
      this.every(ms, task)
    })
  }

  private later (ms: number, task: () => Promise<void>): void {
    if (this.running?.signal.aborted !== false) {
      return
    }
    const cancel = this.schedule(ms, () => {
      this.timers.delete(cancel)
      if (this.running?.signal.aborted !== false) {
        return
      }
      task().catch(err => { this.init.log('upkeep failed: %s', err.message) })
    })
    this.timers.add(cancel)
  }
}
