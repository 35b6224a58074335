/**
 * The bookkeeping of a crawl, apart from the network: which peers are known, which is due for a
 * visit and when, what each visit asked and learnt, and how far the crawl has got. A driver takes
 * due peers ({@link Crawl.take}), asks each one FIND_NODE per bucket depth as its {@link Visit}
 * says, and reports the end ({@link Crawl.finish}); the simulator drives the same state on its
 * virtual clock.
 *
 * A visit asks depth 0, 1, 2… of the peer's buckets (a key sharing exactly that many leading bits
 * with the peer names its bucket of that depth first) and stops at the first answer that names
 * fewer than k peers (the peer told all it holds that deep) or nothing this visit had not heard
 * (go's crawler always asks 16 depths: 4 to 5 more than a 20,000-server network fills).
 *
 * One pass (`interval` 0), as `kadmium crawl` and `crawl()` run it: every peer heard of is
 * visited once, as soon as a slot is free; {@link Crawl.done} when none is left.
 *
 * Rolling (`interval` > 0): the first pass as above, then each peer is visited again when a sweep
 * of the keyspace, one round per `interval` from the end of the first pass, reaches its position. Requests spread evenly over the
 * interval instead of arriving as one storm per interval (go's fullrt crawls the whole network
 * every hour, with up to 1,000 visits at once). A peer heard of for the first time is visited at
 * once, before any re-visit that is due (a sweep that fell behind still takes newcomers in); one
 * whose visit failed is visited again after `retryDelay`, and one that failed `maxFailedVisits`
 * visits in a row is forgotten until named again. A re-visit of a peer that answered before gives
 * up when its connection is not made by twice the dial's stall deadline ({@link Visit.giveUpAfter}),
 * so a server that left holds a slot for a second or two rather than the whole visit timeout.
 *
 * Pure: no I/O, no await; the caller gives the clock.
 */
import { PHASE_ROUND_TRIPS, phaseDeadline } from '../query/stall.ts'
import type { FullTablePeer } from './full-table.ts'
import type { StallOptions } from '../query/stall.ts'

/** What {@link Crawl} needs. */
export interface CrawlInit {
  /** k: a full answer names this many peers. */
  kBucketSize: number
  /** Depths asked at most per visit (1 to 16). */
  maxDepth: number
  /** 0: one pass; otherwise the rolling crawl's round, in ms. */
  interval: number
  /** The most peers known at once (answering or not); names past it are ignored. */
  maxKnown: number
  /** Visits a peer may fail in a row before it is forgotten. */
  maxFailedVisits: number
  /** A rolling crawl visits a peer again this many ms after its first failed visit in a row (0: at its sweep time). */
  retryDelay?: number
  /** The clock, in ms. */
  now(): number
}

/** How far a crawl has got. */
export interface CrawlProgress {
  /** Peers known: heard of and not forgotten. */
  known: number
  /** Known peers visited at least once. */
  visited: number
  /** Known peers whose last visit got an answer. */
  answering: number
  /** Known peers whose last visit failed. */
  unreachable: number
  /** Visits under way. */
  visiting: number
  /** Peers never visited yet, not under way. */
  pending: number
  /** Visits made in all. */
  visits: number
  /** FIND_NODE requests sent in all. */
  requests: number
  /** Whether the first pass is over: every peer heard of visited once. */
  firstPassDone: boolean
  /** When the first pass ended, in the caller's clock. */
  firstPassEndedAt?: number
  /** Sweeps of the keyspace completed since the first pass (rolling only). */
  rounds: number
  /** Share of the current sweep done, 0 to 1 (rolling only). */
  sweep: number
}

interface Known<P> {
  peer: P
  /** Where the sweep finds it, 0 to 1. */
  position: number
  /** When it is due, or undefined while it is visited or needs nothing. */
  due?: number
  visits: number
  failedVisits: number
  /** Whether the last visit got an answer. */
  answered: boolean
  /** Whether a visit is under way. */
  visiting: boolean
  /** The round trip its last answered visit measured, in ms (NaN: none did). */
  rtt: number
  /** How long its last connection took, with the request it carried, in ms (NaN: not measured). */
  connect: number
}

/** One visit: the requests to one peer, bucket depth by bucket depth. */
export class Visit<P extends FullTablePeer> {
  /** The peer visited. */
  readonly peer: P
  /** The bucket depth to ask next. */
  depth = 0
  /** Requests answered. */
  answers = 0
  /** Every peer it named, by id. */
  readonly named = new Map<string, P>()
  /** How long a request took on an open connection, the quickest of the visit, in ms (NaN: none). */
  rtt = NaN
  /** How long the first request took when the visit had to connect first, in ms (NaN: it did not). */
  cold = NaN
  /** The peer's round trip as its last answered visit measured it, in ms (NaN: never measured). */
  readonly lastRoundTrip: number
  /** How long the last connection to it took, with its first request, in ms (NaN: not measured). */
  readonly lastConnect: number
  private readonly k: number
  private readonly maxDepth: number
  private finished = false

  constructor (peer: P, kBucketSize: number, maxDepth: number, last: { rtt?: number, connect?: number } = {}) {
    this.peer = peer
    this.k = kBucketSize
    this.maxDepth = maxDepth
    this.lastRoundTrip = last.rtt ?? NaN
    this.lastConnect = last.connect ?? NaN
  }

  /**
   * How long the visit may wait for its first request to go out (the dial and the stream that
   * carry it) before it gives up, in ms: for a peer an earlier visit measured, twice its dial's
   * deadline, as a lookup gives up a hanging dial. The dial's deadline is the stall deadline of a
   * dial at the peer's round trip (`stall`'s factor times a dial's round trips, at least its
   * `min`) or what its last connection took, the longer. Once the request is out the peer is
   * there, and the visit timeout alone applies. A server that left then holds a crawl slot for a
   * second or two instead of the whole timeout (at 1 %/min churn in a 50,000-server network,
   * visits to departed servers held most of the slots and the sweep fell behind). Never
   * measured, or no `stall` (stall detection off): `max`, the visit timeout. A live peer given up
   * on (its machine or ours far behind) leaves the full table until the retry delay brings it
   * back; after a second failure it is forgotten until named again.
   *
   * @example
   * ```ts
   * const stall = { initial: 2_000, factor: 3, min: 1_000 }
   * new Visit(peer, 20, 16, { rtt: 150 }).giveUpAfter(stall, 15_000)                  // 3600: 2 × 3 × 4 round trips
   * new Visit(peer, 20, 16, { rtt: 40, connect: 1_500 }).giveUpAfter(stall, 15_000)   // 3000: its last connection took 1.5 s
   * new Visit(peer, 20, 16).giveUpAfter(stall, 15_000)                                // 15000
   * ```
   */
  giveUpAfter (stall: StallOptions | undefined, max: number): number {
    if (stall == null || Number.isNaN(this.lastRoundTrip)) {
      return max
    }
    const dial = phaseDeadline(stall, this.lastRoundTrip, 'dial', true, max)
    return Math.min(max, 2 * (Number.isNaN(this.lastConnect) ? dial : Math.max(dial, this.lastConnect)))
  }

  /** Whether another depth is to be asked. */
  get more (): boolean {
    return !this.finished
  }

  /**
   * The peer's round trip as this visit measured it, in ms: its quickest request on an open
   * connection, else its first request (which opened the connection) over the round trips that
   * costs ({@link PHASE_ROUND_TRIPS}' dial, as the stall deadlines count it); NaN when no request
   * was answered.
   */
  get roundTrip (): number {
    return Number.isNaN(this.rtt) ? this.cold / PHASE_ROUND_TRIPS.dial : this.rtt
  }

  /**
   * Records the answer to the current depth, and how long it took (`elapsed` ms, with a
   * connection opened for it when `connecting`); returns whether to ask the next one (then
   * {@link depth} is it).
   */
  answer (closer: Iterable<P>, elapsed = NaN, connecting = false): boolean {
    if (connecting) {
      this.cold = elapsed
    } else if (!(elapsed >= this.rtt)) {
      this.rtt = elapsed
    }
    this.answers++
    let count = 0
    let fresh = 0
    for (const peer of closer) {
      count++
      if (peer.id !== this.peer.id && !this.named.has(peer.id)) {
        this.named.set(peer.id, peer)
        fresh++
      }
    }
    if (count < this.k || (this.depth > 0 && fresh === 0) || this.depth + 1 >= this.maxDepth) {
      this.finished = true
      return false
    }
    this.depth++
    return true
  }
}

/**
 * A crawl's state: the known peers and their schedule.
 *
 * @example
 * ```ts
 * const crawl = new Crawl<DHTPeer>({ kBucketSize: 20, maxDepth: 16, interval: 0, maxKnown: 100_000, maxFailedVisits: 1, now: Date.now })
 * crawl.offer(bootstrapPeers)
 * for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
 *   const visit = crawl.visit(peer)
 *   do { const closer = await ask(peer, keys.atDepth(peer.key, visit.depth)) } while (visit.answer(closer))
 *   crawl.finish(visit, true)
 * }
 * ```
 */
export class Crawl<P extends FullTablePeer> {
  private readonly init: CrawlInit
  private readonly known = new Map<string, Known<P>>()
  /**
   * Due peers never visited, then due re-visits, each earliest first (entries whose `due` changed
   * since are skipped): a newcomer is taken before any re-visit.
   */
  private readonly firsts: Heap = []
  private readonly revisits: Heap = []
  /** When the sweep began: the end of the first pass (rolling only). */
  private epoch?: number
  private visiting = 0
  private visits = 0
  private requests = 0
  private answering = 0
  private unreachable = 0
  private visited = 0
  /** Known peers never visited and not under way. */
  private unvisited = 0
  /** Visits under way of peers never visited before. */
  private firstVisits = 0
  private firstPassEndedAt?: number

  constructor (init: CrawlInit) {
    if (!(init.maxDepth >= 1)) {
      throw new RangeError('maxDepth must be at least 1')
    }
    this.init = init
  }

  /** Offers peers heard of; returns the new ones (due at once). */
  offer (peers: Iterable<P>): P[] {
    const added: P[] = []
    for (const peer of peers) {
      const held = this.known.get(peer.id)
      if (held != null) {
        continue
      }
      if (this.known.size >= this.init.maxKnown) {
        break
      }
      const entry: Known<P> = { peer, position: position(peer.key), visits: 0, failedVisits: 0, answered: false, visiting: false, rtt: NaN, connect: NaN }
      this.known.set(peer.id, entry)
      this.unvisited++
      this.schedule(entry, this.init.now())
      added.push(peer)
    }
    return added
  }

  /** Whether the peer is known. */
  has (id: string): boolean {
    return this.known.has(id)
  }

  /**
   * Makes a known peer due now (a lookup found it late or failing: its next visit tells whether
   * it stays), unless a visit of it is under way or it is due sooner.
   */
  soon (id: string): void {
    const entry = this.known.get(id)
    const now = this.init.now()
    if (entry != null && !entry.visiting && !(entry.due != null && entry.due <= now)) {
      this.schedule(entry, now)
    }
  }

  /**
   * The next peer due now, marked as visited (start its {@link visit}), or undefined when none is
   * due yet (see {@link nextDue}). A peer never visited comes before any re-visit.
   */
  take (): P | undefined {
    const now = this.init.now()
    const heap = (this.top(this.firsts) ?? Infinity) <= now ? this.firsts : this.revisits
    if (!((this.top(heap) ?? Infinity) <= now)) {
      return undefined
    }
    const entry = this.known.get(pop(heap).id) as Known<P>
    entry.due = undefined
    entry.visiting = true
    this.visiting++
    if (entry.visits === 0) {
      this.unvisited--
      this.firstVisits++
    }
    return entry.peer
  }

  /** When the next peer is due, or undefined when none will be (a one-pass crawl with nothing left). */
  nextDue (): number | undefined {
    const first = this.top(this.firsts)
    const revisit = this.top(this.revisits)
    return first == null || revisit == null ? first ?? revisit : Math.min(first, revisit)
  }

  /** When the earliest peer of `heap` is due, dropping entries whose `due` changed since. */
  private top (heap: Heap): number | undefined {
    while (heap.length > 0 && this.known.get(heap[0].id)?.due !== heap[0].at) {
      pop(heap)
    }
    return heap[0]?.at
  }

  /** Whether a one-pass crawl is over: nothing under way, nothing due. */
  get done (): boolean {
    return this.visiting === 0 && this.nextDue() == null
  }

  /** The state of a visit of a peer {@link take} gave. */
  visit (peer: P): Visit<P> {
    return new Visit(peer, this.init.kBucketSize, this.init.maxDepth, this.known.get(peer.id))
  }

  /**
   * Ends a visit: `ok` when the peer answered at least one request. Offers what it named, and
   * schedules the peer's next visit (rolling), or forgets it after too many failed visits.
   * Returns the peers new to the crawl.
   */
  finish (visit: Visit<P>, ok: boolean, requests: number): P[] {
    const entry = this.known.get(visit.peer.id)
    this.visiting--
    this.visits++
    this.requests += requests
    if (entry != null) {
      if (entry.visits === 0) {
        this.visited++
        this.firstVisits--
      } else if (entry.answered) {
        this.answering--
      } else {
        this.unreachable--
      }
      entry.visits++
      entry.visiting = false
      entry.answered = ok
      if (ok) {
        this.answering++
        entry.failedVisits = 0
        if (!Number.isNaN(visit.roundTrip)) {
          entry.rtt = visit.roundTrip
        }
        if (!Number.isNaN(visit.cold)) {
          entry.connect = visit.cold
        }
      } else {
        this.unreachable++
        entry.failedVisits++
      }
      if (entry.failedVisits >= this.init.maxFailedVisits && this.init.interval > 0) {
        this.forget(entry)
      } else if (this.init.interval > 0 && entry.failedVisits === 1 && (this.init.retryDelay ?? 0) > 0) {
        // one failure may be a moment's trouble (a dial timing out under load): soon again
        this.schedule(entry, this.init.now() + (this.init.retryDelay ?? 0))
      } else if (this.init.interval > 0 && this.epoch != null) {
        this.schedule(entry, this.sweepTime(entry.position, this.init.now()))
      }
      // during the first pass a peer waits for the sweep, which begins when the pass ends
    }
    const added = this.offer(visit.named.values())
    if (this.firstPassEndedAt == null && this.unvisited === 0 && this.firstVisits === 0) {
      this.endFirstPass()
    }
    return added
  }

  /**
   * The first pass is over: the sweep begins, and every peer visited in it is due when the sweep
   * reaches its position, over the next round.
   */
  private endFirstPass (): void {
    const now = this.init.now()
    this.firstPassEndedAt = now
    if (this.init.interval <= 0) {
      return
    }
    this.epoch = now
    for (const entry of this.known.values()) {
      if (entry.due === undefined && !entry.visiting) {
        this.schedule(entry, now + entry.position * this.init.interval)
      }
    }
  }

  /** How far the crawl has got. */
  progress (): CrawlProgress {
    const now = this.init.now()
    const elapsed = this.epoch == null ? 0 : Math.max(0, now - this.epoch)
    return {
      known: this.known.size,
      visited: this.visited,
      answering: this.answering,
      unreachable: this.unreachable,
      visiting: this.visiting,
      pending: this.unvisited,
      visits: this.visits,
      requests: this.requests,
      firstPassDone: this.firstPassEndedAt != null,
      firstPassEndedAt: this.firstPassEndedAt,
      rounds: this.init.interval > 0 ? Math.floor(elapsed / this.init.interval) : 0,
      sweep: this.init.interval > 0 ? (elapsed % this.init.interval) / this.init.interval : 0
    }
  }

  private forget (entry: Known<P>): void {
    this.known.delete(entry.peer.id)
    this.visited--
    this.unreachable--
  }

  private schedule (entry: Known<P>, at: number): void {
    entry.due = at
    push(entry.visits === 0 ? this.firsts : this.revisits, { at, id: entry.peer.id })
  }

  /**
   * When the sweep next reaches `position` at least half a round after `after`: so a peer is
   * visited once per round (never twice within half a round), each at its own time.
   */
  private sweepTime (at: number, after: number): number {
    const round = this.init.interval
    const epoch = this.epoch ?? after
    const start = epoch + Math.floor((after - epoch) / round) * round
    let due = start + at * round
    while (due < after + round / 2) {
      due += round
    }
    return due
  }
}

/** Where the sweep finds a key: its first 32 bits as a share of the keyspace, 0 to 1. */
function position (key: Uint8Array): number {
  return (((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0) / 2 ** 32
}

/** A binary min-heap of due times. */
type Heap = Array<{ at: number, id: string }>

function push (heap: Heap, item: { at: number, id: string }): void {
  heap.push(item)
  let i = heap.length - 1
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent].at <= item.at) {
      break
    }
    heap[i] = heap[parent]
    i = parent
  }
  heap[i] = item
}

function pop (heap: Heap): { at: number, id: string } {
  const top = heap[0]
  const last = heap.pop() as { at: number, id: string }
  if (heap.length > 0) {
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= heap.length) {
        break
      }
      const r = l + 1
      const child = r < heap.length && heap[r].at < heap[l].at ? r : l
      if (heap[child].at >= last.at) {
        break
      }
      heap[i] = heap[child]
      i = child
    }
    heap[i] = last
  }
  return top
}
