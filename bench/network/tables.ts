/**
 * The tables of the N-node benchmarks, kadmium and js side by side with their ratio.
 */
import { fmt, mean, ms, pct, quantile, ratio, table } from '../lib/stats.ts'
import type { ChildReport, JoinSample, LookupSample, ManySample, PairSample } from './report.ts'

const KB = 1024

export function lookupTable (a: ChildReport, b: ChildReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  const la = a.lookups
  const lb = b.lookups
  const col = (list: LookupSample[], f: (s: LookupSample) => number): number[] => list.map(f).filter(Number.isFinite)
  for (const [name, pick, f] of [
    ['wall time', (s: LookupSample) => s.ms, ms],
    ['wall time of the same lookup repeated at once', (s: LookupSample) => s.warmMs, ms],
    ['requests sent by the asker', (s: LookupSample) => s.sent, (v: number) => fmt(v)],
    ['requests that failed', (s: LookupSample) => s.failed, (v: number) => fmt(v)],
    ['distinct peers asked', (s: LookupSample) => s.distinct, (v: number) => fmt(v)],
    ['DHT streams received, whole network', (s: LookupSample) => s.streams, (v: number) => fmt(v)],
    ['libp2p ping streams received, whole network', (s: LookupSample) => s.pings, (v: number) => fmt(v)]
  ] as Array<[string, (s: LookupSample) => number, (v: number) => string]>) {
    add(`${name}, median`, quantile(col(la, pick), 0.5), quantile(col(lb, pick), 0.5), f)
    add(`${name}, p90`, quantile(col(la, pick), 0.9), quantile(col(lb, pick), 0.9), f)
  }
  add('accuracy (true 20 found), mean', mean(la.map(s => s.accuracy)), mean(lb.map(s => s.accuracy)), v => pct(v))
  add('accuracy, worst lookup', Math.min(...la.map(s => s.accuracy)), Math.min(...lb.map(s => s.accuracy)), v => pct(v))
  add('lookups returning exactly the true 20', la.filter(s => s.accuracy === 1).length / la.length, lb.filter(s => s.accuracy === 1).length / lb.length, v => pct(v, 0))
  return table(`Lookup, ${a.nodes} nodes, getClosestPeers from random nodes to random keys (${la.length} kadmium, ${lb.length} js)`, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

export function setupTable (a: ChildReport, b: ChildReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  add('start-up per node, median', quantile(a.startupMs, 0.5), quantile(b.startupMs, 0.5), ms)
  add('start-up per node, p90', quantile(a.startupMs, 0.9), quantile(b.startupMs, 0.9), ms)
  add('resident memory per node, started', a.rssPerNodeStarted, b.rssPerNodeStarted, v => `${fmt(v / KB / KB, 2)} MB`)
  add('resident memory per node, after the runs', a.rssPerNodeSettled, b.rssPerNodeSettled, v => `${fmt(v / KB / KB, 2)} MB`)
  add('JS heap per node, after the runs', a.heapPerNodeSettled, b.heapPerNodeSettled, v => `${fmt(v / KB / KB, 2)} MB`)
  add('dialling the topology (8 dials at a time)', a.dialMs, b.dialMs, ms)
  add('dials that failed', a.dialFailures, b.dialFailures, v => fmt(v))
  add('dialling the topology until tables are still', a.connectMs, b.connectMs, ms)
  add('DHT streams received meanwhile, whole network', a.connectStreams, b.connectStreams, v => fmt(v))
  add('connections per node when the tables were still', a.connectionsPerNode, b.connectionsPerNode, v => fmt(v, 1))
  add('self-lookups of every node, 4 at a time', a.selfLookupMs, b.selfLookupMs, ms)
  add('self-lookups done within the phase bound', a.selfLookups, b.selfLookups, v => fmt(v))
  add('DHT streams received during the self-lookups', a.buildStreams, b.buildStreams, v => fmt(v))
  add('routing-table size after settling, mean', a.tableMean, b.tableMean, v => fmt(v, 1))
  add('routing-table size after settling, min', a.tableMin, b.tableMin, v => fmt(v))
  add('DHT streams per second while idle', a.idleStreamsPerSecond, b.idleStreamsPerSecond, v => fmt(v, 1))
  add('CPU of the whole process while idle, share of a core', a.idleCpuShare, b.idleCpuShare, v => pct(v, 0))
  return table(`Network of ${a.nodes} nodes: start-up, memory and settling`, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

export function pairTable (title: string, first: string, second: string, a: PairSample[], b: PairSample[]): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  rows.push(['operations done', String(a.length), String(b.length), ''])
  const okMs = (list: PairSample[], pick: (s: PairSample) => number): number[] => list.map(pick)
  add(`${first}: wall time, median`, quantile(okMs(a, s => s.firstMs), 0.5), quantile(okMs(b, s => s.firstMs), 0.5), ms)
  add(`${first}: wall time, p90`, quantile(okMs(a, s => s.firstMs), 0.9), quantile(okMs(b, s => s.firstMs), 0.9), ms)
  add(`${first}: DHT streams received, median`, quantile(a.map(s => s.firstStreams), 0.5), quantile(b.map(s => s.firstStreams), 0.5), v => fmt(v))
  add(`${first}: success`, a.filter(s => s.firstOk).length / a.length, b.filter(s => s.firstOk).length / b.length, v => pct(v, 0))
  add(`${second}: wall time, median`, quantile(okMs(a, s => s.secondMs), 0.5), quantile(okMs(b, s => s.secondMs), 0.5), ms)
  add(`${second}: wall time, p90`, quantile(okMs(a, s => s.secondMs), 0.9), quantile(okMs(b, s => s.secondMs), 0.9), ms)
  add(`${second}: DHT streams received, median`, quantile(a.map(s => s.secondStreams), 0.5), quantile(b.map(s => s.secondStreams), 0.5), v => fmt(v))
  add(`${second}: success`, a.filter(s => s.secondOk).length / a.length, b.filter(s => s.secondOk).length / b.length, v => pct(v, 0))
  return table(title, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

/** Providing many CIDs from one node: one by one on both sides, and kadmium's provideMany. */
export function batchTable (a: ChildReport, b: ChildReport): string {
  const rows: string[][] = []
  const per = (s: ManySample | undefined, f: (s: ManySample) => number): number => s == null ? NaN : f(s) / s.cids
  const lines = (label: string, x: ManySample | undefined, y: ManySample | undefined): void => {
    const add = (name: string, vx: number, vy: number, f: (v: number) => string): void => {
      rows.push([`${label}: ${name}`, f(vx), f(vy), ratio(vx, vy)])
    }
    add('DHT streams received per CID, whole network', per(x, s => s.streams), per(y, s => s.streams), v => fmt(v, 1))
    add('wall time per CID', per(x, s => s.ms), per(y, s => s.ms), ms)
    add('CIDs provided', per(x, s => s.provided), per(y, s => s.provided), v => pct(v, 0))
    add('provider found from another node', x == null ? NaN : x.found / x.checked, y == null ? NaN : y.found / y.checked, v => pct(v, 0))
  }
  lines('provide each', a.provideEach, b.provideEach)
  lines('kadmium provideMany', a.provideMany, undefined)
  // the row that matters: kadmium's batch against js providing one CID after another
  rows.push(['provideMany streams per CID / js provide streams per CID', '', '', ratio(per(a.provideMany, s => s.streams), per(b.provideEach, s => s.streams))])
  const cids = a.provideEach?.cids ?? b.provideEach?.cids ?? 0
  return table(`Providing ${cids} CIDs from one node, ${a.nodes} nodes (a sample of 5 looked for from random other nodes)`, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

/** Nodes joining the settled network: how soon others find them, and what joining costs. */
export function joinTable (a: ChildReport, b: ChildReport, windowMs: number): string {
  const rows: string[][] = []
  const col = (list: JoinSample[], f: (s: JoinSample) => number): number[] => list.map(f).filter(Number.isFinite)
  const both = (name: string, pick: (s: JoinSample) => number, f: (v: number) => string): void => {
    for (const [q, label] of [[0.5, 'median'], [0.9, 'p90']] as Array<[number, string]>) {
      const x = quantile(col(a.joins, pick), q)
      const y = quantile(col(b.joins, pick), q)
      rows.push([`${name}, ${label}`, f(x), f(y), ratio(x, y)])
    }
  }
  both('found by a random other node after', s => s.foundMs, ms)
  const found = (list: JoinSample[]): number => list.filter(s => Number.isFinite(s.foundMs)).length / list.length
  rows.push(['found within the window', pct(found(a.joins), 0), pct(found(b.joins), 0), ratio(found(a.joins), found(b.joins))])
  both('DHT requests it sent', s => s.requests, v => fmt(v))
  both('DHT streams it opened', s => s.streams, v => fmt(v))
  both('connections it opened', s => s.outbound, v => fmt(v))
  both('connections opened to it', s => s.inbound, v => fmt(v))
  both('connections it held at the end', s => s.open, v => fmt(v))
  both('its routing-table size at the end', s => s.table, v => fmt(v))
  return table(`Joining, ${a.nodes} nodes: ${a.joins.length} kadmium and ${b.joins.length} js nodes join one after another through a random member, each watched for its first ${fmt(windowMs / 1_000)} s`, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}
