/**
 * A virtual Kademlia network that runs what a kadmium node runs, imported from src/, over
 * thousands of simulated nodes in one process, on a {@link VirtualClock}:
 * - its {@link RoutingTable} (src/table/routing-table.ts), with the service's freshness and
 * failure limit; a full bucket's liveness check is the table keeper's, a FIND_NODE of the
 * checker's own key that fails after PING_TIMEOUT, reported back with `table.checked`;
 * - its lookups: {@link runLookup}, as the service's peer routing calls it, on the virtual clock
 * (its `schedule` and `now`), with the service's α, k, request timeout and stall detection,
 * failed at QUERY_TIMEOUT; seeded and judged by the peer routing's table
 * policy, {@link lookupSeeds} and {@link learnFromLookup} (src/query/table-lookup.ts): an
 * answering peer is offered to the table, a failing one leaves after MAX_PEER_FAILURES failures
 * in a row, a stalled one teaches nothing;
 * - its {@link Refresher} (src/table/refresher.ts) on the virtual clock: soon after a node's
 * first peer a lookup of its own key, then each bucket it left short at a random moment within
 * the join window; every REFRESH_INTERVAL a self lookup, a liveness check (the same FIND_NODE) of
 * every peer not seen within the interval and of every neighbour that did not answer the self
 * lookup, then the buckets still short (a bucket's lookup takes in only its peers, as the
 * service's accept rule); the random walk when asked for (off, as in the service, unless told
 * otherwise). Every node is a server: no client check.
 *
 * The network itself: a request from A to B is answered at now + rtt(A, B) with the k peers of
 * B's table closest to the target that B may name (as the FIND_NODE handler answers:
 * `RoutingTable.answerable`), A left out; B then puts A in its table (a DHT server connected and
 * identified) and A's lookup offers B to A's table (it answered). A node that is down never
 * answers: the asker's request times out.
 *
 * With `connections` a request also pays for its connection, as libp2p's stack does over the
 * emulated WAN (bench/wan): to a node it is not connected to, a dial of `dial` round trips
 * first (a node that is gone lets it hang until the dial timeout), then `stream` round trips to
 * open the stream (0 with the protocol sent with the request), then the request's own round
 * trip; the connection then stays open both ways until one side has more than `max` and closes
 * its least recently used one. Without it a request costs one round trip, as on a connection
 * already open. The lookups' stall deadlines are the service's: from each peer's measured round
 * trip (or the bound the dial that opened its connection gave) and what the request still has to
 * go through (src/query/stall.ts).
 *
 * runLookup and the Refresher are promise-based: after every event, {@link SimNetwork.run} lets
 * the promise callbacks it set off run (a `setImmediate`) before the clock moves on, so each
 * step happens at the virtual time of the event that caused it.
 */
import { logger } from '@libp2p/logger'
import { ALPHA, REFRESH_INTERVAL } from '../../src/constants.ts'
import { FIRST_REFRESH_DELAY, JOIN_REFRESH_WINDOW, MAX_PEER_FAILURES, MAX_REFRESH_BUCKET, PEER_FRESHNESS, PING_TIMEOUT, QUERY_TIMEOUT, REFRESH_QUERY_TIMEOUT, REQUEST_TIMEOUT, STALL_INITIAL_TIMEOUT, STALL_MIN_SENT_TIMEOUT, STALL_MIN_TIMEOUT, STALL_RTT_FACTOR } from '../../src/defaults.ts'
import { TimeoutError } from '../../src/errors.ts'
import { KAD_ID_BITS, KAD_ID_BYTES, compareDistance } from '../../src/keys.ts'
import { Doubts } from '../../src/query/doubts.ts'
import { RoundTrips } from '../../src/query/round-trips.ts'
import { runLookup } from '../../src/query/run-lookup.ts'
import { requestDeadline, requestPhase } from '../../src/query/stall.ts'
import { inBucket, learnFromLookup, learnFromOutcome, lookupSeeds } from '../../src/query/table-lookup.ts'
import { Refresher } from '../../src/table/refresher.ts'
import { RoutingTable } from '../../src/table/routing-table.ts'
import { Random, mix32 } from '../lib/random.ts'
import { drawFactors, pairRtt } from '../wan/latency.ts'
import { VirtualClock } from './clock.ts'
import type { KadId } from '../../src/keys.ts'
import type { LookupEvent, RunLookupInit } from '../../src/query/run-lookup.ts'
import type { StallOptions } from '../../src/query/stall.ts'
import type { LookupLimits } from '../../src/table/refresher.ts'
import type { AbortOptions } from '@libp2p/interface'

/** The service's stall detection, with kadmium's defaults. */
export const DEFAULT_STALL: StallOptions = { initial: STALL_INITIAL_TIMEOUT, factor: STALL_RTT_FACTOR, min: STALL_MIN_TIMEOUT, minSent: STALL_MIN_SENT_TIMEOUT }

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
  readonly refresher: Refresher<SimPeer>
  /**
   * Whether it runs and answers ({@link SimNetwork.stop} silences it, {@link SimNetwork.leave}
   * takes it away). A node that is down stays in others' tables until they notice.
   */
  up: boolean
  /** Gone ({@link SimNetwork.leave}): a dial to it hangs; else a silent node is still dialled. */
  gone: boolean
  /** The nodes it is connected to (with `connections`), least recently used first, with when each was last used. */
  readonly connections: Map<number, number>
  /** The round trips its requests measured. */
  readonly roundTrips: RoundTrips
  /** The peers its lookups doubt (src/query/doubts.ts): asked, not waited for. */
  readonly doubts: Doubts
}

/** What connections cost (see the module comment). */
export interface ConnectionCosts {
  /** Round trips of a dial before the connection is open (3 over TCP, noise and yamux). */
  dial: number
  /** Round trips to open a stream before the request goes (0: its protocol sent with it; 1: negotiated first). */
  stream: number
  /** How long a dial to a node that is gone hangs before it fails, ms (libp2p's per-address dial timeout, 6 s). */
  dialTimeout: number
  /** The most connections a node keeps (libp2p's maxConnections, 300). */
  max: number
}

/** libp2p's costs as the emulated WAN measures them, with kadmium's protocol-first streams. */
export const LIBP2P_CONNECTIONS: ConnectionCosts = { dial: 3, stream: 0, dialTimeout: 6_000, max: 300 }

/** Round-trip times between pairs of nodes. */
export type LatencyModel =
  /** Each pair's RTT is drawn once from a log-normal distribution: median · e^(σ·Z). */
  | { kind: 'lognormal', median: number, sigma: number }
  /** Every pair has the same RTT. */
  | { kind: 'constant', rtt: number }
  /**
   * The emulated WAN's model (bench/wan/latency.ts): each node draws a factor, a pair's RTT
   * follows from the two, log-normal over pairs with this median and p99.
   */
  | { kind: 'wan', medianRtt: number, p99Rtt: number }

/** How the simulated network behaves; the service's defaults unless told otherwise. */
export interface SimOptions {
  /** Seeds keys, choices and latencies: the same seed replays the same network. */
  seed: number
  /** k: bucket size and peers per answer and per result. */
  k?: number
  latency?: LatencyModel
  /** A request with no answer fails after this many virtual ms. */
  requestTimeout?: number
  /** A lookup still running after this many virtual ms fails. */
  queryTimeout?: number
  /** A liveness check with no answer fails after this many virtual ms. */
  pingTimeout?: number
  /** A table peer seen within this many virtual ms is not checked before a newcomer is turned away. */
  freshness?: number
  /** When a lookup request stalls, as runLookup's `stall` option; on with kadmium's defaults unless told otherwise, `false` turns it off. */
  stall?: StallOptions | false
  /** The bucket refresh of every node (and its join refresh) every this many virtual ms; 0 turns it off. */
  refreshInterval?: number
  /** After its join self-lookup, a node looks up each bucket it left short at a random moment within this many virtual ms. */
  joinWindow?: number
  /** The random walk of every node every this many virtual ms; 0 (the service's default) turns it off. */
  randomWalkInterval?: number
  /**
   * Lookups go on to the 21st candidate for each of the closest that failed or stalled
   * (`LookupInit.widen`), as the service's do; true unless told.
   */
  widen?: boolean
  /** What connections cost; undefined: a request costs one round trip, as on an open connection. */
  connections?: ConnectionCosts
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

/** Options of {@link SimNetwork.lookup}. */
export interface SimLookupOptions {
  /** Compare the result with the brute-force truth (O(N)); false leaves accuracy NaN. */
  judge?: boolean
  /** Aborts the lookup (besides the query timeout). */
  signal?: AbortSignal
  /** Told about every step, after the asker's table was. */
  onEvent?(event: LookupEvent<SimPeer>): void
  /** Of the peers answers name, only those it returns true for join the lookup (as the peer routing's `accept`). */
  accept?(peer: SimPeer): boolean
  /** Ends the lookup when it returns true after an answer (the peer that answered, and whom it named). */
  stopWhen?(peer: SimPeer, closer: SimPeer[]): boolean
}

/** What one lookup did. */
export interface LookupRecord {
  /** Requests sent. */
  requests: number
  /** Requests that failed (timed out) before the lookup ended. */
  failures: number
  /** Requests marked stalled. */
  stalls: number
  /** The longest chain of referrals behind a result peer: 1 when the asker's own table held it. */
  hops: number
  /** Virtual milliseconds from start to end. */
  latency: number
  /** Share of the true k closest live nodes among the peers it returned (none when it timed out). */
  accuracy: number
  /** Whether it returned exactly the true k closest live nodes. */
  exact: boolean
  /** Whether it was aborted: at the query timeout (a failed query in the real service), or by its signal. */
  timedOut: boolean
  /** The closest peers that answered, closest first. */
  closest: SimPeer[]
}

/** Counts of the whole network. */
export interface NetworkCounters {
  /** FIND_NODE requests of lookups. */
  requests: number
  /** Liveness checks (FIND_NODE of the checker's own key). */
  checks: number
  /** Connections opened (with `connections`). */
  dials: number
  /** Requests and checks sent to a node that was down (or went down before answering). */
  unanswered: number
}

const log = logger('kadmium:sim')

/** A simulated network. */
export class SimNetwork {
  readonly clock = new VirtualClock()
  readonly nodes: SimNode[] = []
  readonly counters: NetworkCounters = { requests: 0, checks: 0, dials: 0, unanswered: 0 }
  readonly k: number
  readonly random: Random
  /** The lookup parameters of the nodes' own lookups (their upkeep): kadmium's α and k. */
  readonly defaults: LookupParams
  private readonly options: Required<Omit<SimOptions, 'connections'>> & Pick<SimOptions, 'connections'>
  private readonly now = (): number => this.clock.now
  /** Latency factors by node index (the `wan` latency model), drawn as nodes are made. */
  private readonly factors: number[] = []
  private readonly factorRandom: Random
  private readonly wanRtt?: (a: number, b: number) => number

  constructor (options: SimOptions) {
    this.options = {
      k: 20,
      latency: { kind: 'lognormal', median: 80, sigma: 0.6 },
      requestTimeout: REQUEST_TIMEOUT,
      queryTimeout: QUERY_TIMEOUT,
      pingTimeout: PING_TIMEOUT,
      freshness: PEER_FRESHNESS,
      stall: DEFAULT_STALL,
      refreshInterval: REFRESH_INTERVAL,
      joinWindow: JOIN_REFRESH_WINDOW,
      randomWalkInterval: 0,
      widen: true,
      ...options
    }
    this.k = this.options.k
    this.defaults = { alpha: ALPHA, resultSize: this.k }
    this.random = new Random(options.seed)
    // its own generator: the latency model must not change the network's other draws
    this.factorRandom = new Random(options.seed * 7_919 + 17)
    const latency = this.options.latency
    this.wanRtt = latency.kind === 'wan' ? pairRtt(latency) : undefined
  }

  /**
   * With the `wan` latency model, draws the factors of the first `n` nodes together (shifted and
   * scaled as the emulation's servers are, so that a small network realises the model); later
   * nodes draw theirs one by one.
   */
  drawFactors (n: number): void {
    if (this.factors.length === 0 && this.wanRtt != null) {
      this.factors.push(...drawFactors(this.factorRandom, n))
    }
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

  /**
   * Creates a node with a random key and starts its refresher; it is up but knows nobody and
   * nobody knows it until it {@link join}s.
   */
  addNode (): SimNode {
    const index = this.nodes.length
    const peer: SimPeer = { id: `n${index}`, key: this.random.bytes(KAD_ID_BYTES), index }
    const table: RoutingTable<SimPeer> = new RoutingTable<SimPeer>({
      localKey: peer.key,
      kBucketSize: this.k,
      freshness: this.options.freshness,
      maxFailures: MAX_PEER_FAILURES,
      now: this.now,
      onCheck: (entry) => { this.check(node, entry.peer, alive => { table.checked(entry.id, alive) }) },
      onAdd: () => {
        if (table.size === 1) {
          refresher.joined()
        }
      }
    })
    const refresher: Refresher<SimPeer> = new Refresher<SimPeer>({
      table,
      // keys here are positions in the keyspace already: no hashing, no trial hashing
      selfKey: peer.key,
      selfKadId: peer.key,
      lookup: async (key, options) => this.upkeepLookup(node, key, options),
      ping: async (entry) => new Promise<boolean>(resolve => { this.check(node, entry.peer, resolve) }),
      interval: this.options.refreshInterval,
      queryTimeout: REFRESH_QUERY_TIMEOUT,
      maxBucket: MAX_REFRESH_BUCKET,
      kBucketSize: this.k,
      joinWindow: this.options.joinWindow,
      // servers only: no client re-checks its closest servers
      closestCheckInterval: 0,
      isClient: () => false,
      randomWalkInterval: this.options.randomWalkInterval,
      firstRefreshDelay: FIRST_REFRESH_DELAY,
      now: this.now,
      schedule: this.clock.schedule,
      bucketKey: async (bucket) => keyInBucket(peer.key, bucket, this.random),
      randomKey: () => this.random.bytes(KAD_ID_BYTES),
      random: () => this.random.next(),
      log
    })
    const node: SimNode = { peer, table, refresher, up: true, gone: false, connections: new Map(), roundTrips: new RoundTrips(this.options.connections?.max ?? 300), doubts: new Doubts() }
    if (this.wanRtt != null && this.factors.length <= index) {
      this.factors.push(this.factorRandom.normal())
    }
    this.nodes.push(node)
    refresher.start()
    return node
  }

  /**
   * Silences a node: it stops answering and its refresher stops, but it stays connected and
   * dialable (it accepts streams and never answers). Others' tables keep it until they notice.
   */
  stop (node: SimNode): void {
    node.up = false
    void node.refresher.stop()
  }

  /** A node leaves: it stops, its connections close, and dials to it hang. Others' tables keep it until they notice. */
  leave (node: SimNode): void {
    this.stop(node)
    node.gone = true
    this.disconnect(node)
  }

  /** Closes every connection of `node` (both ends). */
  disconnect (node: SimNode): void {
    for (const other of node.connections.keys()) {
      this.nodes[other].connections.delete(node.peer.index)
    }
    node.connections.clear()
  }

  /** Whether two nodes are connected (always, without `connections`). */
  connected (a: SimNode, b: SimPeer): boolean {
    return this.options.connections == null || a.connections.has(b.index)
  }

  /** The RTT between two nodes: the same every time for a pair. */
  rtt (a: number, b: number): number {
    const model = this.options.latency
    if (model.kind === 'constant') {
      return model.rtt
    }
    if (model.kind === 'wan') {
      return (this.wanRtt as (a: number, b: number) => number)(this.factors[a], this.factors[b])
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
   * Runs events until `done()` holds or none is left. After each event, the promise callbacks it
   * set off run before the next one.
   */
  async run (done: () => boolean = () => false): Promise<void> {
    while (!done()) {
      if (!this.clock.step()) {
        break
      }
      await new Promise(resolve => setImmediate(resolve))
    }
  }

  /** Runs events until the virtual clock reaches `at` (every event before it, none after). */
  async runUntil (at: number): Promise<void> {
    let reached = false
    this.clock.at(at, () => { reached = true })
    await this.run(() => reached)
  }

  /** Runs a lookup to its end and resolves to what it did. */
  async lookupNow (from: SimNode, target: KadId, params: LookupParams = this.defaults, options: SimLookupOptions = {}): Promise<LookupRecord> {
    let record: LookupRecord | undefined
    this.lookup(from, target, params, (r) => { record = r }, options)
    await this.run(() => record != null)
    if (record == null) {
      throw new Error('the lookup never ended')
    }
    return record
  }

  /**
   * Starts a lookup from `from` for `target`, as the service's peer routing runs one: seeded
   * with the k closest of `from`'s table (the bucket marked as looked up), run by
   * {@link runLookup} on the virtual clock, every step told to `from`'s table, failed at the
   * query timeout. `onDone` gets its record when it ends. Runs as events: call {@link run} to
   * make progress.
   */
  lookup (from: SimNode, target: KadId, params: LookupParams, onDone: (record: LookupRecord) => void, options: SimLookupOptions = {}): void {
    const judge = options.judge ?? true
    const started = this.clock.now
    const seeds = lookupSeeds(from.table, target, this.k)
    const depth = new Map<string, number>()
    for (const seed of seeds) {
      depth.set(seed.id, 1)
    }
    let requests = 0
    let failures = 0
    let stalls = 0
    const query = new AbortController()
    const cancelQuery = this.clock.schedule(this.options.queryTimeout, () => {
      query.abort(new TimeoutError(`the query took more than ${this.options.queryTimeout} ms`))
    })
    const finish = (closest: SimPeer[], timedOut: boolean): void => {
      cancelQuery()
      const truth = judge ? this.trueClosest(target, this.k, from.peer.index) : []
      const found = new Set(closest.slice(0, this.k).map(p => p.id))
      const hits = truth.filter(p => found.has(p.id)).length
      let accuracy = NaN
      if (judge) {
        accuracy = truth.length === 0 ? 1 : hits / truth.length
      }
      onDone({
        requests,
        failures,
        stalls,
        hops: closest.reduce((max, p) => Math.max(max, depth.get(p.id) ?? 1), 0),
        latency: this.clock.now - started,
        accuracy,
        exact: judge && !timedOut && hits === truth.length,
        timedOut,
        closest
      })
    }
    void runLookup<SimPeer>({
      target,
      alpha: params.alpha,
      resultSize: params.resultSize,
      requestTimeout: this.options.requestTimeout,
      stall: this.options.stall === false ? undefined : this.options.stall,
      stallAfter: this.stallAfter(from),
      doubted: (peer) => from.doubts.has(peer.id),
      // as the query runner: of peers as close, those connected first (with `connections`)
      prefer: this.options.connections == null ? undefined : (peer) => this.connected(from, peer),
      widen: this.options.widen,
      seeds,
      signal: options.signal == null ? query.signal : AbortSignal.any([query.signal, options.signal]),
      now: this.now,
      schedule: this.clock.schedule,
      stopWhen: options.stopWhen,
      ask: this.asker(from, target, options.accept),
      onEvent: (event) => {
        learnFromLookup(from.table, event, from.doubts)
        if (event.type === 'ask') {
          requests++
        } else if (event.type === 'fail') {
          failures++
        } else if (event.type === 'stall') {
          stalls++
        } else {
          const d = (depth.get(event.peer.id) ?? 1) + 1
          for (const p of event.added) {
            depth.set(p.id, d)
          }
        }
        options.onEvent?.(event)
      },
      // as the query runner: a request that outlives its lookup still teaches the table
      onLate: (event) => { learnFromLookup(from.table, event, from.doubts) }
    }).then(outcome => {
      learnFromOutcome(from.table, outcome, from.doubts)
      finish(outcome.closest, false)
    }, () => { finish([], true) })
  }

  /**
   * The per-request stall deadlines of `from`'s lookups, as the service's query runner sets them
   * (src/query/runner.ts): from the peer's measured round trip (or `from`'s typical one) and
   * what the request still has to go through.
   */
  stallAfter (from: SimNode): RunLookupInit<SimPeer>['stallAfter'] {
    const stall = this.options.stall === false ? undefined : this.options.stall
    return (peer, sent) => {
      if (stall == null) {
        return undefined
      }
      return requestDeadline(stall, from.roundTrips, peer.id, requestPhase(sent, this.connected(from, peer)), this.options.requestTimeout)
    }
  }

  /**
   * The `ask` of a lookup from `from` for `target`: one FIND_NODE over the virtual network,
   * answered after the pair's RTT, never when the peer is down (it fails when runLookup aborts
   * it at its timeout).
   */
  asker (from: SimNode, target: KadId, accept?: (peer: SimPeer) => boolean): RunLookupInit<SimPeer>['ask'] {
    return async (peer, signal, sent) => new Promise((resolve, reject) => {
      this.counters.requests++
      let sentAt = NaN
      const askedAt = this.clock.now
      const dialled = !this.connected(from, peer)
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
      this.request(from, peer, target, closer => {
        from.roundTrips.observe(peer.id, this.clock.now - sentAt)
        resolve(accept == null ? closer : closer.filter(accept))
      }, () => {
        sentAt = this.clock.now
        if (dialled) {
          // as the query runner: the dial's round trips bound the peer's
          from.roundTrips.dialled(peer.id, sentAt - askedAt)
        }
        sent()
      }, reject)
    })
  }

  /**
   * A message with no answer (ADD_PROVIDER) from `from` to `to`, as the client sends one: over
   * the connection (a dial first when there is none), on a stream of its own; `done(true)` once
   * written (the stream's round trips after the connection), `done(false)` when the dial fails;
   * `delivered` when it arrives at a node that is up.
   */
  send (from: SimNode, to: SimPeer, delivered: () => void, done: (sent: boolean) => void): void {
    const node = this.nodes[to.index]
    const rtt = this.rtt(from.peer.index, to.index)
    const onConnection = (): void => {
      this.use(from, node)
      this.clock.after((this.options.connections?.stream ?? 0) * rtt, () => {
        done(true)
        this.clock.after(rtt / 2, () => {
          if (node.up) {
            delivered()
          }
        })
      })
    }
    this.connectThen(from, node, onConnection, () => { done(false) })
  }

  /**
   * Connects a node to a network through `bootstrap`: both put each other in their tables (each
   * identified the other as a DHT server). Its first peer makes its refresher look up its own
   * key soon after, and its short buckets over the join window.
   */
  join (node: SimNode, bootstrap: SimNode | undefined): void {
    if (bootstrap != null) {
      node.table.add(bootstrap.peer.id, bootstrap.peer.key, bootstrap.peer)
      bootstrap.table.add(node.peer.id, node.peer.key, node.peer)
    }
  }

  /**
   * Builds a network of `n` nodes that join at even intervals over `joinMs` virtual ms, each
   * through a random node already in, then runs it for `settleMs` more, so that every node ran
   * its join refresh and (with the default settle of one refresh interval) a periodic refresh
   * with the whole network in place.
   */
  async buildByJoining (n: number, joinMs: number, settleMs: number = this.options.refreshInterval): Promise<void> {
    const start = this.clock.now
    const first = this.nodes.length
    for (let i = 0; i < n; i++) {
      this.clock.at(start + i * joinMs / n, () => {
        const node = this.addNode()
        const others = node.peer.index - first
        this.join(node, others > 0 ? this.nodes[first + this.random.int(others)] : undefined)
      })
    }
    await this.runUntil(start + joinMs + settleMs)
  }

  /**
   * Builds a network of `n` nodes whose tables are filled from a global sorted view: for each
   * bucket of each node, up to k nodes drawn at random from those that belong in it. The tables
   * a long-lived network converges to, without the cost of n joins (each node still runs its
   * join refresh a second later when refresh is on).
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

  /** Mean, smallest and largest table size over the nodes that are up. */
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

  /** Table entries, over the nodes that are up, of nodes that are down. */
  deadEntries (): number {
    let dead = 0
    for (const node of this.nodes) {
      if (node.up) {
        for (const entry of node.table.entries()) {
          if (!this.nodes[entry.peer.index].up) {
            dead++
          }
        }
      }
    }
    return dead
  }

  /**
   * One FIND_NODE from `from` to `to` about `target`: `answer` after the pair's RTT, if `to` is
   * up; with `connections`, after the dial (when they are not connected) and the stream, `sent`
   * told when the request goes out; a dial to a node that is gone fails at the dial timeout.
   */
  private request (from: SimNode, to: SimPeer, target: KadId, answer: (closer: SimPeer[]) => void, sent?: () => void, fail?: (err: Error) => void): void {
    const node = this.nodes[to.index]
    const costs = this.options.connections
    const rtt = this.rtt(from.peer.index, to.index)
    const deliver = (): void => {
      if (!node.up || !from.up) {
        // silent, or one of them went down meanwhile: no answer arrives
        this.counters.unanswered++
        return
      }
      // the asker is a DHT server that connected: it enters the answerer's table
      node.table.add(from.peer.id, from.peer.key, from.peer)
      answer(node.table.answerable(target, this.k, entry => entry.id === from.peer.id).map(entry => entry.peer))
    }
    if (costs == null) {
      sent?.()
      this.clock.after(rtt, deliver)
      return
    }
    this.connectThen(from, node, () => {
      this.use(from, node)
      this.clock.after(costs.stream * rtt, () => {
        sent?.()
        this.clock.after(rtt, deliver)
      })
    }, (err) => {
      this.counters.unanswered++
      fail?.(err)
    })
  }

  /**
   * Runs `then` once `from` is connected to `to`: at once when it is, after a dial otherwise; a
   * dial to a node that is gone (or leaves meanwhile) fails at the dial timeout.
   */
  private connectThen (from: SimNode, to: SimNode, then: () => void, fail: (err: Error) => void): void {
    const costs = this.options.connections
    if (costs == null || from.connections.has(to.peer.index)) {
      then()
      return
    }
    const hang = (): void => {
      this.clock.after(costs.dialTimeout, () => { fail(new TimeoutError(`the dial did not connect within ${costs.dialTimeout} ms`)) })
    }
    if (to.gone) {
      hang()
      return
    }
    this.clock.after(costs.dial * this.rtt(from.peer.index, to.peer.index), () => {
      if (to.gone) {
        // it left while we dialled (its dial timeout counted from now: close enough)
        hang()
        return
      }
      this.counters.dials++
      then()
    })
  }

  /** Opens or refreshes the connection of two nodes (both ends); past `max`, each closes its least recently used. */
  private use (a: SimNode, b: SimNode): void {
    if (this.options.connections == null) {
      return
    }
    const max = this.options.connections.max
    for (const [x, y] of [[a, b], [b, a]]) {
      x.connections.delete(y.peer.index)
      x.connections.set(y.peer.index, this.clock.now)
      if (x.connections.size > max) {
        const oldest = x.connections.keys().next().value as number
        x.connections.delete(oldest)
        this.nodes[oldest].connections.delete(x.peer.index)
      }
    }
  }

  /**
   * A liveness check of `to` by `from`, as the service's table keeper runs one: a FIND_NODE of
   * `from`'s own key, dead when no answer came within the ping timeout.
   */
  private check (from: SimNode, to: SimPeer, done: (alive: boolean) => void): void {
    this.counters.checks++
    let open = true
    const cancel = this.clock.schedule(this.options.pingTimeout, () => {
      open = false
      done(false)
    })
    this.request(from, to, from.peer.key, () => {
      if (open) {
        open = false
        cancel()
        done(true)
      }
    })
  }

  /** A lookup of the node's own upkeep (the Refresher's), as a promise. */
  private async upkeepLookup (node: SimNode, target: KadId, options: AbortOptions & LookupLimits): Promise<void> {
    const { within, stopWhen, signal } = options
    await new Promise<void>((resolve, reject) => {
      this.lookup(node, target, this.defaults, record => {
        if (record.timedOut) {
          reject(new TimeoutError('the lookup was aborted'))
        } else {
          resolve()
        }
      }, {
        judge: false,
        signal,
        stopWhen,
        // as the service's refresher: a bucket's lookup takes in only that bucket's peers
        accept: inBucket(node.table, within)
      })
    })
  }
}

/** A random key in bucket `bucket` of `self`: its first `bucket` bits, then bit `bucket` flipped. */
function keyInBucket (self: KadId, bucket: number, random: Random): KadId {
  const prefix = self.slice()
  prefix[bucket >> 3] ^= 0x80 >> (bucket & 7)
  return inPart(prefix, bucket + 1, random.bytes(KAD_ID_BYTES))
}

/** `prefix`'s first `bits` bits, then `rest`'s. */
export function inPart (prefix: Uint8Array, bits: number, rest: Uint8Array): Uint8Array {
  const out = rest.slice()
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit & 7)
    out[bit >> 3] = (out[bit >> 3] & ~mask) | (prefix[bit >> 3] & mask)
  }
  return out
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
