/**
 * Round-trip times to peers, as this node's requests measured them: the time from a request
 * going out on an open connection to its answer. Pure bookkeeping, no clock: the query runner
 * (and the simulator) tell it each measurement and ask it what to expect of a peer.
 */

/** How many peers' round trips are remembered (the least recently measured forgotten first). */
export const ROUND_TRIP_PEERS = 4_096

/**
 * Round trips of a dial before its connection is open: the transport's handshake, the security
 * protocol's selection and its handshake (the muxer is chosen inside the last).
 */
export const DIAL_ROUND_TRIPS = 3

/** How many of the latest measurements, over all peers, the typical round trip is drawn from. */
const RECENT = 64

/**
 * Smoothed round-trip times by peer (TCP's estimator: each new measurement weighs 1/8), and the
 * median of the latest measurements over all peers, for peers never measured. A peer not yet
 * measured by a request may have a bound instead: what a dial to it, or libp2p's ping, showed
 * ({@link RoundTrips.bound}).
 *
 * @example
 * ```ts
 * const rtts = new RoundTrips()
 * rtts.observe('12D3KooW…', 84)
 * rtts.of('12D3KooW…')      // 84
 * rtts.typical              // 84: the median of the latest measurements
 * ```
 */
export class RoundTrips {
  private readonly peers = new Map<string, number>()
  /** Peers whose entry is a bound, not a measurement. */
  private readonly bounded = new Set<string>()
  private readonly recent: number[] = []
  private next = 0
  private readonly max: number

  constructor (max = ROUND_TRIP_PEERS) {
    this.max = max
  }

  /** Records one round trip to `peer`, in ms. */
  observe (peer: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      return
    }
    // a bound gives way to the first measurement
    const before = this.bounded.delete(peer) ? undefined : this.peers.get(peer)
    this.set(peer, before == null ? ms : before + (ms - before) / 8)
    if (this.recent.length < RECENT) {
      this.recent.push(ms)
    } else {
      this.recent[this.next] = ms
      this.next = (this.next + 1) % RECENT
    }
  }

  /**
   * Records that the round trip to `peer` is at most `ms`: a dial to it that took
   * {@link DIAL_ROUND_TRIPS} × `ms` until its first request went out, or libp2p's ping of a
   * connection. It stands for the peer's round trip until a request measures one, and leaves the
   * typical round trip alone. A load-delayed dial only makes it larger; a dial that joined
   * another one under way makes it smaller than the truth, which stalls a far peer early (a
   * stalled request's answer is still taken while the lookup lasts).
   *
   * @example
   * ```ts
   * rtts.bound('12D3KooW…', connection.rtt)   // libp2p's ping of an open connection
   * ```
   */
  bound (peer: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0 || (this.peers.has(peer) && !this.bounded.has(peer))) {
      return
    }
    this.bounded.add(peer)
    this.set(peer, ms)
  }

  /**
   * Records a dial to `peer` that took `ms` until its first request went out: its round trip is
   * at most a {@link DIAL_ROUND_TRIPS}th of that ({@link bound}).
   */
  dialled (peer: string, ms: number): void {
    this.bound(peer, ms / DIAL_ROUND_TRIPS)
  }

  /** The smoothed round trip to `peer` in ms, if one was measured, or its bound. */
  of (peer: string): number | undefined {
    return this.peers.get(peer)
  }

  /** Sets `peer`'s entry as the most recent one, forgetting the least recent past the bound. */
  private set (peer: string, ms: number): void {
    this.peers.delete(peer)
    this.peers.set(peer, ms)
    if (this.peers.size > this.max) {
      const oldest = this.peers.keys().next().value as string
      this.peers.delete(oldest)
      this.bounded.delete(oldest)
    }
  }

  /** The median of the latest measurements over all peers, or undefined before the first. */
  get typical (): number | undefined {
    if (this.recent.length === 0) {
      return undefined
    }
    const sorted = this.recent.slice().sort((a, b) => a - b)
    const n = sorted.length
    return n % 2 === 1 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
  }
}
