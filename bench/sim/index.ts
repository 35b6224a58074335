/**
 * The network simulator: what a kadmium node runs — its routing table, lookup driver, table
 * policy and refresher, from src/ — over a virtual network of thousands of nodes, with a virtual
 * clock, per-pair latencies, silent nodes and churn. Prints tables and writes SVG charts.
 *
 * ```
 * npm run build
 * node dist/bench/sim/index.js [--nodes 10000] [--lookups 100] [--alphas 1,3,10] [--results 3,10,20]
 *   [--build join|global] [--join-minutes 10] [--unresponsive 0.2] [--churn 1] [--churn-minutes 10]
 *   [--seed 1] [--rtt-median 80] [--rtt-sigma 0.6] [--gap 100] [--no-stall] [--no-compare] [--no-refresh]
 *   [--only healthy,faults,churn] [--charts docs]
 * ```
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ALPHA, K_BUCKET_SIZE, REFRESH_INTERVAL } from '../../src/constants.ts'
import { REQUEST_TIMEOUT, STALL_INITIAL_TIMEOUT, STALL_MIN_TIMEOUT, STALL_RTT_FACTOR } from '../../src/defaults.ts'
import { isMain } from '../lib/main.ts'
import { fmt, intList, mean, ms, numberIn, pct, positiveInt, quantile, table } from '../lib/stats.ts'
import { DEFAULT_STALL, SimNetwork } from './network.ts'
import { cdfChart, histogramChart } from './svg.ts'
import type { LookupParams, LookupRecord } from './network.ts'
import type { Series } from './svg.ts'

/** The parts of a run. */
export type SimulationPart = 'healthy' | 'faults' | 'churn'

/** Options of {@link runSimulation}. */
export interface SimulationOptions {
  nodes: number
  lookups: number
  alphas: number[]
  /** How many of the closest must answer before a lookup ends (20: getClosestPeers). */
  results: number[]
  build: 'join' | 'global'
  /** Over how many virtual minutes the nodes join (`build: 'join'`). */
  joinMinutes: number
  unresponsive: number
  /** Percent of the nodes replaced per virtual minute. */
  churn: number
  churnMinutes: number
  seed: number
  rttMedian: number
  rttSigma: number
  /** Virtual ms between the starts of the measured lookups (they overlap, as a busy node's do). */
  gap: number
  /** Stall detection in every lookup (the shipped default); false runs everything without it. */
  stall: boolean
  /** Also run the faults on a network without stall detection, for comparison (one more build). */
  compare: boolean
  /**
   * The nodes' refreshers (the service's default). Off, nothing keeps the tables but lookups
   * themselves, and a join build is useless (a joining node would never look itself up): for
   * lookups alone over tables from the global view.
   */
  refresh: boolean
  /** Which parts to run. */
  only: SimulationPart[]
  /** Where the SVG charts go; none are written when undefined. */
  charts?: string
  /** Write lines here (stdout by default). */
  out?(text: string): void
}

/** A success rate and a median latency. */
export interface FaultSummary {
  successRate: number
  medianLatency: number
}

/** What {@link runSimulation} found, for callers that check it. */
export interface SimulationResult {
  /** Lookups of the no-churn check, and how many found exactly the true k closest. */
  check?: { lookups: number, exact: number }
  /** With a share of the nodes silent, at once and after one and two refresh intervals of upkeep. */
  unresponsive?: { atOnce: FaultSummary, afterRefresh?: FaultSummary, afterTwo?: FaultSummary }
}

const DEFAULTS: SimulationOptions = {
  nodes: 10_000,
  lookups: 100,
  alphas: [1, 3, 10],
  results: [3, 10, 20],
  build: 'join',
  joinMinutes: 10,
  unresponsive: 0.2,
  churn: 1,
  churnMinutes: 10,
  seed: 1,
  rttMedian: 80,
  rttSigma: 0.6,
  gap: 100,
  stall: true,
  compare: true,
  refresh: true,
  only: ['healthy', 'faults', 'churn']
}

const DEFAULT_PARAMS: LookupParams = { alpha: ALPHA, resultSize: K_BUCKET_SIZE }

function q3 (values: number[], digits = 0): string {
  return `${fmt(quantile(values, 0.5), digits)} / ${fmt(quantile(values, 0.9), digits)} / ${fmt(quantile(values, 0.99), digits)}`
}

function row (label: string[], records: LookupRecord[]): string[] {
  return [
    ...label,
    q3(records.map(r => r.hops)),
    q3(records.map(r => r.requests)),
    q3(records.map(r => r.latency)),
    pct(mean(records.map(r => r.accuracy))),
    pct(records.filter(r => r.exact).length / records.length),
    String(records.filter(r => r.timedOut).length)
  ]
}

const HEADER = ['hops p50 / p90 / p99', 'requests p50 / p90 / p99', 'latency ms p50 / p90 / p99', 'mean accuracy', 'exact 20', 'timed out']

function summarise (records: LookupRecord[]): FaultSummary {
  return { successRate: records.filter(r => r.exact).length / records.length, medianLatency: quantile(records.map(r => r.latency), 0.5) }
}

function line (summary: FaultSummary, records: LookupRecord[]): string {
  const latency = records.map(r => r.latency)
  return `success rate ${pct(summary.successRate)}, latency median ${ms(summary.medianLatency)}, p90 ${ms(quantile(latency, 0.9))}, p99 ${ms(quantile(latency, 0.99))}`
}

function mb (bytes: number): string {
  return `${fmt(bytes / 1_048_576)} MB`
}

/** Builds a fresh network the way the options say; the same seed gives the same network. */
async function build (options: SimulationOptions, stall: boolean, out: (text: string) => void): Promise<SimNetwork> {
  const net = new SimNetwork({
    seed: options.seed,
    latency: { kind: 'lognormal', median: options.rttMedian, sigma: options.rttSigma },
    stall: stall ? DEFAULT_STALL : false,
    ...(options.refresh ? {} : { refreshInterval: 0 })
  })
  const started = performance.now()
  if (options.build === 'join') {
    await net.buildByJoining(options.nodes, options.joinMinutes * 60_000)
  } else {
    net.buildFromGlobalView(options.nodes)
    if (options.refresh) {
      await net.runUntil(REFRESH_INTERVAL)
    }
  }
  const sizes = net.tableSizes()
  // what the network holds, not what garbage waits for collection (with node --expose-gc)
  ;(globalThis as { gc?(): void }).gc?.()
  const memory = process.memoryUsage()
  out(`\nbuilt${stall ? '' : ' (stall detection off)'} in ${((performance.now() - started) / 1_000).toFixed(1)} s of wall time: ${fmt(net.counters.requests)} lookup requests and ${fmt(net.counters.checks)} liveness checks in ${fmt(net.clock.now / 60_000, 1)} virtual minutes; table sizes mean ${fmt(sizes.mean, 1)}, min ${sizes.min}, max ${sizes.max}; resident ${mb(memory.rss)}, JS heap ${mb(memory.heapUsed)}\n`)
  return net
}

/**
 * Starts `count` lookups from random nodes that are up to random keys, one every `gap` virtual
 * ms, and resolves to their records when all have ended; the network's upkeep runs meanwhile.
 */
async function lookups (net: SimNetwork, count: number, params: LookupParams, gap: number): Promise<LookupRecord[]> {
  const out: LookupRecord[] = []
  const start = net.clock.now
  for (let i = 0; i < count; i++) {
    net.clock.at(start + i * gap, () => {
      const from = net.randomUp()
      if (from != null) {
        net.lookup(from, net.random.bytes(32), params, r => { out.push(r) })
      }
    })
  }
  await net.run(() => out.length === count)
  return out
}

/** The mean number of entries of silent or departed nodes in a live node's table. */
function deadPerTable (net: SimNetwork): string {
  return fmt(net.deadEntries() / net.upCount, 1)
}

/**
 * Lookups with a share of the nodes silenced: at once, then after each of `intervals` refresh
 * intervals of the nodes' upkeep. Adds the table's rows; returns the records of each measurement.
 */
async function faults (net: SimNetwork, options: SimulationOptions, stall: boolean, intervals: number[], rows: string[][], series: Record<string, LookupRecord[]>): Promise<LookupRecord[][]> {
  const down = Math.round(options.unresponsive * net.nodes.length)
  for (const i of net.random.sample(net.nodes.length, down)) {
    net.stop(net.nodes[i])
  }
  const silenced = net.clock.now
  const stallLabel = stall ? 'on' : 'off'
  const out: LookupRecord[][] = []
  for (const after of [0, ...intervals]) {
    await net.runUntil(silenced + after * REFRESH_INTERVAL)
    const when = after === 0 ? 'at once' : `after ${after * REFRESH_INTERVAL / 60_000} min`
    const dead = deadPerTable(net)
    const records = await lookups(net, options.lookups, DEFAULT_PARAMS, options.gap)
    series[`${pct(options.unresponsive, 0)} silent, ${when}, stall ${stallLabel}`] = records
    rows.push([...row([pct(options.unresponsive, 0), stallLabel, when, dead], records), q3(records.map(r => r.stalls))])
    out.push(records)
  }
  return out
}

/** Lookups while nodes leave silently and new ones join; prints the table and returns the records. */
async function churn (options: SimulationOptions, out: (text: string) => void): Promise<LookupRecord[]> {
  const churned = await build(options, options.stall, out)
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
      churned.stop(leaving)
      left++
    }
    churned.join(churned.addNode(), churned.randomUp())
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
  out(table(`Lookups under churn (α ${ALPHA}, results ${K_BUCKET_SIZE}); accuracy against the nodes up when the lookup ended`, ['churn', 'period', 'left / joined', 'dead entries per table at the end', ...HEADER], [
    row([`${options.churn} %/min`, `${options.churnMinutes} min`, `${left} / ${joined}`, deadPerTable(churned)], records)
  ]))
  return records
}

/** The lookups the charts are drawn from. */
interface Samples {
  /** The healthy sweep's rows, by `α/results`. */
  sweep: Map<string, LookupRecord[]>
  check: LookupRecord[]
  /** The fault and churn runs, by name. */
  faults: Record<string, LookupRecord[]>
}

/** The α × results sweep on a healthy network, then the check; prints both. */
async function healthy (net: SimNetwork, options: SimulationOptions, samples: Samples, out: (text: string) => void): Promise<{ lookups: number, exact: number }> {
  const N = options.nodes.toLocaleString('en-US')
  const sweepRows: string[][] = []
  for (const alpha of options.alphas) {
    for (const resultSize of options.results) {
      const records = await lookups(net, options.lookups, { alpha, resultSize }, options.gap)
      samples.sweep.set(`${alpha}/${resultSize}`, records)
      sweepRows.push(row([String(alpha), String(resultSize)], records))
    }
  }
  out(table(`Lookups in a healthy ${N}-node network, ${options.lookups} per row (results 20 is kadmium's getClosestPeers)`, ['α', 'results', ...HEADER], sweepRows))
  samples.check = await lookups(net, options.lookups, DEFAULT_PARAMS, options.gap)
  const exact = samples.check.filter(r => r.exact).length
  const verdict = exact === samples.check.length ? 'PASS' : 'FAIL'
  out(`\nCHECK ${verdict}: ${exact} of ${samples.check.length} lookups (α ${ALPHA}, waiting for the closest ${K_BUCKET_SIZE}) in a ${N}-node network with no churn found the true ${K_BUCKET_SIZE} closest\n`)
  return { lookups: samples.check.length, exact }
}

/** Silent nodes on `net` (and on a network without stall detection, to compare); prints the table. */
async function silent (net: SimNetwork, options: SimulationOptions, samples: Samples, out: (text: string) => void): Promise<SimulationResult['unresponsive']> {
  const rows: string[][] = []
  // without the refreshers, nothing would change in the tables but what lookups teach them
  const [atOnce, afterOne, afterTwo] = await faults(net, options, options.stall, options.refresh ? [1, 2] : [], rows, samples.faults)
  if (options.compare && options.stall) {
    await faults(await build(options, false, out), options, false, options.refresh ? [1] : [], rows, samples.faults)
  }
  out(table(`Lookups with silent nodes (α ${ALPHA}, results ${K_BUCKET_SIZE}); success = exactly the true 20 closest live nodes`, ['silent', 'stall detection', 'measured', 'dead entries per table', ...HEADER, 'stalled p50 / p90 / p99'], rows))
  const later = afterTwo == null ? '' : `; ${line(summarise(afterOne), afterOne)} after one refresh interval; ${line(summarise(afterTwo), afterTwo)} after two`
  out(`\nWith ${pct(options.unresponsive, 0)} of the nodes silent${options.stall ? '' : ' (stall detection off)'}: ${line(summarise(atOnce), atOnce)} at once${later}\n`)
  return { atOnce: summarise(atOnce), ...(afterTwo == null ? {} : { afterRefresh: summarise(afterOne), afterTwo: summarise(afterTwo) }) }
}

/** The settings of a run, as one line. */
function settings (options: SimulationOptions): string {
  const stall = options.stall ? `on (${STALL_INITIAL_TIMEOUT} ms before the first answer, then ${STALL_RTT_FACTOR} × the median answer time, at least ${STALL_MIN_TIMEOUT} ms)` : 'off'
  const refresh = options.refresh ? `bucket refresh every ${REFRESH_INTERVAL / 60_000} min` : 'no bucket refresh'
  const built = options.build === 'join' ? `nodes joining over ${options.joinMinutes} virtual minutes, each through a random node already in` : 'a global sorted view, k random peers per bucket'
  return `latency: per-pair RTT log-normal, median ${options.rttMedian} ms, σ ${options.rttSigma}; request timeout ${REQUEST_TIMEOUT} ms; stall detection ${stall}; ${refresh}; tables built by ${built}${options.refresh ? ', then one refresh interval' : ''}; measured lookups start ${options.gap} ms apart; seed ${options.seed}`
}

/** Runs the simulations, prints their tables and writes the charts. */
export async function runSimulation (partial: Partial<SimulationOptions> = {}): Promise<SimulationResult> {
  const options: SimulationOptions = { ...DEFAULTS, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const only = new Set(options.only)
  const started = performance.now()
  const result: SimulationResult = {}
  out(`\n## Simulator: a kadmium node's routing table, lookups and refresher over ${options.nodes.toLocaleString('en-US')} virtual nodes\n\n${settings(options)}\n`)
  const samples: Samples = { sweep: new Map(), check: [], faults: {} }
  // the healthy network, then silent nodes on the same network
  if (only.has('healthy') || only.has('faults')) {
    const net = await build(options, options.stall, out)
    if (only.has('healthy')) {
      result.check = await healthy(net, options, samples, out)
    }
    if (only.has('faults')) {
      result.unresponsive = await silent(net, options, samples, out)
    }
  }
  // churn: nodes leave silently and new ones join while lookups run
  if (options.churn > 0 && only.has('churn')) {
    samples.faults[`churn ${options.churn} %/min`] = await churn(options, out)
  }
  if (options.charts != null) {
    writeCharts(options.charts, options.nodes.toLocaleString('en-US'), samples, out)
  }
  out(`\nsimulator total: ${((performance.now() - started) / 1_000).toFixed(1)} s; peak resident ${mb(process.resourceUsage().maxRSS * 1024)}\n`)
  return result
}

function writeCharts (dir: string, N: string, samples: Samples, out: (text: string) => void): void {
  const { sweep: kept, check: checkRecords, faults: series } = samples
  mkdirSync(dir, { recursive: true })
  const pick = (name: string, key: string): Series | undefined => {
    const values = kept.get(key)
    return values == null ? undefined : { name, values: values.map(r => r.latency) }
  }
  const written: string[] = []
  const write = (file: string, svg: string): void => {
    writeFileSync(join(dir, file), svg)
    written.push(join(dir, file))
  }
  const healthyLatency: Series[] = [
    pick(`α ${ALPHA}, results 20 (kadmium)`, `${ALPHA}/20`),
    pick(`α ${ALPHA}, results 3`, `${ALPHA}/3`),
    pick('α 3, results 20', '3/20'),
    pick('α 1, results 20', '1/20')
  ].filter((s): s is Series => s != null)
  if (healthyLatency.length > 0) {
    write('sim-latency-cdf.svg', cdfChart(`Lookup latency, healthy ${N}-node network`, 'virtual ms', healthyLatency, 1))
  }
  const faultLatency: Series[] = [
    pick(`healthy, α ${ALPHA}, results 20`, `${ALPHA}/20`),
    ...Object.entries(series).map(([name, records]) => ({ name, values: records.map(r => r.latency) }))
  ].filter((s): s is Series => s != null)
  if (faultLatency.length > 0) {
    write('sim-latency-faults-cdf.svg', cdfChart(`Lookup latency with faults, ${N} nodes (α ${ALPHA}, results 20)`, 'virtual ms (a lookup failed at the 30 s query timeout)', faultLatency, 1))
  }
  const hops: Series[] = [
    ...(kept.has(`${ALPHA}/20`) || checkRecords.length > 0 ? [{ name: `α ${ALPHA}, results 20 (kadmium)`, values: (kept.get(`${ALPHA}/20`) ?? checkRecords).map(r => r.hops) }] : []),
    ...(kept.has(`${ALPHA}/3`) ? [{ name: `α ${ALPHA}, results 3`, values: (kept.get(`${ALPHA}/3`) ?? []).map(r => r.hops) }] : []),
    ...(kept.has('1/20') ? [{ name: 'α 1, results 20', values: (kept.get('1/20') ?? []).map(r => r.hops) }] : []),
    ...Object.entries(series).filter(([name]) => name.endsWith('stall on')).map(([name, records]) => ({ name, values: records.map(r => r.hops) }))
  ]
  if (hops.length > 0) {
    write('sim-hops.svg', histogramChart(`Hops per lookup, ${N} simulated nodes`, 'hops (longest referral chain to a result peer)', hops))
  }
  out(`\ncharts written: ${written.join(', ')}\n`)
}

function parts (value: string): SimulationPart[] {
  const out = value.split(',')
  for (const part of out) {
    if (part !== 'healthy' && part !== 'faults' && part !== 'churn') {
      throw new Error(`--only takes healthy, faults and churn, got ${part}`)
    }
  }
  return out as SimulationPart[]
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
      'join-minutes': { type: 'string' },
      unresponsive: { type: 'string' },
      churn: { type: 'string' },
      'churn-minutes': { type: 'string' },
      seed: { type: 'string' },
      'rtt-median': { type: 'string' },
      'rtt-sigma': { type: 'string' },
      gap: { type: 'string' },
      only: { type: 'string' },
      charts: { type: 'string' },
      'no-stall': { type: 'boolean' },
      'no-compare': { type: 'boolean' },
      'no-refresh': { type: 'boolean' }
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
  if (values['join-minutes'] != null) { out.joinMinutes = numberIn('join-minutes', values['join-minutes'], 0, 10_000) }
  if (values.unresponsive != null) { out.unresponsive = numberIn('unresponsive', values.unresponsive, 0, 0.95) }
  if (values.churn != null) { out.churn = numberIn('churn', values.churn, 0, 100) }
  if (values['churn-minutes'] != null) { out.churnMinutes = numberIn('churn-minutes', values['churn-minutes'], 0.1, 1_000) }
  if (values.seed != null) { out.seed = positiveInt('seed', values.seed) }
  if (values['rtt-median'] != null) { out.rttMedian = numberIn('rtt-median', values['rtt-median'], 0.01, 10_000) }
  if (values['rtt-sigma'] != null) { out.rttSigma = numberIn('rtt-sigma', values['rtt-sigma'], 0, 5) }
  if (values.gap != null) { out.gap = numberIn('gap', values.gap, 0, 60_000) }
  if (values.only != null) { out.only = parts(values.only) }
  if (values.charts != null) { out.charts = values.charts }
  for (const [flag, option] of [['no-stall', 'stall'], ['no-compare', 'compare'], ['no-refresh', 'refresh']] as const) {
    if (values[flag] === true) { out[option] = false }
  }
  return out
}

if (isMain(import.meta.url)) {
  const result = await runSimulation(simulationArgs(process.argv.slice(2)))
  if (result.check != null && result.check.exact !== result.check.lookups) {
    process.exitCode = 1
  }
}
