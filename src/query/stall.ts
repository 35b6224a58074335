/**
 * When a lookup request counts as *stalled*: an adaptive deadline drawn from how long the
 * lookup's answers took so far. Pure arithmetic, no clock and no timers: {@link runLookup} (and
 * the simulator) ask it for a deadline when they send a request and tell it each answer's time.
 */
/** How the stall deadline is chosen (the service's defaults are in src/defaults.ts). */
export interface StallOptions {
  /** The deadline in ms before any answer arrived. */
  initial: number
  /** The deadline once answers arrived: this many times their median time. */
  factor: number
  /** The deadline never goes below this many ms. */
  min: number
  /**
   * The deadline of a request already on an open connection, from a round trip known
   * ({@link requestDeadline}), never goes below this many ms; `min` unless told.
   */
  minSent?: number
}

/**
 * Where a request stands: not sent yet and its peer not connected (a dial comes first), not sent
 * yet over an open connection (a stream to open), or sent.
 */
export type RequestPhase = 'dial' | 'stream' | 'sent'

/**
 * Round trips from each phase to the answer: a dial (3: the transport's handshake, the security
 * protocol's selection and its handshake), a stream (1 when its protocol is negotiated first),
 * the request (1).
 */
export const PHASE_ROUND_TRIPS: Record<RequestPhase, number> = { dial: 5, stream: 2, sent: 1 }

/**
 * The stall deadline of one request whose peer's round trip is known (or guessed: the node's
 * typical one): `factor` times the round trips it still has to go through, from now, at least
 * `min` (`minSent` once sent) and at most `max`.
 *
 * @example
 * ```ts
 * requestDeadline({ initial: 2_000, factor: 3, min: 1_000, minSent: 250 }, 80, 'sent', 10_000)   // 250
 * requestDeadline({ initial: 2_000, factor: 3, min: 1_000, minSent: 250 }, 120, 'dial', 10_000)  // 1800
 * ```
 */
export function requestDeadline (options: StallOptions, rtt: number, phase: RequestPhase, max: number): number {
  const min = phase === 'sent' ? options.minSent ?? options.min : options.min
  return Math.min(max, Math.max(min, options.factor * rtt * PHASE_ROUND_TRIPS[phase]))
}

/**
 * The stall deadline of one lookup: `initial` until an answer arrives, then `factor` × the median
 * answer time, never below `min`, never above `max` (the request timeout: a deadline that reaches
 * it means the request is never stalled, only timed out).
 *
 * @example
 * ```ts
 * const stall = new StallDeadline({ initial: 2_000, factor: 3, min: 1_000 }, 10_000)
 * stall.current        // 2000: nothing answered yet
 * stall.observe(120); stall.observe(80); stall.observe(300)
 * stall.current        // 1000: 3 × 120 ms is below the floor
 * ```
 */
export class StallDeadline {
  /** The largest deadline: the request timeout. */
  readonly max: number
  private readonly initial: number
  private readonly factor: number
  private readonly min: number
  /** Answer times seen, sorted ascending. */
  private readonly times: number[]

  constructor (options: StallOptions, max: number) {
    this.initial = options.initial
    this.factor = options.factor
    this.min = options.min
    if (!(this.initial > 0) || !(this.factor > 0) || !(this.min >= 0) || !(max > 0)) {
      throw new RangeError('stall initial, factor and the request timeout must be positive, min at least 0')
    }
    this.max = max
    this.times = []
  }

  /** Records how long one answer took, in ms. */
  observe (elapsed: number): void {
    if (!Number.isFinite(elapsed) || elapsed < 0) {
      return
    }
    const { times } = this
    let lo = 0
    let hi = times.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (times[mid] <= elapsed) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }
    times.splice(lo, 0, elapsed)
  }

  /** The median answer time in ms, or undefined before any answer. */
  get median (): number | undefined {
    const { times } = this
    const n = times.length
    if (n === 0) {
      return undefined
    }
    return n % 2 === 1 ? times[n >> 1] : (times[n / 2 - 1] + times[n / 2]) / 2
  }

  /**
   * The deadline in ms for a request sent now. When it equals {@link max}, the request is not
   * to be stalled at all: it answers or times out.
   */
  get current (): number {
    const median = this.median
    const raw = median == null ? this.initial : this.factor * median
    return Math.min(this.max, Math.max(this.min, raw))
  }
}
