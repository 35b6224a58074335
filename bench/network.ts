/**
 * The N-node benchmarks: lookups, values and providers in a network of N real libp2p nodes in
 * one process over the in-memory transport, built once with kadmium and once with
 * `@libp2p/kad-dht` from the same keys and the same topology.
 *
 * Each implementation runs in a child process of its own (this file with `--child`), so that
 * their memory is measured apart and neither warms the other's caches. The parent prints the
 * tables side by side with ratios kadmium / js.
 *
 * How a network is built and settled, the same way for both:
 * 1. N nodes are created and started one by one (start-up time and resident memory per node).
 * 2. Each node dials `degree` others drawn at random from a seeded generator; the network waits
 * until no routing table has changed for a second.
 * 3. Every node looks up its own id (getClosestPeers of its peer id), four at a time, as a node
 * joining a network does; then the network waits again until the tables are still. (js also
 * runs its own self-query and table refresh in the background, as it always does.)
 *
 * How each number is measured:
 * - wall time: from the call until the result iterator ended, in the process of all N nodes;
 * then the same lookup is run again at once, when the connections it needs are open, to show
 * how much of the first was connection set-up (the repeat is not counted in the other rows);
 * - requests sent: counted at the asking node: kadmium's stats().outbound delta, js's SEND_QUERY
 * events; distinct peers: the peers those requests went to;
 * - DHT streams received: inbound streams of the DHT protocol at every node of the network during
 * the operation, counted the same way for both by wrapping each node's protocol handler; ping
 * streams (js pings a peer before it enters its table) are counted apart;
 * - values and providers: put, get, provide and the first provider found, each from a random node,
 * its streams counted until 300 ms after it returned, so that messages sent without an answer
 * (ADD_PROVIDER) and get's corrections are counted with the operation that sent them;
 * - batch: one random node provides `batch` CIDs one `provide` after another, then (kadmium)
 * `batch` other CIDs with one `provideMany`; the network's DHT streams during each, and whether
 * a random other node finds the provider of five of them;
 * - accuracy: the share of the true 20 closest (by brute force over every node's kad id,
 * leaving out the asker) among the peers returned.
 */
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { printReport, runReportChild } from './lib/child.ts'
import { isMain } from './lib/main.ts'
import { intList, positiveInt } from './lib/stats.ts'
import { JOIN_WINDOW, child } from './network/child.ts'
import { NETWORK_DEFAULTS, emptyReport } from './network/report.ts'
import { batchTable, joinTable, lookupTable, pairTable, setupTable } from './network/tables.ts'
import type { Impl } from './lib/nodes.ts'
import type { ChildReport, NetworkBenchOptions, Phase } from './network/report.ts'

export { NETWORK_DEFAULTS } from './network/report.ts'
export type { ChildReport, NetworkBenchOptions, Phase } from './network/report.ts'

/** Runs one child process and resolves to its report. */
async function spawnChild (impl: Impl, n: number, options: NetworkBenchOptions): Promise<ChildReport> {
  try {
    return await runChild(impl, n, options)
  } catch (err: any) {
    process.stderr.write(`  ${err.message}: its columns are left empty\n`)
    return emptyReport(impl, n)
  }
}

async function runChild (impl: Impl, n: number, options: NetworkBenchOptions): Promise<ChildReport> {
  const args = [
    fileURLToPath(import.meta.url), '--child', '--impl', impl, '--nodes', String(n),
    '--lookups', String(options.lookups), '--ops', String(options.ops), '--batch', String(options.batch), '--degree', String(options.degree),
    '--seed', String(options.seed), '--phases', options.phases.join(','), '--phase-minutes', String(options.phaseMinutes),
    '--joins', String(options.joins), ...(options.defaults ? ['--defaults'] : [])
  ]
  return runReportChild(args, options.timeoutMinutes * 60_000, `${impl} with ${n} nodes`)
}

/** Builds each network with each implementation, runs the phases and prints the tables. */
export async function runNetworkBench (partial: Partial<NetworkBenchOptions> = {}): Promise<Array<{ kadmium: ChildReport, js: ChildReport }>> {
  const options = { ...NETWORK_DEFAULTS, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const results: Array<{ kadmium: ChildReport, js: ChildReport }> = []
  for (const n of options.nodes) {
    const stack = options.defaults ? 'libp2p\'s connection-manager defaults, connection monitor on' : 'connection limits lifted, connection monitor off'
    out(`\n## ${n} real libp2p nodes in one process (memory transport; ${stack}; each node dials ${options.degree} random others; seed ${options.seed})\n`)
    const started = performance.now()
    const kadmium = options.impls.includes('kadmium') ? await spawnChild('kadmium', n, options) : emptyReport('kadmium', n)
    const js = options.impls.includes('js') ? await spawnChild('js', n, options) : emptyReport('js', n)
    results.push({ kadmium, js })
    out(setupTable(kadmium, js))
    if (options.phases.includes('lookup')) {
      out(lookupTable(kadmium, js))
    }
    if (options.phases.includes('values')) {
      out(pairTable(`Values, ${n} nodes: ${options.ops} × put from a random node, then get from another (streams counted at every node)`, 'put', 'get', kadmium.values, js.values))
    }
    if (options.phases.includes('providers')) {
      out(pairTable(`Providers, ${n} nodes: ${options.ops} × provide from a random node, then find the first provider from another`, 'provide', 'findProviders', kadmium.providers, js.providers))
    }
    if (options.phases.includes('batch')) {
      out(batchTable(kadmium, js))
    }
    if (options.phases.includes('join')) {
      out(joinTable(kadmium, js, JOIN_WINDOW))
    }
    out(`\n(${n} nodes: both networks built and measured in ${((performance.now() - started) / 1_000).toFixed(0)} s)\n`)
  }
  return results
}

/** Parses the command line shared by the N-node benchmarks. */
export function networkArgs (args: string[], phases: Phase[]): Partial<NetworkBenchOptions> & { child?: Impl } {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string' },
      lookups: { type: 'string' },
      ops: { type: 'string' },
      batch: { type: 'string' },
      joins: { type: 'string' },
      defaults: { type: 'boolean' },
      degree: { type: 'string' },
      seed: { type: 'string' },
      phases: { type: 'string' },
      'timeout-minutes': { type: 'string' },
      'phase-minutes': { type: 'string' },
      impls: { type: 'string' },
      child: { type: 'boolean' },
      impl: { type: 'string' }
    },
    strict: true
  })
  const out: Partial<NetworkBenchOptions> & { child?: Impl } = { phases }
  if (values.nodes != null) { out.nodes = intList('nodes', values.nodes) }
  if (values.lookups != null) { out.lookups = positiveInt('lookups', values.lookups) }
  if (values.ops != null) { out.ops = positiveInt('ops', values.ops) }
  if (values.batch != null) { out.batch = positiveInt('batch', values.batch) }
  if (values.joins != null) { out.joins = positiveInt('joins', values.joins) }
  if (values.defaults === true) { out.defaults = true }
  if (values.degree != null) { out.degree = positiveInt('degree', values.degree) }
  if (values.seed != null) { out.seed = positiveInt('seed', values.seed) }
  if (values.impls != null) {
    out.impls = values.impls.split(',').map(i => {
      if (i !== 'kadmium' && i !== 'js') {
        throw new Error(`--impls takes kadmium and js, got ${i}`)
      }
      return i
    })
  }
  if (values['phase-minutes'] != null) { out.phaseMinutes = positiveInt('phase-minutes', values['phase-minutes']) }
  if (values['timeout-minutes'] != null) { out.timeoutMinutes = positiveInt('timeout-minutes', values['timeout-minutes']) }
  if (values.phases != null) {
    out.phases = values.phases.split(',').map(p => {
      if (p !== 'lookup' && p !== 'values' && p !== 'providers' && p !== 'batch' && p !== 'join') {
        throw new Error(`--phases takes lookup, values, providers, batch and join, got ${p}`)
      }
      return p
    })
  }
  if (values.child === true) {
    if (values.impl !== 'kadmium' && values.impl !== 'js') {
      throw new Error('--child needs --impl kadmium or js')
    }
    out.child = values.impl
  }
  return out
}

if (isMain(import.meta.url)) {
  const { child: impl, ...options } = networkArgs(process.argv.slice(2), NETWORK_DEFAULTS.phases)
  if (impl == null) {
    await runNetworkBench(options)
  } else {
    const report = await child(impl, (options.nodes ?? [50])[0], { ...NETWORK_DEFAULTS, ...options })
    printReport(report)
    for (const [i, sample] of report.lookups.entries()) {
      if (sample.errors.length > 0) {
        process.stderr.write(`  [${impl}] lookup ${i}: ${Math.round(sample.ms)} ms, failed requests: ${sample.errors.join('; ')}\n`)
      }
    }
    // stopped nodes may leave timers behind: end the child once the report is out
    process.exit(0)
  }
}
