/**
 * A virtual Kademlia network that runs kadmium's own pure core — {@link RoutingTable} and
 * {@link Lookup} from src/kademlia, imported unchanged — over thousands of simulated nodes in one
 * process, on a {@link VirtualClock}.
 *
 * What is simulated, and how it follows the real service (src/service.ts, src/routing):
 * - A request from A to B is one event at now + rtt(A, B). B answers with the k peers of its table
 * closest to the target, leaving A out (as the FIND_NODE handler does). B puts A in its table
 * (a connection from a DHT server enters the table) and A puts B in its own (it answered).
 * - A request to a node that is down fails at now + the request timeout (10 s, as
 * REQUEST_TIMEOUT); the asker then removes it from its table, as peer routing does.
 * - Tables keep their older live peers: a newcomer to a full bucket whose least-recently-seen
 * peer was not seen for PEER_FRESHNESS triggers a liveness check of that peer, answered in
 * virtual time (an rtt, or the ping timeout when it is down).
 * - A lookup is kadmium's Lookup state machine driven the way runLookup drives it: seeded with the
 * k closest of the asker's table, α requests in flight, ended when the closest live candidates
 * of its window have answered, or when nothing is left to ask, or failed after the query
 * timeout (30 s, as QUERY_TIMEOUT). A request with no answer by its stall deadline (kadmium's
 * StallDeadline, fed with the lookup's answer times) is marked stalled: it frees its α slot and
 * the lookup stops waiting for it, but a late answer is still taken; one still open when the
 * lookup ends is dropped without removing the peer from the table. `stall: false` turns it off.
 */
import { PEER_FRESHNESS, PING_TIMEOUT, QUERY_TIMEOUT, REQUEST_TIMEOUT, STALL_INITIAL_TIMEOUT, STALL_MIN_TIMEOUT, STALL_RTT_FACTOR } from '../../src/constants.ts'
import { KAD_ID_BITS, KAD_ID_BYTES, compareDistance } from '../../src/kademlia/keys.ts'
import { Lookup } from '../../src/kademlia/lookup.ts'
import { RoutingTable } from '../../src/kademlia/routing-table.ts'
import { StallDeadline } from '../../src/kademlia/stall.ts'
import { Random, mix32 } from '../lib/random.ts'
import { VirtualClock } from './clock.ts'
import type { Cancellable } from './clock.ts'
import type { KadId } from '../../src/kademlia/keys.ts'
import type { StallOptions } from '../../src/kademlia/stall.ts'

/** The service's stall detection, with kadmium's defaults. */
export const DEFAULT_STALL: StallOptions = { initial: STALL_INITIAL_TIMEOUT, factor: STALL_RTT_FACTOR, min: STALL_MIN_TIMEOUT }

/** A node as other nodes' tables and lookups see it. */
export interface SimPeer {
  readonly id: string
  readonly key: KadId
  readonly index: number
}

/** A simulated node. */
export interface SimNode {
  readonly peer: SimPeer
  readonly table: RoutingTable<SimPeer>
  /** Whether it answers requests. A node that is down stays in others' tables until they notice. */
  up: boolean
}

/** Round-trip times between pairs of nodes. */
export type LatencyModel =
  /** Each pair's RTT is drawn once from a log-normal distribution: median · e^(σ·Z). */
  | { kind: 'lognormal', median: number, sigma: number }
  /** Every pair has the same RTT. */
  | { kind: 'constant', rtt: number }

/** How the simulated network behaves. */
export interface SimOptions {
  /** Seeds keys, choices and latencies: the same seed replays the same network. */
  seed: number
  /** k: bucket size and peers per answer and per result. */
  k?: number
  latency?: LatencyModel
  /** A request to a node that is down fails after this many virtual ms. */
  requestTimeout?: number
  /** A lookup still running after this many virtual ms fails. */
  queryTimeout?: number
  /** A liveness check of a node that is down fails after this many virtual ms. */
  pingTimeout?: number
  /** A table peer seen within this many virtual ms is not checked before a newcomer is turned away. */
  freshness?: number
  /** When a lookup request stalls, as runLookup's `stall` option; on with kadmium's defaults unless told otherwise, `false` turns it off. */
  stall?: StallOptions | false
}

/** Parameters of one lookup. */
export interface LookupParams {
  /** Requests in flight (α). */
  alpha: number
  /**
   * How many of the closest live candidates must have answered before the lookup ends (the
   * Lookup's `resultSize`). kadmium's getClosestPeers waits for k; a smaller one ends sooner, the
   * way go-libp2p-kad-dht and `@libp2p/kad-dht` end at their β.
   */
  resultSize: number
}

/** What one lookup did. */
export interface LookupRecord {
  /** Requests sent. */
  requests: number
  /** Requests that failed (to nodes that were down) before the lookup ended. */
  failures: number
  /** Requests marked stalled. */
  stalls: number
  /** The longest chain of referrals behind a result peer: 1 when the asker's own table held it. */
  hops: number
  /** Virtual milliseconds from start to end. */
  latency: number
  /** Share of the true k closest live nodes among the k closest peers that answered. */
  accuracy: number
  /** Whether it found exactly the true k closest live nodes. */
  exact: boolean
  /** Whether it hit the query timeout (a failed query in the real service). */
  timedOut: boolean
}

/** Counts of the whole network. */
export interface NetworkCounters {
  requests: number
  failures: number
  pings: number
}

/** A simulated network. */
export class SimNetwork {
  readonly clock = new VirtualClock()
  readonly nodes: SimNode[] = []
  readonly counters: NetworkCounters = { requests: 0, failures: 0, pings: 0 }
  readonly k: number
  readonly random: Random
  private readonly options: Required<SimOptions>
  private pingsAnswered = false

  constructor (options: SimOptions) {
    this.options = {
      k: 20,
      latency: { kind: 'lognormal', median: 80, sigma: 0.6 },
      requestTimeout: REQUEST_TIMEOUT,
      queryTimeout: QUERY_TIMEOUT,
      pingTimeout: PING_TIMEOUT,
      freshness: PEER_FRESHNESS,
      stall: DEFAULT_STALL,
      ...options
    }
    this.k = this.options.k
    this.random = new Random(options.seed)
  }

  /** Nodes that are up. */
  get upCount (): number {
    let n = 0
    for (const node of this.nodes) {
      if (node.up) {
        n++
      }
    }
    return n
  }

  /** Changes the request timeout (for what-if runs). */
  setRequestTimeout (ms: number): void {
    this.options.requestTimeout = ms
  }

  /** Turns stall detection on (with these options) or off, for what-if runs. */
  setStall (stall: StallOptions | false): void {
    this.options.stall = stall
  }

  /** Creates a node with a random key; it is up but knows nobody and nobody knows it. */
  addNode (): SimNode {
    const index = this.nodes.length
    const peer: SimPeer = { id: `n${index}`, key: this.random.bytes(KAD_ID_BYTES), index }
    const table: RoutingTable<SimPeer> = new RoutingTable<SimPeer>({
      localKey: peer.key,
      kBucketSize: this.k,
      freshness: this.options.freshness,
      now: () => this.clock.now,
      // a peer leaves the table on its first failure here (the service allows two in a row)
      maxFailures: 1,
      onCheck: (entry) => { void this.ping(index, entry.peer.index).then(alive => { table.checked(entry.id, alive) }) }
    })
    const node: SimNode = { peer, table, up: true }
    this.nodes.push(node)
    return node
  }

  /** The RTT between two nodes: the same every time for a pair. */
  rtt (a: number, b: number): number {
    const model = this.options.latency
    if (model.kind === 'constant') {
      return model.rtt
    }
    const lo = Math.min(a, b)
    const hi = Math.max(a, b)
    const h1 = mix32(mix32(lo * 0x9e3779b1 + this.options.seed) ^ hi)
    const h2 = mix32(h1 ^ 0x5bd1e995)
    const u = (h1 + 1) / 4294967297
    const v = h2 / 4294967296
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
    return model.median * Math.exp(model.sigma * z)
  }

  /**
   * Runs events until `done()` holds or none is left. Liveness checks of routing tables are
   * promises: after an event answers one, pending promise callbacks are let run.
   */
  async run (done: () => boolean = () => false): Promise<void> {
    while (!done()) {
      if (!this.clock.step()) {
        break
      }
      if (this.pingsAnswered) {
        this.pingsAnswered = false
        await new Promise(resolve => setImmediate(resolve))
      }
    }
  }

  /** Runs a lookup to its end and resolves to what it did. */
  async lookupNow (from: SimNode, target: KadId, params: LookupParams): Promise<LookupRecord> {
    let record: LookupRecord | undefined
    this.lookup(from, target, params, (r) => { record = r })
    await this.run(() => record != null)
    if (record == null) {
      throw new Error('the lookup never ended')
    }
    return record
  }

  /**
   * Starts a lookup from `from` for `target`; `onDone` gets its record when it ends. Runs as
   * events: call {@link run} to make progress. `judge: false` skips the brute-force truth (and
   * leaves accuracy NaN): joins do not need it, and it costs O(N) a lookup.
   */
  lookup (from: SimNode, target: KadId, params: LookupParams, onDone: (record: LookupRecord) => void, judge = true): void {
    const { k } = this
    const seeds = from.table.closest(target, k).map(entry => entry.peer)
    const lookup = new Lookup<SimPeer>({ target, alpha: params.alpha, resultSize: params.resultSize }, seeds)
    const depth = new Map<string, number>()
    const known: SimPeer[] = []
    for (const seed of seeds) {
      depth.set(seed.id, 1)
      known.push(seed)
    }
    const started = this.clock.now
    const stall = this.options.stall === false ? undefined : new StallDeadline(this.options.stall, this.options.requestTimeout)
    const stallTimers = new Map<string, Cancellable>()
    let finished = false
    let requests = 0
    let failures = 0
    let stalls = 0
    const finish = (timedOut: boolean): void => {
      finished = true
      deadline.cancel()
      for (const timer of stallTimers.values()) {
        timer.cancel()
      }
      // the k closest that answered (the state machine hands out only `resultSize` of them)
      const answered = known.filter(p => lookup.state(p.id) === 'answered')
        .sort((a, b) => compareDistance(a.key, b.key, target))
        .slice(0, k)
      const truth = new Set(judge ? this.trueClosest(target, k, from.peer.index).map(p => p.id) : [])
      const hits = answered.filter(p => truth.has(p.id)).length
      onDone({
        requests,
        failures,
        stalls,
        hops: answered.reduce((max, p) => Math.max(max, depth.get(p.id) ?? 1), 0),
        latency: this.clock.now - started,
        accuracy: !judge ? NaN : truth.size === 0 ? 1 : hits / truth.size,
        exact: judge && !timedOut && hits === truth.size,
        timedOut
      })
    }
    const onAnswer = (peer: SimPeer, closer: SimPeer[], sent: number): void => {
      if (finished) {
        return
      }
      stallTimers.get(peer.id)?.cancel()
      stall?.observe(this.clock.now - sent)
      const added = lookup.answered(peer.id, closer)
      const d = (depth.get(peer.id) ?? 1) + 1
      for (const p of added) {
        depth.set(p.id, d)
        known.push(p)
      }
      pump()
    }
    const onFail = (peer: SimPeer): void => {
      if (finished) {
        return
      }
      stallTimers.get(peer.id)?.cancel()
      failures++
      lookup.failed(peer.id)
      // a peer that does not answer leaves the asker's table
      from.table.remove(peer.id)
      pump()
    }
    const onStall = (peer: SimPeer): void => {
      if (finished || !lookup.stalled(peer.id)) {
        return
      }
      stalls++
      pump()
    }
    const ask = (peer: SimPeer): void => {
      requests++
      const sent = this.clock.now
      const stallAfter = stall?.current ?? this.options.requestTimeout
      if (stallAfter < this.options.requestTimeout) {
        stallTimers.set(peer.id, this.clock.cancellable(stallAfter, () => { onStall(peer) }))
      }
      this.request(from, peer, target, (closer) => { onAnswer(peer, closer, sent) }, () => { onFail(peer) })
    }
    const pump = (): void => {
      if (finished) {
        return
      }
      if (lookup.done) {
        finish(false)
        return
      }
      lookup.next().forEach(ask)
      if (lookup.pending === 0 && lookup.stalledPending === 0) {
        finish(false)
      }
    }
    const deadline = this.clock.cancellable(this.options.queryTimeout, () => {
      if (!finished) {
        finish(true)
      }
    })
    pump()
  }

  /**
   * A node joins: it connects to `bootstrap` (both put each other in their tables) and looks up
   * its own key, which fills its table and makes its neighbours learn of it.
   */
  join (node: SimNode, bootstrap: SimNode | undefined, params: LookupParams, onDone?: (record: LookupRecord) => void): void {
    node.up = true
    if (bootstrap != null) {
      node.table.add(bootstrap.peer.id, bootstrap.peer.key, bootstrap.peer)
      bootstrap.table.add(node.peer.id, node.peer.key, node.peer)
    }
    this.lookup(node, node.peer.key, params, onDone ?? (() => {}), false)
  }

  /**
   * Builds a network of `n` nodes that join one at a time, each through a random node already
   * in, and each looking itself up before the next joins.
   */
  async buildByJoining (n: number, params: LookupParams): Promise<void> {
    for (let i = 0; i < n; i++) {
      const node = this.addNode()
      const bootstrap = this.nodes.length > 1 ? this.nodes[this.random.int(this.nodes.length - 1)] : undefined
      let ended = false
      this.join(node, bootstrap, params, () => { ended = true })
      await this.run(() => ended)
    }
  }

  /**
   * Builds a network of `n` nodes whose tables are filled from a global sorted view: for each
   * bucket of each node, up to k nodes drawn at random from those that belong in it. The tables
   * a long-lived network converges to, without the cost of n joins.
   */
  buildFromGlobalView (n: number): void {
    for (let i = 0; i < n; i++) {
      this.addNode()
    }
    const sorted = this.nodes.map(node => node.peer).sort((a, b) => compareBytes(a.key, b.key))
    const lo = new Uint8Array(KAD_ID_BYTES)
    const hi = new Uint8Array(KAD_ID_BYTES)
    for (const node of this.nodes) {
      const key = node.peer.key
      for (let bit = 0; bit < KAD_ID_BITS; bit++) {
        // bucket `bit`: keys that agree with ours on the first `bit` bits and differ at bit `bit`
        prefixBounds(key, bit, true, lo, hi)
        const from = lowerBound(sorted, lo)
        const to = upperBound(sorted, hi)
        const size = to - from
        if (size > 0) {
          for (const j of this.random.sample(size, this.k)) {
            const peer = sorted[from + j]
            node.table.add(peer.id, peer.key, peer)
          }
        }
        // nobody else shares the first bit+1 bits with us: deeper buckets are empty
        prefixBounds(key, bit, false, lo, hi)
        if (upperBound(sorted, hi) - lowerBound(sorted, lo) <= 1) {
          break
        }
      }
    }
  }

  /** The `count` nodes that are up closest to `target`, by brute force; `exclude` left out. */
  trueClosest (target: KadId, count: number, exclude?: number): SimPeer[] {
    const best: SimPeer[] = []
    for (const node of this.nodes) {
      if (!node.up || node.peer.index === exclude) {
        continue
      }
      const peer = node.peer
      if (best.length === count && compareDistance(peer.key, best[count - 1].key, target) >= 0) {
        continue
      }
      let i = best.length === count ? count - 1 : best.length
      best[i] = peer
      while (i > 0 && compareDistance(best[i].key, best[i - 1].key, target) < 0) {
        const t = best[i - 1]
        best[i - 1] = best[i]
        best[i] = t
        i--
      }
    }
    return best
  }

  /** A random node that is up, or undefined when none is. */
  randomUp (): SimNode | undefined {
    for (let tries = 0; tries < 1_000; tries++) {
      const node = this.nodes[this.random.int(this.nodes.length)]
      if (node.up) {
        return node
      }
    }
    return this.nodes.find(node => node.up)
  }

  /** Mean and maximum table size over the nodes that are up. */
  tableSizes (): { mean: number, min: number, max: number } {
    let sum = 0
    let n = 0
    let min = Infinity
    let max = 0
    for (const node of this.nodes) {
      if (node.up) {
        sum += node.table.size
        min = Math.min(min, node.table.size)
        max = Math.max(max, node.table.size)
        n++
      }
    }
    return { mean: n === 0 ? 0 : sum / n, min, max }
  }

  /** One request from `from` to `to` about `target`. */
  private request (from: SimNode, to: SimPeer, target: KadId, onAnswer: (closer: SimPeer[]) => void, onFail: () => void): void {
    this.counters.requests++
    const node = this.nodes[to.index]
    const sent = this.clock.now
    if (!node.up) {
      this.counters.failures++
      this.clock.after(this.options.requestTimeout, onFail)
      return
    }
    this.clock.after(this.rtt(from.peer.index, to.index), () => {
      if (!node.up) {
        // it left while the request was in flight: the asker only learns at the timeout
        this.counters.failures++
        this.clock.at(sent + this.options.requestTimeout, onFail)
        return
      }
      // the asker is a DHT server that connected: it enters the answerer's table
      node.table.add(from.peer.id, from.peer.key, from.peer)
      const closer: SimPeer[] = []
      for (const entry of node.table.closest(target, this.k + 1)) {
        if (closer.length === this.k) {
          break
        }
        if (entry.id !== from.peer.id) {
          closer.push(entry.peer)
        }
      }
      // it answered on the DHT protocol: it enters the asker's table
      from.table.add(to.id, to.key, to)
      onAnswer(closer)
    })
  }

  /** A routing table's liveness check of one of its peers, answered in virtual time. */
  private async ping (from: number, to: number): Promise<boolean> {
    this.counters.pings++
    const up = this.nodes[to].up
    return new Promise<boolean>(resolve => {
      this.clock.after(up ? this.rtt(from, to) : this.options.pingTimeout, () => {
        this.pingsAnswered = true
        resolve(this.nodes[to].up)
      })
    })
  }
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return a[i] - b[i]
    }
  }
  return 0
}

/**
 * The smallest and largest keys that share the first `bit` bits with `key` and then have bit
 * `bit` flipped (`flip`) or kept (not `flip`); written into `lo` and `hi`.
 */
function prefixBounds (key: KadId, bit: number, flip: boolean, lo: Uint8Array, hi: Uint8Array): void {
  const byte = bit >> 3
  const mask = 0x80 >> (bit & 7)
  for (let i = 0; i < KAD_ID_BYTES; i++) {
    if (i < byte) {
      lo[i] = key[i]
      hi[i] = key[i]
    } else if (i === byte) {
      // keep the bits before `bit`, set bit `bit`, then zeros (lo) or ones (hi)
      const keep = key[i] & ~((mask << 1) - 1) & 0xff
      const b = flip ? (key[i] & mask) ^ mask : key[i] & mask
      lo[i] = keep | b
      hi[i] = keep | b | (mask - 1)
    } else {
      lo[i] = 0
      hi[i] = 0xff
    }
  }
}

function lowerBound (sorted: SimPeer[], key: Uint8Array): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(sorted[mid].key, key) < 0) {
      lo = mid + 1
    } else {
      hi = mid
    }
  }
  return lo
}

function upperBound (sorted: SimPeer[], key: Uint8Array): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(sorted[mid].key, key) <= 0) {
      lo = mid + 1
    } else {
      hi = mid
    }
  }
  return lo
}
