/**
 * Optimistic provide over simulated networks: kadmium's own driver and plan
 * (src/providers/optimistic-provide.ts, src/providers/optimistic.ts) over its lookup driver
 * (src/query/run-lookup.ts, stall detection on), all unchanged, on the simulator's network
 * and virtual clock, against the provide that waits for its full lookup and all 20 sends. The
 * network size comes from kadmium's estimator, fed with 20 complete lookups.
 *
 * A request or an ADD_PROVIDER takes one round trip of the pair (log-normal, median 80 ms):
 * connections are taken as open, as the simulator's lookups take them (connection set-up is
 * what the WAN bench measures). Each provide is from a random node for a random key; the truth
 * is the key's k closest nodes by brute force.
 *
 * ```
 * npm run build
 * node dist/bench/sim/optimistic.js [--nodes 200,2000,10000] [--provides 200] [--seed 1]
 * ```
 */
import { parseArgs } from 'node:util'
import { ALPHA, K_BUCKET_SIZE } from '../../src/constants.ts'
import { OPTIMISTIC_CERTAINTY, OPTIMISTIC_CLOSEST_ANSWERED, OPTIMISTIC_RETURN_RATIO, OPTIMISTIC_STRICTNESS, REQUEST_TIMEOUT } from '../../src/defaults.ts'
import { kadId } from '../../src/keys.ts'
import { NetworkSizeEstimator } from '../../src/providers/network-size.ts'
import { provideOptimistically } from '../../src/providers/optimistic-provide.ts'
import { runLookup } from '../../src/query/run-lookup.ts'
import { isMain } from '../lib/main.ts'
import { fmt, intList, mean, ms, pct, positiveInt, quantile, table } from '../lib/stats.ts'
import { DEFAULT_STALL, SimNetwork } from './network.ts'
import type { SimNode, SimPeer } from './network.ts'
import type { OptimisticLookupHooks } from '../../src/providers/optimistic-provide.ts'

/** Options of {@link runOptimisticSimulation}. */
export interface OptimisticSimulationOptions {
  nodes: number[]
  provides: number
  seed: number
  out?(text: string): void
}

/** One way of providing. */
export type Variant = 'full lookup' | 'optimistic, go\'s stopping rule' | 'optimistic, closest answered' | 'optimistic, 3 closest answered (kadmium)'

const VARIANTS: Variant[] = ['full lookup', 'optimistic, go\'s stopping rule', 'optimistic, closest answered', 'optimistic, 3 closest answered (kadmium)']

/** How many of the closest peers heard of must have answered before each optimistic variant stops its lookup. */
const CLOSEST_ANSWERED: Partial<Record<Variant, number>> = { 'optimistic, closest answered': 1, 'optimistic, 3 closest answered (kadmium)': OPTIMISTIC_CLOSEST_ANSWERED }

/** What one provide did, in virtual ms and counts. */
export interface ProvideRecord {
  /** From the call to its return. */
  returned: number
  /** From the call until every record sent was delivered. */
  settled: number
  requests: number
  records: number
  /** Records on the true k closest. */
  onTrue: number
}

/** What the simulation found for one network size and variant. */
export interface OptimisticRow {
  nodes: number
  variant: Variant
  estimate: number
  p50: number
  p90: number
  /** Share of the records sent that landed on the true k closest. */
  onTrue: number
  /** Share of the true k closest that got a record. */
  reached: number
}

/** Runs `work` on the network's virtual clock: events run one by one, promises settle between them. */
export async function inVirtualTime<T> (net: SimNetwork, work: Promise<T>): Promise<T> {
  const state = { settled: false }
  const done = work.finally(() => { state.settled = true })
  while (!state.settled) {
    await new Promise(resolve => setImmediate(resolve))
    if (!state.settled && !net.clock.step()) {
      await new Promise(resolve => setImmediate(resolve))
      if (!state.settled) {
        throw new Error('nothing left to run, and the work is not done')
      }
    }
  }
  return done
}

/** The network size as `observer` estimates it: from 20 complete lookups of its own, for random keys. */
export async function estimateSize (net: SimNetwork, observer: SimNode): Promise<number> {
  const sizes = new NetworkSizeEstimator({ k: net.k, maxSamples: 100, maxAge: Infinity })
  for (let i = 0; i < 20; i++) {
    const target = kadId(net.random.bytes(32))
    const { closest } = await runLookup<SimPeer>({
      target,
      alpha: ALPHA,
      resultSize: net.k,
      requestTimeout: REQUEST_TIMEOUT,
      seeds: observer.table.closest(target, net.k).map(entry => entry.peer),
      now: () => net.clock.now,
      ask: async (peer) => net.nodes[peer.index].table.closest(target, net.k + 1).map(e => e.peer).filter(p => p !== observer.peer).slice(0, net.k)
    })
    sizes.add(target, closest.map(peer => peer.key), 0)
  }
  return sizes.estimate(0, 5)?.size ?? net.nodes.length
}

/**
 * One provide from `from` for `key`, the way `variant` does it; `onReturn` is told when the call
 * would return to its caller (the rest of an optimistic provide's sends still on their way).
 */
export async function provide (net: SimNetwork, from: SimNode, key: Uint8Array, variant: Variant, networkSize: number, onReturn?: () => void): Promise<ProvideRecord> {
  const k = net.k
  const target = kadId(key)
  const started = net.clock.now
  let requests = 0
  const after = async <T>(delay: number, value: () => T): Promise<T> => new Promise(resolve => { net.clock.after(delay, () => { resolve(value()) }) })
  const lookup = async (hooks?: OptimisticLookupHooks<SimPeer>): Promise<{ closest: SimPeer[], stopped: boolean }> => runLookup<SimPeer>({
    target,
    alpha: ALPHA,
    resultSize: k,
    requestTimeout: REQUEST_TIMEOUT,
    stall: DEFAULT_STALL,
    seeds: from.table.closest(target, k).map(entry => entry.peer),
    now: () => net.clock.now,
    schedule: net.clock.schedule,
    // a FIND_NODE over the simulated network: the peer answers with the k closest of its table
    ask: net.asker(from, target),
    stopWhen: hooks?.stopWhen,
    onEvent: (event) => {
      if (event.type === 'ask') {
        requests++
      } else if (event.type === 'fail') {
        hooks?.failed(event.peer.id)
      }
    }
  })
  const sent: SimPeer[] = []
  const send = async (peer: SimPeer): Promise<boolean> => {
    sent.push(peer)
    return after(net.rtt(from.peer.index, peer.index), () => true)
  }
  let returned: number
  let rest: Promise<unknown>
  if (variant === 'full lookup') {
    const { closest } = await lookup()
    rest = Promise.all(closest.map(send))
    await rest
    returned = net.clock.now
  } else {
    const outcome = await provideOptimistically<SimPeer>({
      certainty: OPTIMISTIC_CERTAINTY,
      strictness: OPTIMISTIC_STRICTNESS,
      returnRatio: OPTIMISTIC_RETURN_RATIO,
      // go's rule stops without waiting for the closest peers heard of to answer
      closestAnswered: CLOSEST_ANSWERED[variant] ?? 0,
      kBucketSize: k,
      networkSize,
      lookup: async (_, hooks) => lookup(hooks),
      send
    }, key)
    returned = net.clock.now
    rest = outcome.rest
  }
  onReturn?.()
  await rest
  const truth = new Set(net.trueClosest(target, k, from.peer.index).map(p => p.id))
  return {
    returned: returned - started,
    settled: net.clock.now - started,
    requests,
    records: sent.length,
    onTrue: sent.filter(p => truth.has(p.id)).length
  }
}

/** Runs the simulation and prints its table; resolves to its rows. */
export async function runOptimisticSimulation (partial: Partial<OptimisticSimulationOptions> = {}): Promise<OptimisticRow[]> {
  const options: OptimisticSimulationOptions = { nodes: [200, 2_000, 10_000], provides: 200, seed: 1, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const rows: string[][] = []
  const results: OptimisticRow[] = []
  for (const n of options.nodes) {
    // the provides' own requests are what is measured: no background upkeep
    const net = new SimNetwork({ seed: options.seed, refreshInterval: 0 })
    net.buildFromGlobalView(n)
    const k = net.k
    const estimate = await estimateSize(net, net.nodes[0])
    // the same askers and keys for each variant
    const work = Array.from({ length: options.provides }, () => ({ from: net.nodes[net.random.int(n)], key: net.random.bytes(32) }))
    for (const variant of VARIANTS) {
      const records: ProvideRecord[] = []
      for (const { from, key } of work) {
        records.push(await inVirtualTime(net, provide(net, from, key, variant, estimate)))
      }
      const returned = records.map(r => r.returned)
      const records_ = records.reduce((sum, r) => sum + r.records, 0)
      const onTrue = records.reduce((sum, r) => sum + r.onTrue, 0)
      const row: OptimisticRow = {
        nodes: n,
        variant,
        estimate,
        p50: quantile(returned, 0.5),
        p90: quantile(returned, 0.9),
        onTrue: onTrue / records_,
        reached: onTrue / (k * records.length)
      }
      results.push(row)
      rows.push([
        n.toLocaleString('en-US'),
        estimate.toLocaleString('en-US'),
        variant,
        ms(row.p50),
        ms(row.p90),
        ms(quantile(records.map(r => r.settled), 0.5)),
        fmt(mean(records.map(r => r.requests)), 1),
        fmt(records_ / records.length, 1),
        pct(row.onTrue),
        pct(row.reached),
        pct(records.filter(r => r.onTrue === k).length / records.length, 0)
      ])
    }
  }
  out(table(`Optimistic provide over simulated networks (${options.provides} provides each, from random nodes for random keys; RTT log-normal, median 80 ms; k ${K_BUCKET_SIZE}, α ${ALPHA})`,
    ['nodes', 'size estimate', 'provide', 'returns p50', 'p90', 'all records delivered p50', 'lookup requests', 'records sent', 'records on the true k closest', 'true k closest reached', 'all k reached'], rows))
  return results
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { nodes: { type: 'string' }, provides: { type: 'string' }, seed: { type: 'string' } }, strict: true })
  await runOptimisticSimulation({
    ...(values.nodes == null ? {} : { nodes: intList('nodes', values.nodes) }),
    ...(values.provides == null ? {} : { provides: positiveInt('provides', values.provides) }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) })
  })
}
