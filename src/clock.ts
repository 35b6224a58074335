/**
 * One clock for every timer of kadmium. Lookups and their deadlines, the refresher, the liveness
 * checks, the reprovider, the tags and the stores' sweeps read the time and set their timers
 * through a {@link Clock}: a simulation or an emulation in virtual time passes its own, and the
 * same code runs on it unchanged. A part that keeps time takes the clock's two functions, `now`
 * and `schedule`, in its init (the service spreads its one clock into each); where they are left
 * out, it runs on {@link realClock}.
 *
 * The timeouts of socket I/O (a stream's read and idle timeouts, the rate limiter's waits) stay on
 * the host's timers: they guard real streams.
 */
import { TimeoutError } from './errors.ts'
import type { AbortOptions } from '@libp2p/interface'

/** Calls a timer off; calling it again, or after the timer fired, does nothing. */
export type Cancel = () => void

/** The time, and timers on it. */
export interface Clock {
  /** The time in milliseconds (since the epoch, on the real clock). */
  now(): number
  /** Calls `fire` after `ms` milliseconds of this clock; returns the function that calls it off. */
  schedule(ms: number, fire: () => void): Cancel
}

/**
 * The host's clock. It reads `Date.now` and `setTimeout` at each call, so fake timers installed
 * after kadmium was loaded are followed too.
 */
export const realClock: Clock = {
  now: () => Date.now(),
  schedule: (ms, fire) => {
    const timer = setTimeout(fire, ms)
    return () => { clearTimeout(timer) }
  }
}

/**
 * `clock`'s functions bound to it, so that they can be handed out (spread into an init) even
 * when they are methods of a class.
 */
export function boundClock (clock: Clock): Clock {
  return { now: () => clock.now(), schedule: (ms, fire) => clock.schedule(ms, fire) }
}

/** The clock an init carries: its own `now` and `schedule`, the real clock's where it has none. */
export function clockOf (init: Partial<Clock>): Clock {
  return { now: init.now ?? realClock.now, schedule: init.schedule ?? realClock.schedule }
}

/** A signal and the function that releases its timer and listeners. */
export interface Deadline {
  signal: AbortSignal
  clear(): void
}

/**
 * A signal that aborts when any of `signals` does, or after `ms` of `clock` with an error named
 * `TimeoutError` carrying `message`. Call `clear()` when the work ends, so that nothing is left
 * waiting after it (`AbortSignal.timeout` keeps its timer until it fires).
 *
 * @example
 * ```ts
 * const request = deadline(clock, 10_000, 'no answer in time', options.signal)
 * try { await ask({ signal: request.signal }) } finally { request.clear() }
 * ```
 */
export function deadline (clock: Clock, ms: number, message: string, ...signals: Array<AbortSignal | undefined>): Deadline {
  const controller = new AbortController()
  const parents = signals.filter((s): s is AbortSignal => s != null)
  const onAbort = (event: Event): void => { controller.abort((event.target as AbortSignal).reason) }
  for (const parent of parents) {
    if (parent.aborted) {
      controller.abort(parent.reason)
      break
    }
    parent.addEventListener('abort', onAbort, { once: true })
  }
  const cancel = clock.schedule(ms, () => {
    controller.abort(new TimeoutError(message))
  })
  return {
    signal: controller.signal,
    clear: () => {
      cancel()
      for (const parent of parents) {
        parent.removeEventListener('abort', onAbort)
      }
    }
  }
}

/** How late (ms) a timer may fire before {@link scheduleOnTime} takes it that the node is behind. */
export const LATE_TIMER = 20

/** How many times in a row {@link scheduleOnTime} waits again for a late timer before it fires. */
export const LATE_TIMER_WAITS = 3

/**
 * Calls `fire` after `ms` of `clock`, as `clock.schedule` does, unless the timer fires more
 * than {@link LATE_TIMER} ms late: then the node itself is behind (its event loop was busy), and
 * what the timer is to judge (an answer that is late or not) may be read and waiting behind it,
 * so it waits as long again, up to {@link LATE_TIMER_WAITS} times. On a virtual clock a timer is
 * never late and this is `clock.schedule`. Returns the function that calls it off.
 *
 * @example
 * ```ts
 * const cancel = scheduleOnTime(clock, 250, () => { markStalled() })
 * ```
 */
export function scheduleOnTime (clock: Clock, ms: number, fire: () => void): Cancel {
  let cancel: Cancel = () => {}
  let waits = 0
  const set = (delay: number): void => {
    const due = clock.now() + delay
    cancel = clock.schedule(delay, () => {
      const late = clock.now() - due
      if (late > LATE_TIMER && waits < LATE_TIMER_WAITS) {
        waits++
        set(late)
        return
      }
      fire()
    })
  }
  set(ms)
  return () => { cancel() }
}

/** Resolves after `ms` of `clock`; rejects with the signal's reason, and calls its timer off, if it aborts first. */
export async function sleep (clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      cancel()
      reject(signal?.reason)
    }
    const cancel = clock.schedule(ms, () => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** What a {@link Repeat} runs and when. */
export interface RepeatInit {
  /** The clock it runs on. */
  clock: Clock
  /** One run; `signal` aborts when the repeat stops. */
  task(options: AbortOptions): Promise<unknown>
  /** How long after a run ended the next one starts, in ms (asked after each run). */
  delay: number | (() => number)
  /** Told about a run that failed; the next run comes at its time all the same. */
  onError(error: Error): void
}

/**
 * Periodic work that survives any one failed run: the task runs again `delay` ms after its last
 * run ended, whatever became of that run, from {@link start} until {@link stop}. Runs never
 * overlap.
 *
 * @example
 * ```ts
 * const sweeps = new Repeat({ clock, task: async ({ signal }) => store.sweep({ signal }), delay: HOUR, onError: (err) => { log(err) } })
 * sweeps.start()        // the first run one delay from now; start(0) runs at once
 * sweeps.wake()         // runs now, unless a run is under way
 * await sweeps.stop()   // calls the timer off, aborts a run under way and waits for it
 * ```
 */
export class Repeat {
  private readonly init: RepeatInit
  private running?: AbortController
  private cancel?: Cancel
  private current?: Promise<void>

  constructor (init: RepeatInit) {
    this.init = init
  }

  /** Whether it runs (between {@link start} and {@link stop}). */
  get started (): boolean {
    return this.running != null
  }

  /** Starts: the first run comes after `first` ms, one delay unless told otherwise. */
  start (first?: number): void {
    if (this.running != null) {
      return
    }
    this.running = new AbortController()
    this.arm(first ?? this.delay())
  }

  /** Runs the task now, unless it is stopped or a run is under way. */
  wake (): void {
    if (this.running == null || this.current != null) {
      return
    }
    this.cancel?.()
    this.cancel = undefined
    this.run(this.running)
  }

  /** Calls the next run off, aborts a run under way and resolves once it has ended. */
  async stop (): Promise<void> {
    this.cancel?.()
    this.cancel = undefined
    this.running?.abort(new Error('stopped'))
    this.running = undefined
    await this.current
  }

  private delay (): number {
    const { delay } = this.init
    return typeof delay === 'number' ? delay : delay()
  }

  private arm (ms: number): void {
    const running = this.running
    this.cancel = this.init.clock.schedule(ms, () => {
      this.cancel = undefined
      if (running != null && this.running === running) {
        this.run(running)
      }
    })
  }

  private run (running: AbortController): void {
    this.current = (async () => {
      try {
        await this.init.task({ signal: running.signal })
      } catch (err: any) {
        if (!running.signal.aborted) {
          this.init.onError(err)
        }
      } finally {
        this.current = undefined
        if (this.running === running) {
          this.arm(this.delay())
        }
      }
    })()
  }
}
