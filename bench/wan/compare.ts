/**
 * Two JSON reports of the WAN benchmark (bench/wan/json.ts) side by side, operation by
 * operation: p50 and p90 of each, and whether they are the same to the millisecond. For the
 * same network on two clocks (`--clock real` against `--clock virtual`), or the same virtual-time
 * run on an idle and on a busy machine (determinism: every figure equal).
 *
 * ```
 * node dist/bench/wan/compare.js real.json virtual.json --labels real,virtual
 * ```
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { isMain } from '../lib/main.ts'
import { ms, pct, ratio, table } from '../lib/stats.ts'
import type { JsonImpl, JsonOp } from './json.ts'

type Report = Record<'kadmium' | 'js', JsonImpl> & { run?: { loadBefore?: number[], loadAfter?: number[], wallMinutes?: number } }

/** The figures of one operation compared (a row of the table), with whether all are equal. */
function rows (impl: string, a: JsonImpl, b: JsonImpl): { rows: string[][], same: boolean } {
  const out: string[][] = []
  let same = true
  for (const [phase, ops] of Object.entries(a.phases)) {
    for (const [op, x] of Object.entries(ops)) {
      const y: JsonOp | undefined = b.phases[phase]?.[op]
      const figures = (v?: JsonOp): number[] => v == null ? [] : [v.p50, v.p90, v.p99, v.success, v.requests, v.connections]
      const equal = JSON.stringify(figures(x)) === JSON.stringify(figures(y))
      same &&= equal
      out.push([`${impl} ${phase} ${op} (${x.samples} · ${y?.samples ?? 0})`, `${ms(x.p50)} · ${ms(x.p90)}`, y == null ? '–' : `${ms(y.p50)} · ${ms(y.p90)}`, ratio(x.p50, y?.p50 ?? NaN), `${pct(x.success, 0)} · ${pct(y?.success ?? NaN, 0)}`, equal ? 'yes' : 'no'])
    }
  }
  return { rows: out, same }
}

/** The comparison table of two reports, and whether every figure compared was equal. */
export function compareReports (a: Report, b: Report, labels: [string, string]): { text: string, same: boolean } {
  const all: string[][] = []
  let same = true
  for (const impl of ['kadmium', 'js'] as const) {
    const r = rows(impl, a[impl], b[impl])
    all.push(...r.rows)
    same &&= r.same
    const vt = (x: JsonImpl): string => x.network.virtualTime == null ? '–' : `${x.network.virtualTime.fired} timers, hash ${x.network.virtualTime.hash}`
    all.push([`${impl}: timers fired, and the hash of their due times`, vt(a[impl]), vt(b[impl]), '', '', vt(a[impl]) === vt(b[impl]) ? 'yes' : 'no'])
    all.push([`${impl}: real time of the child`, ms(a[impl].network.realMs), ms(b[impl].network.realMs), ratio(a[impl].network.realMs, b[impl].network.realMs), '', ''])
  }
  const load = (r: Report): string => r.run?.loadBefore == null ? '–' : `${r.run.loadBefore.map(v => v.toFixed(1)).join(', ')} → ${(r.run.loadAfter ?? []).map(v => v.toFixed(1)).join(', ')}`
  all.push(['load average (1, 5, 15 min) before → after', load(a), load(b), '', '', ''])
  const header = ['operation (samples)', `${labels[0]}: p50 · p90`, `${labels[1]}: p50 · p90`, `${labels[0]} / ${labels[1]} (p50)`, 'success', 'every figure equal']
  return { text: table(`${labels[0]} against ${labels[1]}`, header, all), same }
}

if (isMain(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { labels: { type: 'string', default: 'first,second' } }, allowPositionals: true })
  if (positionals.length !== 2) {
    throw new Error('usage: compare.js a.json b.json [--labels a,b]')
  }
  const [a, b] = positionals.map(file => JSON.parse(readFileSync(file, 'utf8')) as Report)
  const labels = values.labels.split(',') as [string, string]
  const { text, same } = compareReports(a, b, labels)
  process.stdout.write(text)
  process.stdout.write(`\nevery figure equal: ${same ? 'yes' : 'no'}\n`)
}
