/**
 * Two small hand-written SVG charts: a cumulative distribution (one line per series) and a
 * grouped histogram of small integers. No dependency; the output is a self-contained file.
 */

/** One named sample. */
export interface Series {
  name: string
  values: number[]
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f']
const WIDTH = 900
const HEIGHT = 400
const LEFT = 64
const RIGHT = 300
const TOP = 40
const BOTTOM = 56

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function frame (title: string, xLabel: string, yLabel: string, body: string[]): string {
  const plotW = WIDTH - LEFT - RIGHT
  const plotH = HEIGHT - TOP - BOTTOM
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${LEFT + plotW / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="${LEFT + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text x="16" y="${TOP + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${TOP + plotH / 2})">${escape(yLabel)}</text>`,
    `<rect x="${LEFT}" y="${TOP}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
    ...body,
    '</svg>',
    ''
  ].join('\n')
}

function legend (names: string[]): string[] {
  const x = WIDTH - RIGHT + 14
  return names.flatMap((name, i) => [
    `<rect x="${x}" y="${TOP + 8 + i * 20}" width="14" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`,
    `<text x="${x + 20}" y="${TOP + 17 + i * 20}">${escape(name)}</text>`
  ])
}

/** Round tick values covering [0, max]. */
function ticks (max: number, count = 5): number[] {
  const raw = max / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * magnitude).find(s => s >= raw) ?? raw
  const out: number[] = [0]
  while (out[out.length - 1] < max - step / 1e9) {
    out.push(Number((out.length * step).toPrecision(12)))
  }
  return out
}

/**
 * The empirical CDF of each series, on a linear x axis from 0 to the largest `clip` quantile of
 * all series (so one long tail does not flatten the rest).
 */
export function cdfChart (title: string, xLabel: string, series: Series[], clip = 0.99): string {
  const plotW = WIDTH - LEFT - RIGHT
  const plotH = HEIGHT - TOP - BOTTOM
  const maxX = Math.max(1, ...series.map(s => {
    const sorted = s.values.slice().sort((a, b) => a - b)
    return sorted[Math.max(0, Math.ceil(clip * sorted.length) - 1)] ?? 0
  })) * 1.05
  const xTicks = ticks(maxX)
  const xMax = xTicks[xTicks.length - 1]
  const x = (v: number): number => LEFT + Math.min(v, xMax) / xMax * plotW
  const y = (p: number): number => TOP + plotH - p * plotH
  const body: string[] = []
  for (const t of xTicks) {
    body.push(`<line x1="${x(t)}" y1="${TOP}" x2="${x(t)}" y2="${TOP + plotH}" stroke="#eee"/>`)
    body.push(`<text x="${x(t)}" y="${TOP + plotH + 16}" text-anchor="middle">${t.toLocaleString('en-US')}</text>`)
  }
  for (const p of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    body.push(`<line x1="${LEFT}" y1="${y(p)}" x2="${LEFT + plotW}" y2="${y(p)}" stroke="#eee"/>`)
    body.push(`<text x="${LEFT - 6}" y="${y(p) + 4}" text-anchor="end">${p}</text>`)
  }
  series.forEach((s, i) => {
    const sorted = s.values.slice().sort((a, b) => a - b)
    const n = sorted.length
    if (n === 0) {
      return
    }
    const points: string[] = [`${x(0).toFixed(1)},${y(0).toFixed(1)}`]
    sorted.forEach((v, j) => {
      points.push(`${x(v).toFixed(1)},${y(j / n).toFixed(1)}`, `${x(v).toFixed(1)},${y((j + 1) / n).toFixed(1)}`)
    })
    points.push(`${x(xMax).toFixed(1)},${y(1).toFixed(1)}`)
    body.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2" points="${points.join(' ')}"/>`)
  })
  body.push(...legend(series.map(s => `${s.name} (n=${s.values.length})`)))
  return frame(title, xLabel, 'fraction of lookups', body)
}

/** A histogram of integer values (hops, say), one bar per series side by side at each value. */
export function histogramChart (title: string, xLabel: string, series: Series[]): string {
  const plotW = WIDTH - LEFT - RIGHT
  const plotH = HEIGHT - TOP - BOTTOM
  const all = series.flatMap(s => s.values)
  const lo = Math.min(...all)
  const hi = Math.max(...all)
  const bins = hi - lo + 1
  const shares = series.map(s => {
    const counts = new Array<number>(bins).fill(0)
    for (const v of s.values) {
      counts[v - lo]++
    }
    return counts.map(c => c / Math.max(1, s.values.length))
  })
  const yTicks = ticks(Math.max(...shares.flat(), 0.01), 4)
  const yMax = yTicks[yTicks.length - 1]
  const binW = plotW / bins
  const barW = binW * 0.8 / series.length
  const y = (p: number): number => TOP + plotH - p / yMax * plotH
  const body: string[] = []
  for (const t of yTicks) {
    body.push(`<line x1="${LEFT}" y1="${y(t)}" x2="${LEFT + plotW}" y2="${y(t)}" stroke="#eee"/>`)
    body.push(`<text x="${LEFT - 6}" y="${y(t) + 4}" text-anchor="end">${Math.round(t * 100)} %</text>`)
  }
  for (let b = 0; b < bins; b++) {
    body.push(`<text x="${LEFT + (b + 0.5) * binW}" y="${TOP + plotH + 16}" text-anchor="middle">${lo + b}</text>`)
    shares.forEach((counts, i) => {
      const h = counts[b] / yMax * plotH
      body.push(`<rect x="${(LEFT + b * binW + binW * 0.1 + i * barW).toFixed(1)}" y="${(TOP + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[i % COLOURS.length]}"/>`)
    })
  }
  body.push(...legend(series.map(s => `${s.name} (n=${s.values.length})`)))
  return frame(title, xLabel, 'share of lookups', body)
}

/** One named line: its points, in x order. */
export interface Line {
  name: string
  points: Array<[number, number]>
  /** Drawn dashed. */
  dashed?: boolean
}

/**
 * Lines over a linear x axis from 0 to the largest x, and a y axis from `yMin` (0 unless given)
 * to the largest y (or `yMax`), with `yFormat` for the y labels.
 */
export function lineChart (title: string, xLabel: string, yLabel: string, lines: Line[], range: { yMin?: number, yMax?: number, yFormat?(v: number): string } = {}): string {
  const plotW = WIDTH - LEFT - RIGHT
  const plotH = HEIGHT - TOP - BOTTOM
  const all = lines.flatMap(l => l.points).filter(([, v]) => Number.isFinite(v))
  const xTicks = ticks(Math.max(1, ...all.map(([x]) => x)))
  const xMax = xTicks[xTicks.length - 1]
  const yMin = range.yMin ?? 0
  const yTicks = ticks(Math.max(1e-9, (range.yMax ?? Math.max(...all.map(([, v]) => v))) - yMin), 4).map(t => t + yMin)
  const yMax = yTicks[yTicks.length - 1]
  const format = range.yFormat ?? ((v: number) => v.toLocaleString('en-US'))
  const x = (v: number): number => LEFT + v / xMax * plotW
  const y = (v: number): number => TOP + plotH - (Math.min(Math.max(v, yMin), yMax) - yMin) / (yMax - yMin) * plotH
  const body: string[] = []
  for (const t of xTicks) {
    body.push(`<line x1="${x(t)}" y1="${TOP}" x2="${x(t)}" y2="${TOP + plotH}" stroke="#eee"/>`)
    body.push(`<text x="${x(t)}" y="${TOP + plotH + 16}" text-anchor="middle">${t.toLocaleString('en-US')}</text>`)
  }
  for (const t of yTicks) {
    body.push(`<line x1="${LEFT}" y1="${y(t)}" x2="${LEFT + plotW}" y2="${y(t)}" stroke="#eee"/>`)
    body.push(`<text x="${LEFT - 6}" y="${y(t) + 4}" text-anchor="end">${escape(format(t))}</text>`)
  }
  lines.forEach((line, i) => {
    const points = line.points.filter(([, v]) => Number.isFinite(v)).map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`)
    body.push(`<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"${line.dashed === true ? ' stroke-dasharray="6 4"' : ''} points="${points.join(' ')}"/>`)
  })
  body.push(...legend(lines.map(l => l.name)))
  return frame(title, xLabel, yLabel, body)
}
