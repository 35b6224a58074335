/**
 * A virtual clock for tests: its timers fire only as the test moves it, in time order, with
 * every promise callback that a timer set off run before the next fires.
 */

interface Timer {
  at: number
  seq: number
  fire(): void
  cancelled: boolean
}

/** A clock whose time moves only when the test says so. */
export class TestClock {
  private time: number
  private timers: Timer[]
  private seq: number

  constructor (start = 0) {
    this.time = start
    this.timers = []
    this.seq = 0
  }

  /** The virtual time, in ms. */
  readonly now = (): number => this.time

  /** Calls `fire` after `ms` virtual ms; returns the function that calls it off. */
  readonly schedule = (ms: number, fire: () => void): (() => void) => {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fire, cancelled: false }
    this.timers.push(timer)
    return () => { timer.cancelled = true }
  }

  /** Timers waiting. */
  get pending (): number {
    return this.timers.filter(t => !t.cancelled).length
  }

  /** Moves the clock `ms` ahead, firing every timer due on the way, in order. */
  async advance (ms: number): Promise<void> {
    const until = this.time + ms
    await settle()
    for (let timer = this.next(until); timer != null; timer = this.next(until)) {
      this.time = timer.at
      timer.fire()
      await settle()
    }
    this.time = until
  }

  /** Fires timers in time order until `done()` holds or none is left. */
  async run (done: () => boolean): Promise<void> {
    await settle()
    while (!done()) {
      const timer = this.next(Infinity)
      if (timer == null) {
        return
      }
      this.time = timer.at
      timer.fire()
      await settle()
    }
  }

  private next (until: number): Timer | undefined {
    this.timers = this.timers.filter(t => !t.cancelled).sort((a, b) => a.at - b.at || a.seq - b.seq)
    if (this.timers.length === 0 || this.timers[0].at > until) {
      return undefined
    }
    return this.timers.shift()
  }
}

/** Lets every pending promise callback run (a few rounds, for chains that hop through several). */
export async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setImmediate(resolve))
  }
}
