/**
 * A lever's before and after: two JSON reports of the WAN benchmark (bench/wan/json.ts) from the
 * same seed and size, kadmium's operations before and after a change, with @libp2p/kad-dht's
 * beside them (from the `after` report), phase by phase: p50 against its floor, exact or
 * successful share, and the ratios after / before and after / js.
 *
 * ```
 * node dist/bench/wan/levers.js before.json after.json [--title 'protocol-first streams'] [--ops getClosestPeers-cold,findProviders]
 * ```
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { isMain } from '../lib/main.ts'
import { ms, pct, ratio, table } from '../lib/stats.ts'
import type { JsonImpl, JsonOp } from './json.ts'

type Report = Record<'kadmium' | 'js', JsonImpl>

/** p50, and its multiple of the floor when there is one. */
function cell (op?: JsonOp): string {
  if (op == null) {
    return '–'
  }
  const floor = Number.isFinite(op.wallOverFloor) && op.floorP50 > 0 ? ` (${op.wallOverFloor.toFixed(2)}×)` : ''
  return `${ms(op.p50)}${floor}`
}

/** The before/after table of every operation (or those in `only`) in every phase of `after`. */
export function leverTable (before: Report, after: Report, title: string, only?: string[]): string {
  const rows: string[][] = []
  for (const [phase, ops] of Object.entries(after.kadmium.phases)) {
    for (const [name, a] of Object.entries(ops)) {
      if (only != null && !only.includes(name)) {
        continue
      }
      const b = before.kadmium.phases[phase]?.[name]
      const js = after.js.phases[phase]?.[name]
      const success = (op?: JsonOp): string => op == null ? '–' : pct(op.success, 0)
      rows.push([
        `${phase}: ${name}`,
        cell(b),
        cell(a),
        ratio(a.p50, b?.p50 ?? NaN),
        cell(js),
        ratio(a.p50, js?.p50 ?? NaN),
        `${success(b)} → ${success(a)} (js ${success(js)})`
      ])
    }
  }
  const header = ['condition: operation', 'kadmium before: p50 (wall / floor)', 'after', 'after / before', '@libp2p/kad-dht', 'after / js', 'success before → after']
  return table(title, header, rows)
}

if (isMain(import.meta.url)) {
  const { values, positionals } = parseArgs({ options: { title: { type: 'string', default: 'before and after' }, ops: { type: 'string' } }, allowPositionals: true })
  if (positionals.length !== 2) {
    throw new Error('usage: levers.js before.json after.json [--title T] [--ops a,b]')
  }
  const [before, after] = positionals.map(file => JSON.parse(readFileSync(file, 'utf8')) as Report)
  process.stdout.write(leverTable(before, after, values.title, values.ops?.split(',')))
}
