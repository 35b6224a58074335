/**
 * Optimistic providing: which peers a lookup has heard of are, with high confidence, among the
 * k closest of its target, and when it has heard enough to stop. Given the network size N, the
 * peers around a target are a Poisson process of rate N on the XOR distance scaled to [0, 1)
 * (see network-size.ts), so:
 *
 * - the k-th closest peer lies at a distance that is Gamma(k, 1/N): a peer closer than that
 * law's `1 - certainty` quantile is among the k closest with probability `certainty` at least,
 * whatever else is found later, and can be sent the record at once;
 * - the mean distance of the true k closest peers is a sum of independent exponential gaps,
 * with mean (k + 1) / 2N and variance (k + 1)(2k + 1) / 6kN²; taken as the Gamma law of the
 * same two moments, its `1 - strictness` quantile is a mean that the true k closest exceed
 * only with probability `strictness`. Once the k closest peers heard of are as close as that
 * on average, more asking would rarely find closer ones: the lookup stops and the rest of
 * them are sent the record.
 *
 * - and the lookup stops only once the few closest peers heard of have answered
 * (`closestAnswered`): the peers nearest a key know its neighbourhood best, one that has not
 * answered yet may know closer peers still, and one peer's table may lack a few of them. Without
 * this third test (go's rule), 3 to 9 % of the records of the simulator's optimistic provides
 * missed the true k closest (under 1 % with it), for 20 to 70 ms less.
 *
 * go-libp2p-kad-dht's optimistic provide rests on the first two tests (its set test takes a
 * Gamma of shape k/2 + 1; the moment-matched one fits the spread of the mean more closely).
 */
import { normalizedDistance } from './network-size.ts'
import type { KadId } from '../keys.ts'
import type { LookupPeer } from '../query/lookup.ts'

/** How sure of each peer and of the set an {@link OptimisticPlan} is. */
export interface OptimisticOptions {
  /** Peers per key (k). */
  k: number
  /** The network size (see network-size.ts). */
  networkSize: number
  /** How sure it must be that a peer is among the k closest to send it the record during the lookup. */
  certainty: number
  /** How rarely the true k closest may be farther on average than the mean at which the lookup stops. */
  strictness: number
  /** How many of the closest peers heard of must have answered before the lookup may stop (0 is go's rule). */
  closestAnswered: number
}

/**
 * The normalized distance below which a peer is among the k closest with probability
 * `certainty` (at least) in a network of `n` peers.
 */
export function peerThreshold (k: number, n: number, certainty: number): number {
  return gammaQuantile(k, 1 - certainty) / n
}

/**
 * The mean normalized distance of k peers below which the true k closest of a network of `n`
 * peers are, on average, farther with probability `strictness` only.
 */
export function setThreshold (k: number, n: number, strictness: number): number {
  const mean = (k + 1) / (2 * n)
  const variance = (k + 1) * (2 * k + 1) / (6 * k * n * n)
  return gammaQuantile(mean * mean / variance, 1 - strictness) * variance / mean
}

interface Known<P> {
  peer: P
  distance: number
}

/**
 * The state of one optimistic provide, fed with what its lookup hears.
 *
 * @example
 * ```ts
 * const plan = new OptimisticPlan(kadId(key), { k: 20, networkSize: 15_000, certainty: 0.9, strictness: 0.1, closestAnswered: 3 })
 * runLookup({ ..., stopWhen: (peer, closer) => {
 *   for (const p of plan.heard(peer, closer)) send(p)   // surely among the k closest
 *   return plan.enough
 * } })
 * for (const p of plan.rest()) send(p)                       // the other k closest heard of
 * ```
 */
export class OptimisticPlan<P extends LookupPeer> {
  private readonly target: KadId
  private readonly k: number
  private readonly peerLimit: number
  private readonly setLimit: number
  /** Every live peer heard of, closest first. */
  private readonly known: Array<Known<P>>
  private readonly ids: Set<string>
  private readonly chosen: Set<string>
  private readonly answered: Set<string>
  private readonly closestAnswered: number

  constructor (target: KadId, options: OptimisticOptions) {
    this.target = target
    this.k = options.k
    this.peerLimit = peerThreshold(options.k, options.networkSize, options.certainty)
    this.setLimit = setThreshold(options.k, options.networkSize, options.strictness)
    this.known = []
    this.ids = new Set()
    this.chosen = new Set()
    this.answered = new Set()
    this.closestAnswered = options.closestAnswered
  }

  /** Peers chosen so far (sent the record, or about to be). */
  get sent (): number {
    return this.chosen.size
  }

  /**
   * Takes an answer of the lookup: the peer that answered and the closer peers it named. Returns
   * the peers heard of for the first time that are close enough to send the record now.
   */
  heard (from: P, closer: Iterable<P>): P[] {
    this.answered.add(from.id)
    const now: P[] = []
    for (const peer of [from, ...closer]) {
      if (this.ids.has(peer.id)) {
        continue
      }
      this.ids.add(peer.id)
      const distance = normalizedDistance(peer.key, this.target)
      let i = this.known.length
      while (i > 0 && this.known[i - 1].distance > distance) {
        i--
      }
      this.known.splice(i, 0, { peer, distance })
      if (distance <= this.peerLimit && this.chosen.size < this.k) {
        this.chosen.add(peer.id)
        now.push(peer)
      }
    }
    return now
  }

  /** A peer that did not answer the lookup: it no longer counts among the closest heard of. */
  failed (id: string): void {
    const i = this.known.findIndex(entry => entry.peer.id === id)
    if (i >= 0) {
      this.known.splice(i, 1)
    }
  }

  /**
   * Whether the lookup may stop: k peers were chosen, or the k closest heard of are as close on
   * average as the true k closest would be.
   */
  get enough (): boolean {
    if (this.chosen.size >= this.k) {
      return true
    }
    if (this.known.length < this.k) {
      return false
    }
    for (let i = 0; i < this.closestAnswered; i++) {
      if (!this.answered.has(this.known[i].peer.id)) {
        return false
      }
    }
    let sum = 0
    for (let i = 0; i < this.k; i++) {
      sum += this.known[i].distance
    }
    return sum / this.k <= this.setLimit
  }

  /** The k closest peers heard of that were not chosen yet; they are chosen now. */
  rest (): P[] {
    return this.choose(this.known.slice(0, this.k).map(entry => entry.peer))
  }

  /** Those of `peers` not chosen yet; they are chosen now. */
  choose (peers: P[]): P[] {
    const out: P[] = []
    for (const peer of peers) {
      if (!this.chosen.has(peer.id)) {
        this.chosen.add(peer.id)
        out.push(peer)
      }
    }
    return out
  }
}

/** The `p` quantile of the Gamma law of shape `shape` and scale 1. */
export function gammaQuantile (shape: number, p: number): number {
  let lo = 0
  let hi = shape + 20 * Math.sqrt(shape) + 50
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2
    if (gammaCdf(shape, mid) < p) {
      lo = mid
    } else {
      hi = mid
    }
  }
  return (lo + hi) / 2
}

/**
 * P(shape, x): the probability that a Gamma(shape, 1) variable is at most `x`, by its power
 * series, x^a e^-x Σ x^n / Γ(a + n + 1), which converges for every x.
 */
export function gammaCdf (shape: number, x: number): number {
  if (x <= 0) {
    return 0
  }
  let term = 1 / shape
  let sum = term
  for (let n = 1; n < 10_000 && term > sum * 1e-16; n++) {
    term *= x / (shape + n)
    sum += term
  }
  return Math.min(1, Math.exp(shape * Math.log(x) - x - logGamma(shape)) * sum)
}

/** ln Γ(x) for x > 0: the recurrence Γ(x) = Γ(x + 1) / x up to 15, then Stirling's series (error below 1e-13). */
function logGamma (x: number): number {
  let shift = 0
  while (x < 15) {
    shift -= Math.log(x)
    x += 1
  }
  const inv = 1 / x
  const inv2 = inv * inv
  return shift + (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
}
