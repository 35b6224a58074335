/**
 * Round-trip times to peers, as this node's requests measured them: the time from a request
 * going out on an open connection to its answer. Pure bookkeeping, no clock: the query runner
 * (and the simulator) tell it each measurement and ask it what to expect of a peer.
 */

/** How many peers' round trips are remembered (the least recently measured forgotten first). */
export const ROUND_TRIP_PEERS = 4_096

/** How many of the latest measurements, over all peers, the typical round trip is drawn from. */
const RECENT = 64

/**
 * Smoothed round-trip times by peer (TCP's estimator: each new measurement weighs 1/8), and the
 * median of the latest measurements over all peers, for peers never measured.
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
    const before = this.peers.get(peer)
    this.peers.delete(peer)
    this.peers.set(peer, before == null ? ms : before + (ms - before) / 8)
    if (this.peers.size > this.max) {
      this.peers.delete(this.peers.keys().next().value as string)
    }
    if (this.recent.length < RECENT) {
      this.recent.push(ms)
    } else {
      this.recent[this.next] = ms
      this.next = (this.next + 1) % RECENT
    }
  }

  /** The smoothed round trip to `peer` in ms, if one was measured. */
  of (peer: string): number | undefined {
    return this.peers.get(peer)
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
