/**
 * The tables of the in-process benchmarks (the harness over the plain memory transport),
 * kadmium and js side by side with their ratio.
 */
import { JOIN_WINDOW } from '../harness/report.ts'
import { fmt, mean, ms, pct, quantile, ratio, table } from '../lib/stats.ts'
import type { BenchReport, JoinSample, Op, OpSample, Phase } from '../harness/report.ts'

const KB = 1024
const HEADER = ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js']

/** The samples of `op` in `phase` of a report. */
function samples (report: BenchReport, phase: Phase, op: Op): OpSample[] {
  return report.phases.find(p => p.phase === phase)?.ops[op] ?? []
}

export function lookupTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  const [la, lb] = [samples(a, 'lookup', 'closest'), samples(b, 'lookup', 'closest')]
  const [wa, wb] = [samples(a, 'lookup', 'closestWarm'), samples(b, 'lookup', 'closestWarm')]
  const col = (list: OpSample[], f: (s: OpSample) => number): number[] => list.map(f).filter(Number.isFinite)
  for (const [name, pick, f, x, y] of [
    ['wall time', (s: OpSample) => s.ms, ms, la, lb],
    ['wall time of the same lookup repeated at once', (s: OpSample) => s.ms, ms, wa, wb],
    ['requests sent by the asker', (s: OpSample) => s.requests, (v: number) => fmt(v), la, lb],
    ['requests that failed', (s: OpSample) => s.failed, (v: number) => fmt(v), la, lb],
    ['distinct peers asked', (s: OpSample) => s.distinct, (v: number) => fmt(v), la, lb],
    ['DHT streams received, whole network', (s: OpSample) => s.streams, (v: number) => fmt(v), la, lb],
    ['libp2p ping streams received, whole network', (s: OpSample) => s.pings, (v: number) => fmt(v), la, lb]
  ] as Array<[string, (s: OpSample) => number, (v: number) => string, OpSample[], OpSample[]]>) {
    add(`${name}, median`, quantile(col(x, pick), 0.5), quantile(col(y, pick), 0.5), f)
    add(`${name}, p90`, quantile(col(x, pick), 0.9), quantile(col(y, pick), 0.9), f)
  }
  const accuracy = (list: OpSample[]): number[] => list.map(s => s.accuracy ?? 0)
  add('accuracy (true 20 found), mean', mean(accuracy(la)), mean(accuracy(lb)), v => pct(v))
  add('accuracy, worst lookup', Math.min(...accuracy(la)), Math.min(...accuracy(lb)), v => pct(v))
  add('lookups returning exactly the true 20', la.filter(s => s.accuracy === 1).length / la.length, lb.filter(s => s.accuracy === 1).length / lb.length, v => pct(v, 0))
  return table(`Lookup, ${a.nodes || b.nodes} nodes, getClosestPeers from random nodes to random keys (${la.length} kadmium, ${lb.length} js)`, HEADER, rows)
}

export function setupTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  const mb = (v: number): string => `${fmt(v / KB / KB, 2)} MB`
  add('start-up per node, median', quantile(a.build.startupMs, 0.5), quantile(b.build.startupMs, 0.5), ms)
  add('start-up per node, p90', quantile(a.build.startupMs, 0.9), quantile(b.build.startupMs, 0.9), ms)
  add('resident memory per node, started', a.build.rssPerNodeStarted, b.build.rssPerNodeStarted, mb)
  add('resident memory per node, after the runs', a.rssPerNodeEnd, b.rssPerNodeEnd, mb)
  add('JS heap per node, after the runs', a.heapPerNodeEnd, b.heapPerNodeEnd, mb)
  add('dialling the topology (8 dials at a time)', a.build.dialMs, b.build.dialMs, ms)
  add('dials that failed', a.build.dialFailures, b.build.dialFailures, v => fmt(v))
  add('dialling the topology until tables are still', a.build.connectMs, b.build.connectMs, ms)
  add('DHT streams received meanwhile, whole network', a.build.connectStreams, b.build.connectStreams, v => fmt(v))
  add('connections per node when the tables were still', a.build.connectionsPerNode, b.build.connectionsPerNode, v => fmt(v, 1))
  add('self-lookups of every node, 4 at a time', a.build.selfLookupMs, b.build.selfLookupMs, ms)
  add('self-lookups done within the phase bound', a.build.selfLookups, b.build.selfLookups, v => fmt(v))
  add('DHT streams received during the self-lookups', a.build.selfLookupStreams, b.build.selfLookupStreams, v => fmt(v))
  add('routing-table size after settling, mean', a.build.tableMean, b.build.tableMean, v => fmt(v, 1))
  add('routing-table size after settling, min', a.build.tableMin, b.build.tableMin, v => fmt(v))
  add('DHT streams per second while idle', a.idle.dhtPerSecond, b.idle.dhtPerSecond, v => fmt(v, 1))
  add('CPU of the whole process while idle, share of a core', a.idle.cpuShare, b.idle.cpuShare, v => pct(v, 0))
  return table(`Network of ${a.nodes || b.nodes} nodes: start-up, memory and settling`, HEADER, rows)
}

/** An operation and the one that follows it (put then get, provide then findProviders), from one phase. */
export function pairTable (title: string, phase: Phase, [first, second]: [Op, Op], a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  rows.push(['operations done', String(samples(a, phase, first).length), String(samples(b, phase, first).length), ''])
  for (const op of [first, second]) {
    const [x, y] = [samples(a, phase, op), samples(b, phase, op)]
    add(`${op}: wall time, median`, quantile(x.map(s => s.ms), 0.5), quantile(y.map(s => s.ms), 0.5), ms)
    add(`${op}: wall time, p90`, quantile(x.map(s => s.ms), 0.9), quantile(y.map(s => s.ms), 0.9), ms)
    add(`${op}: DHT streams received, median`, quantile(x.map(s => s.streams), 0.5), quantile(y.map(s => s.streams), 0.5), v => fmt(v))
    add(`${op}: success`, x.filter(s => s.ok).length / x.length, y.filter(s => s.ok).length / y.length, v => pct(v, 0))
  }
  return table(title, HEADER, rows)
}

/** Providing many CIDs from one node: one by one on both sides, and kadmium's provideMany. */
export function batchTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const one = (r: BenchReport, op: Op): OpSample | undefined => samples(r, 'batch', op)[0]
  const per = (s: OpSample | undefined, f: (s: OpSample) => number): number => s == null ? NaN : f(s) / (s.cids ?? NaN)
  const lines = (label: string, x: OpSample | undefined, y: OpSample | undefined): void => {
    const add = (name: string, vx: number, vy: number, f: (v: number) => string): void => {
      rows.push([`${label}: ${name}`, f(vx), f(vy), ratio(vx, vy)])
    }
    add('DHT streams received per CID, whole network', per(x, s => s.streams), per(y, s => s.streams), v => fmt(v, 1))
    add('wall time per CID', per(x, s => s.ms), per(y, s => s.ms), ms)
    add('CIDs provided', per(x, s => s.provided ?? NaN), per(y, s => s.provided ?? NaN), v => pct(v, 0))
    const found = (s?: OpSample): number => s == null ? NaN : (s.found ?? NaN) / (s.checked ?? NaN)
    add('provider found from another node', found(x), found(y), v => pct(v, 0))
  }
  lines('provide each', one(a, 'provideEach'), one(b, 'provideEach'))
  lines('kadmium provideMany', one(a, 'provideMany'), undefined)
  // the row that matters: kadmium's batch against js providing one CID after another
  rows.push(['provideMany streams per CID / js provide streams per CID', '', '', ratio(per(one(a, 'provideMany'), s => s.streams), per(one(b, 'provideEach'), s => s.streams))])
  const cids = one(a, 'provideEach')?.cids ?? one(b, 'provideEach')?.cids ?? 0
  return table(`Providing ${cids} CIDs from one node, ${a.nodes || b.nodes} nodes (a sample of 5 looked for from random other nodes)`, HEADER, rows)
}

/** Nodes joining the settled network: how soon others find them, and what joining costs. */
export function joinTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const joins = (r: BenchReport): JoinSample[] => r.phases.find(p => p.phase === 'join')?.joins ?? []
  const [ja, jb] = [joins(a), joins(b)]
  const col = (list: JoinSample[], f: (s: JoinSample) => number): number[] => list.map(f).filter(Number.isFinite)
  const both = (name: string, pick: (s: JoinSample) => number, f: (v: number) => string): void => {
    for (const [q, label] of [[0.5, 'median'], [0.9, 'p90']] as Array<[number, string]>) {
      const x = quantile(col(ja, pick), q)
      const y = quantile(col(jb, pick), q)
      rows.push([`${name}, ${label}`, f(x), f(y), ratio(x, y)])
    }
  }
  both('found by a random other node after', s => s.findableMs, ms)
  const found = (list: JoinSample[]): number => list.filter(s => Number.isFinite(s.findableMs)).length / list.length
  rows.push(['found within 30 s', pct(found(ja), 0), pct(found(jb), 0), ratio(found(ja), found(jb))])
  both('DHT requests it sent', s => s.requests, v => fmt(v))
  both('DHT streams it opened', s => s.streams, v => fmt(v))
  both('connections it opened', s => s.outbound, v => fmt(v))
  both('connections opened to it', s => s.inbound, v => fmt(v))
  both('connections it held at the end', s => s.open, v => fmt(v))
  both('its routing-table size at the end', s => s.table, v => fmt(v))
  return table(`Joining, ${a.nodes || b.nodes} nodes: ${ja.length} kadmium and ${jb.length} js nodes join one after another through a random member, each watched for its first ${fmt(JOIN_WINDOW / 1_000)} s`, HEADER, rows)
}
