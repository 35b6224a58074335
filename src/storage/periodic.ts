/**
 * A task a store runs on a timer (a sweep of expired records), stopped with the store: the timer
 * is cleared and a run under way is aborted and waited for.
 */
import type { AbortOptions } from '@libp2p/interface'

/**
 * Runs `task` every `interval` ms between {@link Periodic.start} and {@link Periodic.stop}.
 *
 * @example
 * ```ts
 * const sweeps = new Periodic(60 * 60_000, async (options) => store.sweep(options), (err) => { log(err) })
 * sweeps.start()
 * await sweeps.stop()
 * ```
 */
export class Periodic {
  private readonly interval: number
  private readonly task: (options: AbortOptions) => Promise<unknown>
  private readonly onError: (error: Error) => void
  private timer?: ReturnType<typeof setInterval>
  private running?: AbortController
  private current?: Promise<unknown>

  /** `onError` is told about a run that failed; the next runs at its time. */
  constructor (interval: number, task: (options: AbortOptions) => Promise<unknown>, onError: (error: Error) => void = () => {}) {
    this.interval = interval
    this.task = task
    this.onError = onError
  }

  /** Starts the timer (the first run comes after one interval). */
  start (): void {
    if (this.timer != null) {
      return
    }
    const running = new AbortController()
    this.running = running
    this.timer = setInterval(() => {
      this.current ??= this.task({ signal: running.signal })
        .catch((err: Error) => { if (!running.signal.aborted) { this.onError(err) } })
        .finally(() => { this.current = undefined })
    }, this.interval)
  }

  /** Stops the timer, aborts a run under way and waits for it to end. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    this.running?.abort(new Error('stopped'))
    await this.current
  }
}
