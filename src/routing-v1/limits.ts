/**
 * What keeps the server within bounds: how many requests it serves at once (in all and per
 * client), and how many lookups run at once with how many more waiting in line.
 */
import { RETRY_AFTER_BUSY, RETRY_AFTER_CLIENT } from './constants.ts'
import { RequestError } from './request.ts'

/** A 429: the caller should come back after `retryAfter` seconds. */
export class TooManyRequestsError extends RequestError {
  /** Seconds to wait before asking again (the `Retry-After` header). */
  readonly retryAfter: number

  constructor (message: string, retryAfter: number) {
    super(429, message)
    this.retryAfter = retryAfter
  }
}

/** `release` made safe to call more than once: only the first call runs it. */
function once (release: () => void): () => void {
  let released = false
  return () => {
    if (!released) {
      released = true
      release()
    }
  }
}

/** Counts requests in flight, in all and per client, and turns away those over the bounds. */
export class RequestLimits {
  private readonly maxRequests: number
  private readonly maxPerClient: number
  private readonly perClient: Map<string, number>
  private inFlight: number

  constructor (maxRequests: number, maxPerClient: number) {
    this.maxRequests = maxRequests
    this.maxPerClient = maxPerClient
    this.perClient = new Map()
    this.inFlight = 0
  }

  /** Requests in flight now. */
  get size (): number {
    return this.inFlight
  }

  /**
   * Takes a place for one request of `client` (undefined: a caller not told apart from others,
   * bound only by the total); returns what gives it back, once. Throws
   * {@link TooManyRequestsError} when the client or the server is full.
   */
  admit (client: string | undefined): () => void {
    const mine = client == null ? 0 : this.perClient.get(client) ?? 0
    if (client != null && mine >= this.maxPerClient) {
      throw new TooManyRequestsError(`too many requests at once from one client: at most ${this.maxPerClient}`, RETRY_AFTER_CLIENT)
    }
    if (this.inFlight >= this.maxRequests) {
      throw new TooManyRequestsError(`the server is serving ${this.maxRequests} requests: try again later`, RETRY_AFTER_BUSY)
    }
    this.inFlight++
    if (client != null) {
      this.perClient.set(client, mine + 1)
    }
    return once(() => {
      this.inFlight--
      if (client != null) {
        const left = (this.perClient.get(client) ?? 1) - 1
        if (left === 0) {
          this.perClient.delete(client)
        } else {
          this.perClient.set(client, left)
        }
      }
    })
  }
}

/** A request waiting in a {@link LookupGate}'s line: what lets it in. */
type Waiter = () => void

/** Lets at most `max` lookups run at once; up to `maxWaiting` more wait in line, first come first served. */
export class LookupGate {
  private readonly max: number
  private readonly maxWaiting: number
  private readonly line: Waiter[]
  private active: number

  constructor (max: number, maxWaiting: number) {
    this.max = max
    this.maxWaiting = maxWaiting
    this.line = []
    this.active = 0
  }

  /** Lookups running now. */
  get running (): number {
    return this.active
  }

  /** Lookups waiting for a place now. */
  get waiting (): number {
    return this.line.length
  }

  /**
   * Resolves, once a place is free, to what gives it back (once). Throws
   * {@link TooManyRequestsError} when the line is full, or when `signal` aborts while waiting
   * (the lookup's time ran out in line: the server is too busy).
   */
  async enter (signal: AbortSignal): Promise<() => void> {
    if (this.active < this.max) {
      this.active++
      return this.releaser()
    }
    if (this.line.length >= this.maxWaiting) {
      throw new TooManyRequestsError(`${this.max} lookups run and ${this.maxWaiting} wait: try again later`, RETRY_AFTER_BUSY)
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.line.indexOf(waiter)
        if (index >= 0) {
          this.line.splice(index, 1)
        }
        reject(new TooManyRequestsError('the lookup waited in line until its time ran out: try again later', RETRY_AFTER_BUSY))
      }
      const waiter: Waiter = () => {
        signal.removeEventListener('abort', onAbort)
        this.active++
        resolve(this.releaser())
      }
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.line.push(waiter)
    })
  }

  private releaser (): () => void {
    return once(() => {
      this.active--
      this.line.shift()?.()
    })
  }
}
