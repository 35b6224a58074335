/**
 * The reprovider: remembers which keys this node provides and publishes them again before their
 * records expire on other peers, one keyspace region at a time, the regions spread evenly over
 * the 22 h interval (see schedule.ts) so that the load is the same in every hour.
 *
 * Everything lives in the datastore, so a restarted node resumes where it was: the keys with
 * when each was last provided (see provided-keys.ts), and the schedule (when its cycles began,
 * the next region, the last cycle), written after each region. A key provided again is given the time of that provide at once, so a region cut short
 * by a stop is resumed without sending anything twice: a key provided less than half an
 * interval ago is passed over (its records live 48 h; it is next due at most 33 h after).
 *
 * While the node has no DHT peers the schedule waits instead of failing every key, and catches
 * up, in order, once it has some again. A run that fails (the datastore, say) is counted in
 * `stats().errors`, told to `onProgress` and tried again after `recheckDelay`.
 */
import { Key } from 'interface-datastore'
import { CustomProgressEvent } from 'progress-events'
import { Repeat, clockOf } from '../clock.ts'
import { ProvidedKeys } from './provided-keys.ts'
import { catchUp, dueTime, hexPrefixes, regionName, regionOf } from './schedule.ts'
import type { ProvidedKey } from './provided-keys.ts'
import type { ScheduleState } from './schedule.ts'
import type { Clock } from '../clock.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { ProgressEvent } from 'progress-events'

/** What the reprovider reports through `onProgress`. */
export type ReprovideProgressEvents =
  | ProgressEvent<'kadmium:reprovide:due', {
    /** The region due, as a string of bits (`''`: the whole keyspace). */
    region: string
    /** When it was due (ms since the epoch). */
    due: number
    /** Keys to publish now (with those that failed in the last region, tried once more). */
    keys: number
    /** Keys of the region passed over: provided less than half an interval ago. */
    skipped: number
  }>
  | ProgressEvent<'kadmium:reprovide:sent', {
    /** A key published again. */
    key: Uint8Array
  }>
  | ProgressEvent<'kadmium:reprovide:failed', {
    /** A key that reached no peer. */
    key: Uint8Array
    /** Why. */
    error: Error
  }>
  | ProgressEvent<'kadmium:reprovide:done', RegionReport>
  | ProgressEvent<'kadmium:reprovide:waiting', {
    /** Why nothing is reprovided now. */
    reason: WaitReason
  }>
  | ProgressEvent<'kadmium:reprovide:error', {
    /** What broke the run (a datastore error, say); the run is tried again after `recheckDelay`. */
    error: Error
  }>

/**
 * Why the schedule waits: `'offline'`, no DHT peer; `'network-size'`, no estimate of the
 * network size yet to cut the keyspace into regions (the first cycle only).
 */
export type WaitReason = 'offline' | 'network-size'

/** What became of one region. */
export interface RegionReport {
  /** The region, as a string of bits. */
  region: string
  /** Keys published. */
  keys: number
  /** Keys that reached a peer. */
  provided: number
  /** Keys that reached none. */
  failed: number
  /** Keys passed over, provided less than half an interval before. */
  skipped: number
  /** When it began (ms since the epoch). */
  started: number
  /** How long it took, in ms. */
  duration: number
}

/** The state of the schedule, as `stats()` reports it. */
export interface ReprovideStats {
  /** Keys provided and kept provided (undefined until counted, just after start). */
  keys?: number
  /** Regions of the cycle under way (0 before the schedule exists). */
  regions: number
  /** The cycle under way, counted from 0. */
  cycle: number
  /** When the cycle under way began by the schedule (ms since the epoch). */
  cycleStart?: number
  /** The next region due and when. */
  next?: { region: string, due: number }
  /** The last region reprovided. */
  last?: RegionReport
  /** The last complete cycle: when its first region began and its last one ended, in ms since the epoch. */
  lastCycle?: { cycle: number, started: number, ended: number, duration: number }
  /** Why the schedule waits, when it does. */
  waiting?: WaitReason
  /** Runs that failed (each was tried again after `recheckDelay`). */
  errors: number
}

/** What a {@link Reprovider} needs; its clock is the real one unless `now` and `schedule` are given. */
export interface ReproviderInit extends Partial<Clock> {
  datastore: Datastore
  /** Our own position in the keyspace: each cycle begins with our own region. */
  self: Uint8Array
  /**
   * Publishes keys on the network, as a batch; yields each key once, with the error that kept it
   * from being published, if any.
   */
  publish(keys: Uint8Array[], options: AbortOptions): AsyncIterable<{ item: Uint8Array, error?: Error }>
  /** How long after a provide the key is provided again, in ms (22 h). */
  interval: number
  /** Where the keys live in the datastore. */
  prefix: string
  /** Where the schedule lives in the datastore (outside `prefix`). */
  stateKey: string
  /** How many bits name a region in a network of the current size; undefined while unknown. */
  regionBits(): number | undefined
  /** Whether the node has DHT peers to publish to. */
  online(): boolean
  /** How long to wait before checking again while offline, with no network size or after a failed run, in ms. */
  recheckDelay: number
  /** A region none of whose keys reached a peer is tried again after this many ms... */
  retryDelay: number
  /** ...this many times, before the schedule goes on without it. */
  maxRetries: number
  /** Told about each step of the schedule. */
  onProgress?(event: ReprovideProgressEvents): void
}

/** What the datastore keeps of the schedule: its state and the last complete cycle. */
interface Stored extends ScheduleState {
  /** When the first region of the cycle under way began (real time). */
  began?: number
  lastCycle?: ReprovideStats['lastCycle']
}

/**
 * Keeps provided keys provided, region by region.
 *
 * @example
 * ```ts
 * const reprovider = new Reprovider({ datastore, self: kadId(peerId.toMultihash().bytes), publish, interval: 22 * HOUR,
 *   prefix: '/kadmium/provided', stateKey: '/kadmium/reprovide', regionBits: () => 8, online: () => table.size > 0,
 *   recheckDelay: 60_000, retryDelay: 5 * 60_000, maxRetries: 3 })
 * await reprovider.track(key)   // after a successful provide
 * reprovider.start()            // each region when it is due, the first at once
 * ```
 */
export class Reprovider {
  private readonly init: ReproviderInit
  private readonly now: () => number
  private readonly keys: ProvidedKeys
  private readonly repeat: Repeat
  private state?: Stored
  private waiting?: WaitReason
  private last?: RegionReport
  /** Keys of the last region that reached no peer: tried once more with the next region. */
  private retry: Uint8Array[]
  private retries: number
  private retryAt: number
  private errors: number
  /** The run under way, which every caller of {@link reprovideDue} shares. */
  private current?: Promise<number>

  constructor (init: ReproviderInit) {
    this.init = init
    const clock = clockOf(init)
    this.now = clock.now
    this.keys = new ProvidedKeys({ datastore: init.datastore, prefix: init.prefix, now: clock.now })
    this.repeat = new Repeat({
      clock,
      task: async (options) => this.reprovideDue(options),
      delay: () => this.delay(),
      onError: (error) => {
        this.errors++
        init.onProgress?.(new CustomProgressEvent('kadmium:reprovide:error', { error }))
      }
    })
    this.retry = []
    this.retries = 0
    this.retryAt = 0
    this.errors = 0
  }

  /** Records that `key` was provided now. */
  async track (key: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.keys.track(key, options)
  }

  /** Forgets `key`: it is no longer provided again. Returns whether it was tracked. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return this.keys.forget(key, options)
  }

  /** Whether `key` is tracked. */
  async has (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return this.keys.has(key, options)
  }

  /** Every tracked key with when it was last provided (ms), in keyspace order where the datastore sorts. */
  async * list (options?: AbortOptions): AsyncGenerator<ProvidedKey> {
    yield * this.keys.list(options)
  }

  /** How many keys are tracked. */
  async size (): Promise<number> {
    return this.keys.size()
  }

  /** Where the schedule stands. */
  stats (): ReprovideStats {
    const { state } = this
    const stats: ReprovideStats = { keys: this.keys.known, regions: state == null ? 0 : 2 ** state.bits, cycle: state?.cycle ?? 0, last: this.last, lastCycle: state?.lastCycle, waiting: this.waiting, errors: this.errors }
    if (state != null) {
      stats.cycleStart = state.start + state.cycle * this.init.interval
      const next = state.next < 2 ** state.bits
        ? { ...state, next: state.next }
        : { ...state, cycle: state.cycle + 1, next: 0 }
      stats.next = {
        region: regionName(regionOf(next.next, this.init.self, next.bits), next.bits),
        due: Math.max(dueTime(next, next.next, this.init.interval), this.retryAt)
      }
    }
    return stats
  }

  /** Reprovides each region when it is due, the first check at once, until {@link stop}. */
  start (): void {
    this.repeat.start(0)
  }

  /** Checks at once whether something is due, unless a check is under way (the node just found its first peer, say). */
  wake (): void {
    this.repeat.wake()
  }

  /** Stops the schedule and aborts a region under way (it is resumed at the next start). */
  async stop (): Promise<void> {
    await this.repeat.stop()
    await this.current?.catch(() => {})
  }

  /**
   * Reprovides every region that is due, in order, and resolves to how many keys reached a
   * peer. One run at a time: a call during a run joins it.
   */
  async reprovideDue (options: AbortOptions = {}): Promise<number> {
    this.current ??= this.runDue(options).finally(() => { this.current = undefined })
    return this.current
  }

  private async runDue (options: AbortOptions): Promise<number> {
    const { init } = this
    await this.keys.size()
    let provided = 0
    while (true) {
      options.signal?.throwIfAborted()
      const state = await this.load(options)
      if (state == null) {
        return provided
      }
      if (!init.online()) {
        this.setWaiting('offline')
        return provided
      }
      this.waiting = undefined
      if (this.now() < this.retryAt) {
        return provided
      }
      let current: Stored = catchUp(state, this.now(), init.interval)
      if (current.cycle !== state.cycle) {
        // cycles were passed over: the one under way was not run whole
        current = { ...current, began: undefined }
      }
      if (current.next >= 2 ** current.bits) {
        current = this.nextCycle(current)
      }
      const due = dueTime(current, current.next, init.interval)
      if (due > this.now()) {
        if (current !== state) {
          await this.save(current, options)
        }
        return provided
      }
      const report = await this.reprovideRegion(current, due, options)
      provided += report.provided
      if (report.keys > 0 && report.provided === 0 && this.retries < init.maxRetries) {
        // nothing reached a peer: most likely the network, not the keys; this region again later
        this.retries++
        this.retryAt = this.now() + init.retryDelay
        // the region is read again then
        this.retry = []
        await this.save(current, options)
        return provided
      }
      this.retries = 0
      this.retryAt = 0
      const began = current.next === 0 ? report.started : current.began
      await this.save({ ...current, next: current.next + 1, began }, options)
    }
  }

  /** The schedule after its last region: the next cycle, cut as the network is now. */
  private nextCycle (state: Stored): Stored {
    const ended = this.last?.started != null ? this.last.started + this.last.duration : this.now()
    return {
      start: state.start,
      cycle: state.cycle + 1,
      bits: this.init.regionBits() ?? state.bits,
      next: 0,
      lastCycle: state.began == null ? state.lastCycle : { cycle: state.cycle, started: state.began, ended, duration: ended - state.began }
    }
  }

  private async reprovideRegion (state: Stored, due: number, options: AbortOptions): Promise<RegionReport> {
    const { init } = this
    const started = this.now()
    const prefix = regionOf(state.next, init.self, state.bits)
    const region = regionName(prefix, state.bits)
    const keys = this.retry
    this.retry = []
    let skipped = 0
    for (const hex of hexPrefixes(prefix, state.bits)) {
      for await (const entry of this.keys.inRegion(hex, options)) {
        if (entry.provided > started - init.interval / 2) {
          skipped++
        } else {
          keys.push(entry.key)
        }
      }
    }
    init.onProgress?.(new CustomProgressEvent('kadmium:reprovide:due', { region, due, keys: keys.length, skipped }))
    let provided = 0
    let failed = 0
    if (keys.length > 0) {
      for await (const { item: key, error } of init.publish(keys, options)) {
        if (error != null) {
          failed++
          this.retry.push(key)
          init.onProgress?.(new CustomProgressEvent('kadmium:reprovide:failed', { key, error }))
          continue
        }
        provided++
        await this.keys.touch(key, options)
        init.onProgress?.(new CustomProgressEvent('kadmium:reprovide:sent', { key }))
      }
    }
    this.last = { region, keys: keys.length, provided, failed, skipped, started, duration: this.now() - started }
    init.onProgress?.(new CustomProgressEvent('kadmium:reprovide:done', this.last))
    return this.last
  }

  /** The schedule, read from the datastore once, or made when the network size is known. */
  private async load (options: AbortOptions): Promise<Stored | undefined> {
    if (this.state != null) {
      return this.state
    }
    try {
      this.state = parseState(await this.init.datastore.get(new Key(this.init.stateKey), options))
    } catch (err: any) {
      if (err.name !== 'NotFoundError') {
        throw err
      }
    }
    if (this.state == null) {
      const bits = this.init.regionBits()
      if (bits == null) {
        this.setWaiting('network-size')
        return undefined
      }
      this.state = { start: this.now(), cycle: 0, bits, next: 0 }
      await this.save(this.state, options)
    }
    return this.state
  }

  private async save (state: Stored, options: AbortOptions): Promise<void> {
    this.state = state
    await this.init.datastore.put(new Key(this.init.stateKey), new TextEncoder().encode(JSON.stringify(state)), options)
  }

  /** Notes why the schedule waits, telling `onProgress` once per stretch of waiting. */
  private setWaiting (reason: WaitReason): void {
    if (this.waiting !== reason) {
      this.init.onProgress?.(new CustomProgressEvent('kadmium:reprovide:waiting', { reason }))
    }
    this.waiting = reason
  }

  /** How long until the next check, in ms: when the next region is due, `recheckDelay` at most. */
  private delay (): number {
    const next = this.waiting == null ? this.stats().next : undefined
    if (next == null) {
      return this.init.recheckDelay
    }
    return Math.min(Math.max(0, next.due - this.now()), this.init.recheckDelay)
  }
}

function parseState (bytes: Uint8Array): Stored | undefined {
  try {
    const state = JSON.parse(new TextDecoder().decode(bytes))
    const numbers = [state.start, state.cycle, state.bits, state.next]
    if (numbers.every(n => Number.isSafeInteger(n) && n >= 0)) {
      return state
    }
  } catch {
    // not JSON: made again
  }
  return undefined
}
