/**
 * A small in-memory implementation of libp2p's `Metrics` interface for tests. It keeps what
 * `@libp2p/prometheus-metrics` keeps, with the same contract for calculated metrics: a gauge's
 * `calculate` gives its value, a counter's gives the increase since the last collection.
 */
import type { CalculatedMetricOptions, Metrics, StopTimer } from '@libp2p/interface'

type Values = Record<string, number>

interface Entry {
  kind: 'gauge' | 'counter' | 'histogram' | 'summary'
  /** Values by label value ('' for a metric without a label). */
  values: Values
  /** Observations by label value, for histograms and summaries. */
  observed: Record<string, number[]>
  calculate?(): number | Values | Promise<number | Values>
}

const noTimer: StopTimer = () => {}

/** libp2p's `Metrics`, in memory; `collect()` reads every metric as Prometheus would scrape it. */
export class MemoryMetrics implements Metrics {
  readonly entries = new Map<string, Entry>()

  private entry (name: string, kind: Entry['kind'], options?: Partial<CalculatedMetricOptions<any>>): Entry {
    let entry = this.entries.get(name)
    if (entry == null) {
      entry = { kind, values: {}, observed: {}, calculate: options?.calculate }
      this.entries.set(name, entry)
    }
    return entry
  }

  private add (entry: Entry, values: Record<string, number | true>, sign = 1): void {
    for (const [key, value] of Object.entries(values)) {
      entry.values[key] = (entry.values[key] ?? 0) + sign * (value === true ? 1 : value)
    }
  }

  private observe (entry: Entry, values: Values): void {
    for (const [key, value] of Object.entries(values)) {
      (entry.observed[key] ??= []).push(value)
    }
  }

  /** Runs every calculation and returns each metric's values (observations for histograms). */
  async collect (): Promise<Record<string, Values | Record<string, number[]>>> {
    const out: Record<string, Values | Record<string, number[]>> = {}
    for (const [name, entry] of this.entries) {
      if (entry.calculate != null) {
        const result = await entry.calculate()
        const values = typeof result === 'number' ? { '': result } : result
        if (entry.kind === 'counter') {
          this.add(entry, values)
        } else if (entry.kind === 'gauge') {
          entry.values = { ...values }
        } else {
          this.observe(entry, values)
        }
      }
      out[name] = entry.kind === 'histogram' || entry.kind === 'summary' ? structuredClone(entry.observed) : { ...entry.values }
    }
    return out
  }

  trackMultiaddrConnection (): void {}
  trackProtocolStream (): void {}

  /** One registration: nothing back for a calculated metric, else a handle for every kind. */
  private register (kind: Entry['kind'], name: string, options?: Partial<CalculatedMetricOptions<any>>): any {
    const entry = this.entry(name, kind, options)
    if (options?.calculate != null) {
      return undefined
    }
    const single = (value: number | Values): Values => typeof value === 'number' ? { '': value } : value
    return {
      update: (value: number | Values) => { Object.assign(entry.values, single(value)) },
      increment: (value: number | Values = 1) => { this.add(entry, single(value)) },
      decrement: (value: number | Values = 1) => { this.add(entry, single(value), -1) },
      observe: (value: number | Values) => { this.observe(entry, single(value)) },
      reset: () => {
        entry.values = {}
        entry.observed = {}
      },
      timer: () => noTimer
    }
  }

  registerMetric = ((name: string, options?: any) => this.register('gauge', name, options)) as Metrics['registerMetric']
  registerMetricGroup = ((name: string, options?: any) => this.register('gauge', name, options)) as Metrics['registerMetricGroup']
  registerCounter = ((name: string, options?: any) => this.register('counter', name, options)) as Metrics['registerCounter']
  registerCounterGroup = ((name: string, options?: any) => this.register('counter', name, options)) as Metrics['registerCounterGroup']
  registerHistogram = ((name: string, options?: any) => this.register('histogram', name, options)) as Metrics['registerHistogram']
  registerHistogramGroup = ((name: string, options?: any) => this.register('histogram', name, options)) as Metrics['registerHistogramGroup']
  registerSummary = ((name: string, options?: any) => this.register('summary', name, options)) as Metrics['registerSummary']
  registerSummaryGroup = ((name: string, options?: any) => this.register('summary', name, options)) as Metrics['registerSummaryGroup']

  traceFunction = ((_name: string, fn: any) => fn) as Metrics['traceFunction']

  createTrace (): any {
    return undefined
  }
}
