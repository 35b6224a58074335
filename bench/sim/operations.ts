/**
 * The emulated WAN's operations in the simulator, with what connections cost: the same
 * conditions and operations as bench/wan (getClosestPeers from a node with no connection open,
 * then again at once; an optimistic provide, then findProviders from another node), over the
 * simulator's nodes (kadmium's table, lookup driver, stall deadlines and refresher) with the
 * emulation's latency model and libp2p's connection costs (a dial 3 round trips, a stream 0 with
 * the protocol sent first, connections kept). Its p50s set beside an emulation's JSON report of
 * the same size are the calibration table; at 10,000 nodes it speaks for sizes the emulation
 * cannot reach.
 *
 * ```
 * npm run build
 * node dist/bench/sim/operations.js [--nodes 200] [--seed 1] [--lookups 20] [--ops 8]
 *   [--conditions healthy,silent,unreachable] [--stream 0] [--no-widen] [--one-network] [--emulation docs/wan.json] [--json FILE]
 * ```
 *
 * Each condition is its own network from the same seed: built by joining over 10 virtual
 * minutes with one refresh interval after (as bench/sim/index.ts builds), then *silent* silences
 * 20 % of the nodes (connected and dialable, never answering) and *unreachable* takes 20 % away
 * (their connections close, dials to them hang until libp2p's 6 s dial timeout), and the
 * operations start at once.
 */
import { writeFileSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { K_BUCKET_SIZE } from '../../src/constants.ts'
import { OPTIMISTIC_CERTAINTY, OPTIMISTIC_CLOSEST_ANSWERED, OPTIMISTIC_RETURN_RATIO, OPTIMISTIC_STRICTNESS } from '../../src/defaults.ts'
import { kadId } from '../../src/keys.ts'
import { provideOptimistically } from '../../src/providers/optimistic-provide.ts'
import { isMain } from '../lib/main.ts'
import { intList, mean, ms, numberIn, pct, positiveInt, quantile, ratio, table } from '../lib/stats.ts'
import { lookupFloor } from '../wan/floor.ts'
import { AMINO_RTT } from '../wan/latency.ts'
import { DEFAULT_STALL, LIBP2P_CONNECTIONS, SimNetwork } from './network.ts'
import { estimateSize } from './optimistic.ts'
import type { LookupRecord, SimNode, SimPeer } from './network.ts'
import type { StallOptions } from '../../src/query/stall.ts'
import type { Referrals } from '../wan/floor.ts'

/** The conditions, as the emulation names them. */
export type SimCondition = 'healthy' | 'silent' | 'unreachable'

/** Options of {@link runOperations}. */
export interface OperationsOptions {
  nodes: number
  seed: number
  /** getClosestPeers per condition (each repeated warm). */
  lookups: number
  /** provide + findProviders per condition. */
  ops: number
  conditions: SimCondition[]
  /** Round trips to open a stream (0: protocol-first, kadmium's; 1: negotiated in full). */
  stream: number
  /** Share of the nodes silent, or gone. */
  share: number
  /**
   * One network for all conditions, in the order given, each on top of the last (a silent share
   * after the healthy runs, say) instead of a network built for each: one build at large sizes.
   */
  oneNetwork?: boolean
  /** Lookups go on to the 21st when one of the closest 20 failed (`SimOptions.widen`, true as in the service; false to compare). */
  widen?: boolean
  /** Stall detection other than kadmium's defaults (a setting tried). */
  stall?: Partial<StallOptions>
  /** An emulation's JSON report (bench/wan/json.ts) of the same size, set beside (the calibration). */
  emulation?: string
  json?: string
  out?(text: string): void
}

const DEFAULTS: OperationsOptions = { nodes: 200, seed: 1, lookups: 20, ops: 8, conditions: ['healthy', 'silent', 'unreachable'], stream: 0, share: 0.2 }

/** One operation's samples: virtual ms, its floor (NaN where none) and success. */
interface Samples { ms: number[], floor: number[], ok: boolean[] }

/** The operations' samples of one condition, named as the emulation's JSON names them. */
type ConditionSamples = Record<'getClosestPeers-cold' | 'getClosestPeers-warm' | 'provide' | 'findProviders', Samples>

/** What the run measured: p50, p90 and success of each operation in each condition. */
export type OperationsReport = Record<string, Record<string, { samples: number, p50: number, p90: number, floorP50: number, wallOverFloor: number, success: number }>>

/** Runs `work` to its end on the network's virtual clock. */
async function settle<T> (net: SimNetwork, work: Promise<T>): Promise<T> {
  const state = { done: false }
  const done = work.finally(() => { state.done = true })
  await net.run(() => state.done)
  return done
}

/**
 * A lookup run on the network's clock: its record, and its floor as the emulation computes it
 * (bench/wan/floor.ts: from who was asked, cold or not, and whose answer named whom), ending at
 * every result (a closest-peers lookup) or at the first answer `found` accepts.
 */
async function lookup (net: SimNetwork, from: SimNode, key: Uint8Array, found?: (peer: SimPeer) => boolean): Promise<LookupRecord & { floor: number }> {
  const ref: Referrals = { known: new Set(), asked: new Map(), answers: new Map() }
  const goal = new Set<string>()
  const record = await net.lookupNow(from, kadId(key), net.defaults, {
    onEvent: (event) => {
      if (event.type === 'ask') {
        if (![...ref.answers.values()].some(named => named.includes(event.peer.id))) {
          ref.known.add(event.peer.id)
        }
        ref.asked.set(event.peer.id, { cold: !net.connected(from, event.peer) })
      } else if (event.type === 'answer') {
        ref.answers.set(event.peer.id, event.closer.map(p => p.id))
      }
    },
    ...(found == null
      ? {}
      : {
          stopWhen: (peer: SimPeer) => {
            if (found(peer)) {
              goal.add(peer.id)
            }
            return goal.size > 0
          }
        })
  })
  const rtt = (peer: string): number => net.rtt(from.peer.index, Number(peer.slice(1)))
  const floor = lookupFloor(ref, rtt, found == null ? { all: record.closest.map(p => p.id) } : { any: [...goal] })
  return { ...record, floor: floor.ms }
}

/**
 * An optimistic provide from `from`, as the service's does it (src/providers/optimistic-provide.ts
 * over the node's lookup), each record sent over a connection (a dial first when there is
 * none; the send returns once written, as the client's does); resolves to the virtual ms until
 * it returned. `holders` gets each node the record reached, when it arrives.
 */
async function provide (net: SimNetwork, from: SimNode, key: Uint8Array, size: number, holders: Set<number>): Promise<number> {
  const started = net.clock.now
  const outcome = await provideOptimistically<SimPeer>({
    certainty: OPTIMISTIC_CERTAINTY,
    strictness: OPTIMISTIC_STRICTNESS,
    returnRatio: OPTIMISTIC_RETURN_RATIO,
    closestAnswered: OPTIMISTIC_CLOSEST_ANSWERED,
    kBucketSize: net.k,
    networkSize: size,
    lookup: async (_key, hooks) => new Promise(resolve => {
      let stopped = false
      net.lookup(from, kadId(key), net.defaults, record => { resolve({ closest: record.closest, stopped }) }, {
        judge: false,
        stopWhen: (peer, closer) => {
          stopped = hooks.stopWhen(peer, closer)
          return stopped
        },
        onEvent: (event) => {
          if (event.type === 'fail') {
            hooks.failed(event.peer.id)
          }
        }
      })
    }),
    send: async (peer) => new Promise<boolean>(resolve => {
      net.send(from, peer, () => { holders.add(peer.index) }, resolve)
    })
  }, key)
  const returned = net.clock.now - started
  await outcome.rest
  return returned
}

/** The operations of one condition on a fresh network. */
async function condition (options: OperationsOptions, which: SimCondition, out: (text: string) => void, built?: SimNetwork): Promise<{ net: SimNetwork, samples: ConditionSamples }> {
  let net = built as SimNetwork
  if (built == null) {
    net = new SimNetwork({ seed: options.seed, latency: { kind: 'wan', ...AMINO_RTT }, connections: { ...LIBP2P_CONNECTIONS, stream: options.stream }, stall: { ...DEFAULT_STALL, ...options.stall }, widen: options.widen ?? true })
    net.drawFactors(options.nodes)
    const started = performance.now()
    await net.buildByJoining(options.nodes, 10 * 60_000)
    out(`  [${which}] built in ${((performance.now() - started) / 1_000).toFixed(1)} s of wall time; table sizes mean ${net.tableSizes().mean.toFixed(1)}\n`)
  }
  const size = await settle(net, estimateSize(net, net.nodes[0]))
  const count = Math.round(options.share * options.nodes)
  if (which !== 'healthy') {
    for (const i of net.random.sample(options.nodes, count)) {
      if (which === 'silent') {
        net.stop(net.nodes[i])
      } else {
        net.leave(net.nodes[i])
      }
    }
  }
  const samples: ConditionSamples = {
    'getClosestPeers-cold': { ms: [], floor: [], ok: [] },
    'getClosestPeers-warm': { ms: [], floor: [], ok: [] },
    provide: { ms: [], floor: [], ok: [] },
    findProviders: { ms: [], floor: [], ok: [] }
  }
  for (let i = 0; i < options.lookups; i++) {
    const asker = net.randomUp() as SimNode
    const key = net.random.bytes(32)
    net.disconnect(asker)
    for (const name of ['getClosestPeers-cold', 'getClosestPeers-warm'] as const) {
      const record = await lookup(net, asker, key)
      samples[name].ms.push(record.latency)
      samples[name].floor.push(record.floor)
      samples[name].ok.push(record.exact)
    }
  }
  for (let i = 0; i < options.ops; i++) {
    const writer = net.randomUp() as SimNode
    const key = net.random.bytes(32)
    const holders = new Set<number>()
    net.disconnect(writer)
    samples.provide.ms.push(await settle(net, provide(net, writer, key, size, holders)))
    samples.provide.floor.push(NaN)
    samples.provide.ok.push(holders.size > 0)
    // from a node the record was not sent to, with no connection open
    let reader = net.randomUp() as SimNode
    while (holders.has(reader.peer.index) || reader === writer) {
      reader = net.randomUp() as SimNode
    }
    net.disconnect(reader)
    const record = await lookup(net, reader, key, (peer) => holders.has(peer.index))
    samples.findProviders.ms.push(record.latency)
    samples.findProviders.floor.push(record.floor)
    samples.findProviders.ok.push(Number.isFinite(record.floor))
  }
  return { net, samples }
}

/** The calibration columns of one row: the emulation's p50 · p90 and success, the ratio, and whether the p50s are within 15 %. */
function calibrationCells (p50: number, emulated?: { p50: number, p90: number, success: number }): string[] {
  if (emulated == null) {
    return ['–', '–', '–', '–']
  }
  const off = p50 / emulated.p50 - 1
  const within = Math.abs(off) <= 0.15 ? 'yes' : `no (${pct(off, 0)})`
  return [`${ms(emulated.p50)} · ${ms(emulated.p90)}`, pct(emulated.success, 0), ratio(p50, emulated.p50), Number.isFinite(off) ? within : '–']
}

/** Runs every condition, prints the table (and the calibration against an emulation), and resolves to the report. */
export async function runOperations (partial: Partial<OperationsOptions> = {}): Promise<OperationsReport> {
  const options = { ...DEFAULTS, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  out(`\n## Simulator: the emulated WAN's operations over ${options.nodes.toLocaleString('en-US')} nodes (latency median ${AMINO_RTT.medianRtt} ms, p99 ${AMINO_RTT.p99Rtt} ms per pair; a dial ${LIBP2P_CONNECTIONS.dial} round trips, a stream ${options.stream}; seed ${options.seed})\n\n`)
  const report: OperationsReport = {}
  const rows: string[][] = []
  const emulation = options.emulation == null ? undefined : JSON.parse(readFileSync(options.emulation, 'utf8'))
  let shared: SimNetwork | undefined
  for (const which of options.conditions) {
    const run = await condition(options, which, out, shared)
    const samples = run.samples
    // one network for every condition, each after the last (a large size: one build instead of one each)
    shared = options.oneNetwork === true ? run.net : undefined
    report[which] = {}
    for (const [name, s] of Object.entries(samples)) {
      const overFloor = s.ms.map((v, i) => v / s.floor[i]).filter(Number.isFinite)
      const row = { samples: s.ms.length, p50: quantile(s.ms, 0.5), p90: quantile(s.ms, 0.9), floorP50: quantile(s.floor.filter(Number.isFinite), 0.5), wallOverFloor: quantile(overFloor, 0.5), success: mean(s.ok.map(ok => ok ? 1 : 0)) }
      report[which][name] = row
      const emulated = emulation?.kadmium?.phases?.[which]?.[name]
      const cells = [`${which}: ${name} (${row.samples})`, `${ms(row.p50)} · ${ms(row.p90)}`, Number.isFinite(row.wallOverFloor) ? `${ms(row.floorP50)} · ${row.wallOverFloor.toFixed(2)}×` : '–', pct(row.success, 0)]
      if (emulation != null) {
        cells.push(...calibrationCells(row.p50, emulated))
      }
      rows.push(cells)
    }
  }
  const header = ['condition: operation (samples)', 'simulator p50 · p90', 'floor p50 · wall / floor', 'success']
  if (emulation != null) {
    header.push('emulation (kadmium) p50 · p90', 'success', 'simulator / emulation', 'p50 within 15 %')
  }
  out(table(`The emulated WAN's operations in the simulator, ${options.nodes.toLocaleString('en-US')} nodes (success: exactly the true ${K_BUCKET_SIZE} closest, a provider found)`, header, rows))
  if (options.json != null) {
    writeFileSync(options.json, JSON.stringify({ options: { ...options, out: undefined }, report }, null, 2))
    out(`\nJSON written: ${options.json}\n`)
  }
  return report
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      seed: { type: 'string' },
      lookups: { type: 'string' },
      ops: { type: 'string' },
      conditions: { type: 'string' },
      stream: { type: 'string' },
      share: { type: 'string' },
      emulation: { type: 'string' },
      json: { type: 'string' },
      stall: { type: 'string' },
      widen: { type: 'boolean' },
      'one-network': { type: 'boolean' }
    },
    strict: true,
    allowNegative: true
  })
  const conditions = values.conditions?.split(',') as SimCondition[] | undefined
  for (const c of conditions ?? []) {
    if (!['healthy', 'silent', 'unreachable'].includes(c)) {
      throw new Error(`--conditions takes healthy, silent, unreachable, got ${c}`)
    }
  }
  await runOperations({
    ...(values.nodes == null ? {} : { nodes: intList('nodes', values.nodes)[0] }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) }),
    ...(values.lookups == null ? {} : { lookups: positiveInt('lookups', values.lookups) }),
    ...(values.ops == null ? {} : { ops: positiveInt('ops', values.ops) }),
    ...(conditions == null ? {} : { conditions }),
    ...(values.stream == null ? {} : { stream: numberIn('stream', values.stream, 0, 10) }),
    ...(values.share == null ? {} : { share: numberIn('share', values.share, 0, 0.9) }),
    emulation: values.emulation,
    json: values.json,
    widen: values.widen,
    oneNetwork: values['one-network'],
    ...(values.stall == null ? {} : { stall: JSON.parse(values.stall) })
  })
}
