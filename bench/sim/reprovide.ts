/**
 * The reprovide schedule over a simulated network: kadmium's Reprovider (src/providers/
 * reprovider.ts, on a LevelDB datastore in a temporary directory, as the daemon keeps it, and a
 * virtual clock) keeps 100,000 keys provided by one
 * node of a 10,000-node network for two cycles of 22 h. Each region it publishes goes through
 * settleBatch (src/providers/region.ts), as `publishMany` does, with the simulator's lookups
 * (their FIND_NODE requests counted; the peers they find are the true k closest, as the
 * simulator's lookups find on a network without churn). Every message is counted in the hour it
 * was sent: the FIND_NODEs of the lookups and one ADD_PROVIDER per key and peer.
 *
 * Against it, the reprovider kadmium had before (and `@libp2p/kad-dht`'s): an hourly check that
 * sends every key due in one go, so keys provided together are sent again together, every 22 h
 * (kadmium as one batch, `@libp2p/kad-dht` one lookup per key).
 *
 * ```
 * npm run build
 * node dist/bench/sim/reprovide.js [--nodes 10000] [--keys 100000] [--seed 1]
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LevelDatastore } from 'datastore-level'
import drain from 'it-drain'
import { ALPHA, K_BUCKET_SIZE, REPROVIDE_INTERVAL } from '../../src/constants.ts'
import { MAX_REGION_LOOKUPS, MIN_REGION_KEYS, PROVIDED_PREFIX, PUBLISH_MANY_REGIONS_AT_ONCE, REPROVIDE_MAX_RETRIES, REPROVIDE_RECHECK_DELAY, REPROVIDE_RETRY_DELAY, REPROVIDE_STATE_KEY } from '../../src/defaults.ts'
import { KAD_ID_BITS, kadId } from '../../src/keys.ts'
import { settleBatch } from '../../src/providers/region.ts'
import { Reprovider } from '../../src/providers/reprovider.ts'
import { regionBits } from '../../src/providers/schedule.ts'
import { isMain } from '../lib/main.ts'
import { fmt, positiveInt, ratio, table } from '../lib/stats.ts'
import { SimNetwork, inPart } from './network.ts'
import { estimateSize } from './optimistic.ts'

/** Options of {@link runReprovideSimulation}. */
export interface ReprovideSimulationOptions {
  nodes: number
  keys: number
  seed: number
  out?(text: string): void
}

/** What one 22 h cycle sent. */
export interface CycleResult {
  /** Keys reprovided. */
  keys: number
  lookupsPerKey: number
  messagesPerKey: number
  /** The busiest hour's messages over the mean hour's of a cycle that sends every key once. */
  busiest: number
  /** The quietest hour's messages, the same way. */
  quietest: number
}

const HOUR = 60 * 60_000
const STEP = 5 * 60_000
const PARAMS = { alpha: ALPHA, resultSize: K_BUCKET_SIZE }

/** Counts of one hour. */
interface Hour {
  keys: number
  lookups: number
  messages: number
}

/** Runs the simulation and prints its tables; resolves to each cycle's figures. */
export async function runReprovideSimulation (partial: Partial<ReprovideSimulationOptions> = {}): Promise<CycleResult[]> {
  const options: ReprovideSimulationOptions = { nodes: 10_000, keys: 100_000, seed: 1, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const net = new SimNetwork({ seed: options.seed })
  net.buildFromGlobalView(options.nodes)
  const k = net.k
  const from = net.nodes[0]
  const estimate = await estimateSize(net, from)
  const bits = regionBits(estimate, k)

  let now = 1_700_000_000_000
  const start = now
  const hours = new Map<number, Hour>()
  const count = (what: keyof Hour, n: number): void => {
    const hour = Math.floor((now - start) / HOUR)
    const counts = hours.get(hour) ?? { keys: 0, lookups: 0, messages: 0 }
    counts[what] += n
    hours.set(hour, counts)
  }
  /** publishMany's work on the simulator: settleBatch over lookups whose requests are counted. */
  async function * publish (keys: Uint8Array[]): AsyncGenerator<{ item: Uint8Array, error?: Error }> {
    const findFor = () => async (prefix: Uint8Array, prefixBits: number) => {
      const target = prefixBits >= KAD_ID_BITS ? prefix : inPart(prefix, prefixBits, net.random.bytes(32))
      const record = await net.lookupNow(from, target, PARAMS)
      count('lookups', 1)
      count('messages', record.requests)
      return { target, peers: net.trueClosest(target, k, from.peer.index) }
    }
    for await (const step of settleBatch(keys, key => kadId(key), findFor, { k, maxLookups: MAX_REGION_LOOKUPS, minKeys: MIN_REGION_KEYS, regionsAtOnce: PUBLISH_MANY_REGIONS_AT_ONCE })) {
      if ('failed' in step) {
        yield { item: step.failed, error: step.error ?? new Error('no peer') }
        continue
      }
      for (const { item, peers } of step.settled) {
        count('keys', 1)
        count('messages', peers.length)
        yield { item }
      }
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'kadmium-reprovide-'))
  const datastore = new LevelDatastore(join(dir, 'store'))
  await datastore.open()
  const reprovider = new Reprovider({
    datastore,
    self: from.peer.key,
    interval: REPROVIDE_INTERVAL,
    prefix: PROVIDED_PREFIX,
    stateKey: REPROVIDE_STATE_KEY,
    regionBits: () => bits,
    online: () => true,
    recheckDelay: REPROVIDE_RECHECK_DELAY,
    retryDelay: REPROVIDE_RETRY_DELAY,
    maxRetries: REPROVIDE_MAX_RETRIES,
    now: () => now,
    publish
  })
  // the node provides every key at once, then keeps them provided for two cycles
  const keys = Array.from({ length: options.keys }, () => net.random.bytes(34))
  for (const key of keys) {
    await reprovider.track(key)
  }
  for (; now < start + 2 * REPROVIDE_INTERVAL; now += STEP) {
    await reprovider.reprovideDue()
  }
  await datastore.close()
  await rm(dir, { recursive: true, force: true })
  const cycleHours = (cycle: number): Hour[] => Array.from({ length: 22 }, (_, h) => hours.get(cycle * 22 + h) ?? { keys: 0, lookups: 0, messages: 0 })
  const [first, second] = [cycleHours(0), cycleHours(1)]
  // the mean hour of a cycle in which every key is sent once
  const steady = second.reduce((sum, h) => sum + h.messages, 0) / 22
  const cycles = [summarise(first, steady), summarise(second, steady)]

  // before: every key due at the same check, sent as one batch
  hours.clear()
  now = start
  await drain(publish(keys))
  const burst = summarise(cycleHours(0), steady)

  const row = (label: string, c: CycleResult): string[] => [label, fmt(c.keys), fmt(c.lookupsPerKey, 3), fmt(c.messagesPerKey, 1), ratio(c.busiest, 1), ratio(c.quietest, 1)]
  out(table(`Reproviding ${options.keys.toLocaleString('en-US')} keys from one node of ${options.nodes.toLocaleString('en-US')} simulated nodes (size estimate ${estimate.toLocaleString('en-US')}: ${2 ** bits} regions, one every ${fmt(REPROVIDE_INTERVAL / 2 ** bits / 60_000, 1)} min; the keys all provided at the start)`,
    ['22 h cycle', 'keys reprovided', 'lookups per key', 'messages per key', 'busiest hour / mean hour of a full cycle', 'quietest hour / the same'],
    [
      row('spread, first cycle (keys provided < 11 h before are passed over)', cycles[0]),
      row('spread, second cycle', cycles[1]),
      row('before: every due key in one batch at the hourly check', burst)
    ]))
  out(`\nmessages per hour in the second cycle: ${second.map(h => fmt(h.messages)).join(', ')}\n`)
  return [...cycles, burst]
}

/** A cycle's figures, its hours measured against `steady`, the mean hour of a full cycle. */
function summarise (hours: Hour[], steady: number): CycleResult {
  const keys = hours.reduce((sum, h) => sum + h.keys, 0)
  const lookups = hours.reduce((sum, h) => sum + h.lookups, 0)
  const messages = hours.reduce((sum, h) => sum + h.messages, 0)
  return {
    keys,
    lookupsPerKey: lookups / keys,
    messagesPerKey: messages / keys,
    busiest: Math.max(...hours.map(h => h.messages)) / steady,
    quietest: Math.min(...hours.map(h => h.messages)) / steady
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { nodes: { type: 'string' }, keys: { type: 'string' }, seed: { type: 'string' } }, strict: true })
  await runReprovideSimulation({
    ...(values.nodes == null ? {} : { nodes: positiveInt('nodes', values.nodes) }),
    ...(values.keys == null ? {} : { keys: positiveInt('keys', values.keys) }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) })
  })
}
