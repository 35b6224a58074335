/**
 * The WAN benchmark's machine-readable report (`--json FILE`): one object
 * `{ "kadmium": R, "js": R, "run": … }`, each `R` =
 *
 * ```
 * { "network": { "servers", "buildMs", "cpuMsPerNodeIdleMinute", "rssBytesPerNode", … },
 *   "phases": { "<phase>": { "<operation>": { "p50", "p90", "p99", "floorP50", "wallOverFloor",
 *     "success", "requests", "connections", "hops", "cpuMs", … } } } }
 * ```
 *
 * Phases as the bench names them (`healthy`, `silent`, `nat`, `unreachable`, `churn`);
 * operations `getClosestPeers-cold`, `getClosestPeers-warm`, `findPeer`, `put`, `get`,
 * `provide`, `findProviders`, `provideMany`; times in ms of the run's clock (virtual ms by
 * default), `success` a fraction, counts as medians. Other tools (the floor work, the soak) read
 * this shape: fields may be added, none renamed or removed.
 */
import { mean, quantile } from '../lib/stats.ts'
import type { BenchOptions, BenchReport, HourSample, JoinSample, Op, OpSample } from '../harness/report.ts'
import type { VirtualTimeStats } from '../lib/virtual-time.ts'

/** The name of each operation in the JSON report. */
export const JSON_OPS: Record<Op, string> = {
  closest: 'getClosestPeers-cold',
  closestWarm: 'getClosestPeers-warm',
  findPeer: 'findPeer',
  put: 'put',
  get: 'get',
  provide: 'provide',
  findProviders: 'findProviders',
  provideEach: 'provideEach',
  provideMany: 'provideMany'
}

/** One operation in one phase. */
export interface JsonOp {
  /** Samples behind the figures. */
  samples: number
  p50: number
  p90: number
  p99: number
  floorP50: number
  /** Median over the samples of wall / floor. */
  wallOverFloor: number
  /** The share of samples that did what was asked (getClosestPeers: exactly the true 20 closest live servers). */
  success: number
  requests: number
  connections: number
  hops: number
  /** The process's CPU while the operation ran (every node's share), median, ms. */
  cpuMs: number
  /** getClosestPeers: the share of the true 20 found, mean. */
  accuracy?: number
  /** put, provide: the share of the records sent that landed on the true 20 closest, mean. */
  onTrue?: number
  /** put, provide: the share of the true 20 closest that got a record, mean. */
  reached?: number
}

/** One implementation's report. */
export interface JsonImpl {
  network: {
    servers: number
    /** Building the network (dialling, self-lookups, settling), ms of the run's clock. */
    buildMs: number
    cpuMsPerNodeIdleMinute: number
    rssBytesPerNode: number
    buildRealMs: number
    /** CPU of the build per node, ms: dialling until the tables were still, then the self-lookups. */
    buildCpuMsPerNode: { dial: number, selfLookups: number }
    tableMean: number
    idle: { pingsPerSecond: number, dhtPerSecond: number }
    /** Medians of the calibration, in round trips of the pair, and the largest distance from a whole number of round trips, in ms. */
    calibration: { pairs: number, dialRtt: number, streamRtt: number, requestRtt: number, offWholeRttMs: number }
    /** Pair RTTs over every pair of servers: p50, p90, p99, max. */
    rtt: number[]
    clock: string
    virtualTime?: VirtualTimeStats
    realMs: number
    /** The whole child's CPU, ms. */
    cpuMs: number
  }
  phases: Record<string, Record<string, JsonOp>>
  /** Nodes that joined the healthy network (and in a `join` phase). */
  joins: { samples: number, findable: number, findableP50: number, requestsP50: number, connectionsP50: number, cpuMsP50: number }
  /** A long run (`--hours`): one sample per hour. */
  hours: HourSample[]
}

const finite = (values: number[]): number[] => values.filter(Number.isFinite)
const median = (values: number[]): number => quantile(finite(values), 0.5)
const meanOf = (values: Array<number | undefined>): number | undefined => {
  const known = finite(values.filter((v): v is number => v != null))
  return known.length === 0 ? undefined : mean(known)
}

/** Whether a sample did what was asked, as the tables count it. */
export function succeeded (sample: OpSample): boolean {
  return sample.accuracy == null ? sample.ok : sample.accuracy === 1
}

function op (samples: OpSample[]): JsonOp {
  const wall = samples.map(s => s.ms)
  return {
    samples: samples.length,
    p50: quantile(wall, 0.5),
    p90: quantile(wall, 0.9),
    p99: quantile(wall, 0.99),
    floorP50: median(samples.map(s => s.floorMs)),
    wallOverFloor: median(samples.map(s => s.ms / s.floorMs)),
    success: samples.filter(succeeded).length / samples.length,
    requests: median(samples.map(s => s.requests)),
    connections: median(samples.map(s => s.connections)),
    hops: median(samples.map(s => s.hops)),
    cpuMs: median(samples.map(s => s.cpuMs)),
    accuracy: meanOf(samples.map(s => s.accuracy)),
    onTrue: meanOf(samples.map(s => s.onTrue)),
    reached: meanOf(samples.map(s => s.reached))
  }
}

function inRtt (steps: number[], rtt: number[]): number {
  return median(steps.map((v, i) => v / rtt[i]))
}

/** The largest distance of any calibration step from a whole number of round trips, in ms. */
function offWholeRtt (report: BenchReport): number {
  const { rtt, dial, stream, request } = report.calibration
  const off = [dial, stream, request].flatMap(steps => steps.map((v, i) => Math.abs(v - Math.round(v / rtt[i]) * rtt[i])))
  return off.length === 0 ? NaN : Math.max(...off)
}

/** One implementation's report in the JSON shape. */
export function jsonImpl (report: BenchReport): JsonImpl {
  const phases: JsonImpl['phases'] = {}
  for (const phase of report.phases) {
    const ops: Record<string, JsonOp> = {}
    for (const [name, samples] of Object.entries(phase.ops) as Array<[Op, OpSample[]]>) {
      if (samples.length > 0) {
        ops[JSON_OPS[name]] = op(samples)
      }
    }
    phases[phase.phase] = ops
  }
  const c = report.calibration
  const joins = report.phases.flatMap(p => p.joins)
  return {
    network: {
      servers: report.nodes,
      buildMs: report.build.ms,
      cpuMsPerNodeIdleMinute: report.idle.cpuMsPerNodeMinute,
      rssBytesPerNode: report.build.rssPerNode,
      buildRealMs: report.build.realMs,
      buildCpuMsPerNode: report.build.cpuMsPerNode,
      tableMean: report.build.tableMean,
      idle: { pingsPerSecond: report.idle.pingsPerSecond, dhtPerSecond: report.idle.dhtPerSecond },
      calibration: { pairs: c.rtt.length, dialRtt: inRtt(c.dial, c.rtt), streamRtt: inRtt(c.stream, c.rtt), requestRtt: inRtt(c.request, c.rtt), offWholeRttMs: offWholeRtt(report) },
      rtt: report.rtt,
      clock: report.clock,
      virtualTime: report.virtualTime,
      realMs: report.realMs,
      cpuMs: report.cpuMs
    },
    phases,
    joins: {
      samples: joins.length,
      findable: joins.length === 0 ? NaN : joins.filter(j => Number.isFinite(j.findableMs)).length / joins.length,
      findableP50: median(joins.map(j => j.findableMs)),
      requestsP50: median(joins.map((j: JoinSample) => j.requests)),
      connectionsP50: median(joins.map(j => j.outbound)),
      cpuMsP50: median(joins.map(j => j.cpuMs))
    },
    hours: report.hours
  }
}

/** The whole JSON report; `run` says how it was made. */
export function jsonReport (kadmium: BenchReport, js: BenchReport, options: BenchOptions, run: Record<string, unknown>): string {
  // NaN is no JSON: it is written as null
  return JSON.stringify({ kadmium: jsonImpl(kadmium), js: jsonImpl(js), run: { ...run, options } }, (_, v) => typeof v === 'number' && !Number.isFinite(v) ? null : v, 2) + '\n'
}
