/**
 * What the WAN benchmark measures and reports: the samples, a child's report and the options.
 */
import { AMINO_RTT } from './latency.ts'
import type { LatencyModel } from './latency.ts'
import type { Impl } from '../lib/nodes.ts'
import type { VirtualTimeStats } from '../lib/virtual-time.ts'

/**
 * The clocks the benchmark runs on: `virtual` (bench/lib/virtual-time.ts: time moves only when
 * the process has nothing left to run, so CPU load cannot become latency) or `real`.
 */
export type WanClock = 'virtual' | 'real'

/** The network conditions, each its own table, in the order they run. */
export const WAN_PHASES = ['healthy', 'silent', 'nat', 'unreachable', 'churn'] as const
export type WanPhase = typeof WAN_PHASES[number]

/** The operations measured. */
export const WAN_OPS = ['closest', 'closestWarm', 'findPeer', 'put', 'get', 'provide', 'findProviders', 'provideMany'] as const
export type WanOp = typeof WAN_OPS[number]

/** One operation's numbers. */
export interface OpSample {
  /** Wall time from the call until it returned (or threw). */
  ms: number
  /** The time it could not have beaten (floor.ts); NaN when it has none. */
  floorMs: number
  /** Asks on the floor's critical referral chain. */
  hops: number
  /** DHT requests the asker sent (see `requestsSent` in trace.ts). */
  requests: number
  /** Connections the asker opened. */
  connections: number
  /** Requests that failed or timed out. */
  failed: number
  /** CPU time of the whole process (every node's share of the work) from the call until it returned, in ms. */
  cpuMs: number
  /** It did what was asked (see the table's notes for each operation). */
  ok: boolean
  /** What it threw, if it did. */
  error?: string
  /** closest: how many peers it returned. */
  returned?: number
  /** closest: the share of the true k closest live servers among the peers returned. */
  accuracy?: number
  /** put, provide: the share of the records sent (by the end of the count pause) that landed on the true k closest live servers. */
  onTrue?: number
  /** put, provide: the share of the true k closest live servers that got a record. */
  reached?: number
}

/** One phase: a network condition and the operations run under it. */
export interface PhaseReport {
  phase: WanPhase
  /** What the condition was, in words. */
  note: string
  ops: Partial<Record<WanOp, OpSample[]>>
  /** The process's event-loop delay during the phase, p50 and p99 in ms: how far timers ran late (real clock only; NaN in virtual time). */
  lagMs: [number, number]
  /** Routing-table sizes of the servers answering at the end of the phase: mean, min. */
  tables: [number, number]
  ms: number
}

/** How long a joined node is watched: its requests and connections in that time are its cost. */
export const JOIN_WINDOW = 15_000

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
  /** Connections it opened in that time. */
  connections: number
  /** CPU of the whole process in that time, in ms (the joiner's work and the network's answers, and the idle network's own). */
  cpuMs: number
}

/**
 * What each step of libp2p's stack took over the emulated WAN between pairs of servers that were
 * not connected, in ms, with the pair's RTT.
 */
export interface Calibration {
  rtt: number[]
  dial: number[]
  stream: number[]
  request: number[]
}

/** What a child reports. */
export interface WanReport {
  impl: Impl
  nodes: number
  /** Pair RTTs over every pair of the first `nodes` nodes: p50, p90, p99, max. */
  rtt: [number, number, number, number]
  calibration: Calibration
  /** Building the network: dialling, self-lookups, settling (on the run's clock). */
  buildMs: number
  /** The same in real time. */
  buildRealMs: number
  /** CPU of the build per node, in ms: dialling the topology until the tables were still, then the self-lookups until still again. */
  buildCpuMsPerNode: { dial: number, selfLookups: number }
  selfLookups: number
  tableMean: number
  rssPerNode: number
  /**
   * The built network left alone (after ageing `ageMinutes`) for `idleMinutes`: streams per
   * second, the process's CPU per node per minute of the run's clock, and the event-loop delay
   * (p50, p99; real clock only).
   */
  idle: { pingsPerSecond: number, dhtPerSecond: number, cpuMsPerNodeMinute: number, lagMs: [number, number] }
  phases: PhaseReport[]
  joins: JoinSample[]
  clock: WanClock
  /** What ran on the virtual clock (virtual time only). */
  virtualTime?: VirtualTimeStats
  /** The whole child in real time, in ms. */
  realMs: number
}

/** Options of the WAN benchmark. */
export interface WanOptions {
  nodes: number
  seed: number
  /** Each node dials this many random others to build the network. */
  degree: number
  latency: LatencyModel
  /** Cold getClosestPeers per phase (each repeated warm). */
  lookups: number
  /** findPeer, put + get and provide + findProviders per phase. */
  ops: number
  /** CIDs of the provideMany (kadmium, healthy network). */
  batch: number
  /** Nodes joining the healthy network one after another. */
  joins: number
  /** Share of the servers silent in the silent phase. */
  silent: number
  /** Share of the servers gone (dials to them hang) from the unreachable phase on. */
  unreachable: number
  /** NAT'd clients added in the nat phase, as a share of the servers. */
  nat: number
  /** Servers that leave, and new ones that join, per minute in the churn phase. */
  churnPerMinute: number
  phases: WanPhase[]
  /** The clock the children run on. */
  clock: WanClock
  /** Minutes (of the run's clock) the built network ages before its idle cost is measured and the phases start: the nodes' join work ends. */
  ageMinutes: number
  /** Minutes (of the run's clock) over which the idle network's cost is measured. */
  idleMinutes: number
  /** Each kind of operation in a phase starts nothing new after this many minutes of the run's clock. */
  opMinutes: number
  /** A child still running after this long is killed. */
  timeoutMinutes: number
  impls: Impl[]
  /**
   * Runs both children at once (one per core) instead of one after the other: both measured under
   * the same load, in half the time.
   */
  parallel: boolean
  /** Writes the SVG charts into this directory. */
  charts?: string
  /** Writes the machine-readable report (see bench/wan/json.ts) to this file. */
  json?: string
}

export const WAN_DEFAULTS: WanOptions = {
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
  phases: [...WAN_PHASES],
  clock: 'virtual',
  ageMinutes: 10,
  idleMinutes: 1,
  opMinutes: 10,
  timeoutMinutes: 240,
  impls: ['kadmium', 'js'],
  parallel: false
}
