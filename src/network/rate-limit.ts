/**
 * A per-peer limit on inbound requests: a token bucket for each peer. A peer that sends faster
 * than the sustained rate is slowed down first (its requests wait their turn, which an honest
 * burst, such as a batch of provider records, rides out), and refused only when the wait it has
 * queued up grows past a bound.
 *
 * A request may cost more than the bucket holds (a large message costs one request per 16 KiB,
 * a 4 MiB one 257 against a burst of 200): it goes as soon as the bucket is full, and the rest of
 * its cost is a debt that the peer's next requests wait off. So a lone large message is served
 * at once, as a small one is, while a stream of them gets no more than the sustained rate: the
 * debt is paid before the next one goes.
 */
import { RateLimitedError } from '../errors.ts'

/** The limits, and the clock. */
export interface RateLimiterInit {
  /** Requests per second one peer may send, sustained. */
  perSecond: number
  /** Requests one peer may send at once after a quiet spell. */
  burst: number
  /** The longest, in ms, a request may be held back; one that would wait longer is refused. */
  maxDelay: number
  /** Peers tracked at once; past it the least recently active one is forgotten. */
  maxPeers: number
  /** The clock, in milliseconds. */
  now(): number
}

interface PeerState {
  /** Tokens left at `at`; negative while requests are queued. */
  tokens: number
  at: number
}

/**
 * Token buckets by peer.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ perSecond: 50, burst: 200, maxDelay: 5_000, maxPeers: 10_000, now: Date.now })
 * const wait = limiter.reserve(peerId.toString()) // throws RateLimitedError past maxDelay
 * if (wait > 0) await sleep(wait)
 * ```
 */
export class RateLimiter {
  private readonly init: RateLimiterInit
  /** Least recently active first. */
  private readonly peers: Map<string, PeerState>

  constructor (init: RateLimiterInit) {
    this.init = init
    this.peers = new Map()
  }

  /** How many peers are tracked. */
  get size (): number {
    return this.peers.size
  }

  /**
   * Reserves the turn of a request from `peer` that costs `cost` requests (a large message costs
   * several) and returns how many ms it must wait for it (0: at once): until the peer's bucket
   * holds `cost` tokens, or is full when `cost` is more than a full bucket. The whole cost is
   * taken, which may leave the bucket in debt. Throws {@link RateLimitedError}, reserving
   * nothing, when the wait would exceed `maxDelay`.
   */
  reserve (peer: string, cost = 1): number {
    const { perSecond: rate, burst, maxDelay, maxPeers } = this.init
    const now = this.init.now()
    const state = this.peers.get(peer) ?? { tokens: burst, at: now }
    state.tokens = Math.min(burst, state.tokens + (now - state.at) * rate / 1000)
    state.at = now
    // most recently active last
    this.peers.delete(peer)
    this.peers.set(peer, state)
    // a request larger than the bucket waits for a full one, and leaves the rest as a debt
    const short = Math.min(cost, burst) - state.tokens
    const wait = short <= 0 ? 0 : short * 1000 / rate
    if (wait > maxDelay) {
      throw new RateLimitedError(`${peer} sends more than ${rate} requests/s`)
    }
    state.tokens -= cost
    for (const oldest of this.peers.keys()) {
      if (this.peers.size <= maxPeers) {
        break
      }
      this.peers.delete(oldest)
    }
    return wait
  }
}
