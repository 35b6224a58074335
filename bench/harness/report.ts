/**
 * What the benchmark harness measures and reports (one type for the in-process and the WAN
 * benchmarks), and its options, with the defaults of each transport.
 */
import { AMINO_RTT } from '../wan/latency.ts'
import type { KadDHTInit } from '../../src/index.ts'
import type { Impl } from '../lib/nodes.ts'
import type { VirtualTimeStats } from '../lib/virtual-time.ts'
import type { LatencyModel } from '../wan/latency.ts'

/**
 * How the nodes are connected: `memory` (the in-memory transport, no latency: what the
 * implementations compute) or `wan` (the emulated wide-area network: bench/wan/transport.ts).
 */
export type Transport = 'memory' | 'wan'

/**
 * The clock the nodes run on: `virtual` (bench/lib/virtual-time.ts: time moves only when the
 * process has nothing left to run, so CPU load cannot become latency) or `real`.
 */
export type Clock = 'virtual' | 'real'

/** Network conditions: each runs every kind of operation (the battery) under it, in this order. */
export const CONDITIONS = ['healthy', 'silent', 'nat', 'unreachable', 'churn'] as const

/** Phases of one kind of work on the healthy network. */
export const PARTS = ['lookup', 'findPeer', 'values', 'providers', 'batch', 'join', 'accelerated'] as const

/** Every phase; a run lists the ones it runs, in order, on one network. */
export const PHASES = [...CONDITIONS, ...PARTS] as const
export type Phase = typeof PHASES[number]

/** The operations measured. */
export const OPS = ['closest', 'closestWarm', 'findPeer', 'put', 'get', 'provide', 'findProviders', 'provideEach', 'provideMany'] as const
export type Op = typeof OPS[number]

/** One operation's numbers. */
export interface OpSample {
  /** Time from the call until it returned (or threw), on the run's clock. */
  ms: number
  /** The time it could not have beaten (bench/wan/floor.ts); NaN when it has none (no latency, or not a lookup). */
  floorMs: number
  /** Asks on the floor's critical referral chain. */
  hops: number
  /** DHT requests the asker sent (see `requestsSent` in trace.ts). */
  requests: number
  /** Distinct peers it asked (lookup messages). */
  distinct: number
  /** Connections the asker opened. */
  connections: number
  /** Requests that failed or timed out. */
  failed: number
  /** DHT streams received by the whole network from the call until the count pause after it ended. */
  streams: number
  /** libp2p ping streams received by the whole network meanwhile. */
  pings: number
  /** CPU time of the whole process (every node's share of the work) from the call until it returned, in ms. */
  cpuMs: number
  /** It did what was asked (see the tables' notes for each operation). */
  ok: boolean
  /** What it threw, if it did, and why its first requests failed. */
  error?: string
  /** closest: how many peers it returned. */
  returned?: number
  /** closest: the share of the true k closest live servers among the peers returned. */
  accuracy?: number
  /** put, provide: the share of the records sent (by the end of the count pause) that landed on the true k closest live servers. */
  onTrue?: number
  /** put, provide: the share of the true k closest live servers that got a record. */
  reached?: number
  /** provideEach, provideMany: CIDs provided, CIDs reported provided, and of `checked` of them, how many a random other node found the provider of. */
  cids?: number
  provided?: number
  found?: number
  checked?: number
}

/** A joined node is watched this long from its first connection: its requests and connections in that time are its cost. */
export const JOIN_WINDOW = 20_000

/** A node joining: how soon others found it, and what it cost. */
export interface JoinSample {
  /** From its first connection until the end of the first findPeer (from a random node) that found it; NaN: not within the limit. */
  findableMs: number
  /** When that findPeer started, from the first connection. */
  probeStartMs: number
  /** findPeer probes until one found it. */
  probes: number
  /** DHT requests the joiner sent in its first `JOIN_WINDOW` ms. */
  requests: number
  /** DHT streams it opened at other nodes in that time. */
  streams: number
  /** Connections it opened, and connections others opened to it, in that time. */
  outbound: number
  inbound: number
  /** Connections it held, and its routing-table size, at the end of that time. */
  open: number
  table: number
  /** CPU of the whole process from its dial to the end of that time, in ms (its work, the network's answers, and the rest of the network's own). */
  cpuMs: number
}

/** One accelerated client's first crawl of the network, from its first connection until its full table was in use. */
export interface CrawlSample {
  /** From its first connection until the first pass of its crawl was over, on the run's clock. */
  ms: number
  /** FIND_NODE requests of the crawl by then. */
  requests: number
  /** Servers in its full table then, and servers answering in the network. */
  servers: number
  live: number
  /** The most crawl visits, dials and open connections it had at once meanwhile. */
  peakVisits: number
  peakDials: number
  peakConnections: number
  /** Connections it opened meanwhile. */
  opened: number
  /** CPU of the whole process meanwhile, ms. */
  cpuMs: number
}

/** Many CIDs provided at once one way (see bench/harness/accelerated.ts), and where their records landed. */
export interface BulkSample {
  /** How they were provided. */
  how: 'accelerated provideMany' | 'provideMany' | 'provides'
  cids: number
  /** CIDs reported provided (a record sent to at least one peer). */
  provided: number
  /** From the call until the last CID was reported, on the run's clock. */
  ms: number
  /** DHT requests the provider sent, and connections it opened. */
  requests: number
  connections: number
  /** The most connections it had open at once. */
  peakConnections: number
  /** CPU of the whole process meanwhile, ms. */
  cpuMs: number
  /** The share of the CIDs whose record every one of their true 20 closest live servers holds. */
  exact: number
  /** The share of the true 20 closest live servers holding a CID's record, mean over the CIDs. */
  reached: number
  /** Records held by servers not among their CID's true 20, per CID, mean. */
  strays: number
}

/** The accelerated client's phase: its first crawls, and many CIDs provided three ways. */
export interface AcceleratedPhase {
  crawls: CrawlSample[]
  bulk: BulkSample[]
  /** The same battery asked by kadmium clients in normal mode, made and connected the same way (kadmium only). */
  normal?: Partial<Record<Op, OpSample[]>>
  /** libp2p's connection limit at the clients (the most connections open at once). */
  maxConnections: number
  /** Crawl visits at once the clients were given. */
  crawlConcurrency: number
}

/** One phase: a network condition (or a kind of work) and the operations run under it. */
export interface PhaseReport {
  phase: Phase
  /** What the condition was, in words. */
  note: string
  ops: Partial<Record<Op, OpSample[]>>
  /** Nodes that joined in this phase, one after another. */
  joins: JoinSample[]
  /** The process's event-loop delay during the phase, p50 and p99 in ms: how late timers ran (real clock only; NaN in virtual time). */
  lagMs: [number, number]
  /** Routing-table sizes of the servers answering at the end of the phase: mean, min. */
  tables: [number, number]
  /** Its duration on the run's clock. */
  ms: number
  /** The accelerated client's phase: its crawls and bulk provides (kadmium only). */
  accelerated?: AcceleratedPhase
}

/** What each step of libp2p's stack took between pairs of servers not connected before, in ms, with the pair's RTT (WAN only). */
export interface Calibration {
  rtt: number[]
  dial: number[]
  stream: number[]
  request: number[]
}

/** Building the network (times on the run's clock). */
export interface BuildReport {
  /** Making and starting each node. */
  startupMs: number[]
  /** Dialling the topology (every dial ended), and dials that failed. */
  dialMs: number
  dialFailures: number
  /** Dialling until the tables were still. */
  connectMs: number
  /** DHT streams received by the whole network meanwhile. */
  connectStreams: number
  /** Connections per node once the tables were still. */
  connectionsPerNode: number
  /** The self-lookups of every node, 4 at a time, and how many were done within the bound. */
  selfLookupMs: number
  selfLookups: number
  /** From the self-lookups' start until the tables were still again. */
  settleMs: number
  /** DHT and ping streams received by the whole network from the self-lookups' start until then. */
  selfLookupStreams: number
  selfLookupPings: number
  /** The whole build, on the run's clock and in real time. */
  ms: number
  realMs: number
  /** CPU per node: dialling until the tables were still; the self-lookups until still again. */
  cpuMsPerNode: { dial: number, selfLookups: number }
  /** Routing-table size after building: mean, min. */
  tableMean: number
  tableMin: number
  /** Resident memory and JS heap per node once started (before any dial) and once built. */
  rssPerNodeStarted: number
  heapPerNodeStarted: number
  rssPerNode: number
}

/** The built network left alone (after ageing) for a while. */
export interface IdleReport {
  pingsPerSecond: number
  dhtPerSecond: number
  /** The process's CPU per node per minute of the run's clock. */
  cpuMsPerNodeMinute: number
  /** The process's CPU over the time idle: the share of one core (real clock only: in virtual time it is no share of anything). */
  cpuShare: number
  lagMs: [number, number]
}

/** One hour of a long run (`--hours`), per node: what upkeep costs and what it leaves behind. */
export interface HourSample {
  /** Hours since the long run began (1 = the end of the first). */
  hour: number
  /** Servers answering. */
  servers: number
  rssPerNode: number
  heapPerNode: number
  /** What of the resident memory is not live JS objects (see `memory` in bench/lib/stats.ts), per node: the heap V8 holds, used or not, and memory outside it. */
  heapTotalPerNode?: number
  externalPerNode?: number
  arrayBuffersPerNode?: number
  connectionsPerNode: number
  /** Streams open over those connections. */
  streamsPerNode: number
  /** Timers waiting on the virtual clock, per node (virtual time only). */
  timersPerNode: number
  /** Keys in each node's datastore (records, providers, the peer store). */
  datastoreKeysPerNode: number
  /** Routing-table size, mean. */
  tableMean: number
  /** The process's CPU in that hour, per node, ms. */
  cpuMsPerNode: number
  /** DHT and ping streams received in that hour, whole network. */
  dhtStreams: number
  pings: number
  /** A soak (`--soak`): the share of the CIDs provided at hour 0 that a random server found at the end of the hour. */
  cidsFound?: number
  /** A soak: the share of the values put at hour 0 that a random server read at the end of the hour. */
  valuesGot?: number
  /** A soak: servers replaced and restarted in that hour. */
  replaced?: number
  restarted?: number
}

/** What a child reports. */
export interface BenchReport {
  impl: Impl
  transport: Transport
  clock: Clock
  nodes: number
  /** Pair RTTs over every pair of servers: p50, p90, p99, max (WAN only). */
  rtt: [number, number, number, number]
  calibration: Calibration
  build: BuildReport
  idle: IdleReport
  phases: PhaseReport[]
  hours: HourSample[]
  /** Resident memory and heap per node at the end of the run. */
  rssPerNodeEnd: number
  heapPerNodeEnd: number
  /** What ran on the virtual clock (virtual time only). */
  virtualTime?: VirtualTimeStats
  /** The whole child in real time, in ms. */
  realMs: number
  /** The whole child's CPU, in ms (with the virtual clock's `now`: what a virtual second costs). */
  cpuMs: number
}

/** Options of the harness (both transports). */
export interface BenchOptions {
  transport: Transport
  clock: Clock
  /** Servers. */
  nodes: number
  seed: number
  /** Each node dials this many random others to build the network. */
  degree: number
  /** Pair round-trip times (WAN only). */
  latency: LatencyModel
  /** getClosestPeers per phase (each repeated warm). */
  lookups: number
  /** findPeer, put + get and provide + findProviders per phase. */
  ops: number
  /** CIDs of the batch phase (one by one, and kadmium's provideMany) and of the healthy network's provideMany. */
  batch: number
  /** Nodes joining one after another (healthy, join). */
  joins: number
  /** Share of the servers silent in the silent phase. */
  silent: number
  /** Share of the servers gone (dials to them hang) from the unreachable phase on. */
  unreachable: number
  /** NAT'd clients added in the nat phase, as a share of the servers. */
  nat: number
  /** Servers that leave, and new ones that join, per minute in the churn phase. */
  churnPerMinute: number
  phases: Phase[]
  /** libp2p's connection-manager defaults with its connection monitor on (else limits lifted and the monitor off). */
  defaults: boolean
  /**
   * With `defaults`: seconds between the connection monitor's pings of every connection
   * (libp2p's default 10); 0 turns the monitor off. Neither DHT reads what it measures, and it
   * acts only when a ping fails (it then aborts the connection), which in virtual time no ping
   * here does (silent servers answer pings; leaving ones close their connections). On, it costs
   * CPU, and its pings draw on the seeded randomness and add timers, so a run with it on is
   * another draw of the same seed, not the same times; it can also collide with js's own pings
   * (docs/benchmarks.md, "The connection monitor").
   */
  pingSeconds: number
  /** Every operation starts from a node with no open connection (as a node of a network of thousands is connected to few of the peers it asks). */
  coldStart: boolean
  /** How long after an operation returned its streams and requests are still counted (messages sent without an answer, get's corrections), ms. */
  countPauseMs: number
  /** Minutes (run's clock) the built network ages before its idle cost is measured and the phases start: the nodes' join work ends. */
  ageMinutes: number
  /** Minutes (run's clock) over which the idle network's cost is measured. */
  idleMinutes: number
  /** Each kind of operation in a phase starts nothing new after this many minutes of the run's clock. */
  opMinutes: number
  /** Hours (run's clock) the network lives after the phases, with its upkeep on its own schedules, sampled every hour. */
  hours: number
  /** Accelerated clients the `accelerated` phase starts (kadmium; they ask its operations). */
  accelerated: number
  /** CIDs provided each of three ways in the `accelerated` phase (0: none). */
  bulk: number
  /**
   * The long run is a soak (bench/harness/soak.ts): CIDs provided and values put at hour 0 by
   * servers that stay, servers replaced and restarted every hour, every CID and value looked for
   * at the end of every hour (and at hour 0).
   */
  soak: boolean
  /** A child still running after this many real minutes is killed. */
  timeoutMinutes: number
  impls: Impl[]
  /** Runs both children at once (one per core): both under the same load, in half the time. */
  parallel: boolean
  /** Writes the SVG charts into this directory. */
  charts?: string
  /** Writes the machine-readable report (bench/wan/json.ts) to this file. */
  json?: string
  /** kadmium's options over the bench's own (`--kadmium '{"alpha":20}'`): a setting tried without a rebuild. */
  kadmium?: KadDHTInit
}

/** The emulated WAN's defaults: 200 servers, every condition, libp2p's defaults, virtual time. */
export const WAN_DEFAULTS: BenchOptions = {
  transport: 'wan',
  clock: 'virtual',
  nodes: 200,
  seed: 1,
  degree: 4,
  latency: AMINO_RTT,
  lookups: 20,
  ops: 8,
  batch: 30,
  joins: 5,
  silent: 0.2,
  unreachable: 0.2,
  nat: 0.25,
  churnPerMinute: 20,
  phases: [...CONDITIONS],
  defaults: true,
  pingSeconds: 10,
  coldStart: true,
  countPauseMs: 1_000,
  ageMinutes: 10,
  idleMinutes: 1,
  opMinutes: 10,
  hours: 0,
  accelerated: 3,
  bulk: 1_000,
  soak: false,
  timeoutMinutes: 240,
  impls: ['kadmium', 'js'],
  parallel: false
}

/**
 * The in-process defaults: the memory transport in real time (what the implementations compute,
 * CPU-bound), limits lifted and the connection monitor off, no cold start.
 */
export const MEMORY_DEFAULTS: BenchOptions = {
  ...WAN_DEFAULTS,
  transport: 'memory',
  clock: 'real',
  nodes: 50,
  ops: 5,
  phases: ['lookup', 'values', 'providers', 'batch'],
  defaults: false,
  coldStart: false,
  countPauseMs: 300,
  ageMinutes: 0,
  idleMinutes: 2 / 60,
  opMinutes: 2,
  timeoutMinutes: 30
}
