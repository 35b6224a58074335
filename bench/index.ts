/**
 * `npm run bench`: every benchmark at a size that ends in a few minutes on 2 cores, each table
 * printed as it is ready. Each benchmark also runs alone with options for bigger sizes:
 *
 * ```
 * node --expose-gc dist/bench/network.js --nodes 300          # lookups, values, providers
 * node --expose-gc dist/bench/lookup.js --nodes 300 --lookups 50
 * node --expose-gc dist/bench/values-providers.js --nodes 150 --ops 20
 * node dist/bench/serve.js --seconds 5
 * node dist/bench/sim/index.js --nodes 20000 --charts docs
 * node dist/bench/sim/batch.js --nodes 10000 --keys 100,1000,10000
 * node dist/bench/sim/optimistic.js --nodes 200,2000,10000 --provides 200
 * node dist/bench/sim/reprovide.js --nodes 10000 --keys 100000
 * node --expose-gc dist/bench/provider-store.js --records 1000000
 * node --expose-gc dist/bench/wan/index.js --nodes 200 --charts docs   # the emulated WAN in virtual time (npm run bench:wan; not run here)
 * node dist/bench/routing-v1.js --requests 10000 --clients 200   # the Delegated Routing V1 HTTP API under load (not run here: ~10 min)
 * node dist/bench/bundle.js
 * ```
 *
 * Options here: `--only sim,network,serve,store,bundle`, `--nodes 50,150`, `--lookups 20`,
 * `--ops 10`, `--sim-nodes 10000`, `--sim-lookups 100`, `--serve-seconds 2`, `--records 100000`,
 * `--charts docs`.
 */
import { parseArgs } from 'node:util'
import { runBundle } from './bundle.ts'
import { MEMORY_DEFAULTS } from './harness/report.ts'
import { intList, positiveInt } from './lib/stats.ts'
import { NETWORK_SIZES, runNetworkBench } from './network.ts'
import { runProviderStore } from './provider-store.ts'
import { runServe } from './serve.ts'
import { runBatchSimulation } from './sim/batch.ts'
import { runSimulation } from './sim/index.ts'
import { runOptimisticSimulation } from './sim/optimistic.ts'
import { runReprovideSimulation } from './sim/reprovide.ts'

const PARTS = ['sim', 'network', 'serve', 'store', 'bundle'] as const
type Part = typeof PARTS[number]

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: PARTS.join(',') },
    nodes: { type: 'string', default: NETWORK_SIZES.join(',') },
    lookups: { type: 'string', default: String(MEMORY_DEFAULTS.lookups) },
    ops: { type: 'string', default: String(MEMORY_DEFAULTS.ops) },
    'sim-nodes': { type: 'string', default: '10000' },
    'sim-lookups': { type: 'string', default: '100' },
    'serve-seconds': { type: 'string', default: '2' },
    records: { type: 'string', default: '100000' },
    charts: { type: 'string', default: 'docs' }
  },
  strict: true
})
const only = new Set(values.only.split(',').map(p => {
  if (!(PARTS as readonly string[]).includes(p)) {
    throw new Error(`--only takes ${PARTS.join(', ')}, got ${p}`)
  }
  return p as Part
}))

const started = performance.now()
const cpus = (await import('node:os')).cpus()
process.stdout.write(`# kadmium benchmarks\n\n${new Date().toISOString()}, Node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}; timings on a shared machine are noisy\n`)
let failed = false
if (only.has('sim')) {
  const result = await runSimulation({ nodes: positiveInt('sim-nodes', values['sim-nodes']), lookups: positiveInt('sim-lookups', values['sim-lookups']), charts: values.charts })
  failed ||= result.check != null && result.check.exact !== result.check.lookups
  const batch = await runBatchSimulation({ nodes: positiveInt('sim-nodes', values['sim-nodes']) })
  failed ||= batch.some(row => row.exact !== 1)
  await runOptimisticSimulation()
  await runReprovideSimulation({ nodes: positiveInt('sim-nodes', values['sim-nodes']) })
}
if (only.has('network')) {
  await runNetworkBench({ sizes: intList('nodes', values.nodes), lookups: positiveInt('lookups', values.lookups), ops: positiveInt('ops', values.ops) })
}
if (only.has('serve')) {
  await runServe({ seconds: positiveInt('serve-seconds', values['serve-seconds']) })
}
if (only.has('store')) {
  await runProviderStore({ records: positiveInt('records', values.records), lookups: Math.min(200_000, positiveInt('records', values.records)) })
}
if (only.has('bundle')) {
  await runBundle()
}
process.stdout.write(`\nall benchmarks: ${((performance.now() - started) / 60_000).toFixed(1)} min\n`)
process.exit(failed ? 1 : 0)
