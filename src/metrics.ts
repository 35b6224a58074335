/**
 * kadmium's metrics, through libp2p's optional `metrics` component (`@libp2p/prometheus-metrics`,
 * say). Nearly everything is pulled when the metrics are collected, from counts the node keeps
 * anyway, so serving a request costs nothing extra; only a lookup's end and a reprovide sweep's
 * steps are pushed.
 *
 * Names follow libp2p's (`libp2p_<component>_<what>[_total|_seconds]`, one label per metric),
 * with the prefix `libp2p_kadmium` unless `metricsPrefix` says otherwise:
 *
 * | metric | kind | label |
 * | --- | --- | --- |
 * | `_inbound_requests_total`, `_outbound_requests_total` | counter | `type` (FIND_NODE, …) |
 * | `_inbound_request_errors_total`, `_outbound_request_errors_total` | counter | `type` |
 * | `_errors_total` | counter | `name` (TimeoutError, …) |
 * | `_rate_limited_requests_total` | counter | |
 * | `_query_duration_seconds` | histogram | `type` (FIND_NODE, GET_VALUE, GET_PROVIDERS) |
 * | `_query_hops` | histogram | `type` |
 * | `_query_errors_total` | counter | `type` |
 * | `_routing_table_size` | gauge | |
 * | `_routing_table_bucket_peers` | gauge | `bucket` (common prefix length; 0 once emptied) |
 * | `_records`, `_provider_keys`, `_provider_records` | gauge | |
 * | `_reprovide_sweep_keys` | gauge | `state` (due, done, failed) |
 * | `_reprovided_keys_total`, `_reprovide_failures_total` | counter | |
 * | `_server_mode` | gauge (1 server, 0 client) | |
 * | `_accelerated_table_size` (with `accelerated`) | gauge | |
 * | `_crawl_requests_total` (with `accelerated`) | counter | |
 *
 * Labels never hold a peer id or a key, so a metric's series stay few.
 */
import { MessageType } from './wire/codec.ts'
import type { ActiveMode } from './mode.ts'
import type { CounterSnapshot } from './network/counters.ts'
import type { ProviderStoreStats } from './providers/provider-store.ts'
import type { LookupObserver } from './query/runner.ts'
import type { Counter, HistogramGroup, Metrics } from '@libp2p/interface'

/** Buckets of the query duration histogram, in seconds. */
export const QUERY_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30]

/** Buckets of the query hops histogram. */
export const QUERY_HOPS_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15]

/** Where the pulled metrics come from. */
export interface MetricsSources {
  counters(): CounterSnapshot
  tableSize(): number
  /** Peers per non-empty bucket, by bucket index. */
  bucketSizes(): Map<number, number>
  records(): number
  providers(): ProviderStoreStats
  mode(): ActiveMode
  /** The accelerated client's full table and crawl, when it is on. */
  accelerated?(): { peers: number, requests: number } | undefined
}

/**
 * libp2p's calculated counters add what `calculate` returns at each collection (prometheus-metrics
 * and libp2p's own byte counters work so): this turns running totals into the increase since the
 * last call.
 */
function increase (totals: () => Record<string, number>): () => Record<string, number> {
  const last = new Map<string, number>()
  return () => {
    const out: Record<string, number> = {}
    for (const [key, total] of Object.entries(totals())) {
      out[key] = total - (last.get(key) ?? 0)
      last.set(key, total)
    }
    return out
  }
}

/** The state of the reprovide sweep under way, or of the last one. */
interface Sweep {
  due: number
  done: number
  failed: number
}

/**
 * Registers kadmium's metrics with the libp2p `metrics` component and gives the hooks for what
 * is pushed.
 *
 * @example
 * ```ts
 * const metrics = new DHTMetrics(components.metrics, 'libp2p_kadmium', sources)
 * const query = new QueryRunner({ ..., observers: [(type) => metrics.lookup(type)] })
 * ```
 */
export class DHTMetrics {
  private readonly durations: HistogramGroup
  private readonly hops: HistogramGroup
  private readonly queryErrors: Record<string, number>
  private readonly sweep: Sweep
  private readonly reprovided: Counter
  private readonly reprovideFailures: Counter
  private readonly now: () => number

  /** `now` is the clock lookups are timed on. */
  constructor (metrics: Metrics, prefix: string, sources: MetricsSources, now: () => number = Date.now) {
    this.now = now
    const p = prefix
    const counters = (pick: (snapshot: CounterSnapshot) => Record<string, number>): (() => Record<string, number>) => increase(() => pick(sources.counters()))
    metrics.registerCounterGroup(`${p}_inbound_requests_total`, { label: 'type', help: 'DHT requests received, by message type', calculate: counters(s => s.inbound) })
    metrics.registerCounterGroup(`${p}_outbound_requests_total`, { label: 'type', help: 'DHT requests sent, by message type', calculate: counters(s => s.outbound) })
    metrics.registerCounterGroup(`${p}_inbound_request_errors_total`, { label: 'type', help: 'DHT requests received that failed (stream reset), by message type', calculate: counters(s => s.inboundFailed) })
    metrics.registerCounterGroup(`${p}_outbound_request_errors_total`, { label: 'type', help: 'DHT requests sent that failed, by message type', calculate: counters(s => s.outboundFailed) })
    metrics.registerCounterGroup(`${p}_errors_total`, { label: 'name', help: 'Errors by name', calculate: counters(s => s.errors) })
    const throttled = counters(s => ({ all: s.throttled }))
    metrics.registerCounter(`${p}_rate_limited_requests_total`, { help: 'Inbound requests held back by the per-peer rate limit', calculate: () => throttled().all })

    this.durations = metrics.registerHistogramGroup(`${p}_query_duration_seconds`, { label: 'type', help: 'How long lookups took, by the message type they asked with', buckets: QUERY_DURATION_BUCKETS })
    this.hops = metrics.registerHistogramGroup(`${p}_query_hops`, { label: 'type', help: 'Hops from the routing table to the farthest of the closest peers a lookup found', buckets: QUERY_HOPS_BUCKETS })
    this.queryErrors = {}
    const queryErrors = increase(() => this.queryErrors)
    metrics.registerCounterGroup(`${p}_query_errors_total`, { label: 'type', help: 'Lookups that ended with an error (timeout, abort), by message type', calculate: queryErrors })

    metrics.registerMetric(`${p}_routing_table_size`, { help: 'Peers in the routing table', calculate: () => sources.tableSize() })
    // a bucket that empties reads 0 (a gauge keeps the last value it was given)
    const buckets: Record<string, number> = {}
    metrics.registerMetricGroup(`${p}_routing_table_bucket_peers`, {
      label: 'bucket',
      help: 'Peers in each bucket that ever held one, by common prefix length with our key',
      calculate: () => {
        for (const bucket of Object.keys(buckets)) {
          buckets[bucket] = 0
        }
        for (const [index, size] of sources.bucketSizes()) {
          buckets[String(index)] = size
        }
        return { ...buckets }
      }
    })
    metrics.registerMetric(`${p}_records`, { help: 'Value records held for others', calculate: () => sources.records() })
    metrics.registerMetric(`${p}_provider_keys`, { help: 'Keys with provider records held', calculate: () => sources.providers().keys })
    metrics.registerMetric(`${p}_provider_records`, { help: 'Provider records held', calculate: () => sources.providers().records })
    metrics.registerMetric(`${p}_server_mode`, { help: '1 while the node is a DHT server, 0 while a client', calculate: () => sources.mode() === 'server' ? 1 : 0 })
    if (sources.accelerated?.() != null) {
      const accelerated = sources.accelerated
      metrics.registerMetric(`${p}_accelerated_table_size`, { help: 'Servers in the accelerated client\'s full table', calculate: () => accelerated()?.peers ?? 0 })
      const crawlRequests = increase(() => ({ all: accelerated()?.requests ?? 0 }))
      metrics.registerCounter(`${p}_crawl_requests_total`, { help: 'FIND_NODE requests of the accelerated client\'s rolling crawl', calculate: () => crawlRequests().all })
    }

    this.sweep = { due: 0, done: 0, failed: 0 }
    metrics.registerMetricGroup(`${p}_reprovide_sweep_keys`, { label: 'state', help: 'Keys due in the reprovide sweep under way (or the last one), done and failed so far', calculate: () => ({ ...this.sweep }) })
    this.reprovided = metrics.registerCounter(`${p}_reprovided_keys_total`, { help: 'Keys provided again by the reprovider' })
    this.reprovideFailures = metrics.registerCounter(`${p}_reprovide_failures_total`, { help: 'Keys the reprovider could not provide again (retried at its next check)' })
  }

  /** An observer of one lookup that asks with `type`: its duration, hops and errors. */
  lookup (type: MessageType): LookupObserver {
    const name = MessageType[type] ?? `UNKNOWN_${type}`
    const started = this.now()
    // a seed is 1 hop away; a peer first heard of from a peer n hops away is n + 1
    const distance = new Map<string, number>()
    return {
      event: (event) => {
        if (event.type === 'answer') {
          const next = (distance.get(event.peer.id) ?? 1) + 1
          for (const peer of event.added) {
            if (!distance.has(peer.id)) {
              distance.set(peer.id, next)
            }
          }
        }
      },
      end: (outcome) => {
        if (outcome == null) {
          this.queryErrors[name] = (this.queryErrors[name] ?? 0) + 1
          return
        }
        this.durations.observe({ [name]: (this.now() - started) / 1000 })
        if (outcome.closest.length > 0) {
          this.hops.observe({ [name]: Math.max(...outcome.closest.map(peer => distance.get(peer.id) ?? 1)) })
        }
      }
    }
  }

  /**
   * Follows one reprovide sweep of `due` keys through the provide's results, passing them on.
   */
  async * reprovide<R extends { error?: Error }> (due: number, results: AsyncIterable<R>): AsyncGenerator<R> {
    this.sweep.due = due
    this.sweep.done = 0
    this.sweep.failed = 0
    for await (const result of results) {
      if (result.error == null) {
        this.sweep.done++
        this.reprovided.increment()
      } else {
        this.sweep.failed++
        this.reprovideFailures.increment()
      }
      yield result
    }
  }
}
