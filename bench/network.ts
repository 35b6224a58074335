/**
 * The N-node benchmarks: lookups, values and providers in a network of N real libp2p nodes in
 * one process over the in-memory transport (no latency: what each implementation computes and
 * sends), built once with kadmium and once with `@libp2p/kad-dht` from the same keys and the same
 * topology. They run on the one benchmark harness (bench/harness), the one the emulated WAN runs
 * on, with the memory transport's defaults (`MEMORY_DEFAULTS`): real time, connection limits
 * lifted and libp2p's connection monitor off, operations from nodes as they are (no cold start).
 *
 * Each implementation runs in a child process of its own (bench/harness/child.ts), so that their
 * memory is measured apart and neither warms the other's caches. The parent prints the tables
 * side by side with ratios kadmium / js.
 *
 * How a network is built and settled, the same way for both:
 * 1. N nodes are created and started one by one (start-up time and resident memory per node).
 * 2. Each node dials `degree` others drawn at random from a seeded generator; the network waits
 * until no routing table has changed for 2 s.
 * 3. Every node looks up its own id (getClosestPeers of its peer id), four at a time, as a node
 * joining a network does; then the network waits again until the tables are still. (js also
 * runs its own self-query and table refresh in the background, as it always does.)
 *
 * How each number is measured (bench/harness/ops.ts):
 * - wall time: from the call until the result iterator ended, in the process of all N nodes;
 * then the same lookup is run again at once, when the connections it needs are open, to show
 * how much of the first was connection set-up (the repeat is not counted in the other rows);
 * - requests sent: counted at the asking node: kadmium's stats().outbound delta, js's DHT streams
 * opened at the other nodes (one per request); distinct peers: the peers it asked;
 * - DHT streams received: inbound streams of the DHT protocol at every node of the network from
 * the call until 300 ms after it returned (so that messages sent without an answer, ADD_PROVIDER,
 * and get's corrections are counted with the operation that sent them), counted the same way for
 * both by wrapping each node's protocol handler; ping streams (js pings a peer before it enters
 * its table) are counted apart;
 * - values and providers: put and provide from a random node; get and findProviders (the first
 * provider) from a random node the record was not stored on or sent to;
 * - batch: one random node provides `batch` CIDs one `provide` after another, then (kadmium)
 * `batch` other CIDs with one `provideMany`; the network's DHT streams during each, and whether
 * random other nodes find the provider of five of them;
 * - join: nodes join the settled network one after another through a random member; random other
 * members look each up (findPeer, from no cache) until one finds it; its requests, streams and
 * connections over its first 20 s;
 * - accuracy: the share of the true 20 closest (by brute force over every node's kad id,
 * leaving out the asker) among the peers returned.
 */
import { MEMORY_DEFAULTS } from './harness/report.ts'
import { benchArgs, machineLoad, runBoth } from './harness/run.ts'
import { isMain } from './lib/main.ts'
import { batchTable, joinTable, lookupTable, pairTable, setupTable } from './network/tables.ts'
import type { BenchOptions, BenchReport, Phase } from './harness/report.ts'

/** The network sizes `npm run bench` builds. */
export const NETWORK_SIZES = [50, 150]

/** Options of the in-process benchmarks: the harness's, with the sizes to build and where the tables go. */
export type NetworkBenchOptions = Partial<BenchOptions> & { sizes?: number[], out?(text: string): void }

/** Builds each network with each implementation, runs the phases and prints the tables. */
export async function runNetworkBench (partial: NetworkBenchOptions = {}): Promise<Array<{ kadmium: BenchReport, js: BenchReport }>> {
  const { sizes = NETWORK_SIZES, out = (text: string) => { process.stdout.write(text) }, ...given } = partial
  const results: Array<{ kadmium: BenchReport, js: BenchReport }> = []
  for (const nodes of sizes) {
    const options: BenchOptions = { ...MEMORY_DEFAULTS, ...given, nodes, transport: 'memory' }
    const stack = options.defaults ? 'libp2p\'s connection-manager defaults, connection monitor on' : 'connection limits lifted, connection monitor off'
    out(`\n## ${nodes} real libp2p nodes in one process (memory transport; ${stack}; each node dials ${options.degree} random others; seed ${options.seed}; ${options.clock} time)\n`)
    const started = performance.now()
    const { kadmium, js } = await runBoth(options, () => {})
    results.push({ kadmium, js })
    const has = (phase: Phase): boolean => options.phases.includes(phase)
    out(setupTable(kadmium, js))
    if (has('lookup')) {
      out(lookupTable(kadmium, js))
    }
    if (has('values')) {
      out(pairTable(`Values, ${nodes} nodes: ${options.ops} × put from a random node, then get from another (streams counted at every node)`, 'values', ['put', 'get'], kadmium, js))
    }
    if (has('providers')) {
      out(pairTable(`Providers, ${nodes} nodes: ${options.ops} × provide from a random node, then find the first provider from another`, 'providers', ['provide', 'findProviders'], kadmium, js))
    }
    if (has('batch')) {
      out(batchTable(kadmium, js))
    }
    if (has('join')) {
      out(joinTable(kadmium, js))
    }
    out(`\n(${nodes} nodes: both networks built and measured in ${((performance.now() - started) / 1_000).toFixed(0)} s; ${machineLoad()})\n`)
  }
  return results
}

/** The command line of the in-process benchmarks (bench/harness/run.ts), with `phases` unless given. */
export function networkArgs (args: string[], phases: Phase[]): NetworkBenchOptions {
  return { phases, ...benchArgs(args) }
}

if (isMain(import.meta.url)) {
  await runNetworkBench(networkArgs(process.argv.slice(2), MEMORY_DEFAULTS.phases))
  process.exit(0)
}
