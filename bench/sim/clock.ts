/**
 * The virtual clock of the simulator: a priority queue of events ordered by their virtual time
 * (ties in the order they were scheduled). Nothing waits on a real timer: running an event moves
 * the clock to its time.
 */
import { TimerHeap } from '../lib/timer-heap.ts'
import type { HeapEntry } from '../lib/timer-heap.ts'

interface Event extends HeapEntry {
  run(): void
}

/** A virtual clock and its queue of events. */
export class VirtualClock {
  /** The current virtual time in milliseconds. */
  now = 0
  /** Events run so far. */
  ran = 0
  private readonly heap = new TimerHeap<Event>()

  /** Events waiting. */
  get size (): number {
    return this.heap.size
  }

  /** Schedules `run` at virtual time `at` (never before now). */
  at (at: number, run: () => void): void {
    this.heap.push({ at: Math.max(at, this.now), seq: 0, index: -1, run })
  }

  /**
   * Schedules `run` after `delay` virtual milliseconds and returns the function that calls it
   * off: the shape of the `schedule` hook of runLookup and the Refresher.
   */
  readonly schedule = (delay: number, run: () => void): (() => void) => {
    const event: Event = { at: this.now + delay, seq: 0, index: -1, run }
    this.heap.push(event)
    return () => { this.heap.remove(event) }
  }

  /** Schedules `run` after `delay` virtual milliseconds. */
  after (delay: number, run: () => void): void {
    this.at(this.now + delay, run)
  }

  /** Runs the earliest event; returns false when none is left. */
  step (): boolean {
    const event = this.heap.pop()
    if (event == null) {
      return false
    }
    this.now = event.at
    this.ran++
    event.run()
    return true
  }
}
