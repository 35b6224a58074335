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
 * The network conditions (bench/harness/phases.ts), each its own table, in this order on one
 * network: healthy, silent, nat, unreachable, churn. The harness (bench/harness) is the one the
 * in-process benchmarks run on too, over the plain memory transport.
 *
 * Every operation starts from a node with no open connection; getClosestPeers is then repeated
 * warm. Each has its floor (bench/wan/floor.ts): the time it could not have beaten given the
 * answers it got, from who referred whom (the implementations' events) and the latencies.
 *
 * Options (bench/harness/run.ts): `--nodes 200`, `--seed 1`, `--degree 4`, `--lookups 20`, `--ops 8`, `--batch 30`,
 * `--joins 5`, `--silent 0.2`, `--unreachable 0.2`, `--nat 0.25`, `--churn 20` (per minute),
 * `--median-rtt 80`, `--p99-rtt 400`, `--phases healthy,silent,nat,unreachable,churn` (or parts: lookup, findPeer, values, providers, batch,
 * join, accelerated), `--accelerated 3` (clients of each kind in the accelerated phase), `--bulk 1000`
 * (CIDs provided each way there),
 * `--clock virtual|real`, `--age-minutes 10` (the built network ages before it is measured),
 * `--idle-minutes 1`, `--op-minutes 10` (minutes of the run's clock), `--ping-seconds 10` (the
 * connection monitor's interval, 0: off: the docs' run; on, it costs CPU and makes another
 * draw of the seed), `--hours 0` (the network
 * then lives that many hours, sampled hourly), `--soak` (the long run is the soak of
 * bench/harness/soak.ts: records put at hour 0, servers replaced and restarted, every record
 * looked for every hour), `--timeout-minutes 240` (real), `--impls
 * kadmium,js`, `--parallel` (both children at once), `--charts DIR`, `--json FILE`
 * (bench/wan/json.ts). Several sizes (`--nodes 30,100`) are run in turn.
 */
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { WAN_DEFAULTS } from '../harness/report.ts'
import { benchArgs, machineLoad, runBoth } from '../harness/run.ts'
import { isMain } from '../lib/main.ts'
import { jsonReport } from './json.ts'
import { soakCharts, soakTable, soakTargets } from './soak-tables.ts'
import { acceleratedTables, buildTable, cpuTable, hoursTable, joinTable, latencyTable, lookupCdf, phaseTable, targetsTable } from './tables.ts'
import type { BenchOptions, BenchReport, Phase } from '../harness/report.ts'

export { WAN_DEFAULTS } from '../harness/report.ts'

/** Runs both implementations over the emulated WAN and prints every table; writes the charts and the JSON report when asked. */
export async function runWanBench (partial: Partial<BenchOptions> = {}): Promise<{ kadmium: BenchReport, js: BenchReport }> {
  const options: BenchOptions = { ...WAN_DEFAULTS, ...partial, transport: 'wan' }
  const out = (text: string): void => { process.stdout.write(text) }
  out(`\n## The emulated WAN: ${options.nodes} servers of each implementation (seed ${options.seed}; each dials ${options.degree} random others; ${options.clock} time)\n`)
  out(`\nbefore: ${machineLoad()}\n`)
  const startedAt = new Date().toISOString()
  const loadBefore = loadavg()
  const started = performance.now()
  const { kadmium, js } = await runBoth(options, out)
  out(latencyTable(kadmium, js, options))
  out(buildTable(kadmium, js))
  for (const phase of options.phases) {
    const a = kadmium.phases.find(p => p.phase === phase)
    const b = js.phases.find(p => p.phase === phase)
    out(phaseTable(phase, a, b, options.nodes))
    if ((a?.joins.length ?? 0) + (b?.joins.length ?? 0) > 0) {
      out(joinTable(a?.joins ?? [], b?.joins ?? []))
    }
    if (phase === 'accelerated') {
      out(acceleratedTables(kadmium, js))
    }
  }
  out(cpuTable(kadmium, js))
  if (options.hours > 0) {
    out(options.soak ? soakTable(kadmium, js) + soakTargets(kadmium, js) : hoursTable(kadmium, js))
  }
  if (options.phases.includes('silent')) {
    out(targetsTable(kadmium, js))
  }
  if (options.charts != null) {
    out(`\ncharts written: ${writeCharts(options.charts, options, kadmium, js).join(', ')}\n`)
  }
  const minutes = (performance.now() - started) / 60_000
  if (options.json != null) {
    writeFileSync(options.json, jsonReport(kadmium, js, options, { startedAt, wallMinutes: minutes, loadBefore, loadAfter: loadavg(), node: process.version }))
    out(`\nJSON report written: ${options.json}\n`)
  }
  out(`\n(${options.nodes} servers: both networks built and measured in ${minutes.toFixed(1)} min of wall time; ${machineLoad()})\n`)
  return { kadmium, js }
}

/** Writes the run's charts into `dir`: the lookup CDFs of the healthy and silent phases, the soak's; returns the files written. */
function writeCharts (dir: string, options: BenchOptions, kadmium: BenchReport, js: BenchReport): string[] {
  const files: string[] = []
  for (const phase of ['healthy', 'silent'] as Phase[]) {
    if (options.phases.includes(phase)) {
      const file = join(dir, `wan-lookup-${phase}-cdf.svg`)
      writeFileSync(file, lookupCdf(kadmium, js, phase))
      files.push(file)
    }
  }
  if (options.hours > 0 && options.soak) {
    for (const [name, svg] of Object.entries(soakCharts(kadmium, js))) {
      files.push(join(dir, `soak-${name}.svg`))
      writeFileSync(files[files.length - 1], svg)
    }
  }
  return files
}

if (isMain(import.meta.url)) {
  const { sizes, json, ...options } = benchArgs(process.argv.slice(2))
  const all = sizes ?? [WAN_DEFAULTS.nodes]
  for (const nodes of all) {
    // one JSON report per size: the size in its name when there are several
    await runWanBench({ ...options, nodes, json: json == null || all.length === 1 ? json : json.replace(/(\.json)?$/, `-${nodes}.json`) })
  }
  process.exit(0)
}
