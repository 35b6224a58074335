/**
 * When a lookup request counts as *stalled*: an adaptive deadline drawn from how long the
 * lookup's answers took so far, or, once round trips were measured, a deadline of each request
 * from its peer's round trip and what it still has to go through. Pure arithmetic, no clock and
 * no timers: {@link runLookup} (and the simulator) ask it for a deadline when they send a
 * request and tell it each answer's time.
 */
import type { RoundTrips } from './round-trips.ts'
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
 * Where a request stands, from whether it was sent and whether its peer is connected.
 *
 * @example
 * ```ts
 * requestPhase(false, false)   // 'dial'
 * ```
 */
export function requestPhase (sent: boolean, connected: boolean): RequestPhase {
  if (sent) {
    return 'sent'
  }
  return connected ? 'stream' : 'dial'
}

/**
 * Round trips from each phase to the next: a dial (3: the transport's handshake, the security
 * protocol's selection and its handshake) and a stream (1 when its protocol is negotiated first)
 * until the request is sent, when its deadline is set again; the request (1).
 */
export const PHASE_ROUND_TRIPS: Record<RequestPhase, number> = { dial: 4, stream: 1, sent: 1 }

/**
 * The stall deadline of a request to `peer` in ms from now, from the round trips measured
 * (`rtts`), at most `max`; undefined when none was measured yet (the lookup's adaptive deadline
 * then applies). `factor` times the round trips the request still has to go through (until it
 * is sent: a dial and a stream, or a stream; once sent: the request's own), at the peer's own
 * round trip when it was measured (or bounded: by the dial that opened the request's connection,
 * or by libp2p's ping; see {@link RoundTrips.bound}), else at the node's typical one; at least
 * `min`, but for a request on the wire to a peer whose own round trip is known: at least `minSent`.
 * A dial or a peer never measured keeps the `min` floor: a dial's time depends on the machine's
 * load as much as on the round trip (a loaded machine's dials over loopback take hundreds of ms),
 * and one pair's round trip can be five times the typical one (p99 against median); a live peer
 * stalled that early is left out of the lookup's result and then out of the table's answers.
 *
 * @example
 * ```ts
 * const rtts = new RoundTrips()
 * rtts.observe('a', 80)
 * requestDeadline({ initial: 2_000, factor: 3, min: 1_000, minSent: 250 }, rtts, 'a', 'sent', 10_000)   // 250
 * requestDeadline({ initial: 2_000, factor: 3, min: 1_000, minSent: 250 }, rtts, 'a', 'dial', 10_000)   // 1000
 * requestDeadline({ initial: 2_000, factor: 3, min: 1_000, minSent: 250 }, rtts, 'b', 'sent', 10_000)   // 1000
 * ```
 */
export function requestDeadline (options: StallOptions, rtts: RoundTrips, peer: string, phase: RequestPhase, max: number): number | undefined {
  const own = rtts.of(peer)
  const rtt = own ?? rtts.typical
  return rtt == null ? undefined : phaseDeadline(options, rtt, phase, own != null, max)
}

/**
 * The stall deadline of a request in `phase` to a peer whose round trip is `rtt` ms (`own`: the
 * peer's own, else the node's typical one), at most `max`: {@link requestDeadline}'s arithmetic,
 * for callers that keep round trips themselves (the crawl keeps one per server it knows).
 *
 * @example
 * ```ts
 * phaseDeadline({ initial: 2_000, factor: 3, min: 1_000 }, 150, 'dial', true, 15_000)   // 1800: 3 × 4 round trips
 * ```
 */
export function phaseDeadline (options: StallOptions, rtt: number, phase: RequestPhase, own: boolean, max: number): number {
  const floor = phase === 'sent' && own ? options.minSent ?? options.min : options.min
  return Math.min(max, Math.max(floor, options.factor * PHASE_ROUND_TRIPS[phase] * rtt))
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
