/**
 * The soak's tables and charts (`--soak --hours H`, bench/harness/soak.ts): hour by hour, both
 * implementations; the targets; what grows.
 */
import { fmt, mean, pct, table } from '../lib/stats.ts'
import { lineChart } from '../sim/svg.ts'
import type { BenchReport, HourSample } from '../harness/report.ts'

const MB = 2 ** 20

/** One implementation's figures of an hour: found · got, then what a node holds. */
function cells (h: HourSample | undefined): string[] {
  if (h == null) {
    return ['–', '–', '–']
  }
  return [
    `${pct(h.cidsFound ?? NaN, 0)} · ${pct(h.valuesGot ?? NaN, 0)}`,
    `${fmt(h.rssPerNode / MB, 1)} · ${fmt(h.heapPerNode / MB, 1)}`,
    `${fmt(h.connectionsPerNode, 1)} · ${fmt(h.streamsPerNode, 1)} · ${fmt(h.timersPerNode, 0)} · ${fmt(h.datastoreKeysPerNode, 0)} · ${fmt(h.cpuMsPerNode, 0)}`
  ]
}

/** The hour-by-hour table: what a random server found, and what each node holds. */
export function soakTable (a: BenchReport, b: BenchReport): string {
  const hours = new Map<number, [HourSample?, HourSample?]>()
  a.hours.forEach(h => { hours.set(h.hour, [h, hours.get(h.hour)?.[1]]) })
  b.hours.forEach(h => { hours.set(h.hour, [hours.get(h.hour)?.[0], h]) })
  const rows = [...hours.entries()].sort(([x], [y]) => x - y).map(([hour, [x, y]]) => [
    String(hour),
    `${x?.servers ?? y?.servers ?? '–'} (${x?.replaced ?? y?.replaced ?? '–'} · ${x?.restarted ?? y?.restarted ?? '–'})`,
    ...cells(x),
    ...cells(y)
  ])
  return table(`The soak, ${a.nodes || b.nodes} servers, at the end of each hour: the share of the CIDs and of the values a random server found; per node, memory (process RSS / servers · JS heap / servers, MB), then connections · streams · timers · datastore keys · CPU ms that hour`, [
    'hour', 'servers (replaced · restarted that hour)',
    'kadmium CIDs · values', 'kadmium MB', 'kadmium conns · streams · timers · keys · CPU',
    'js CIDs · values', 'js MB', 'js conns · streams · timers · keys · CPU'
  ], rows)
}

/** The mean of `pick` over the hours in [from, to]. */
function meanOver (r: BenchReport, from: number, to: number, pick: (h: HourSample) => number): number {
  return mean(r.hours.filter(h => h.hour >= from && h.hour <= to).map(pick).filter(Number.isFinite))
}

/** The targets: found at every hour, memory at the last hour against hour 2, and whether any count grows. */
export function soakTargets (a: BenchReport, b: BenchReport): string {
  const rows: string[][] = []
  for (const r of [a, b]) {
    if (r.hours.length === 0) {
      continue
    }
    const name = r.impl === 'kadmium' ? 'kadmium' : '@libp2p/kad-dht'
    const last = r.hours[r.hours.length - 1].hour
    const lowest = (pick: (h: HourSample) => number | undefined): string => {
      const worst = r.hours.reduce<HourSample | undefined>((w, h) => w == null || (pick(h) ?? 1) < (pick(w) ?? 1) ? h : w, undefined)
      return worst == null ? '–' : `${pct(pick(worst) ?? NaN, 0)} (hour ${worst.hour})`
    }
    const at = (hour: number, pick: (h: HourSample) => number): number => pick(r.hours.find(h => h.hour === hour) ?? r.hours[0])
    const change = (pick: (h: HourSample) => number, digits = 1, unit = ''): string => {
      const early = meanOver(r, 2, 11, pick)
      const late = meanOver(r, last - 9, last, pick)
      return `${fmt(early, digits)}${unit} → ${fmt(late, digits)}${unit} (${late >= early ? '+' : ''}${pct(late / early - 1, 0)})`
    }
    rows.push([name, '≥ 99 % of the CIDs found at every hour', lowest(h => h.cidsFound), ''])
    rows.push([name, '≥ 99 % of the values got at every hour', lowest(h => h.valuesGot), r.impl === 'js' ? 'no republishing: its records expire 48 h after they were put' : ''])
    for (const [label, pick] of [['RSS', (h: HourSample) => h.rssPerNode], ['heap', (h: HourSample) => h.heapPerNode]] as const) {
      const two = at(2, pick)
      const end = at(last, pick)
      rows.push([name, `memory per node (${label}) at hour ${last} within 10 % of hour 2`, `${fmt(two / MB, 1)} → ${fmt(end / MB, 1)} MB (${end >= two ? '+' : ''}${pct(end / two - 1, 1)})`, ''])
    }
    rows.push([name, 'connections per node, hours 2–11 → the last 10', change(h => h.connectionsPerNode), ''])
    rows.push([name, 'streams per node', change(h => h.streamsPerNode), ''])
    rows.push([name, 'timers per node', change(h => h.timersPerNode, 0), ''])
    rows.push([name, 'datastore keys per node', change(h => h.datastoreKeysPerNode, 0), ''])
  }
  return table('The soak\'s targets', ['', 'target', 'measured', 'note'], rows)
}

/** The soak's charts: the shares found by hour, and memory per node by hour, both implementations. */
export function soakCharts (a: BenchReport, b: BenchReport): { found: string, memory: string } {
  const line = (r: BenchReport, name: string, pick: (h: HourSample) => number | undefined, dashed = false): { name: string, points: Array<[number, number]>, dashed: boolean } =>
    ({ name, points: r.hours.map(h => [h.hour, pick(h) ?? NaN]), dashed })
  const found = lineChart(`The soak, ${a.nodes || b.nodes} servers: what a random server finds, hour by hour`, 'hours', 'share found', [
    line(a, 'kadmium: CIDs', h => h.cidsFound),
    line(a, 'kadmium: values (kept)', h => h.valuesGot, true),
    line(b, '@libp2p/kad-dht: CIDs', h => h.cidsFound),
    line(b, '@libp2p/kad-dht: values', h => h.valuesGot, true)
  ], { yMin: 0, yMax: 1, yFormat: v => `${Math.round(v * 100)} %` })
  const memory = lineChart(`The soak, ${a.nodes || b.nodes} servers: memory per node, hour by hour`, 'hours', 'MB per node', [
    line(a, 'kadmium: process RSS / servers', h => h.rssPerNode / MB),
    line(a, 'kadmium: JS heap / servers', h => h.heapPerNode / MB, true),
    line(b, '@libp2p/kad-dht: RSS / servers', h => h.rssPerNode / MB),
    line(b, '@libp2p/kad-dht: heap / servers', h => h.heapPerNode / MB, true)
  ])
  return { found, memory }
}
