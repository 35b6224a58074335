/**
 * Identical requests in flight share one lookup: the first starts it, later ones join it and read
 * what it found so far, then what it finds next. The lookup stops when it ends or when its last
 * reader leaves.
 */

/** One lookup's results so far, which any number of readers read from the start. */
export class SharedLookup<T> {
  private readonly results: T[]
  private readonly controller: AbortController
  private readonly onClose: () => void
  private wakers: Array<() => void>
  private ended: boolean
  private failure: Error | undefined
  private readers: number

  constructor (onClose: () => void) {
    this.results = []
    this.controller = new AbortController()
    this.onClose = onClose
    this.wakers = []
    this.ended = false
    this.readers = 0
  }

  /** Aborts when the last reader left before the lookup ended: the lookup should stop. */
  get signal (): AbortSignal {
    return this.controller.signal
  }

  /** Whether the lookup has ended. */
  get done (): boolean {
    return this.ended
  }

  /** Adds a result (ignored once ended). */
  push (value: T): void {
    if (this.ended) {
      return
    }
    this.results.push(value)
    this.wakeAll()
  }

  /** Ends the lookup, with the error that ended it if any; readers read what was found first. */
  end (error?: Error): void {
    if (this.ended) {
      return
    }
    this.ended = true
    this.failure = error
    this.wakeAll()
    this.onClose()
  }

  /**
   * Every result from the first, as they come, until the lookup ends (then throws its error, if
   * it ended with one) or `signal` aborts (then returns). The last reader to leave a running
   * lookup aborts it.
   */
  async * read (signal: AbortSignal): AsyncGenerator<T> {
    this.readers++
    try {
      let next = 0
      while (!signal.aborted) {
        while (next < this.results.length) {
          yield this.results[next++]
        }
        if (this.ended) {
          if (this.failure != null) {
            throw this.failure
          }
          return
        }
        await this.changed(signal)
      }
    } finally {
      this.readers--
      if (this.readers === 0 && !this.ended) {
        this.controller.abort(new Error('every request for this lookup went away'))
        this.end()
      }
    }
  }

  /** Resolves at the next result, at the end, or when `signal` aborts. */
  private async changed (signal: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const wake = (): void => {
        signal.removeEventListener('abort', wake)
        resolve()
      }
      signal.addEventListener('abort', wake, { once: true })
      this.wakers.push(wake)
    })
  }

  private wakeAll (): void {
    const wakers = this.wakers
    this.wakers = []
    for (const wake of wakers) {
      wake()
    }
  }
}

/** The lookups in flight by request key. */
export class SharedLookups {
  private readonly running: Map<string, SharedLookup<any>>
  private started: number
  private joined: number

  constructor () {
    this.running = new Map()
    this.started = 0
    this.joined = 0
  }

  /** Lookups in flight now. */
  get size (): number {
    return this.running.size
  }

  /** How many lookups were started, and how many requests joined one already in flight. */
  counts (): { started: number, joined: number } {
    return { started: this.started, joined: this.joined }
  }

  /**
   * The lookup in flight for `key`, or a new one that `run` drives (called at once, not awaited;
   * it must end the lookup, and should stop when its signal aborts).
   */
  join<T> (key: string, run: (lookup: SharedLookup<T>) => void): SharedLookup<T> {
    const existing = this.running.get(key)
    if (existing != null) {
      this.joined++
      return existing
    }
    this.started++
    const lookup: SharedLookup<T> = new SharedLookup(() => {
      if (this.running.get(key) === lookup) {
        this.running.delete(key)
      }
    })
    this.running.set(key, lookup)
    run(lookup)
    return lookup
  }
}
