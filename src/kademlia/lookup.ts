/**
 * The iterative Kademlia lookup as a state machine, independent of the network and the clock.
 *
 * Feed it the peers you know, ask it whom to query next, and tell it what each peer answered
 * (or that it failed or timed out). It keeps the candidates ordered by distance to the target,
 * queries only among the closest, never queries a peer twice, and never counts a peer that did
 * not answer among its results. {@link runLookup} drives it over an asynchronous "ask" function.
 */
import { compareDistance } from './keys.ts'
import type { KadId } from './keys.ts'

/** What the lookup needs to know of a peer. */
export interface LookupPeer {
  /** A unique string for the peer (its peer id as a string). */
  readonly id: string
  /** Its position in the keyspace. */
  readonly key: KadId
}

/** Where a candidate stands. */
export type CandidateState = 'waiting' | 'asked' | 'answered' | 'failed'

interface Candidate<P> {
  peer: P
  state: CandidateState
}

/** Parameters of one lookup. */
export interface LookupInit {
  /** The position looked up. */
  target: KadId
  /** Requests in flight at once (α). */
  alpha: number
  /** How many of the closest peers must have answered before the lookup ends (β). */
  beta: number
  /**
   * How many peers the caller wants back. The lookup ends only when the closest
   * `max(beta, resultSize)` live candidates have all answered, so the result holds the
   * closest peers that answered. Use `k` for a closest-peers query.
   */
  resultSize: number
}

/** Counts of one lookup. */
export interface LookupStats {
  /** Requests handed out. */
  asked: number
  /** Peers that answered. */
  answered: number
  /** Peers that failed or timed out. */
  failed: number
  /** Distinct peers heard of. */
  known: number
}

/**
 * One lookup's state.
 *
 * @example
 * ```ts
 * const lookup = new Lookup({ target, alpha: 10, beta: 3, resultSize: 20 }, seeds)
 * while (!lookup.done) {
 *   for (const peer of lookup.next()) send(peer)   // then, as answers come in:
 *   // lookup.answered(peer.id, closerPeers) or lookup.failed(peer.id)
 * }
 * const closest = lookup.results()
 * ```
 */
export class Lookup<P extends LookupPeer> {
  readonly target: KadId
  private readonly alpha: number
  private readonly window: number
  private readonly resultSize: number
  /** All candidates, closest first. */
  private readonly candidates: Array<Candidate<P>>
  private readonly byId: Map<string, Candidate<P>>
  private inFlight: number
  private readonly counts: LookupStats

  constructor (init: LookupInit, seeds: Iterable<P> = []) {
    if (init.alpha < 1 || init.beta < 1 || init.resultSize < 1) {
      throw new RangeError('alpha, beta and resultSize must be at least 1')
    }
    this.target = init.target
    this.alpha = init.alpha
    this.resultSize = init.resultSize
    this.window = Math.max(init.beta, init.resultSize)
    this.candidates = []
    this.byId = new Map()
    this.inFlight = 0
    this.counts = { asked: 0, answered: 0, failed: 0, known: 0 }
    this.add(seeds)
  }

  /** Adds peers heard of; known peers are ignored. Returns the new ones. */
  add (peers: Iterable<P>): P[] {
    const added: P[] = []
    for (const peer of peers) {
      if (this.byId.has(peer.id)) {
        continue
      }
      const candidate: Candidate<P> = { peer, state: 'waiting' }
      this.byId.set(peer.id, candidate)
      this.candidates.splice(this.insertionPoint(peer.key), 0, candidate)
      added.push(peer)
    }
    this.counts.known += added.length
    return added
  }

  /**
   * The peers to query now, closest first: waiting candidates among the closest
   * `max(beta, resultSize)` live ones, as many as fit under α requests in flight. Each is
   * marked asked; report its outcome with {@link answered} or {@link failed}.
   */
  next (): P[] {
    const out: P[] = []
    if (this.done) {
      return out
    }
    let live = 0
    for (const candidate of this.candidates) {
      if (this.inFlight >= this.alpha || live >= this.window) {
        break
      }
      if (candidate.state === 'failed') {
        continue
      }
      live++
      if (candidate.state === 'waiting') {
        candidate.state = 'asked'
        this.inFlight++
        this.counts.asked++
        out.push(candidate.peer)
      }
    }
    return out
  }

  /** Records that a peer answered with these closer peers. Returns the ones new to the lookup. */
  answered (id: string, closer: Iterable<P> = []): P[] {
    const candidate = this.byId.get(id)
    if (candidate?.state !== 'asked') {
      return []
    }
    candidate.state = 'answered'
    this.inFlight--
    this.counts.answered++
    return this.add(closer)
  }

  /** Records that a peer failed or timed out. */
  failed (id: string): void {
    const candidate = this.byId.get(id)
    if (candidate?.state !== 'asked') {
      return
    }
    candidate.state = 'failed'
    this.inFlight--
    this.counts.failed++
  }

  /** Where a peer stands, if it is known. */
  state (id: string): CandidateState | undefined {
    return this.byId.get(id)?.state
  }

  /** Requests handed out and not yet reported. */
  get pending (): number {
    return this.inFlight
  }

  /**
   * True when the closest `max(beta, resultSize)` live candidates have all answered, or when no
   * candidate is left to ask and nothing is in flight.
   */
  get done (): boolean {
    let live = 0
    for (const candidate of this.candidates) {
      if (candidate.state === 'failed') {
        continue
      }
      if (candidate.state !== 'answered') {
        return false
      }
      if (++live >= this.window) {
        return true
      }
    }
    // fewer live candidates than the window, and all of them answered (or none at all)
    return true
  }

  /** The closest peers that answered, closest first, at most `resultSize`. */
  results (): P[] {
    const out: P[] = []
    for (const candidate of this.candidates) {
      if (candidate.state === 'answered') {
        out.push(candidate.peer)
        if (out.length === this.resultSize) {
          break
        }
      }
    }
    return out
  }

  /** Counts so far. */
  get stats (): Readonly<LookupStats> {
    return this.counts
  }

  private insertionPoint (key: KadId): number {
    let lo = 0
    let hi = this.candidates.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareDistance(this.candidates[mid].peer.key, key, this.target) <= 0) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }
    return lo
  }
}
