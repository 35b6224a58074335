/**
 * One JSON report (bench/wan/json.ts) from several runs of the WAN benchmark with the same seed
 * and size, each its own network build running some of the conditions (where running them all
 * on one network would not fit a working session): the phases of every run, the `network` of
 * the first run, and in `run.parts` each run's phases, options, wall time and load.
 *
 * ```
 * node dist/bench/wan/merge.js healthy.json silent.json nat.json unreachable.json churn.json > docs/wan.json
 * ```
 */
import { readFileSync } from 'node:fs'
import { isMain } from '../lib/main.ts'
import type { JsonImpl } from './json.ts'

type Report = Record<'kadmium' | 'js', JsonImpl> & { run: Record<string, any> }

/** Merges `reports` (in the order given) into one; throws when their seeds or sizes differ. */
export function mergeReports (reports: Report[], files: string[]): Report {
  const [first] = reports
  for (const [i, report] of reports.entries()) {
    for (const key of ['seed', 'nodes'] as const) {
      if (report.run.options[key] !== first.run.options[key]) {
        throw new Error(`${files[i]} has ${key} ${report.run.options[key]}, ${files[0]} ${first.run.options[key]}: not the same network`)
      }
    }
  }
  const impl = (name: 'kadmium' | 'js'): JsonImpl => ({
    ...first[name],
    phases: Object.assign({}, ...reports.map(r => r[name].phases)),
    joins: reports.find(r => r[name].joins.samples > 0)?.[name].joins ?? first[name].joins,
    hours: reports.flatMap(r => r[name].hours)
  })
  return {
    kadmium: impl('kadmium'),
    js: impl('js'),
    run: {
      parts: reports.map((r, i) => ({ file: files[i], phases: r.run.options.phases, startedAt: r.run.startedAt, wallMinutes: r.run.wallMinutes, loadBefore: r.run.loadBefore, loadAfter: r.run.loadAfter, node: r.run.node })),
      options: first.run.options
    }
  }
}

if (isMain(import.meta.url)) {
  const files = process.argv.slice(2)
  if (files.length === 0) {
    throw new Error('usage: merge.js a.json b.json … > merged.json')
  }
  const merged = mergeReports(files.map(file => JSON.parse(readFileSync(file, 'utf8')) as Report), files)
  process.stdout.write(JSON.stringify(merged, null, 2) + '\n')
}
