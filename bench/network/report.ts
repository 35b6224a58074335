/**
 * What the N-node benchmarks measure and report: the samples, a child's report and the options.
 */
import type { Impl } from '../lib/nodes.ts'

/** The phases a child runs after building its network. */
export type Phase = 'lookup' | 'values' | 'providers' | 'batch' | 'join'

/** One lookup's numbers. */
export interface LookupSample { ms: number, warmMs: number, sent: number, failed: number, errors: string[], distinct: number, streams: number, pings: number, accuracy: number, returned: number }
/** One put + get (or provide + findProviders). */
export interface PairSample { firstMs: number, firstStreams: number, firstOk: boolean, secondMs: number, secondStreams: number, secondOk: boolean }

/** Providing many CIDs from one node, and finding a sample of them from others. */
export interface ManySample {
  cids: number
  /** Wall time of providing them all. */
  ms: number
  /** DHT streams received by the whole network while providing them. */
  streams: number
  /** CIDs reported provided (kadmium: sent to a peer; js: the provide ended without an error). */
  provided: number
  /** Of `checked` CIDs, how many a random other node found the provider of. */
  found: number
  checked: number
}

/** One node joining the settled network, over its first `JOIN_WINDOW` ms. */
export interface JoinSample {
  /** From its dial of one member until a random other member's findPeer of it succeeded (NaN: never). */
  foundMs: number
  /** findPeer attempts until then. */
  attempts: number
  /** DHT requests it sent (kadmium: its stats().outbound; js: the DHT streams it opened, one a request). */
  requests: number
  /** DHT streams it opened at the other nodes. */
  streams: number
  /** Connections it opened, and connections other nodes opened to it. */
  outbound: number
  inbound: number
  /** Connections it held at the end of the window. */
  open: number
  /** Its routing-table size at the end of the window. */
  table: number
}

/** What a child reports. */
export interface ChildReport {
  impl: Impl
  nodes: number
  startupMs: number[]
  /** Dialling the topology (every dial ended), and dial failures. */
  dialMs: number
  dialFailures: number
  /** Dialling until the tables were still for a second (at most 30 s after the last dial). */
  connectMs: number
  /** DHT streams received by the whole network meanwhile. */
  connectStreams: number
  /** Connections per node once the tables were still. */
  connectionsPerNode: number
  settleMs: number
  selfLookupMs: number
  /** Self-lookups done within the phase's time bound. */
  selfLookups: number
  buildStreams: number
  buildPings: number
  idleStreamsPerSecond: number
  /** The share of one core the whole network's process used while idle (libp2p's own work included). */
  idleCpuShare: number
  tableMean: number
  tableMin: number
  rssPerNodeStarted: number
  heapPerNodeStarted: number
  rssPerNodeSettled: number
  heapPerNodeSettled: number
  lookups: LookupSample[]
  values: PairSample[]
  providers: PairSample[]
  /** `batch` CIDs provided one `provide` after another. */
  provideEach?: ManySample
  /** `batch` other CIDs provided with one `provideMany` (kadmium only). */
  provideMany?: ManySample
  /** Nodes that joined the settled network one after another. */
  joins: JoinSample[]
}

/** Options of the N-node benchmarks. */
export interface NetworkBenchOptions {
  nodes: number[]
  lookups: number
  /** put/get and provide/findProviders pairs per network. */
  ops: number
  /** CIDs provided from one node in the batch phase, one by one and (kadmium) at once. */
  batch: number
  /** Nodes that join the settled network in the join phase, one after another. */
  joins: number
  /** Nodes with libp2p's connection-manager defaults and its connection monitor on (see `BenchNodeInit.defaults`). */
  defaults: boolean
  degree: number
  seed: number
  phases: Phase[]
  /** A child still running after this long is killed. */
  timeoutMinutes: number
  /**
   * Each phase (self-lookups, lookups, values, providers) starts no new operation after this
   * many minutes, so a slow implementation reports what it did in bounded time.
   */
  phaseMinutes: number
  /** Which implementations to run; a left-out one gets empty columns. */
  impls: Impl[]
  out?(text: string): void
}

export const NETWORK_DEFAULTS: NetworkBenchOptions = {
  nodes: [50, 150],
  lookups: 20,
  ops: 5,
  batch: 30,
  joins: 5,
  defaults: false,
  degree: 4,
  seed: 1,
  phases: ['lookup', 'values', 'providers', 'batch'],
  timeoutMinutes: 30,
  phaseMinutes: 2,
  impls: ['kadmium', 'js']
}

/** The report of a child that gave none: every number NaN, every list empty. */
export function emptyReport (impl: Impl, n: number): ChildReport {
  return {
    impl,
    nodes: n,
    startupMs: [],
    dialMs: NaN,
    dialFailures: NaN,
    connectMs: NaN,
    connectStreams: NaN,
    connectionsPerNode: NaN,
    settleMs: NaN,
    selfLookupMs: NaN,
    selfLookups: NaN,
    buildStreams: NaN,
    buildPings: NaN,
    idleStreamsPerSecond: NaN,
    idleCpuShare: NaN,
    tableMean: NaN,
    tableMin: NaN,
    rssPerNodeStarted: NaN,
    heapPerNodeStarted: NaN,
    rssPerNodeSettled: NaN,
    heapPerNodeSettled: NaN,
    lookups: [],
    values: [],
    providers: [],
    joins: []
  }
}
