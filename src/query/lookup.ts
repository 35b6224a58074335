/**
 * The iterative Kademlia lookup as a state machine, independent of the network and the clock.
 *
 * Feed it the peers you know, ask it whom to query next, and tell it what each peer answered
 * (or that it failed or timed out, or that it is late: *stalled*). It keeps the candidates
 * ordered by distance to the target, queries only among the closest, never queries a peer twice,
 * and never counts a peer that did not answer among its results. {@link runLookup} drives it over
 * an asynchronous "ask" function.
 *
 * A stalled request is one the driver gave up waiting for but did not cancel: it no longer holds
 * one of the α slots, and the lookup may end without it, as if it had failed; if its answer still
 * arrives, the answer counts as any other. So that a lookup in which everybody stalls cannot open
 * requests without end, no request is handed out while live and stalled ones together number
 * α + `maxStalled` (`maxStalled` is α unless told otherwise): never more than α live requests,
 * nor more than 2α open in all.
 */
import { commonPrefixLength, compareDistance } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** What the lookup needs to know of a peer. */
export interface LookupPeer {
  /** A unique string for the peer (its peer id as a string). */
  readonly id: string
  /** Its position in the keyspace. */
  readonly key: KadId
}

/** Where a candidate stands. */
export type CandidateState = 'waiting' | 'asked' | 'stalled' | 'answered' | 'failed'

interface Candidate<P> {
  peer: P
  state: CandidateState
}

/** Parameters of one lookup. */
export interface LookupInit<P extends LookupPeer = LookupPeer> {
  /** The position looked up. */
  target: KadId
  /** Requests in flight at once (α). */
  alpha: number
  /**
   * How many peers the caller wants back. The lookup ends only when the closest `resultSize`
   * live candidates have all answered, so the result holds the closest peers that answered. Use
   * `k` for a closest-peers query; a smaller one ends sooner (go-libp2p-kad-dht's β).
   */
  resultSize: number
  /**
   * How many stalled requests may be open besides the α live ones; no new request is handed out
   * while `live + stalled` is at `alpha + maxStalled`. α unless told otherwise.
   */
  maxStalled?: number
  /**
   * Candidates to ask before others that are as close: of the candidates to ask next that share
   * as many leading bits with the target, those it returns true for go first (a peer we are
   * connected to answers without a dial, and opens no new connection). Closer candidates still
   * go before farther ones, and the lookup ends on the same condition.
   */
  prefer?(peer: P): boolean
}

/** Counts of one lookup. */
export interface LookupStats {
  /** Requests handed out. */
  asked: number
  /** Peers that answered. */
  answered: number
  /** Peers that failed or timed out. */
  failed: number
  /** Requests marked stalled (whatever became of them afterwards). */
  stalled: number
  /** Distinct peers heard of. */
  known: number
}

/**
 * One lookup's state.
 *
 * @example
 * ```ts
 * const lookup = new Lookup({ target, alpha: 10, resultSize: 20 }, seeds)
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
  private readonly resultSize: number
  private readonly maxOpen: number
  private readonly prefer?: (peer: P) => boolean
  /** All candidates, closest first. */
  private readonly candidates: Array<Candidate<P>>
  private readonly byId: Map<string, Candidate<P>>
  private inFlight: number
  private stalledOpen: number
  private readonly counts: LookupStats

  constructor (init: LookupInit<P>, seeds: Iterable<P> = []) {
    if (init.alpha < 1 || init.resultSize < 1) {
      throw new RangeError('alpha and resultSize must be at least 1')
    }
    const maxStalled = init.maxStalled ?? init.alpha
    if (!(maxStalled >= 0)) {
      throw new RangeError('maxStalled must be at least 0')
    }
    this.target = init.target
    this.alpha = init.alpha
    this.resultSize = init.resultSize
    this.maxOpen = init.alpha + maxStalled
    this.prefer = init.prefer
    this.candidates = []
    this.byId = new Map()
    this.inFlight = 0
    this.stalledOpen = 0
    this.counts = { asked: 0, answered: 0, failed: 0, stalled: 0, known: 0 }
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
   * `resultSize` live ones (neither failed nor stalled), as many as fit under α live
   * requests and `alpha + maxStalled` open ones (with `prefer`, the preferred first among those
   * as close). Each is marked asked; report its outcome with {@link answered} or
   * {@link failed}, or that it is late with {@link stalled}.
   */
  next (): P[] {
    const slots = Math.min(this.alpha - this.inFlight, this.maxOpen - this.inFlight - this.stalledOpen)
    if (slots <= 0 || this.done) {
      return []
    }
    let live = 0
    let waiting: Array<Candidate<P>> = []
    for (const candidate of this.candidates) {
      if (live >= this.resultSize || (this.prefer == null && waiting.length === slots)) {
        break
      }
      if (candidate.state === 'failed' || candidate.state === 'stalled') {
        continue
      }
      live++
      if (candidate.state === 'waiting') {
        waiting.push(candidate)
      }
    }
    if (this.prefer != null) {
      waiting = this.preferred(waiting, this.prefer)
    }
    return waiting.slice(0, slots).map(candidate => {
      candidate.state = 'asked'
      this.inFlight++
      this.counts.asked++
      return candidate.peer
    })
  }

  /**
   * Records that a peer answered with these closer peers, also late, after it stalled. Returns
   * the ones new to the lookup.
   */
  answered (id: string, closer: Iterable<P> = []): P[] {
    const candidate = this.byId.get(id)
    if (candidate == null || !this.close(candidate)) {
      return []
    }
    candidate.state = 'answered'
    this.counts.answered++
    return this.add(closer)
  }

  /** Records that a peer failed or timed out, also after it stalled. */
  failed (id: string): void {
    const candidate = this.byId.get(id)
    if (candidate == null || !this.close(candidate)) {
      return
    }
    candidate.state = 'failed'
    this.counts.failed++
  }

  /**
   * Records that a peer asked is late: its request stops holding an α slot and the lookup no
   * longer waits for it (it counts as failed for the end of the lookup), but its answer or its
   * failure may still be reported. Returns false, changing nothing, unless the peer was asked
   * and had not answered, failed or stalled yet.
   */
  stalled (id: string): boolean {
    const candidate = this.byId.get(id)
    if (candidate?.state !== 'asked') {
      return false
    }
    candidate.state = 'stalled'
    this.inFlight--
    this.stalledOpen++
    this.counts.stalled++
    return true
  }

  /**
   * Records that a stalled request is under way again (its dial was late, but the request is on
   * the wire now): it holds a live slot again and the lookup waits for it. Returns false,
   * changing nothing, unless the peer had stalled.
   */
  resumed (id: string): boolean {
    const candidate = this.byId.get(id)
    if (candidate?.state !== 'stalled') {
      return false
    }
    candidate.state = 'asked'
    this.stalledOpen--
    this.inFlight++
    return true
  }

  /** Where a peer stands, if it is known. */
  state (id: string): CandidateState | undefined {
    return this.byId.get(id)?.state
  }

  /** Live requests: handed out, not reported and not stalled (at most α, but for resumed ones). */
  get pending (): number {
    return this.inFlight
  }

  /** Stalled requests not reported yet; with {@link pending}, at most `alpha + maxStalled`. */
  get stalledPending (): number {
    return this.stalledOpen
  }

  /**
   * True when the closest `resultSize` live candidates have all answered, or when
   * fewer are live and all of them answered (none at all included). Stalled candidates count as
   * failed here: the lookup does not wait for them.
   */
  get done (): boolean {
    let live = 0
    for (const candidate of this.candidates) {
      if (candidate.state === 'failed' || candidate.state === 'stalled') {
        continue
      }
      if (candidate.state !== 'answered') {
        return false
      }
      if (++live >= this.resultSize) {
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

  /**
   * Candidates (closest first) reordered so that, among those sharing as many leading bits with
   * the target, the preferred come first; the order is otherwise kept.
   */
  private preferred (candidates: Array<Candidate<P>>, prefer: (peer: P) => boolean): Array<Candidate<P>> {
    const rank = new Map(candidates.map(c => [c, -2 * commonPrefixLength(c.peer.key, this.target) + (prefer(c.peer) ? 0 : 1)]))
    // the sort is stable, and the candidates already fall in order of shared bits
    return candidates.sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number))
  }

  /** Takes an asked or stalled candidate off the open requests; false if it was neither. */
  private close (candidate: Candidate<P>): boolean {
    if (candidate.state === 'asked') {
      this.inFlight--
      return true
    }
    if (candidate.state === 'stalled') {
      this.stalledOpen--
      return true
    }
    return false
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
