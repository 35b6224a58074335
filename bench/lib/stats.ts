/**
 * Small statistics and formatting helpers shared by the benchmarks and the simulator.
 */

/** The `q` quantile (0–1) of `values` by the nearest-rank method; NaN when empty. */
export function quantile (values: readonly number[], q: number): number {
  if (values.length === 0) {
    return NaN
  }
  const sorted = values.slice().sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

/** The arithmetic mean; NaN when empty. */
export function mean (values: readonly number[]): number {
  if (values.length === 0) {
    return NaN
  }
  let sum = 0
  for (const v of values) {
    sum += v
  }
  return sum / values.length
}

/** Median, p90, p99 and mean of a sample. */
export interface Summary {
  n: number
  median: number
  p90: number
  p99: number
  mean: number
  max: number
}

/** Summarises a sample. */
export function summarise (values: readonly number[]): Summary {
  return {
    n: values.length,
    median: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
    mean: mean(values),
    max: values.length === 0 ? NaN : Math.max(...values)
  }
}

/** A number with `digits` decimals and thousands separators; '–' for NaN. */
export function fmt (value: number, digits = 0): string {
  if (!Number.isFinite(value)) {
    return '–'
  }
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A ratio a / b as "0.12×"; '–' when b is 0 or either is not a number. */
export function ratio (a: number, b: number, digits = 2): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) {
    return '–'
  }
  return `${(a / b).toFixed(digits)}×`
}

/** A fraction 0–1 as a percentage. */
export function pct (value: number, digits = 1): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(digits)} %` : '–'
}

/** Milliseconds, in ms under 10 s and in s above. */
export function ms (value: number): string {
  if (!Number.isFinite(value)) {
    return '–'
  }
  if (value >= 10_000) {
    return `${fmt(value / 1_000, 1)} s`
  }
  let digits = 0
  if (value < 10) {
    digits = 2
  } else if (value < 100) {
    digits = 1
  }
  return `${fmt(value, digits)} ms`
}

/** A Markdown table with its columns padded to their widths. */
export function table (title: string, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i])).join(' | ')} |`
  return [
    `\n### ${title}\n`,
    line(header),
    `| ${widths.map(w => '-'.repeat(w)).join(' | ')} |`,
    ...rows.map(line),
    ''
  ].join('\n')
}

/**
 * Resident and heap memory in bytes, after full collections when the process allows them; with
 * the parts of the resident memory that are not live JS objects: the heap V8 holds
 * (`heapTotal`, used or not) and memory outside it (`external`, of which `arrayBuffers`).
 */
export function memory (): { rss: number, heap: number, heapTotal: number, external: number, arrayBuffers: number } {
  globalThis.gc?.()
  globalThis.gc?.()
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
  return { rss, heap: heapUsed, heapTotal, external, arrayBuffers }
}

/** CPU time of the process since `since` (a `process.cpuUsage()`), in ms. */
export function cpuMsSince (since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1_000
}

/** Parses a positive integer option, or throws naming it. */
export function positiveInt (name: string, value: string | undefined): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`--${name} takes a positive integer, got ${value}`)
  }
  return n
}

/** Parses a number option within [min, max], or throws naming it. */
export function numberIn (name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`--${name} takes a number from ${min} to ${max}, got ${value}`)
  }
  return n
}

/** A comma-separated list of positive integers. */
export function intList (name: string, value: string | undefined): number[] {
  return String(value).split(',').map(s => positiveInt(name, s.trim()))
}
