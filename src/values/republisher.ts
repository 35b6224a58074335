/**
 * The republisher: puts the values this node keeps (`put(key, value, { keep: true })`) again
 * before their records expire on other peers (48 h after they received them), each key at its
 * own phase of the interval (see republish-schedule.ts), so that the puts are spread evenly
 * over the interval and each key is put again between half an interval and one and a half after
 * its last put.
 *
 * Everything lives in the datastore (see kept-values.ts): the values as they were given, put
 * again byte for byte (an IPNS record is never signed again: its sequence is its owner's), with
 * when each was last put. A restarted node computes the same due times from it, so nothing is
 * put twice and nothing is passed over; a key due while the node was stopped is put at once.
 *
 * While the node has no DHT peer nothing is put; the keys due wait, and go out in order once it
 * has one again. A put that reaches no peer is tried again after `retryDelay`, doubled after
 * each failure in a row, at most half an interval. A run that fails (the datastore, say) is
 * counted in `stats().errors`, told to `onProgress` and tried again after `recheckDelay`.
 */
import { CustomProgressEvent } from 'progress-events'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { Repeat, clockOf } from '../clock.ts'
import { kadId } from '../keys.ts'
import { KeptValues } from './kept-values.ts'
import { nextDue, phaseOf } from './republish-schedule.ts'
import type { KeptValue } from './kept-values.ts'
import type { Clock } from '../clock.ts'
import type { KadId } from '../keys.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { ProgressEvent } from 'progress-events'

/** What the republisher reports through `onProgress`. */
export type RepublishProgressEvents =
  | ProgressEvent<'kadmium:republish:due', {
    /** Keys due now, put one after another. */
    keys: number
  }>
  | ProgressEvent<'kadmium:republish:sent', {
    /** A key whose value was put again. */
    key: Uint8Array
    /** How many peers stored it. */
    stored: number
  }>
  | ProgressEvent<'kadmium:republish:failed', {
    /** A key whose value reached no peer (or that the local store refused). */
    key: Uint8Array
    /** Why. */
    error: Error
    /** When it is tried again (ms since the epoch). */
    retry: number
  }>
  | ProgressEvent<'kadmium:republish:waiting', {
    /** Why nothing is put now: no DHT peer. */
    reason: 'offline'
  }>
  | ProgressEvent<'kadmium:republish:error', {
    /** What broke the run (a datastore error, say); the run is tried again after `recheckDelay`. */
    error: Error
  }>

/** A kept value as {@link Republisher.list} gives it: with when it is next put. */
export interface KeptInfo extends KeptValue {
  /** When it is next put (ms since the epoch). */
  due: number
}

/** The state of the republisher, as `stats()` reports it. */
export interface RepublishStats {
  /** Values kept (undefined until the list was read, just after start). */
  keys?: number
  /** How often each is put, on average, in ms. */
  interval: number
  /** The key due next, and when. */
  next?: { key: Uint8Array, due: number }
  /** The last put: its key, when it began and how many peers stored it. */
  last?: { key: Uint8Array, at: number, stored: number }
  /** Puts that reached a peer since the start. */
  republished: number
  /** Puts that reached none (each was tried again later). */
  failed: number
  /** Why nothing is put now, when nothing is: no DHT peer. */
  waiting?: 'offline'
  /** Runs that failed (each was tried again after `recheckDelay`). */
  errors: number
}

/** What a {@link Republisher} needs; its clock is the real one unless `now` and `schedule` are given. */
export interface RepublisherInit extends Partial<Clock> {
  datastore: Datastore
  /** Where the kept values live in the datastore. */
  prefix: string
  /** Our own position in the keyspace: each key's phase is taken from its position XOR ours. */
  self: KadId
  /** How often each value is put, in ms, on average (each put comes ½ to 1½ of it after the last). */
  interval: number
  /** Puts a value on the network; resolves to how many peers stored it, throws when none did. */
  put(key: Uint8Array, value: Uint8Array, options: AbortOptions): Promise<number>
  /** Whether the node has DHT peers to put to. */
  online(): boolean
  /** How long to wait before checking again while offline or after a failed run, and at most between checks, in ms. */
  recheckDelay: number
  /** A put that reached no peer is tried again after this many ms, doubled for each failure in a row. */
  retryDelay: number
  /** Told about each step. */
  onProgress?(event: RepublishProgressEvents): void
}

/** Where one kept key stands in memory: its phase, when it is due, its failures in a row. */
interface Slot {
  key: Uint8Array
  phase: number
  due: number
  failures: number
}

/**
 * Keeps values alive by putting them again, each at its phase of the interval.
 *
 * @example
 * ```ts
 * const republisher = new Republisher({ datastore, prefix: '/kadmium/kept', self, interval: 12 * HOUR,
 *   put: async (key, value, options) => values.put(key, value, options), online: () => table.size > 0,
 *   recheckDelay: 60_000, retryDelay: 5 * 60_000 })
 * await republisher.keep(key, value, Date.now())   // after a put
 * republisher.start()                              // each key when it is due
 * ```
 */
export class Republisher {
  private readonly init: RepublisherInit
  private readonly now: () => number
  private readonly kept: KeptValues
  private readonly repeat: Repeat
  /** Every kept key, by its base32 form; read from the datastore once. */
  private slots?: Map<string, Slot>
  private loading?: Promise<Map<string, Slot>>
  private waiting?: 'offline'
  private last?: RepublishStats['last']
  private republished: number
  private failed: number
  private errors: number
  /** The run under way, which every caller of {@link republishDue} shares. */
  private current?: Promise<number>

  constructor (init: RepublisherInit) {
    this.init = init
    const clock = clockOf(init)
    this.now = clock.now
    this.kept = new KeptValues({ datastore: init.datastore, prefix: init.prefix })
    this.repeat = new Repeat({
      clock,
      task: async (options) => this.republishDue(options),
      delay: () => this.delay(),
      onError: (error) => {
        this.errors++
        init.onProgress?.(new CustomProgressEvent('kadmium:republish:error', { error }))
      }
    })
    this.republished = 0
    this.failed = 0
    this.errors = 0
  }

  /**
   * Keeps `value` under `key` (in place of a value kept there before), last put at `put`
   * (undefined: no put reached a peer yet, so it is due at once).
   */
  async keep (key: Uint8Array, value: Uint8Array, put: number | undefined, options?: AbortOptions): Promise<void> {
    const slots = await this.load(options)
    await this.kept.keep({ key, value, put }, options)
    slots.set(name(key), this.slot(key, put))
  }

  /** If `key` is kept, keeps `value` in its place, put at `put` (a put of a kept key changes what is kept). Resolves whether it was kept. */
  async update (key: Uint8Array, value: Uint8Array, put: number | undefined, options?: AbortOptions): Promise<boolean> {
    const slots = await this.load(options)
    if (!slots.has(name(key))) {
      return false
    }
    await this.keep(key, value, put, options)
    return true
  }

  /** Stops keeping `key`: its value is no longer put again. Resolves whether it was kept. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    const slots = await this.load(options)
    slots.delete(name(key))
    return this.kept.forget(key, options)
  }

  /** Whether `key` is kept. */
  async has (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return (await this.load(options)).has(name(key))
  }

  /** The value kept under `key`, with when it is next put. */
  async get (key: Uint8Array, options?: AbortOptions): Promise<KeptInfo | undefined> {
    const kept = await this.kept.get(key, options)
    return kept == null ? undefined : { ...kept, due: (await this.load(options)).get(name(key))?.due ?? this.slot(key, kept.put).due }
  }

  /** Every kept value with when it is next put, in datastore order. */
  async * list (options?: AbortOptions): AsyncGenerator<KeptInfo> {
    const slots = await this.load(options)
    for await (const kept of this.kept.list(options)) {
      yield { ...kept, due: slots.get(name(kept.key))?.due ?? this.slot(kept.key, kept.put).due }
    }
  }

  /** How many values are kept. */
  async size (options?: AbortOptions): Promise<number> {
    return (await this.load(options)).size
  }

  /** Where the republisher stands. */
  stats (): RepublishStats {
    const next = this.next()
    return {
      keys: this.slots?.size,
      interval: this.init.interval,
      next: next == null ? undefined : { key: next.key, due: next.due },
      last: this.last,
      republished: this.republished,
      failed: this.failed,
      waiting: this.waiting,
      errors: this.errors
    }
  }

  /** Puts each value when it is due, the first check at once, until {@link stop}. */
  start (): void {
    this.repeat.start(0)
  }

  /** Checks at once whether something is due, unless a check is under way (the node just found its first peer, say). */
  wake (): void {
    this.repeat.wake()
  }

  /** Stops, aborting a put under way (its key is due again at the next start). */
  async stop (): Promise<void> {
    await this.repeat.stop()
    await this.current?.catch(() => {})
  }

  /**
   * Puts every value that is due, in order of due time, and resolves to how many reached a
   * peer. One run at a time: a call during a run joins it.
   */
  async republishDue (options: AbortOptions = {}): Promise<number> {
    this.current ??= this.runDue(options).finally(() => { this.current = undefined })
    return this.current
  }

  private async runDue (options: AbortOptions): Promise<number> {
    const { init } = this
    const slots = await this.load(options)
    const due = [...slots.values()].filter(slot => slot.due <= this.now()).sort((a, b) => a.due - b.due)
    if (!init.online()) {
      if (due.length > 0) {
        this.setWaiting()
      }
      return 0
    }
    this.waiting = undefined
    if (due.length === 0) {
      return 0
    }
    init.onProgress?.(new CustomProgressEvent('kadmium:republish:due', { keys: due.length }))
    let sent = 0
    for (const slot of due) {
      options.signal?.throwIfAborted()
      if (!init.online()) {
        this.setWaiting()
        break
      }
      const kept = await this.kept.get(slot.key, options)
      if (kept == null || slots.get(name(slot.key)) !== slot) {
        // forgotten, or kept anew (and put), meanwhile
        continue
      }
      const started = this.now()
      try {
        const stored = await init.put(kept.key, kept.value, options)
        sent++
        this.republished++
        this.last = { key: kept.key, at: started, stored }
        // a value kept anew meanwhile has its own slot: this put is not recorded for it
        if (await this.kept.touch(kept.key, kept.value, started, options)) {
          Object.assign(slot, this.slot(kept.key, started))
        }
        init.onProgress?.(new CustomProgressEvent('kadmium:republish:sent', { key: kept.key, stored }))
      } catch (err: any) {
        if (options.signal?.aborted === true) {
          throw err
        }
        this.failed++
        slot.failures++
        slot.due = this.now() + Math.min(init.retryDelay * 2 ** (slot.failures - 1), init.interval / 2)
        init.onProgress?.(new CustomProgressEvent('kadmium:republish:failed', { key: kept.key, error: err, retry: slot.due }))
      }
    }
    return sent
  }

  /** The in-memory schedule, read from the datastore once (a failed read is tried again at the next call). */
  private async load (options?: AbortOptions): Promise<Map<string, Slot>> {
    if (this.slots != null) {
      return this.slots
    }
    this.loading ??= (async () => {
      const slots = new Map<string, Slot>()
      for await (const kept of this.kept.list(options)) {
        slots.set(name(kept.key), this.slot(kept.key, kept.put))
      }
      this.slots = slots
      return slots
    })().finally(() => { this.loading = undefined })
    return this.loading
  }

  /** The slot of a key last put at `put` (never: due at once). */
  private slot (key: Uint8Array, put: number | undefined): Slot {
    const { interval, self } = this.init
    const phase = phaseOf(kadId(key), self, interval)
    return { key, phase, due: put == null ? this.now() : nextDue(put, phase, interval), failures: 0 }
  }

  private next (): Slot | undefined {
    let next: Slot | undefined
    for (const slot of this.slots?.values() ?? []) {
      if (next == null || slot.due < next.due) {
        next = slot
      }
    }
    return next
  }

  /** Notes that nothing is put for want of a peer, telling `onProgress` once per stretch of waiting. */
  private setWaiting (): void {
    if (this.waiting == null) {
      this.init.onProgress?.(new CustomProgressEvent('kadmium:republish:waiting', { reason: 'offline' as const }))
    }
    this.waiting = 'offline'
  }

  /** How long until the next check, in ms: when the next key is due, `recheckDelay` at most. */
  private delay (): number {
    const next = this.waiting == null ? this.next() : undefined
    if (next == null) {
      return this.init.recheckDelay
    }
    return Math.min(Math.max(0, next.due - this.now()), this.init.recheckDelay)
  }
}

/** A key's name in the schedule. */
function name (key: Uint8Array): string {
  return uint8ArrayToString(key, 'base32')
}
