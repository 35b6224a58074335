/**
 * What the N-node benchmarks measure and report: the samples, a child's report and the options.
 */
import type { Impl } from '../lib/nodes.ts'

/** The phases a child runs after building its network. */
export type Phase = 'lookup' | 'values' | 'providers' | 'batch'

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

/** What a child reports. */
export interface ChildReport {
  impl: Impl
  nodes: number
  startupMs: number[]
  connectMs: number
  settleMs: number
  selfLookupMs: number
  /** Self-lookups done within the phase's time bound. */
  selfLookups: number
  buildStreams: number
  buildPings: number
  idleStreamsPerSecond: number
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
}

/** Options of the N-node benchmarks. */
export interface NetworkBenchOptions {
  nodes: number[]
  lookups: number
  /** put/get and provide/findProviders pairs per network. */
  ops: number
  /** CIDs provided from one node in the batch phase, one by one and (kadmium) at once. */
  batch: number
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
    connectMs: NaN,
    settleMs: NaN,
    selfLookupMs: NaN,
    selfLookups: NaN,
    buildStreams: NaN,
    buildPings: NaN,
    idleStreamsPerSecond: NaN,
    tableMean: NaN,
    tableMin: NaN,
    rssPerNodeStarted: NaN,
    heapPerNodeStarted: NaN,
    rssPerNodeSettled: NaN,
    heapPerNodeSettled: NaN,
    lookups: [],
    values: [],
    providers: []
  }
}
