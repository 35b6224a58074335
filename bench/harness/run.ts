/**
 * The parent side of the harness: runs one child per implementation (bench/harness/child.ts), in
 * virtual time when asked (the clock installed with `node --import` before anything loads), one
 * after the other or both at once, and parses the command line shared by the benchmarks.
 */
import { loadavg, uptime } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runReportChild } from '../lib/child.ts'
import { intList, numberIn, positiveInt } from '../lib/stats.ts'
import { SEED_VARIABLE } from '../lib/virtual-time.ts'
import { AMINO_RTT } from '../wan/latency.ts'
import { PHASES } from './report.ts'
import type { BenchOptions, BenchReport } from './report.ts'
import type { ChildStart } from '../lib/child.ts'
import type { Impl } from '../lib/nodes.ts'

/** A file of the bench beside this one, from source (.ts) or compiled (.js) as this one is. */
function nearby (path: string): string {
  return fileURLToPath(new URL(`${path}.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url))
}

/** A report with nothing in it, for an implementation left out or whose child failed. */
export function emptyReport (impl: Impl, options: BenchOptions): BenchReport {
  return {
    impl,
    transport: options.transport,
    clock: options.clock,
    nodes: options.nodes,
    rtt: [NaN, NaN, NaN, NaN],
    calibration: { rtt: [], dial: [], stream: [], request: [] },
    build: {
      startupMs: [],
      dialMs: NaN,
      dialFailures: NaN,
      connectMs: NaN,
      connectStreams: NaN,
      connectionsPerNode: NaN,
      selfLookupMs: NaN,
      selfLookups: NaN,
      settleMs: NaN,
      selfLookupStreams: NaN,
      selfLookupPings: NaN,
      ms: NaN,
      realMs: NaN,
      cpuMsPerNode: { dial: NaN, selfLookups: NaN },
      tableMean: NaN,
      tableMin: NaN,
      rssPerNodeStarted: NaN,
      heapPerNodeStarted: NaN,
      rssPerNode: NaN
    },
    idle: { pingsPerSecond: NaN, dhtPerSecond: NaN, cpuMsPerNodeMinute: NaN, cpuShare: NaN, lagMs: [NaN, NaN] },
    phases: [],
    hours: [],
    rssPerNodeEnd: NaN,
    heapPerNodeEnd: NaN,
    realMs: NaN,
    cpuMs: NaN
  }
}

/** How a child of `options` is started: with the virtual clock installed first when asked. */
export function childStart (options: BenchOptions): ChildStart {
  return options.clock === 'virtual'
    ? { nodeArgs: ['--import', nearby('../lib/virtual-install')], env: { [SEED_VARIABLE]: String(options.seed) } }
    : {}
}

/** Runs one implementation's child; an empty report when it is left out or gave none. */
export async function runChild (impl: Impl, options: BenchOptions): Promise<BenchReport> {
  if (!options.impls.includes(impl)) {
    return emptyReport(impl, options)
  }
  try {
    return await runReportChild([nearby('./child'), '--impl', impl, '--options', JSON.stringify(options)], options.timeoutMinutes * 60_000, `${options.transport} ${impl} with ${options.nodes} nodes`, childStart(options))
  } catch (err: any) {
    process.stderr.write(`  ${err.message}: its columns are left empty\n`)
    return emptyReport(impl, options)
  }
}

/** What `uptime` says: the machine's load while a wall time was measured. */
export function machineLoad (): string {
  return `up ${(uptime() / 3_600).toFixed(1)} h, load average ${loadavg().map(v => v.toFixed(2)).join(', ')}`
}

/** Both implementations' children, one after the other or at once; `out` is told the load after each. */
export async function runBoth (options: BenchOptions, out: (text: string) => void): Promise<{ kadmium: BenchReport, js: BenchReport }> {
  if (options.parallel) {
    const [kadmium, js] = await Promise.all([runChild('kadmium', options), runChild('js', options)])
    out(`\nboth at once; after both: ${machineLoad()}\n`)
    return { kadmium, js }
  }
  const kadmium = await runChild('kadmium', options)
  out(`\nafter kadmium: ${machineLoad()}\n`)
  const js = await runChild('js', options)
  out(`\nafter js: ${machineLoad()}\n`)
  return { kadmium, js }
}

/**
 * Parses the command line shared by the benchmarks: every option of {@link BenchOptions} as
 * `--kebab-case`, `--nodes` as a list of sizes (each built and measured in turn), `--phases ''`
 * for none (a long run alone: `--hours`).
 */
export function benchArgs (args: string[]): Partial<BenchOptions> & { sizes?: number[] } {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string' },
      seed: { type: 'string' },
      degree: { type: 'string' },
      lookups: { type: 'string' },
      ops: { type: 'string' },
      batch: { type: 'string' },
      joins: { type: 'string' },
      silent: { type: 'string' },
      unreachable: { type: 'string' },
      nat: { type: 'string' },
      churn: { type: 'string' },
      'median-rtt': { type: 'string' },
      'p99-rtt': { type: 'string' },
      phases: { type: 'string' },
      clock: { type: 'string' },
      defaults: { type: 'boolean' },
      'age-minutes': { type: 'string' },
      'idle-minutes': { type: 'string' },
      'op-minutes': { type: 'string' },
      'ping-seconds': { type: 'string' },
      hours: { type: 'string' },
      accelerated: { type: 'string' },
      bulk: { type: 'string' },
      'timeout-minutes': { type: 'string' },
      impls: { type: 'string' },
      parallel: { type: 'boolean' },
      soak: { type: 'boolean' },
      charts: { type: 'string' },
      json: { type: 'string' },
      kadmium: { type: 'string' }
    },
    strict: true
  })
  const out: Partial<BenchOptions> & { sizes?: number[] } = {}
  if (values.nodes != null) {
    out.sizes = intList('nodes', values.nodes)
  }
  const ints = { seed: 'seed', degree: 'degree', lookups: 'lookups', ops: 'ops', batch: 'batch', joins: 'joins', churn: 'churnPerMinute', 'timeout-minutes': 'timeoutMinutes', accelerated: 'accelerated' } as const
  for (const [flag, key] of Object.entries(ints)) {
    const value = values[flag as keyof typeof ints]
    if (value != null) {
      out[key] = positiveInt(flag, value)
    }
  }
  const numbers = {
    silent: ['silent', 0, 0.9],
    unreachable: ['unreachable', 0, 0.9],
    nat: ['nat', 0, 0.9],
    'age-minutes': ['ageMinutes', 0, 600],
    'idle-minutes': ['idleMinutes', 0.01, 600],
    'op-minutes': ['opMinutes', 0.1, 600],
    'ping-seconds': ['pingSeconds', 0, 3_600],
    hours: ['hours', 0, 1_000],
    bulk: ['bulk', 0, 1_000_000]
  } as const
  for (const [flag, [key, min, max]] of Object.entries(numbers)) {
    const value = values[flag as keyof typeof numbers]
    if (value != null) {
      out[key] = numberIn(flag, value, min, max)
    }
  }
  if (values['median-rtt'] != null || values['p99-rtt'] != null) {
    const medianRtt = numberIn('median-rtt', values['median-rtt'] ?? String(AMINO_RTT.medianRtt), 1, 10_000)
    out.latency = { medianRtt, p99Rtt: numberIn('p99-rtt', values['p99-rtt'] ?? String(Math.max(medianRtt, AMINO_RTT.p99Rtt)), medianRtt, 100_000) }
  }
  out.phases = values.phases == null ? undefined : oneOf('phases', values.phases, PHASES)
  out.impls = values.impls == null ? undefined : oneOf('impls', values.impls, ['kadmium', 'js'] as const)
  if (values.clock != null) {
    out.clock = oneOf('clock', values.clock, ['virtual', 'real'] as const)[0]
  }
  for (const flag of ['defaults', 'parallel', 'soak'] as const) {
    if (values[flag] === true) {
      out[flag] = true
    }
  }
  out.charts = values.charts
  out.json = values.json
  out.kadmium = values.kadmium == null ? undefined : JSON.parse(values.kadmium)
  // what was not given stays out, so that the caller's defaults apply
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined))
}

/** A comma-separated list of values each among `allowed`. */
function oneOf<T extends string> (name: string, value: string, allowed: readonly T[]): T[] {
  return value.split(',').filter(v => v !== '').map(v => {
    if (!(allowed as readonly string[]).includes(v)) {
      throw new Error(`--${name} takes ${allowed.join(', ')}, got ${v}`)
    }
    return v as T
  })
}
