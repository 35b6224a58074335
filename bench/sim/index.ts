/**
 * The network simulator: kadmium's routing table and lookup (src/kademlia, unchanged) over a
 * virtual network of thousands of nodes, with a virtual clock, per-pair latencies, unresponsive
 * nodes and churn. Prints tables and writes SVG charts.
 *
 * ```
 * npm run build
 * node dist/bench/sim/index.js [--nodes 10000] [--lookups 100] [--alphas 1,3,10] [--results 3,10,20]
 *   [--build join|global] [--unresponsive 0.2] [--churn 1] [--churn-minutes 10] [--seed 1]
 *   [--rtt-median 80] [--rtt-sigma 0.6] [--no-stall] [--charts docs]
 * ```
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ALPHA, K_BUCKET_SIZE, REQUEST_TIMEOUT, STALL_INITIAL_TIMEOUT, STALL_MIN_TIMEOUT, STALL_RTT_FACTOR } from '../../src/constants.ts'
import { isMain } from '../lib/main.ts'
import { fmt, intList, mean, ms, numberIn, pct, positiveInt, quantile, table } from '../lib/stats.ts'
import { DEFAULT_STALL, SimNetwork } from './network.ts'
import { cdfChart, histogramChart } from './svg.ts'
import type { LookupParams, LookupRecord, SimOptions } from './network.ts'
import type { Series } from './svg.ts'

/** Options of {@link runSimulation}. */
export interface SimulationOptions {
  nodes: number
  lookups: number
  alphas: number[]
  /** How many of the closest must answer before a lookup ends (20: getClosestPeers). */
  results: number[]
  build: 'join' | 'global'
  unresponsive: number
  /** Percent of the nodes replaced per virtual minute. */
  churn: number
  churnMinutes: number
  seed: number
  rttMedian: number
  rttSigma: number
  /**
   * Stall detection in the lookups of the build, the healthy sweep and the churn run (the
   * unresponsive-node table runs with it and without it either way).
   */
  stall: boolean
  /** Where the SVG charts go; none are written when undefined. */
  charts?: string
  /** Write lines here (stdout by default). */
  out?(text: string): void
}

/** What {@link runSimulation} found, for callers that check it. */
export interface SimulationResult {
  /** Lookups of the no-churn check, and how many found exactly the true k closest. */
  check: { lookups: number, exact: number }
  /** With unresponsive nodes, kadmium's defaults (10 s request timeout, stall detection on). */
  unresponsive: { successRate: number, medianLatency: number }
  /** The same network with stall detection off (every request waited for up to its timeout). */
  unresponsiveNoStall: { successRate: number, medianLatency: number }
}

const DEFAULTS: SimulationOptions = {
  nodes: 10_000,
  lookups: 100,
  alphas: [1, 3, 10],
  results: [3, 10, 20],
  build: 'join',
  unresponsive: 0.2,
  churn: 1,
  churnMinutes: 10,
  seed: 1,
  rttMedian: 80,
  rttSigma: 0.6,
  stall: true
}

const DEFAULT_PARAMS: LookupParams = { alpha: ALPHA, resultSize: K_BUCKET_SIZE }

function row (label: string[], records: LookupRecord[]): string[] {
  const q = (f: (r: LookupRecord) => number, digits = 0): string => {
    const v = records.map(f)
    return `${fmt(quantile(v, 0.5), digits)} / ${fmt(quantile(v, 0.9), digits)} / ${fmt(quantile(v, 0.99), digits)}`
  }
  return [
    ...label,
    q(r => r.hops),
    q(r => r.requests),
    q(r => r.latency),
    pct(mean(records.map(r => r.accuracy))),
    pct(records.filter(r => r.exact).length / records.length),
    String(records.filter(r => r.timedOut).length)
  ]
}

const HEADER = ['hops p50 / p90 / p99', 'requests p50 / p90 / p99', 'latency ms p50 / p90 / p99', 'mean accuracy', 'exact 20', 'timed out']

/** Builds a fresh network the way the options say; the same seed gives the same network. */
async function build (options: SimulationOptions): Promise<{ net: SimNetwork, seconds: number }> {
  const simOptions: SimOptions = {
    seed: options.seed,
    latency: { kind: 'lognormal', median: options.rttMedian, sigma: options.rttSigma },
    stall: options.stall ? DEFAULT_STALL : false
  }
  const net = new SimNetwork(simOptions)
  const started = performance.now()
  if (options.build === 'join') {
    await net.buildByJoining(options.nodes, DEFAULT_PARAMS)
  } else {
    net.buildFromGlobalView(options.nodes)
  }
  return { net, seconds: (performance.now() - started) / 1_000 }
}

/** Runs `count` lookups one after another from random nodes that are up, to random keys. */
async function lookups (net: SimNetwork, count: number, params: LookupParams): Promise<LookupRecord[]> {
  const out: LookupRecord[] = []
  for (let i = 0; i < count; i++) {
    const from = net.randomUp()
    if (from == null) {
      break
    }
    out.push(await net.lookupNow(from, net.random.bytes(32), params))
  }
  return out
}

interface FaultSummary {
  successRate: number
  medianLatency: number
  /** The success rate and latency quantiles as one line of text. */
  line: string
}

function summarise (records: LookupRecord[]): FaultSummary {
  const successRate = records.filter(r => r.exact).length / records.length
  const latency = records.map(r => r.latency)
  const medianLatency = quantile(latency, 0.5)
  return { successRate, medianLatency, line: `success rate ${pct(successRate)}, latency median ${ms(medianLatency)}, p90 ${ms(quantile(latency, 0.9))}, p99 ${ms(quantile(latency, 0.99))}` }
}

/**
 * Lookups with a share of the nodes silent: kadmium's request timeout with stall detection and
 * without (the behaviour before it), and a 1 s timeout without it. Every scenario builds the same
 * network and silences the same nodes. Prints the table; returns the records by series name.
 */
async function unresponsiveNodes (options: SimulationOptions, out: (text: string) => void): Promise<{ series: Record<string, LookupRecord[]>, withStall: FaultSummary, withoutStall: FaultSummary }> {
  const rows: string[][] = []
  const series: Record<string, LookupRecord[]> = {}
  const scenarios: Array<{ timeout: number, stall: boolean }> = [
    { timeout: REQUEST_TIMEOUT, stall: false },
    { timeout: REQUEST_TIMEOUT, stall: true },
    { timeout: 1_000, stall: false }
  ]
  const byScenario = new Map<string, LookupRecord[]>()
  for (const scenario of scenarios) {
    const { net: faulty } = await build(options)
    faulty.setRequestTimeout(scenario.timeout)
    faulty.setStall(scenario.stall ? DEFAULT_STALL : false)
    const down = Math.round(options.unresponsive * options.nodes)
    for (const i of faulty.random.sample(options.nodes, down)) {
      faulty.nodes[i].up = false
    }
    const records = await lookups(faulty, options.lookups, DEFAULT_PARAMS)
    byScenario.set(`${scenario.timeout}/${String(scenario.stall)}`, records)
    const stallLabel = scenario.stall ? 'on' : 'off'
    series[`${pct(options.unresponsive, 0)} down, timeout ${scenario.timeout / 1000} s, stall ${stallLabel}`] = records
    const stalls = records.map(r => r.stalls)
    rows.push([
      ...row([pct(options.unresponsive, 0), `${scenario.timeout / 1000} s`, stallLabel], records),
      `${fmt(quantile(stalls, 0.5))} / ${fmt(quantile(stalls, 0.9))} / ${fmt(quantile(stalls, 0.99))}`
    ])
  }
  out(table(`Lookups with unresponsive nodes (α ${ALPHA}, β ${K_BUCKET_SIZE}); success = exactly the true 20 closest live nodes`, ['down', 'request timeout', 'stall detection', ...HEADER, 'stalled p50 / p90 / p99'], rows))
  const withStall = summarise(byScenario.get(`${REQUEST_TIMEOUT}/true`) ?? [])
  const withoutStall = summarise(byScenario.get(`${REQUEST_TIMEOUT}/false`) ?? [])
  out(`\nWith ${pct(options.unresponsive, 0)} unresponsive nodes and the ${REQUEST_TIMEOUT / 1000} s request timeout: ${withStall.line} with stall detection; ${withoutStall.line} without\n`)
  return { series, withStall, withoutStall }
}

/** Runs the simulations, prints their tables and writes the charts. */
export async function runSimulation (partial: Partial<SimulationOptions> = {}): Promise<SimulationResult> {
  const options: SimulationOptions = { ...DEFAULTS, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const N = options.nodes.toLocaleString('en-US')
  const started = performance.now()
  out(`\n## Simulator: kadmium's RoutingTable and Lookup over ${N} virtual nodes\n`)
  out(`\nlatency: per-pair RTT log-normal, median ${options.rttMedian} ms, σ ${options.rttSigma}; request timeout ${REQUEST_TIMEOUT} ms; stall detection ${options.stall ? `on (${STALL_INITIAL_TIMEOUT} ms before the first answer, then ${STALL_RTT_FACTOR} × the median answer time, at least ${STALL_MIN_TIMEOUT} ms)` : 'off'}; tables built by ${options.build === 'join' ? 'nodes joining one by one with a self-lookup' : 'a global sorted view, k random peers per bucket'}; seed ${options.seed}\n`)

  // 1. healthy network: the α × β sweep
  const healthy = await build(options)
  const { net } = healthy
  const sizes = net.tableSizes()
  out(`built in ${healthy.seconds.toFixed(1)} s of wall time (${fmt(net.counters.requests)} requests, ${fmt(net.clock.now / 60_000, 1)} virtual minutes); table sizes mean ${fmt(sizes.mean, 1)}, min ${sizes.min}, max ${sizes.max}\n`)
  const sweepRows: string[][] = []
  const kept = new Map<string, LookupRecord[]>()
  for (const alpha of options.alphas) {
    for (const resultSize of options.results) {
      const records = await lookups(net, options.lookups, { alpha, resultSize })
      kept.set(`${alpha}/${resultSize}`, records)
      sweepRows.push(row([String(alpha), String(resultSize)], records))
    }
  }
  out(table(`Lookups in a healthy ${N}-node network, ${options.lookups} per row (results 20 is kadmium's getClosestPeers)`, ['α', 'results', ...HEADER], sweepRows))

  // 2. the check: every lookup with kadmium's defaults finds the true k closest
  const checkRecords = await lookups(net, options.lookups, DEFAULT_PARAMS)
  const exact = checkRecords.filter(r => r.exact).length
  const verdict = exact === checkRecords.length ? 'PASS' : 'FAIL'
  out(`\nCHECK ${verdict}: ${exact} of ${checkRecords.length} lookups (α ${ALPHA}, waiting for the closest ${K_BUCKET_SIZE}) in a ${N}-node network with no churn found the true ${K_BUCKET_SIZE} closest\n`)

  // 3. unresponsive nodes
  const { series, withStall, withoutStall } = await unresponsiveNodes(options, out)

  // 4. churn: nodes leave silently and new ones join while lookups run
  const churnRows: string[][] = []
  if (options.churn > 0) {
    const { net: churned } = await build(options)
    const start = churned.clock.now
    const end = start + options.churnMinutes * 60_000
    const perMs = options.churn / 100 * options.nodes / 60_000
    let left = 0
    let joined = 0
    const churnEvent = (): void => {
      if (churned.clock.now >= end) {
        return
      }
      const leaving = churned.randomUp()
      if (leaving != null) {
        leaving.up = false
        left++
      }
      const node = churned.addNode()
      churned.join(node, churned.randomUp(), DEFAULT_PARAMS)
      joined++
      churned.clock.after(-Math.log(1 - churned.random.next()) / perMs, churnEvent)
    }
    churned.clock.after(-Math.log(1 - churned.random.next()) / perMs, churnEvent)
    // lookups start at even intervals over the churn period
    const records: LookupRecord[] = []
    const gap = (end - start) / options.lookups
    for (let i = 0; i < options.lookups; i++) {
      churned.clock.at(start + i * gap, () => {
        const from = churned.randomUp()
        if (from != null) {
          churned.lookup(from, churned.random.bytes(32), DEFAULT_PARAMS, r => { records.push(r) })
        }
      })
    }
    await churned.run(() => records.length === options.lookups && churned.clock.now >= end)
    series[`churn ${options.churn} %/min`] = records
    churnRows.push(row([`${options.churn} %/min`, `${options.churnMinutes} min`, `${left} / ${joined}`], records))
    out(table(`Lookups under churn (α ${ALPHA}, β ${K_BUCKET_SIZE}); accuracy against the nodes up when the lookup ended`, ['churn', 'period', 'left / joined', ...HEADER], churnRows))
  }

  if (options.charts != null) {
    mkdirSync(options.charts, { recursive: true })
    const pick = (name: string, key: string): Series | undefined => {
      const values = kept.get(key)
      return values == null ? undefined : { name, values: values.map(r => r.latency) }
    }
    const healthyLatency: Series[] = [
      pick(`α ${ALPHA}, β 20 (kadmium)`, `${ALPHA}/20`),
      pick(`α ${ALPHA}, β 3`, `${ALPHA}/3`),
      pick('α 3, β 20', '3/20'),
      pick('α 1, β 20', '1/20')
    ].filter((s): s is Series => s != null)
    writeFileSync(join(options.charts, 'sim-latency-cdf.svg'), cdfChart(`Lookup latency, healthy ${N}-node network`, 'virtual ms', healthyLatency, 1))
    const faultLatency: Series[] = [
      pick(`healthy, α ${ALPHA}, β 20`, `${ALPHA}/20`),
      ...Object.entries(series).map(([name, records]) => ({ name, values: records.map(r => r.latency) }))
    ].filter((s): s is Series => s != null)
    writeFileSync(join(options.charts, 'sim-latency-faults-cdf.svg'), cdfChart(`Lookup latency with faults, ${N} nodes (α ${ALPHA}, β 20)`, 'virtual ms (a lookup failed at the 30 s query timeout)', faultLatency, 1))
    const hops: Series[] = [
      { name: `α ${ALPHA}, β 20 (kadmium)`, values: (kept.get(`${ALPHA}/20`) ?? checkRecords).map(r => r.hops) },
      ...(kept.has(`${ALPHA}/3`) ? [{ name: `α ${ALPHA}, β 3`, values: (kept.get(`${ALPHA}/3`) ?? []).map(r => r.hops) }] : []),
      ...(kept.has('1/20') ? [{ name: 'α 1, β 20', values: (kept.get('1/20') ?? []).map(r => r.hops) }] : []),
      ...Object.entries(series).filter(([name]) => name.endsWith(`timeout ${REQUEST_TIMEOUT / 1000} s, stall on`)).map(([name, records]) => ({ name, values: records.map(r => r.hops) }))
    ]
    writeFileSync(join(options.charts, 'sim-hops.svg'), histogramChart(`Hops per lookup, ${N} simulated nodes`, 'hops (longest referral chain to a result peer)', hops))
    out(`\ncharts written: ${['sim-latency-cdf.svg', 'sim-latency-faults-cdf.svg', 'sim-hops.svg'].map(f => join(options.charts ?? '', f)).join(', ')}\n`)
  }
  out(`\nsimulator total: ${((performance.now() - started) / 1_000).toFixed(1)} s\n`)
  return {
    check: { lookups: checkRecords.length, exact },
    unresponsive: { successRate: withStall.successRate, medianLatency: withStall.medianLatency },
    unresponsiveNoStall: { successRate: withoutStall.successRate, medianLatency: withoutStall.medianLatency }
  }
}

/** Parses the command line of the simulator. */
export function simulationArgs (args: string[]): Partial<SimulationOptions> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string' },
      lookups: { type: 'string' },
      alphas: { type: 'string' },
      results: { type: 'string' },
      build: { type: 'string' },
      unresponsive: { type: 'string' },
      churn: { type: 'string' },
      'churn-minutes': { type: 'string' },
      seed: { type: 'string' },
      'rtt-median': { type: 'string' },
      'rtt-sigma': { type: 'string' },
      charts: { type: 'string' },
      'no-stall': { type: 'boolean' }
    },
    strict: true
  })
  const out: Partial<SimulationOptions> = {}
  if (values.nodes != null) { out.nodes = positiveInt('nodes', values.nodes) }
  if (values.lookups != null) { out.lookups = positiveInt('lookups', values.lookups) }
  if (values.alphas != null) { out.alphas = intList('alphas', values.alphas) }
  if (values.results != null) { out.results = intList('results', values.results) }
  if (values.build != null) {
    if (values.build !== 'join' && values.build !== 'global') {
      throw new Error(`--build takes join or global, got ${values.build}`)
    }
    out.build = values.build
  }
  if (values.unresponsive != null) { out.unresponsive = numberIn('unresponsive', values.unresponsive, 0, 0.95) }
  if (values.churn != null) { out.churn = numberIn('churn', values.churn, 0, 100) }
  if (values['churn-minutes'] != null) { out.churnMinutes = numberIn('churn-minutes', values['churn-minutes'], 0.1, 1_000) }
  if (values.seed != null) { out.seed = positiveInt('seed', values.seed) }
  if (values['rtt-median'] != null) { out.rttMedian = numberIn('rtt-median', values['rtt-median'], 0.01, 10_000) }
  if (values['rtt-sigma'] != null) { out.rttSigma = numberIn('rtt-sigma', values['rtt-sigma'], 0, 5) }
  if (values.charts != null) { out.charts = values.charts }
  if (values['no-stall'] === true) { out.stall = false }
  return out
}

if (isMain(import.meta.url)) {
  const result = await runSimulation(simulationArgs(process.argv.slice(2)))
  if (result.check.exact !== result.check.lookups) {
    process.exitCode = 1
  }
}
