/**
 * The emulated-WAN benchmark: N real libp2p nodes of each implementation in one process, built
 * from the same seed (the same peer ids, links, keys and latencies), over the memory transport
 * with a latency per pair of nodes (bench/wan/transport.ts, bench/wan/latency.ts) and libp2p's
 * defaults otherwise (connection manager, connection monitor on). Each implementation runs in a
 * child process of its own; the parent prints the tables side by side with ratios kadmium / js.
 *
 * ```
 * npm run build && node --expose-gc dist/bench/wan/index.js --nodes 200 --charts docs --json docs/wan.json
 * ```
 *
 * By default the children run in virtual time (`--clock virtual`, bench/lib/virtual-time.ts):
 * time moves only when the process has nothing left to run, so every time measured is the
 * emulated network's alone, whatever the machine's load, and the same seed gives the same
 * numbers. `--clock real` runs on the machine's clock (a late timer is then a longer round trip).
 *
 * The network conditions, each its own table, in this order on one network:
 * - healthy: every server answers (then kadmium's provideMany, and nodes joining);
 * - silent: a share of the servers accept DHT streams and never answer (restored afterwards);
 * - nat: clients behind NATs (client mode; dials to them hang) ask, and are looked for;
 * - unreachable: a share of the servers are gone (dials to them hang); they stay gone;
 * - churn: servers leave and new ones join at a rate.
 *
 * Every operation starts from a node with no open connection; getClosestPeers is then repeated
 * warm. Each has its floor (bench/wan/floor.ts): the time it could not have beaten given the
 * answers it got, from who referred whom (the implementations' events) and the latencies.
 *
 * Options: `--nodes 200`, `--seed 1`, `--degree 4`, `--lookups 20`, `--ops 8`, `--batch 30`,
 * `--joins 5`, `--silent 0.2`, `--unreachable 0.2`, `--nat 0.25`, `--churn 20` (per minute),
 * `--median-rtt 80`, `--p99-rtt 400`, `--phases healthy,silent,nat,unreachable,churn`,
 * `--clock virtual|real`, `--age-minutes 10` (the built network ages before it is measured),
 * `--idle-minutes 1`, `--op-minutes 10` (minutes of the run's clock), `--timeout-minutes 240`
 * (real), `--impls kadmium,js`, `--parallel` (both children at once), `--charts DIR`,
 * `--json FILE` (bench/wan/json.ts).
 */
import { writeFileSync } from 'node:fs'
import { loadavg, uptime } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { printReport, runReportChild } from '../lib/child.ts'
import { isMain } from '../lib/main.ts'
import { numberIn, positiveInt } from '../lib/stats.ts'
import { SEED_VARIABLE } from '../lib/virtual-time.ts'
import { wanChild } from './child.ts'
import { jsonReport } from './json.ts'
import { WAN_DEFAULTS, WAN_PHASES } from './report.ts'
import { buildTable, joinTable, latencyTable, lookupCdf, phaseTable, targetsTable } from './tables.ts'
import type { WanOptions, WanPhase, WanReport } from './report.ts'
import type { Impl } from '../lib/nodes.ts'

export { WAN_DEFAULTS } from './report.ts'
export type { WanOptions, WanReport } from './report.ts'

/** A report with nothing in it, for an implementation left out or whose child failed. */
function emptyReport (impl: Impl, options: WanOptions): WanReport {
  return {
    impl,
    nodes: options.nodes,
    rtt: [NaN, NaN, NaN, NaN],
    calibration: { rtt: [], dial: [], stream: [], request: [] },
    buildMs: NaN,
    buildRealMs: NaN,
    buildCpuMsPerNode: { dial: NaN, selfLookups: NaN },
    selfLookups: NaN,
    tableMean: NaN,
    rssPerNode: NaN,
    idle: { pingsPerSecond: NaN, dhtPerSecond: NaN, cpuMsPerNodeMinute: NaN, lagMs: [NaN, NaN] },
    phases: [],
    joins: [],
    clock: options.clock,
    realMs: NaN
  }
}

async function runChild (impl: Impl, options: WanOptions): Promise<WanReport> {
  if (!options.impls.includes(impl)) {
    return emptyReport(impl, options)
  }
  // virtual time is installed before anything else loads (node --import)
  const start = options.clock === 'virtual'
    ? { nodeArgs: ['--import', fileURLToPath(new URL(`../lib/virtual-install.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url))], env: { [SEED_VARIABLE]: String(options.seed) } }
    : {}
  try {
    return await runReportChild([fileURLToPath(import.meta.url), '--child', impl, '--options', JSON.stringify(options)], options.timeoutMinutes * 60_000, `wan ${impl}`, start)
  } catch (err: any) {
    process.stderr.write(`  ${err.message}: its columns are left empty\n`)
    return emptyReport(impl, options)
  }
}

const load = (): string => loadavg().map(v => v.toFixed(2)).join(', ')

/** What `uptime` says: the machine's load while a wall time was measured. */
export function machineLoad (): string {
  return `up ${(uptime() / 3_600).toFixed(1)} h, load average ${load()}`
}

/** Runs both implementations and prints every table; writes the charts when asked. */
export async function runWanBench (partial: Partial<WanOptions> = {}): Promise<{ kadmium: WanReport, js: WanReport }> {
  const options = { ...WAN_DEFAULTS, ...partial }
  const out = (text: string): void => { process.stdout.write(text) }
  out(`\n## The emulated WAN: ${options.nodes} servers of each implementation (seed ${options.seed}; each dials ${options.degree} random others; ${options.clock} time)\n`)
  out(`\nload average before: ${load()}\n`)
  const startedAt = new Date().toISOString()
  const loadBefore = loadavg()
  const started = performance.now()
  let kadmium: WanReport
  let js: WanReport
  if (options.parallel) {
    [kadmium, js] = await Promise.all([runChild('kadmium', options), runChild('js', options)])
    out(`\nboth at once; load average after both: ${load()}\n`)
  } else {
    kadmium = await runChild('kadmium', options)
    out(`\nload average after kadmium: ${load()}\n`)
    js = await runChild('js', options)
    out(`\nload average after js: ${load()}\n`)
  }
  out(latencyTable(kadmium, js, options))
  out(buildTable(kadmium, js))
  for (const phase of options.phases) {
    out(phaseTable(phase, kadmium.phases.find(p => p.phase === phase), js.phases.find(p => p.phase === phase), options.nodes))
    if (phase === 'healthy') {
      out(joinTable(kadmium.joins, js.joins))
    }
  }
  out(targetsTable(kadmium, js))
  if (options.charts != null) {
    const files: string[] = []
    for (const phase of ['healthy', 'silent'] as WanPhase[]) {
      if (options.phases.includes(phase)) {
        const file = join(options.charts, `wan-lookup-${phase}-cdf.svg`)
        writeFileSync(file, lookupCdf(kadmium, js, phase))
        files.push(file)
      }
    }
    out(`\ncharts written: ${files.join(', ')}\n`)
  }
  const minutes = (performance.now() - started) / 60_000
  if (options.json != null) {
    writeFileSync(options.json, jsonReport(kadmium, js, options, { startedAt, wallMinutes: minutes, loadBefore, loadAfter: loadavg(), node: process.version }))
    out(`\nJSON report written: ${options.json}\n`)
  }
  out(`\n(${options.nodes} servers: both networks built and measured in ${minutes.toFixed(1)} min of wall time; ${machineLoad()})\n`)
  return { kadmium, js }
}

/** Parses the command line. */
export function wanArgs (args: string[]): Partial<WanOptions> & { child?: Impl } {
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
      'op-minutes': { type: 'string' },
      'age-minutes': { type: 'string' },
      'idle-minutes': { type: 'string' },
      clock: { type: 'string' },
      json: { type: 'string' },
      'timeout-minutes': { type: 'string' },
      impls: { type: 'string' },
      charts: { type: 'string' },
      parallel: { type: 'boolean' },
      child: { type: 'string' },
      options: { type: 'string' }
    },
    strict: true
  })
  if (values.child != null) {
    if (values.child !== 'kadmium' && values.child !== 'js') {
      throw new Error(`--child takes kadmium or js, got ${values.child}`)
    }
    return { ...JSON.parse(values.options ?? '{}'), child: values.child }
  }
  const out: Partial<WanOptions> = {}
  const ints = { nodes: 'nodes', seed: 'seed', degree: 'degree', lookups: 'lookups', ops: 'ops', batch: 'batch', joins: 'joins', churn: 'churnPerMinute', 'timeout-minutes': 'timeoutMinutes' } as const
  for (const [flag, key] of Object.entries(ints)) {
    const value = values[flag as keyof typeof ints]
    if (value != null) {
      out[key] = positiveInt(flag, value)
    }
  }
  for (const key of ['silent', 'unreachable', 'nat'] as const) {
    if (values[key] != null) {
      out[key] = numberIn(key, values[key], 0, 0.9)
    }
  }
  if (values['op-minutes'] != null) {
    out.opMinutes = numberIn('op-minutes', values['op-minutes'], 0.1, 600)
  }
  if (values['age-minutes'] != null) {
    out.ageMinutes = numberIn('age-minutes', values['age-minutes'], 0, 600)
  }
  if (values['idle-minutes'] != null) {
    out.idleMinutes = numberIn('idle-minutes', values['idle-minutes'], 0.01, 600)
  }
  if (values.clock != null) {
    if (values.clock !== 'virtual' && values.clock !== 'real') {
      throw new Error(`--clock takes virtual or real, got ${values.clock}`)
    }
    out.clock = values.clock
  }
  if (values.json != null) {
    out.json = values.json
  }
  if (values['median-rtt'] != null || values['p99-rtt'] != null) {
    const medianRtt = values['median-rtt'] == null ? WAN_DEFAULTS.latency.medianRtt : numberIn('median-rtt', values['median-rtt'], 1, 10_000)
    const p99Rtt = values['p99-rtt'] == null ? WAN_DEFAULTS.latency.p99Rtt : numberIn('p99-rtt', values['p99-rtt'], medianRtt, 100_000)
    out.latency = { medianRtt, p99Rtt }
  }
  if (values.phases != null) {
    out.phases = values.phases.split(',').map(p => {
      if (!(WAN_PHASES as readonly string[]).includes(p)) {
        throw new Error(`--phases takes ${WAN_PHASES.join(', ')}, got ${p}`)
      }
      return p as WanPhase
    })
  }
  if (values.impls != null) {
    out.impls = values.impls.split(',').map(i => {
      if (i !== 'kadmium' && i !== 'js') {
        throw new Error(`--impls takes kadmium and js, got ${i}`)
      }
      return i
    })
  }
  if (values.charts != null) {
    out.charts = values.charts
  }
  if (values.parallel === true) {
    out.parallel = true
  }
  return out
}

if (isMain(import.meta.url)) {
  const { child, ...options } = wanArgs(process.argv.slice(2))
  if (child == null) {
    await runWanBench(options)
    process.exit(0)
  } else {
    printReport(await wanChild(child, { ...WAN_DEFAULTS, ...options }, printReport))
    // stopped nodes may leave timers behind: end the child once the report is out
    process.exit(0)
  }
}
