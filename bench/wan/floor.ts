/**
 * The floor of a lookup: the time it could not have beaten, given the answers it got.
 *
 * A lookup learns of a peer from an answer that lists it (a referral) or knows it from the start
 * (its routing table). A peer's answer cannot come before the asker knew of it plus the cost of
 * asking it: one round trip for the request, and before that the round trips of opening a
 * connection when the asker had none to it. So the earliest time A(P) at which peer P's answer
 * could have arrived is
 *
 * ```
 * A(P) = K(P) + cost(P)
 * K(P) = 0 if P was known at the start, else min over the peers Q whose answer listed P of A(Q)
 * cost(P) = (connect · [P needed a new connection] + request) · RTT(asker, P)
 * ```
 *
 * (a shortest path over the referral graph: the earliest referral, not necessarily the one the
 * lookup used). A lookup that needs every one of a set of answers (the k closest) ends no sooner
 * than the latest of their A; one that needs any one (a provider, the peer looked for) no sooner
 * than the earliest. Its hops are the asks on that critical chain.
 */

/** Round trips per part of a request over the emulated WAN (see docs/benchmarks.md). */
export interface HopCost {
  /** Opening a connection: the transport's handshake, multistream-select, noise XX. */
  connect: number
  /** The request and its answer. */
  request: number
}

/**
 * What libp2p's stack costs, measured (the calibration table): a dial is 3 round trips (the
 * TCP-like handshake, multistream-select of noise, noise XX; yamux is selected without waiting)
 * and a request 1. Opening a stream also costs a round trip of multistream-select by default,
 * which a lookup could skip (`negotiateFully: false`), so the floor leaves it out.
 */
export const STACK_COST: HopCost = { connect: 3, request: 1 }

/** What a lookup asked and heard: the input of its floor. */
export interface Referrals {
  /** Peers known at the start (the asker's routing table, and any peer asked before any answer listed it). */
  known: Set<string>
  /** Each peer asked: whether the asker had to open a connection to it. */
  asked: Map<string, { cold: boolean }>
  /** Each peer that answered, with the peers its answer listed. */
  answers: Map<string, string[]>
}

/** What ends the lookup: every peer of a set answered (plus a cost after each), or any one of them. */
export type Goal =
  | { all: string[], after?(peer: string): number }
  | { any: string[] }

export interface Floor {
  /** The floor in ms; NaN when no goal peer answered. */
  ms: number
  /** Asks on the critical chain (1: a peer known at the start). */
  hops: number
  /** Goal peers with no answer in the trace (left out of the floor). */
  missing: number
}

/** The earliest possible answer time and hop count of every peer that answered. */
export function earliestAnswers (ref: Referrals, rtt: (peer: string) => number, cost: HopCost = STACK_COST): Map<string, { at: number, hops: number }> {
  const referrers = new Map<string, string[]>()
  for (const [from, listed] of ref.answers) {
    for (const peer of listed) {
      referrers.set(peer, [...(referrers.get(peer) ?? []), from])
    }
  }
  const costOf = (peer: string): number => ((ref.asked.get(peer)?.cold === true ? cost.connect : 0) + cost.request) * rtt(peer)
  const done = new Map<string, { at: number, hops: number }>()
  // when P could have been known at best, and the hops behind that
  const knownAt = (peer: string): { at: number, hops: number } => {
    if (ref.known.has(peer)) {
      return { at: 0, hops: 0 }
    }
    let best = { at: Infinity, hops: 0 }
    for (const q of referrers.get(peer) ?? []) {
      const a = done.get(q)
      if (a != null && a.at < best.at) {
        best = a
      }
    }
    return best
  }
  const pending = new Set(ref.answers.keys())
  // Dijkstra over the answering peers: costs are positive, so the smallest tentative answer time
  // is final
  while (pending.size > 0) {
    let best: string | undefined
    let bestAt = Infinity
    let bestHops = 0
    for (const peer of pending) {
      const known = knownAt(peer)
      const at = known.at + costOf(peer)
      if (at < bestAt) {
        best = peer
        bestAt = at
        bestHops = known.hops + 1
      }
    }
    if (best == null) {
      // the rest were never known at the start nor listed by a peer that answered
      break
    }
    done.set(best, { at: bestAt, hops: bestHops })
    pending.delete(best)
  }
  return done
}

/** The floor of a lookup that ends at `goal`. */
export function lookupFloor (ref: Referrals, rtt: (peer: string) => number, goal: Goal, cost: HopCost = STACK_COST): Floor {
  const earliest = earliestAnswers(ref, rtt, cost)
  const peers = 'all' in goal ? goal.all : goal.any
  const reached = peers.filter(p => earliest.has(p))
  const missing = peers.length - reached.length
  if (reached.length === 0) {
    return { ms: NaN, hops: NaN, missing }
  }
  let pick = reached[0]
  let ms = 'all' in goal ? -Infinity : Infinity
  for (const peer of reached) {
    const e = earliest.get(peer) as { at: number }
    const at = 'all' in goal ? e.at + (goal.after?.(peer) ?? 0) : e.at
    if ('all' in goal ? at > ms : at < ms) {
      ms = at
      pick = peer
    }
  }
  return { ms, hops: (earliest.get(pick) as { hops: number }).hops, missing }
}
