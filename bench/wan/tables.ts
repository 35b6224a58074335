/**
 * The WAN benchmark's tables (kadmium and js side by side with their ratio), its targets and
 * its charts.
 */
import { BULK_PROVIDES_AT_ONCE } from '../harness/accelerated.ts'
import { JOIN_WINDOW } from '../harness/report.ts'
import { fmt, mean, ms, pct, quantile, ratio, table } from '../lib/stats.ts'
import { cdfChart } from '../sim/svg.ts'
import { succeeded } from './json.ts'
import { sigmaOf } from './latency.ts'
import type { AcceleratedPhase, BenchOptions, BenchReport, JoinSample, Op, OpSample, Phase, PhaseReport } from '../harness/report.ts'

const HEADER = ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js']

/** How each operation is named in the tables, and what its success means. */
const OPS: Record<Op, { name: string, success: string }> = {
  closest: { name: 'getClosestPeers, cold', success: 'exactly the true 20 closest live servers' },
  closestWarm: { name: 'getClosestPeers, repeated warm', success: 'exactly the true 20 closest live servers' },
  findPeer: { name: 'findPeer of a random node', success: 'an address found' },
  put: { name: 'put', success: 'did not throw' },
  get: { name: 'get (of the value put)', success: 'the value put' },
  provide: { name: 'provide', success: 'did not throw' },
  findProviders: { name: 'findProviders (first provider)', success: 'the provider found' },
  provideEach: { name: 'provide of each CID, one after another', success: 'every CID provided' },
  provideMany: { name: 'provideMany (kadmium)', success: 'every CID reached a peer' }
}

const finite = (values: number[]): number[] => values.filter(Number.isFinite)
const q = (values: number[], p: number): number => quantile(finite(values), p)

/** The latency model, what it realised, and the round trips libp2p's steps took. */
export function latencyTable (a: BenchReport, b: BenchReport, options: BenchOptions): string {
  const rtt = a.rtt[0] > 0 ? a.rtt : b.rtt
  const rows: string[][] = [
    ['pair RTT p50 · p90 · p99 · max, model', `${options.latency.medianRtt} ms · – · ${options.latency.p99Rtt} ms · – (log-normal, σ ${sigmaOf(options.latency).toFixed(3)})`, '', ''],
    ['pair RTT p50 · p90 · p99 · max, realised over every pair of the servers', rtt.map(v => ms(v)).join(' · '), '(the same nodes)', '']
  ]
  const inRtt = (r: BenchReport, steps: number[]): number[] => steps.map((v, i) => v / r.calibration.rtt[i])
  // the largest distance of a step from its median number of round trips, in ms
  const offBy = (r: BenchReport, steps: number[]): number => {
    const whole = Math.round(q(inRtt(r, steps), 0.5))
    return Math.max(...steps.map((v, i) => Math.abs(v - whole * r.calibration.rtt[i])))
  }
  for (const [label, pick] of [
    ['dial, round trips (median · p90 · max off that many round trips)', (r: BenchReport) => r.calibration.dial],
    ['opening a stream, round trips', (r: BenchReport) => r.calibration.stream],
    ['one request on it, round trips', (r: BenchReport) => r.calibration.request]
  ] as Array<[string, (r: BenchReport) => number[]]>) {
    const cell = (r: BenchReport): string => r.calibration.rtt.length === 0 ? '–' : `${fmt(q(inRtt(r, pick(r)), 0.5), 2)} · ${fmt(q(inRtt(r, pick(r)), 0.9), 2)} · ${ms(offBy(r, pick(r)))}`
    rows.push([label, cell(a), cell(b), ''])
  }
  return table(`The emulated WAN, ${a.nodes || b.nodes} servers: pair round-trip times, and libp2p's steps in round trips (${a.calibration.dial.length} pairs not connected before; ${a.clock} time)`, HEADER, rows)
}

/** Building the network, and the idle network. */
export function buildTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => { rows.push([name, f(x), f(y), ratio(x, y)]) }
  const clock = a.clock === 'virtual' ? 'virtual' : 'wall'
  add(`building: dialling, self-lookups, settling (${clock} time)`, a.build.ms, b.build.ms, ms)
  if (a.clock === 'virtual') {
    add('building, real time', a.build.realMs, b.build.realMs, ms)
  }
  add('self-lookups done within the bound', a.build.selfLookups, b.build.selfLookups, v => fmt(v))
  add('routing-table size after building, mean', a.build.tableMean, b.build.tableMean, v => fmt(v, 1))
  add('connections per node when the tables were still (before the self-lookups)', a.build.connectionsPerNode, b.build.connectionsPerNode, v => fmt(v, 1))
  add('resident memory per node after building', a.build.rssPerNode, b.build.rssPerNode, v => `${fmt(v / 1024 / 1024, 2)} MB`)
  add('CPU per node: dialling the topology until the tables were still', a.build.cpuMsPerNode.dial, b.build.cpuMsPerNode.dial, ms)
  add('CPU per node: its self-lookup (and the others\' answers) until the tables were still', a.build.cpuMsPerNode.selfLookups, b.build.cpuMsPerNode.selfLookups, ms)
  add(`idle: CPU per node per minute (${clock})`, a.idle.cpuMsPerNodeMinute, b.idle.cpuMsPerNodeMinute, ms)
  add('idle: libp2p ping streams per second, whole network (connection monitor)', a.idle.pingsPerSecond, b.idle.pingsPerSecond, v => fmt(v, 1))
  add('idle: DHT streams per second, whole network', a.idle.dhtPerSecond, b.idle.dhtPerSecond, v => fmt(v, 1))
  if (a.clock === 'real') {
    rows.push(['idle: event-loop delay p50 · p99', `${ms(a.idle.lagMs[0])} · ${ms(a.idle.lagMs[1])}`, `${ms(b.idle.lagMs[0])} · ${ms(b.idle.lagMs[1])}`, ''])
  }
  return table(`WAN, ${a.nodes || b.nodes} servers: building the network, and the idle network (after ageing)`, HEADER, rows)
}

/**
 * Where the CPU goes, both implementations (every node of one implementation in one process, so
 * each figure is the whole network's work): forming the network, idle, joining, and each
 * operation of each phase (p50).
 */
export function cpuTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number): void => { rows.push([name, ms(x), ms(y), ratio(x, y)]) }
  add('forming, per node: dialling the topology until the tables were still', a.build.cpuMsPerNode.dial, b.build.cpuMsPerNode.dial)
  add('forming, per node: the self-lookups until the tables were still', a.build.cpuMsPerNode.selfLookups, b.build.cpuMsPerNode.selfLookups)
  add('forming, per node: both', a.build.cpuMsPerNode.dial + a.build.cpuMsPerNode.selfLookups, b.build.cpuMsPerNode.dial + b.build.cpuMsPerNode.selfLookups)
  add(`idle, per node per ${a.clock === 'virtual' ? 'virtual ' : ''}minute (after ageing)`, a.idle.cpuMsPerNodeMinute, b.idle.cpuMsPerNodeMinute)
  const joins = (r: BenchReport): number[] => r.phases.flatMap(p => p.joins).map(j => j.cpuMs)
  add(`a joining node, from its dial to the end of its first ${JOIN_WINDOW / 1_000} s, p50 (the whole process)`, q(joins(a), 0.5), q(joins(b), 0.5))
  for (const phase of a.phases.length > 0 ? a.phases : b.phases) {
    for (const op of Object.keys(OPS) as Op[]) {
      const x = a.phases.find(p => p.phase === phase.phase)?.ops[op] ?? []
      const y = b.phases.find(p => p.phase === phase.phase)?.ops[op] ?? []
      if (x.length > 0 || y.length > 0) {
        add(`${phase.phase}: ${OPS[op].name}, p50`, q(x.map(s => s.cpuMs), 0.5), q(y.map(s => s.cpuMs), 0.5))
      }
    }
  }
  return table(`WAN, ${a.nodes || b.nodes} servers: CPU of the process (all nodes of one implementation: the whole network's work)`, HEADER, rows)
}

/** A long run (`--hours`): each hour's figures per node, both implementations. */
export function hoursTable (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  const hours = Math.max(a.hours.length, b.hours.length)
  const cell = (r: BenchReport, i: number): string => {
    const h = r.hours[i]
    return h == null ? '–' : `${fmt(h.rssPerNode / 1024 / 1024, 1)} MB · ${fmt(h.connectionsPerNode, 1)} · ${fmt(h.streamsPerNode, 1)} · ${fmt(h.timersPerNode, 1)} · ${fmt(h.datastoreKeysPerNode, 0)} · ${fmt(h.tableMean, 1)} · ${ms(h.cpuMsPerNode)} · ${fmt(h.dhtStreams)} · ${fmt(h.pings)}`
  }
  for (let i = 0; i < hours; i++) {
    rows.push([String(i + 1), cell(a, i), cell(b, i)])
  }
  return table(`A long run, ${a.nodes || b.nodes} servers, per node at the end of each hour: memory (whole process / servers) · connections · streams · timers · datastore keys · table size · CPU that hour · DHT streams and pings that hour (whole network)`, ['hour', 'kadmium', '@libp2p/kad-dht'], rows)
}

/** One operation's rows: its wall time, floor, cost and success, both implementations. */
function opRows (op: Op, x: OpSample[], y: OpSample[]): string[][] {
  const rows: string[][] = []
  const { name, success } = OPS[op]
  const wall = (s: OpSample[]): string => s.length === 0 ? '–' : `${ms(q(s.map(v => v.ms), 0.5))} · ${ms(q(s.map(v => v.ms), 0.9))} · ${ms(q(s.map(v => v.ms), 0.99))}`
  rows.push([`**${name}** (${x.length} · ${y.length}): wall p50 · p90 · p99`, wall(x), wall(y), ratio(q(x.map(v => v.ms), 0.5), q(y.map(v => v.ms), 0.5))])
  const add = (label: string, pick: (s: OpSample) => number, f: (v: number) => string): void => {
    const vx = q(x.map(pick), 0.5)
    const vy = q(y.map(pick), 0.5)
    if (Number.isFinite(vx) || Number.isFinite(vy)) {
      rows.push([`${name}: ${label}`, f(vx), f(vy), ratio(vx, vy)])
    }
  }
  add('floor p50', s => s.floorMs, ms)
  add('wall / floor, median', s => s.ms / s.floorMs, v => fmt(v, 2))
  add('hops on the floor\'s chain, p50', s => s.hops, v => fmt(v))
  add('peers returned, p50', s => s.returned ?? NaN, v => fmt(v))
  add('requests sent, p50', s => s.requests, v => fmt(v))
  add('new connections, p50', s => s.connections, v => fmt(v))
  add('failed requests, p50', s => s.failed, v => fmt(v))
  add('CPU of the process while it ran, p50', s => s.cpuMs, ms)
  const share = (s: OpSample[], f: (v: OpSample) => boolean): number => s.length === 0 ? NaN : s.filter(f).length / s.length
  rows.push([`${name}: success (${success})`, pct(share(x, succeeded), 0), pct(share(y, succeeded), 0), ratio(share(x, succeeded), share(y, succeeded))])
  const meanOf = (s: OpSample[], pick: (v: OpSample) => number | undefined): number => mean(s.map(v => pick(v) ?? NaN).filter(Number.isFinite))
  const shares: Array<[string, (v: OpSample) => number | undefined]> = [
    ['accuracy (true 20 found), mean', v => v.accuracy],
    ['records sent that landed on the true 20 closest, mean', v => v.onTrue],
    ['true 20 closest that got a record, mean', v => v.reached]
  ]
  for (const [label, pick] of shares) {
    if (x.some(v => pick(v) != null) || y.some(v => pick(v) != null)) {
      rows.push([`${name}: ${label}`, pct(meanOf(x, pick)), pct(meanOf(y, pick)), ratio(meanOf(x, pick), meanOf(y, pick))])
    }
  }
  return rows
}

/** One phase: every operation's rows, then the phase's own. */
export function phaseTable (phase: Phase, a: PhaseReport | undefined, b: PhaseReport | undefined, nodes: number): string {
  const rows: string[][] = []
  for (const op of Object.keys(OPS) as Op[]) {
    const x = a?.ops[op] ?? []
    const y = b?.ops[op] ?? []
    if (x.length > 0 || y.length > 0) {
      rows.push(...opRows(op, x, y))
    }
  }
  if (Number.isFinite(a?.lagMs[0]) || Number.isFinite(b?.lagMs[0])) {
    const lag = (p?: PhaseReport): string => p == null ? '–' : `${ms(p.lagMs[0])} · ${ms(p.lagMs[1])}`
    rows.push(['event-loop delay p50 · p99 (timers running late: the real-time emulation\'s own error)', lag(a), lag(b), ''])
  }
  const tables = (p?: PhaseReport): string => p == null ? '–' : `${fmt(p.tables[0], 1)} · ${fmt(p.tables[1])}`
  rows.push(['routing-table size of the answering servers at the end, mean · min', tables(a), tables(b), ratio(a?.tables[0] ?? NaN, b?.tables[0] ?? NaN)])
  rows.push(['phase duration', ms(a?.ms ?? NaN), ms(b?.ms ?? NaN), ratio(a?.ms ?? NaN, b?.ms ?? NaN)])
  const note = a?.note ?? b?.note ?? ''
  return table(`WAN, ${nodes} servers, ${phase}: ${note} (operations: kadmium · js)`, HEADER, rows)
}

/** Nodes joining the healthy network. */
export function joinTable (a: JoinSample[], b: JoinSample[]): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => { rows.push([name, f(x), f(y), ratio(x, y)]) }
  const col = (s: JoinSample[], f: (j: JoinSample) => number): number[] => s.map(f)
  add('found by others within 30 s', col(a, j => j.findableMs).filter(Number.isFinite).length / a.length, col(b, j => j.findableMs).filter(Number.isFinite).length / b.length, v => pct(v, 0))
  add('findable after its first connection: end of the first findPeer that found it, p50', q(col(a, j => j.findableMs), 0.5), q(col(b, j => j.findableMs), 0.5), ms)
  add('the same, max', Math.max(...finite(col(a, j => j.findableMs))), Math.max(...finite(col(b, j => j.findableMs))), ms)
  add('start of that findPeer, p50', q(col(a, j => j.probeStartMs), 0.5), q(col(b, j => j.probeStartMs), 0.5), ms)
  add('findPeer probes until found, p50', q(col(a, j => j.probes), 0.5), q(col(b, j => j.probes), 0.5), v => fmt(v))
  add(`requests the joiner sent in its first ${JOIN_WINDOW / 1_000} s, p50`, q(col(a, j => j.requests), 0.5), q(col(b, j => j.requests), 0.5), v => fmt(v))
  add('connections it opened in that time, p50', q(col(a, j => j.outbound), 0.5), q(col(b, j => j.outbound), 0.5), v => fmt(v))
  add('DHT streams it opened in that time, p50', q(col(a, j => j.streams), 0.5), q(col(b, j => j.streams), 0.5), v => fmt(v))
  add('connections others opened to it in that time, p50', q(col(a, j => j.inbound), 0.5), q(col(b, j => j.inbound), 0.5), v => fmt(v))
  add('its routing-table size at the end of that time, p50', q(col(a, j => j.table), 0.5), q(col(b, j => j.table), 0.5), v => fmt(v))
  add('CPU of the process from its dial to the end of that time, p50', q(col(a, j => j.cpuMs), 0.5), q(col(b, j => j.cpuMs), 0.5), ms)
  return table(`Joining the healthy network through one random server, then looked up (findPeer) by random servers one after another (${a.length} kadmium, ${b.length} js)`, HEADER, rows)
}

/** The issue's targets, met or missed, from the silent phase (the targets' condition) and the joins. */
export function targetsTable (a: BenchReport, b: BenchReport): string {
  const phase = (r: BenchReport, p: Phase): PhaseReport | undefined => r.phases.find(x => x.phase === p)
  const silent = phase(a, 'silent')
  const js = phase(b, 'silent')
  const cold = silent?.ops.closest ?? []
  const rows: string[][] = []
  const add = (target: string, value: number, f: (v: number) => string, met: boolean): void => {
    let verdict = met ? 'met' : 'missed'
    if (!Number.isFinite(value)) {
      verdict = '–'
    }
    rows.push([target, f(value), verdict])
  }
  const wallOverFloor = q(cold.map(s => s.ms / s.floorMs), 0.5)
  add('cold getClosestPeers p50 ≤ 1.3 × its floor (median wall / floor)', wallOverFloor, v => `${fmt(v, 2)}×`, wallOverFloor <= 1.3)
  const vsJs = q(cold.map(s => s.ms), 0.5) / q((js?.ops.closest ?? []).map(s => s.ms), 0.5)
  add('cold getClosestPeers p50 ≤ 0.3 × js wall time', vsJs, v => `${fmt(v, 2)}×`, vsJs <= 0.3)
  const exact = cold.length === 0 ? NaN : cold.filter(s => s.accuracy === 1).length / cold.length
  add('cold getClosestPeers ≥ 99 % exact', exact, v => pct(v, 0), exact >= 0.99)
  const find = q((silent?.ops.findProviders ?? []).map(s => s.ms), 0.5)
  add('findProviders p50 ≤ 0.5 s', find, ms, find <= 500)
  const prov = q((silent?.ops.provide ?? []).map(s => s.ms), 0.5)
  add('provide p50 ≤ 1 s', prov, ms, prov <= 1_000)
  const onTrue = mean((silent?.ops.provide ?? []).map(s => s.onTrue ?? NaN).filter(Number.isFinite))
  add('provide: ≥ 95 % of the records sent on the true 20 closest (issue 12)', onTrue, v => pct(v), onTrue >= 0.95)
  const joins = finite((phase(a, 'healthy')?.joins ?? []).map(j => j.findableMs))
  const joinP50 = joins.length === 0 ? NaN : quantile(joins, 0.5)
  add('a joined node findable ≤ 2 s after its first connection (p50, healthy network)', joinP50, ms, joinP50 <= 2_000)
  return table(`kadmium against the targets (${a.nodes} servers, ${silent?.note ?? 'silent phase not run'})`, ['target', 'kadmium', ''], rows)
}

/** CDFs of cold getClosestPeers wall time and floor, both implementations, in one phase. */
export function lookupCdf (a: BenchReport, b: BenchReport, phase: Phase): string {
  const of = (r: BenchReport): OpSample[] => r.phases.find(p => p.phase === phase)?.ops.closest ?? []
  return cdfChart(`Cold getClosestPeers over the emulated WAN, ${a.nodes} servers, ${phase}`, 'ms', [
    { name: 'kadmium, wall', values: of(a).map(s => s.ms) },
    { name: 'kadmium, floor', values: finite(of(a).map(s => s.floorMs)) },
    { name: '@libp2p/kad-dht, wall', values: of(b).map(s => s.ms) },
    { name: '@libp2p/kad-dht, floor', values: finite(of(b).map(s => s.floorMs)) }
  ], 1)
}

/**
 * The `accelerated` phase (bench/harness/accelerated.ts): each accelerated client's first crawl;
 * the operations asked by accelerated clients, kadmium clients in normal mode and js clients,
 * side by side; and the CIDs provided in bulk each way.
 */
export function acceleratedTables (a: BenchReport, b: BenchReport): string {
  const x = a.phases.find(p => p.phase === 'accelerated')
  const y = b.phases.find(p => p.phase === 'accelerated')
  const acc = x?.accelerated
  const nodes = a.nodes || b.nodes
  let out = acc == null || acc.crawls.length === 0 ? '' : crawlTable(acc, nodes)
  const columns: Array<[string, Partial<Record<Op, OpSample[]>>]> = [
    ['kadmium accelerated', x?.ops ?? {}],
    ['kadmium normal', acc?.normal ?? {}],
    ['@libp2p/kad-dht', y?.ops ?? {}]
  ]
  const rows: string[][] = []
  for (const op of ['closest', 'closestWarm', 'findPeer', 'get', 'put', 'provide', 'findProviders'] as Op[]) {
    const samples = columns.map(([, ops]) => ops[op] ?? [])
    if (samples.every(s => s.length === 0)) {
      continue
    }
    const line = (label: string, f: (s: OpSample[]) => string): void => { rows.push([`${OPS[op].name}: ${label}`, ...samples.map(s => s.length === 0 ? '–' : f(s))]) }
    line('wall p50 · p90', s => `${ms(q(s.map(v => v.ms), 0.5))} · ${ms(q(s.map(v => v.ms), 0.9))}`)
    line('floor p50 · wall / floor, median', s => `${ms(q(s.map(v => v.floorMs), 0.5))} · ${fmt(q(s.map(v => v.ms / v.floorMs), 0.5), 2)}×`)
    line('hops on the floor\'s chain p50 · requests p50', s => `${fmt(q(s.map(v => v.hops), 0.5))} · ${fmt(q(s.map(v => v.requests), 0.5))}`)
    line(`success (${OPS[op].success})`, s => `${pct(s.filter(succeeded).length / s.length, 0)} of ${s.length}`)
  }
  out += table(`WAN, ${nodes} servers: operations from ${x?.accelerated?.crawls.length ?? 0} accelerated kadmium clients, as many kadmium clients in normal mode and as many js clients, each connected to a few random servers; every operation starts with no connection open`,
    ['', ...columns.map(([name]) => name)], rows)
  const bulk = [...(acc?.bulk ?? []).map(s => ['kadmium', s] as const), ...(y?.accelerated?.bulk ?? []).map(s => ['@libp2p/kad-dht', s] as const)]
  if (bulk.length > 0) {
    out += table(`WAN, ${nodes} servers: ${bulk[0][1].cids} CIDs provided from one client (provides: ${BULK_PROVIDES_AT_ONCE} at once), where the records landed against each CID's true 20 closest live servers`,
      ['', 'how', 'provided', 'wall', 'requests (per CID)', 'connections opened · most open at once', 'CPU (whole process)', 'CIDs on all of their true 20', 'true 20 reached, mean', 'records off the true 20, per CID'],
      bulk.map(([impl, s]) => [impl, s.how, `${fmt(s.provided)} / ${fmt(s.cids)}`, ms(s.ms), `${fmt(s.requests)} (${fmt(s.requests / s.cids, 1)})`, `${fmt(s.connections)} · ${fmt(s.peakConnections)}`, ms(s.cpuMs), pct(s.exact), pct(s.reached), fmt(s.strays, 2)]))
  }
  return out
}

/** Each accelerated client's first crawl. */
function crawlTable (acc: AcceleratedPhase, nodes: number): string {
  const rows = acc.crawls.map((c, i) => [
    String(i + 1), ms(c.ms), fmt(c.requests), `${fmt(c.servers)} / ${fmt(c.live)}`,
    `${fmt(c.peakVisits)} · ${fmt(c.peakDials)} · ${fmt(c.peakConnections)}`, fmt(c.opened), ms(c.cpuMs)
  ])
  return table(`WAN, ${nodes} servers: each accelerated client's first crawl, from its first connection until its full table was in use (${acc.crawlConcurrency} visits at once allowed; libp2p's connection limit ${acc.maxConnections})`,
    ['client', 'time', 'FIND_NODE requests', 'servers in its table / live', 'most at once: visits · dials · open connections', 'connections opened', 'CPU (whole process)'], rows)
}
