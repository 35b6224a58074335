/**
 * The reprovider: remembers which keys this node provides and publishes them again before their
 * records expire on other peers, one keyspace region at a time, the regions spread evenly over
 * the 22 h interval (see schedule.ts) so that the load is the same in every hour.
 *
 * Everything lives in the datastore, so a restarted node resumes where it was: each key under
 * its position in the keyspace (`<prefix>/<first 64 bits of its position, hex>/<key, base32>`,
 * with when it was last provided), which lets a region's keys be read with a prefix query; and
 * the schedule (when its cycles began, the next region, the last cycle), written after each
 * region. A key provided again is given the time of that provide at once, so a region cut short
 * by a stop is resumed without sending anything twice: a key provided less than half an
 * interval ago is passed over (its records live 48 h; it is next due at most 33 h after).
 *
 * While the node has no DHT peers the schedule waits instead of failing every key, and catches
 * up, in order, once it has some again.
 */
import { Key } from 'interface-datastore'
import { CustomProgressEvent } from 'progress-events'
import { kadId } from '../keys.ts'
import { checkPrefix, datastoreKey, keyOf } from '../storage/datastore-key.ts'
import { KeyedLock } from '../storage/keyed-lock.ts'
import { decodeTime, encodeTime } from '../storage/time.ts'
import { catchUp, dueTime, hexPrefixes, regionName, regionOf } from './schedule.ts'
import type { ScheduleState } from './schedule.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { ProgressEvent } from 'progress-events'

/** Hex digits of a key's position kept in its datastore key: 64 bits, for 2^24 regions and more. */
const POSITION_DIGITS = 16

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
}

/** What a {@link Reprovider} needs. */
export interface ReproviderInit {
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
  /** How long to wait before checking again while offline or with no network size, in ms. */
  recheckDelay: number
  /** A region none of whose keys reached a peer is tried again after this many ms... */
  retryDelay: number
  /** ...this many times, before the schedule goes on without it. */
  maxRetries: number
  /** The clock, in ms since the epoch. */
  now?(): number
  /** Told about each step of the schedule. */
  onProgress?(event: ReprovideProgressEvents): void
}

/** A datastore entry of one key: when it was last provided. */
interface Entry {
  key: Uint8Array
  provided: number
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
  private readonly locks: KeyedLock
  private state?: Stored
  private keys?: number
  private counted?: Promise<void>
  private waiting?: WaitReason
  private last?: RegionReport
  /** Keys of the last region that reached no peer: tried once more with the next region. */
  private retry: Uint8Array[]
  private retries: number
  private retryAt: number
  private timer?: ReturnType<typeof setTimeout>
  private tick?: () => void
  private running?: AbortController
  private sweep?: Promise<number>

  constructor (init: ReproviderInit) {
    checkPrefix(init.prefix)
    this.init = init
    this.now = init.now ?? Date.now
    this.locks = new KeyedLock()
    this.retry = []
    this.retries = 0
    this.retryAt = 0
  }

  /** Records that `key` was provided now. */
  async track (key: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.count()
    const dsKey = this.dsKey(key)
    await this.locks.run(dsKey.toString(), async () => {
      const known = await this.init.datastore.has(dsKey, options)
      await this.init.datastore.put(dsKey, encodeTime(this.now()), options)
      if (!known && this.keys != null) {
        this.keys++
      }
    })
  }

  /** Records that `key` was provided again now, unless it was forgotten meanwhile (a cancel wins). */
  private async touch (key: Uint8Array, options?: AbortOptions): Promise<void> {
    const dsKey = this.dsKey(key)
    await this.locks.run(dsKey.toString(), async () => {
      if (await this.init.datastore.has(dsKey, options)) {
        await this.init.datastore.put(dsKey, encodeTime(this.now()), options)
      }
    })
  }

  /** Forgets `key`: it is no longer provided again. Returns whether it was tracked. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    await this.count()
    const dsKey = this.dsKey(key)
    return this.locks.run(dsKey.toString(), async () => {
      if (!await this.init.datastore.has(dsKey, options)) {
        return false
      }
      await this.init.datastore.delete(dsKey, options)
      if (this.keys != null) {
        this.keys--
      }
      return true
    })
  }

  /** Whether `key` is tracked. */
  async has (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return this.init.datastore.has(this.dsKey(key), options)
  }

  /** Every tracked key with when it was last provided (ms), in keyspace order where the datastore sorts. */
  async * list (options?: AbortOptions): AsyncGenerator<Entry> {
    yield * this.entries(`${this.init.prefix}/`, options)
  }

  /** How many keys are tracked. */
  async size (): Promise<number> {
    await this.count()
    return this.keys ?? 0
  }

  /** Where the schedule stands. */
  stats (): ReprovideStats {
    const { state } = this
    const stats: ReprovideStats = { keys: this.keys, regions: state == null ? 0 : 2 ** state.bits, cycle: state?.cycle ?? 0, last: this.last, lastCycle: state?.lastCycle, waiting: this.waiting }
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
    if (this.running != null) {
      return
    }
    const running = new AbortController()
    this.running = running
    this.tick = () => {
      this.timer = undefined
      void this.reprovideDue({ signal: running.signal }).catch(() => {}).then(() => {
        if (!running.signal.aborted) {
          this.timer = setTimeout(() => { this.tick?.() }, this.delay())
        }
      })
    }
    this.tick()
  }

  /** Checks at once whether something is due, unless a check is under way (the node just found its first peer, say). */
  wake (): void {
    if (this.timer != null) {
      clearTimeout(this.timer)
      this.tick?.()
    }
  }

  /** Stops the schedule and aborts a region under way (it is resumed at the next start). */
  async stop (): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    this.tick = undefined
    this.running?.abort(new Error('the reprovider stopped'))
    this.running = undefined
    await this.sweep?.catch(() => {})
  }

  /**
   * Reprovides every region that is due, in order, and resolves to how many keys reached a
   * peer. One run at a time: a call during a run joins it.
   */
  async reprovideDue (options: AbortOptions = {}): Promise<number> {
    this.sweep ??= this.runDue(options).finally(() => { this.sweep = undefined })
    return this.sweep
  }

  private async runDue (options: AbortOptions): Promise<number> {
    const { init } = this
    await this.count()
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
      for await (const entry of this.entries(`${init.prefix}/${hex}`, options)) {
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
        await this.touch(key, options)
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

  /**
   * Counts the tracked keys once, moving any kept as earlier versions kept them
   * (`<prefix>/<key, base32>`, with no position) to their place in the keyspace.
   */
  private async count (): Promise<void> {
    this.counted ??= (async () => {
      const { datastore, prefix } = this.init
      const depth = new Key(prefix).list().length + 2
      let keys = 0
      const unplaced: Key[] = []
      for await (const key of datastore.queryKeys({ prefix: `${prefix}/` })) {
        keys++
        if (key.list().length < depth) {
          unplaced.push(key)
        }
      }
      for (const old of unplaced) {
        try {
          await datastore.put(this.dsKey(keyOf(old)), await datastore.get(old))
        } catch {
          keys-- // not a key of ours
        }
        await datastore.delete(old)
      }
      this.keys = keys
    })().catch(() => { this.counted = undefined })
    await this.counted
  }

  private async * entries (prefix: string, options?: AbortOptions): AsyncGenerator<Entry> {
    for await (const { key, value } of this.init.datastore.query({ prefix }, options)) {
      let bytes: Uint8Array
      try {
        bytes = keyOf(key)
      } catch {
        continue
      }
      // an unreadable time is due at once
      yield { key: bytes, provided: decodeTime(value) ?? 0 }
    }
  }

  private dsKey (key: Uint8Array): Key {
    const position = kadId(key).subarray(0, POSITION_DIGITS / 2)
    return datastoreKey(`${this.init.prefix}/${hex(position)}`, key)
  }
}

function hex (bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) {
    out += byte.toString(16).padStart(2, '0')
  }
  return out
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
