/**
 * The virtual clock of the simulator: a priority queue of events ordered by their virtual time
 * (ties in the order they were scheduled). Nothing waits on a real timer: running an event moves
 * the clock to its time.
 */

interface Event {
  at: number
  seq: number
  run(): void
  cancelled?: boolean
}

/** A virtual clock and its queue of events. */
export class VirtualClock {
  /** The current virtual time in milliseconds. */
  now = 0
  /** Events run so far. */
  ran = 0
  private readonly heap: Event[] = []
  private seq = 0

  /** Events waiting. */
  get size (): number {
    return this.heap.length
  }

  /** Schedules `run` at virtual time `at` (never before now). */
  at (at: number, run: () => void): void {
    this.push({ at: Math.max(at, this.now), seq: this.seq++, run })
  }

  /**
   * Schedules `run` after `delay` virtual milliseconds and returns the function that calls it
   * off: the shape of the `schedule` hook of runLookup and the Refresher.
   */
  readonly schedule = (delay: number, run: () => void): (() => void) => {
    const event: Event = { at: this.now + delay, seq: this.seq++, run }
    this.push(event)
    return () => { event.cancelled = true }
  }

  private push (event: Event): void {
    const heap = this.heap
    heap.push(event)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!earlier(event, heap[parent])) {
        break
      }
      heap[i] = heap[parent]
      i = parent
    }
    heap[i] = event
  }

  /** Schedules `run` after `delay` virtual milliseconds. */
  after (delay: number, run: () => void): void {
    this.at(this.now + delay, run)
  }

  /** Runs the earliest event; returns false when none is left. */
  step (): boolean {
    let event = this.pop()
    while (event?.cancelled === true) {
      event = this.pop()
    }
    if (event == null) {
      return false
    }
    this.now = event.at
    this.ran++
    event.run()
    return true
  }

  private pop (): Event | undefined {
    const heap = this.heap
    if (heap.length === 0) {
      return undefined
    }
    const top = heap[0]
    const last = heap.pop() as Event
    if (heap.length > 0) {
      let i = 0
      const n = heap.length
      while (true) {
        const l = 2 * i + 1
        if (l >= n) {
          break
        }
        const r = l + 1
        const child = r < n && earlier(heap[r], heap[l]) ? r : l
        if (!earlier(heap[child], last)) {
          break
        }
        heap[i] = heap[child]
        i = child
      }
      heap[i] = last
    }
    return top
  }
}

function earlier (a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
