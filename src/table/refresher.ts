/**
 * Routing-table upkeep: bucket refresh (on by default), a client's check of its closest servers,
 * and the optional random walk.
 *
 * A refresh looks up our own id first, then checks every peer not heard from within the
 * interval, and every one of our k closest that did not answer that self-lookup, and drops those
 * that fail (a neighbour that went silent would otherwise be checked only once it had not been
 * heard from for a whole interval, and until then we would hand it out in every answer about our
 * part of the keyspace), then fills the buckets the self-lookup left short: every
 * bucket that saw no lookup within the interval and holds fewer than k peers is looked up (a key
 * that falls in it, found by trial hashing) until it holds k. Buckets nearer us than our k-th
 * closest peer are left out: every peer in them is closer to us than that peer, and the
 * self-lookup saw them all. When the node joins a network (its table gets its first peer) it
 * looks up its own id soon, so that its neighbours hear of it at once; each bucket that lookup
 * left short gets its lookup at a random moment within the join window (10 minutes), unless it
 * filled up or was looked up meanwhile: nodes that join together, such as a cluster restarting,
 * do not all fill their tables at once, and a node that joins pays little more than its
 * self-lookup up front.
 *
 * A client is found by others only through the servers it stays connected to (the k closest to
 * its id, which a lookup for it reaches), so while the node is a client it looks up its own id
 * every check interval unless a refresh did so meanwhile; their keep-alive tags (see
 * {@link PeerTags}) keep the connections between checks. The random walk looks up a random key
 * every interval; every server that answers joins the table.
 */
import { Repeat, clockOf, deadline } from '../clock.ts'
import { ALPHA } from '../constants.ts'
import { keyInBucket } from './trial-hash.ts'
import type { Cancel, Clock } from '../clock.ts'
import type { KadId } from '../keys.ts'
import type { RoutingTable, TableEntry } from './routing-table.ts'
import type { AbortOptions, Logger } from '@libp2p/interface'

/** How a refresh lookup of one bucket is held to it. */
export interface LookupLimits {
  /** Ends the lookup when it returns true after an answer. */
  stopWhen?(): boolean
  /** Only peers of this bucket that answers name join the lookup. */
  within?: number
}

/** What the refresher needs; its clock is the real one unless `now` and `schedule` are given. */
export interface RefresherInit<P> extends Partial<Clock> {
  table: RoutingTable<P>
  /** Our own raw key (our peer id's multihash bytes) and its place in the keyspace. */
  selfKey: Uint8Array
  selfKadId: KadId
  /**
   * Runs a lookup of raw key bytes. One given `stopWhen` ends once it returns true after an
   * answer; one given `within` takes in only the peers of that bucket that answers name.
   */
  lookup(key: Uint8Array, options: AbortOptions & LookupLimits): Promise<unknown>
  /**
   * Checks that a peer is alive: true or false, or undefined when the check was cut short (the
   * node stops), which tells nothing about the peer.
   */
  ping(entry: TableEntry<P>): Promise<boolean | undefined>
  /** How many liveness checks a refresh runs at once (α unless told otherwise). */
  concurrentChecks?: number
  /** Bucket refresh; `interval` 0 turns it off. */
  interval: number
  /** How long one refresh lookup may take. */
  queryTimeout: number
  /** Buckets deeper than this get no key of their own (the self lookup covers them). */
  maxBucket: number
  /** Peers per bucket (k). */
  kBucketSize: number
  /** After joining, each short bucket's lookup starts at a random moment within this many ms. */
  joinWindow: number
  /** How often a client looks up its own id to stay connected to its k closest servers; 0 never. */
  closestCheckInterval: number
  /** Whether the node is a client now. */
  isClient(): boolean
  /** The random walk; `interval` 0 turns it off. */
  randomWalkInterval: number
  /** How soon after the table's first peer the first refresh runs. */
  firstRefreshDelay: number
  /**
   * A raw key that a lookup of bucket `bucket` looks up. Trial hashing unless told otherwise
   * (a simulation whose keys are positions needs none).
   */
  bucketKey?(bucket: number, options: AbortOptions): Promise<Uint8Array>
  /** A random raw key, for the random walk. `crypto.getRandomValues` unless told otherwise. */
  randomKey?(): Uint8Array
  /** A number in [0, 1), for the join spread. `Math.random` unless told otherwise. */
  random?(): number
  log: Logger
}

/**
 * Keeps the routing table full and healthy. Each periodic task runs again one interval after its
 * last run ended, whatever became of that run.
 */
export class Refresher<P> {
  private readonly init: RefresherInit<P>
  private readonly clock: Clock
  /** The periodic refresh, the client's check and the random walk, those that are on. */
  private readonly repeats: Repeat[]
  private running?: AbortController
  /** The one-shot timers of a join, each as the function that calls it off. */
  private readonly timers: Set<Cancel>
  /** The refresh under way, which every caller of {@link refresh} shares. */
  private current?: Promise<void>
  /** When our own id was last looked up (clock ms; 0: never). */
  private lastSelfLookup: number

  constructor (init: RefresherInit<P>) {
    this.init = init
    this.clock = clockOf(init)
    this.timers = new Set()
    this.lastSelfLookup = 0
    const every = (interval: number, task: () => Promise<void>): Repeat[] => interval > 0
      ? [new Repeat({ clock: this.clock, task, delay: interval, onError: (err) => { init.log('upkeep failed: %s', err.message) } })]
      : []
    this.repeats = [
      ...every(init.interval, async () => this.refresh()),
      ...every(init.closestCheckInterval, async () => this.checkClosest()),
      ...every(init.randomWalkInterval, async () => this.randomWalk())
    ]
  }

  /** Starts the periodic refresh, the client's check and, if enabled, the random walk. */
  start (): void {
    this.running = new AbortController()
    this.repeats.forEach(repeat => { repeat.start() })
  }

  /** Stops every timer and aborts the lookups under way. */
  async stop (): Promise<void> {
    this.running?.abort(new Error('the refresher stopped'))
    this.timers.forEach(cancel => { cancel() })
    this.timers.clear()
    await Promise.all(this.repeats.map(async repeat => { await repeat.stop() }))
    await this.current?.catch(() => {})
  }

  /**
   * The table just got its first peer (we joined a network): soon, a lookup of our own id, and
   * the lookups of the buckets it left short spread over the join window (with refresh off,
   * only a client's self-lookup).
   */
  joined (): void {
    this.later(this.init.firstRefreshDelay, async () => {
      if (this.init.interval === 0) {
        await this.checkClosest()
        return
      }
      await this.selfLookup({})
      for (const bucket of this.shortBuckets(this.clock.now() - this.init.interval)) {
        this.later((this.init.random?.() ?? Math.random()) * this.init.joinWindow, async () => this.fillBucket(bucket, {}))
      }
    })
  }

  /**
   * One refresh, now; resolves when it ends. A refresh already under way is joined, not
   * repeated. The refresh runs until it ends or the refresher stops: a caller whose signal
   * aborts stops waiting for it, and others may be waiting still.
   */
  async refresh (options: AbortOptions = {}): Promise<void> {
    this.current ??= this.runRefresh().finally(() => { this.current = undefined })
    await untilAborted(this.current, options.signal)
  }

  /**
   * While the node is a client (and the check is on), looks up our own id unless that was done
   * within the check interval: the lookup reaches, and so connects to, our k closest servers.
   */
  async checkClosest (): Promise<void> {
    const { init } = this
    if (init.closestCheckInterval > 0 && init.isClient() && this.clock.now() - this.lastSelfLookup >= init.closestCheckInterval) {
      await this.selfLookup({})
    }
  }

  /** One lookup of a random key. */
  async randomWalk (options: AbortOptions = {}): Promise<void> {
    await this.timedLookup(this.init.randomKey?.() ?? crypto.getRandomValues(new Uint8Array(32)), options)
  }

  private async runRefresh (): Promise<void> {
    const signal = this.signal({})
    const stale = this.clock.now() - this.init.interval
    // our own id first: the peers nearest us hear of us at once, and what the lookup learns
    // tells which buckets still need one of their own
    const selfLookup = this.clock.now()
    await this.selfLookup({ signal })
    signal.throwIfAborted()
    await this.checkStale(stale, selfLookup, signal)
    for (const bucket of this.shortBuckets(stale)) {
      signal.throwIfAborted()
      await this.fillBucket(bucket, { signal })
    }
  }

  /**
   * Looks a bucket up, asking only its peers, until it holds k (when the network has fewer,
   * until all of them answered: a plain lookup would go on to the k closest, nearer peers we
   * know); nothing if it is full or saw a lookup within the interval by now.
   */
  private async fillBucket (bucket: number, options: AbortOptions): Promise<void> {
    const { init } = this
    if (init.table.lastLookup(bucket) > this.clock.now() - init.interval || init.table.bucketSize(bucket) >= init.kBucketSize) {
      return
    }
    const signal = this.signal(options)
    const key = await (init.bucketKey?.(bucket, { signal }) ?? keyInBucket(init.selfKadId, bucket, { signal }))
    await this.timedLookup(key, {
      signal,
      within: bucket,
      stopWhen: () => init.table.bucketSize(bucket) >= init.kBucketSize
    })
  }

  /**
   * The buckets a refresh looks up: those that saw no lookup since `stale` and hold fewer than k
   * peers, from the shallowest to the one holding our k-th closest peer (or the deepest
   * non-empty one while the table holds fewer than k), and never past `maxBucket`.
   */
  private shortBuckets (stale: number): number[] {
    const { init } = this
    const closest = init.table.closest(init.selfKadId, init.kBucketSize)
    const last = closest.length === init.kBucketSize ? init.table.bucketIndex(closest[closest.length - 1].key) : init.table.deepestBucket()
    const out: number[] = []
    for (let bucket = 0; bucket <= Math.min(last, init.maxBucket); bucket++) {
      if (init.table.lastLookup(bucket) <= stale && init.table.bucketSize(bucket) < init.kBucketSize) {
        out.push(bucket)
      }
    }
    return out
  }

  /**
   * Checks every peer not heard from since `stale`, and every one of our k closest not heard from
   * since `selfLookup` (they answered the self-lookup that began then, unless they are gone),
   * `concurrentChecks` at once; those that fail leave the table.
   */
  private async checkStale (stale: number, selfLookup: number, signal: AbortSignal): Promise<void> {
    const { init } = this
    const neighbours = new Set(init.table.closest(init.selfKadId, init.kBucketSize).map(entry => entry.id))
    const due = [...init.table.entries()].filter(entry => entry.lastSeen <= stale || (neighbours.has(entry.id) && entry.lastSeen < selfLookup))
    let next = 0
    const checker = async (): Promise<void> => {
      while (next < due.length) {
        signal.throwIfAborted()
        const entry = due[next++]
        const alive = await init.ping(entry)
        if (alive === true) {
          init.table.touch(entry.id)
        } else if (alive === false && !signal.aborted) {
          init.table.remove(entry.id)
          init.log('dropped %s: no answer to the refresh check', entry.id)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(init.concurrentChecks ?? ALPHA, due.length) }, checker))
  }

  private async selfLookup (options: AbortOptions): Promise<void> {
    this.lastSelfLookup = this.clock.now()
    await this.timedLookup(this.init.selfKey, options)
  }

  private async timedLookup (key: Uint8Array, options: AbortOptions & LookupLimits): Promise<void> {
    const limit = deadline(this.clock, this.init.queryTimeout, 'the refresh lookup took too long', this.running?.signal, options.signal)
    try {
      await this.init.lookup(key, { ...options, signal: limit.signal })
    } catch (err: any) {
      this.init.log('refresh lookup failed: %s', err.message)
    } finally {
      limit.clear()
    }
  }

  private signal (options: AbortOptions): AbortSignal {
    const signals = [this.running?.signal, options.signal].filter((s): s is AbortSignal => s != null)
    return AbortSignal.any(signals)
  }

  /** Runs `task` once after `ms`, unless the refresher stops first. */
  private later (ms: number, task: () => Promise<void>): void {
    if (this.running?.signal.aborted !== false) {
      return
    }
    const cancel = this.clock.schedule(ms, () => {
      this.timers.delete(cancel)
      if (this.running?.signal.aborted !== false) {
        return
      }
      task().catch(err => { this.init.log('upkeep failed: %s', err.message) })
    })
    this.timers.add(cancel)
  }
}

/** Resolves as `work` does, or rejects with the signal's reason once it aborts; `work` goes on. */
async function untilAborted (work: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (signal == null) {
    return work
  }
  signal.throwIfAborted()
  let onAbort!: () => void
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
