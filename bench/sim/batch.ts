/**
 * Batch providing at a scale no machine hosts as real nodes: how many lookups and FIND_NODE
 * requests `provideMany` (settleBatch of src/providers/region.ts, as publishMany runs it) spends per key in a
 * simulated network, against one lookup per key as `provide` does, and whether every key's
 * record would reach exactly its true k closest.
 *
 * Each lookup runs on the simulator's network (its requests are counted); the peers it returns
 * are the true k closest by brute force, which is what the simulator's lookups find in a network
 * with no churn (its CHECK: 100 of 100 exact).
 *
 * ```
 * npm run build
 * node dist/bench/sim/batch.js [--nodes 10000] [--keys 100,1000,10000] [--seed 1]
 * ```
 */
import { parseArgs } from 'node:util'
import { ALPHA, K_BUCKET_SIZE } from '../../src/constants.ts'
import { MAX_REGION_LOOKUPS, MIN_REGION_KEYS, PUBLISH_MANY_REGIONS_AT_ONCE } from '../../src/defaults.ts'
import { settleBatch } from '../../src/providers/region.ts'
import { isMain } from '../lib/main.ts'
import { fmt, intList, pct, positiveInt, ratio, table } from '../lib/stats.ts'
import { SimNetwork, inPart } from './network.ts'
import type { SimPeer } from './network.ts'

/** Options of {@link runBatchSimulation}. */
export interface BatchSimulationOptions {
  nodes: number
  keys: number[]
  seed: number
  out?(text: string): void
}

const PARAMS = { alpha: ALPHA, resultSize: K_BUCKET_SIZE }

/** Runs the batch simulation and prints its table; resolves to its rows' numbers. */
export async function runBatchSimulation (partial: Partial<BatchSimulationOptions> = {}): Promise<Array<{ keys: number, lookupsPerKey: number, requestsPerKey: number, exact: number }>> {
  const options: BatchSimulationOptions = { nodes: 10_000, keys: [100, 1_000, 10_000], seed: 1, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  // the lookups' own requests are what is counted: no background upkeep
  const net = new SimNetwork({ seed: options.seed, refreshInterval: 0 })
  net.buildFromGlobalView(options.nodes)
  const k = net.k
  const from = net.nodes[0]
  const lookUp = async (target: Uint8Array): Promise<{ requests: number, peers: SimPeer[] }> => {
    const record = await net.lookupNow(from, target, PARAMS)
    return { requests: record.requests, peers: net.trueClosest(target, k, from.peer.index) }
  }
  // what one lookup per key costs
  let single = 0
  const samples = 100
  for (let i = 0; i < samples; i++) {
    single += (await lookUp(net.random.bytes(32))).requests
  }
  const perLookup = single / samples

  const rows: string[][] = []
  const results = []
  for (const count of options.keys) {
    const keys = Array.from({ length: count }, () => net.random.bytes(32))
    let lookups = 0
    let requests = 0
    let settled = 0
    let exact = 0
    let checked = 0
    const findFor = () => async (prefix: Uint8Array, bits: number) => {
      // a key in the asked part of the keyspace, as trial hashing would give
      const target = bits >= 256 ? prefix : inPart(prefix, bits, net.random.bytes(32))
      const found = await lookUp(target)
      requests += found.requests
      return { target, peers: found.peers }
    }
    for await (const step of settleBatch(keys, key => key, findFor, { k, maxLookups: MAX_REGION_LOOKUPS, minKeys: MIN_REGION_KEYS, regionsAtOnce: PUBLISH_MANY_REGIONS_AT_ONCE })) {
      lookups += Number.isFinite(step.lookups) ? step.lookups : 0
      if ('failed' in step) {
        continue
      }
      for (const { item, peers } of step.settled) {
        settled++
        // check a sample against brute force
        if (checked < 200) {
          checked++
          const truth = net.trueClosest(item, k, from.peer.index).map(p => p.id).join()
          exact += peers.map(p => p.id).join() === truth ? 1 : 0
        }
      }
    }
    const lookupsPerKey = lookups / count
    const requestsPerKey = requests / count
    results.push({ keys: count, lookupsPerKey, requestsPerKey, exact: exact / checked })
    rows.push([
      count.toLocaleString('en-US'),
      fmt(lookupsPerKey, 3),
      fmt(requestsPerKey, 1),
      fmt(perLookup, 1),
      ratio(requestsPerKey, perLookup),
      fmt(requestsPerKey + k, 1),
      fmt(perLookup + k, 1),
      ratio(requestsPerKey + k, perLookup + k),
      `${pct(settled / count, 0)}; ${exact} of ${checked} checked exact`
    ])
  }
  out(table(`Batch providing over ${options.nodes.toLocaleString('en-US')} simulated nodes (k ${k}, α ${ALPHA}; a region explored when it holds ${MIN_REGION_KEYS} keys or more, with at most ${MAX_REGION_LOOKUPS} lookups)`,
    ['keys', 'lookups per key, batch', 'FIND_NODE per key, batch', 'FIND_NODE per key, one lookup each', 'ratio', 'messages per key with ADD_PROVIDER, batch', 'the same, one lookup each', 'ratio', 'keys settled; true k closest'], rows))
  return results
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { nodes: { type: 'string' }, keys: { type: 'string' }, seed: { type: 'string' } }, strict: true })
  await runBatchSimulation({
    ...(values.nodes == null ? {} : { nodes: positiveInt('nodes', values.nodes) }),
    ...(values.keys == null ? {} : { keys: intList('keys', values.keys) }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) })
  })
}
