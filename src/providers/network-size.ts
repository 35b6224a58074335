/**
 * How many DHT servers the network holds, estimated from the closest peers of lookups already
 * made: no request of its own.
 *
 * Node positions are uniform in the keyspace, so around any target the other peers form, to a
 * very good approximation, a Poisson process of rate N (the network size) on the XOR distance
 * scaled to [0, 1). The distance to the i-th closest peer is then Gamma(i, 1/N), and the k
 * closest peers of a target tell about N only through d, the distance to the k-th of them (the
 * likelihood of the k distances is N^k e^(-N d)). Over m lookups of independent targets, the
 * sum of their d is Gamma(mk, 1/N), so N ≈ (mk - 1) / Σ d, without bias and with a relative
 * error of 1/√(mk - 2): 10 % from 5 lookups with k = 20, 3 % from 50.
 *
 * A lookup that found fewer than k peers saw the whole network: its count is the size.
 *
 * {@link NetworkSize} is the node's estimate, fed by what it sees anyway: every lookup for the k
 * closest peers that ran to its end, and the routing table's closest peers to our own key. It
 * sends nothing of its own.
 */
import { KAD_ID_BYTES } from '../keys.ts'
import type { Emitter, NodeEvents } from '../events.ts'
import type { KadId } from '../keys.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { LookupObserver, QueryOptions } from '../query/runner.ts'
import type { RoutingTable } from '../table/routing-table.ts'

/** Leading bytes of a distance that {@link normalizedDistance} reads: 48 bits, exact in a double. */
const DISTANCE_BYTES = 6

/**
 * The XOR distance of `a` and `b` as a fraction of the keyspace, in [0, 1): 0 for keys that
 * share their first 48 bits, 0.5 and above when the first bit differs.
 */
export function normalizedDistance (a: KadId, b: KadId): number {
  let distance = 0
  let scale = 1
  for (let i = 0; i < DISTANCE_BYTES && i < KAD_ID_BYTES; i++) {
    scale /= 256
    distance += (a[i] ^ b[i]) * scale
  }
  return distance
}

/** One lookup's evidence. */
interface Sample {
  /** When it ended (ms). */
  at: number
  /** How many peers it found (k, or fewer in a small network). */
  found: number
  /** The normalized distance of the k-th closest peer to the target (NaN when fewer than k). */
  kth: number
}

/** What {@link NetworkSizeEstimator.estimate} gives. */
export interface NetworkSizeEstimate {
  /** Peers in the network, besides this node. */
  size: number
  /** The lookups (and routing-table views) it rests on. */
  samples: number
}

/** Bounds of a {@link NetworkSizeEstimator}. */
export interface NetworkSizeEstimatorInit {
  /** k: the number of closest peers a complete lookup finds. */
  k: number
  /** The most lookups remembered; the oldest are dropped first. */
  maxSamples: number
  /** A lookup older than this (ms) no longer counts: the network changes. */
  maxAge: number
}

/**
 * Keeps the last few lookups' k-th closest distances and turns them into a network size.
 *
 * @example
 * ```ts
 * const sizes = new NetworkSizeEstimator({ k: 20, maxSamples: 100, maxAge: 2 * 60 * 60_000 })
 * sizes.add(target, closest.map(peer => peer.key), Date.now())  // after each complete lookup
 * sizes.estimate(Date.now(), 5)?.size                            // ≈ N once 5 lookups are in
 * ```
 */
export class NetworkSizeEstimator {
  private readonly init: NetworkSizeEstimatorInit
  private samples: Sample[]

  constructor (init: NetworkSizeEstimatorInit) {
    this.init = init
    this.samples = []
  }

  /**
   * Takes the outcome of a complete lookup for `target` (one that was not stopped early): the
   * keys of the closest peers it found, closest first, k of them unless the network is smaller.
   */
  add (target: KadId, closest: KadId[], now: number): void {
    this.samples.push(sampleOf(target, closest, this.init.k, now))
    if (this.samples.length > this.init.maxSamples) {
      this.samples.shift()
    }
  }

  /**
   * The network size from the lookups of the last `maxAge` ms and, when given, one more view
   * that holds k peers (the routing table's closest peers to our own key, closest first).
   * Undefined with fewer than `minSamples` of them. When the newest lookup found fewer than k
   * peers, the network is that small: its count is the size.
   */
  estimate (now: number, minSamples: number, view?: { target: KadId, closest: KadId[] }): NetworkSizeEstimate | undefined {
    const { k } = this.init
    this.samples = this.samples.filter(sample => now - sample.at <= this.init.maxAge)
    const newest = this.samples.at(-1)
    if (newest != null && newest.found < k) {
      return this.samples.length < minSamples ? undefined : { size: newest.found, samples: this.samples.length }
    }
    const full = this.samples.filter(sample => sample.found >= k)
    if (view != null && view.closest.length >= k) {
      full.push(sampleOf(view.target, view.closest, k, now))
    }
    const sum = full.reduce((total, sample) => total + sample.kth, 0)
    if (full.length === 0 || full.length < minSamples || sum <= 0) {
      return undefined
    }
    return { size: Math.max(k, Math.round((full.length * k - 1) / sum)), samples: full.length }
  }
}

function sampleOf (target: KadId, closest: KadId[], k: number, now: number): Sample {
  const found = Math.min(closest.length, k)
  return { at: now, found, kth: found < k ? NaN : normalizedDistance(target, closest[k - 1]) }
}

/** What {@link NetworkSize} needs. */
export interface NetworkSizeInit {
  table: RoutingTable<DHTPeer>
  /** Our own position in the keyspace. */
  self: KadId
  kBucketSize: number
  /** The most lookups remembered. */
  maxSamples: number
  /** How long a lookup counts, in ms. */
  maxAge: number
  /** The clock, in ms. */
  now(): number
  /** Where it tells that a lookup added a sample. */
  channel: Emitter<Pick<NodeEvents, 'network-size'>>
}

/**
 * Estimates the network size from lookups and the routing table.
 *
 * @example
 * ```ts
 * const size = new NetworkSize({ table, self, kBucketSize: 20, maxSamples: 100, maxAge: 2 * HOUR, now: Date.now, channel })
 * new QueryRunner({ ..., observers: [(type, target, options) => size.observe(target, options)] })
 * size.estimate(5)?.size
 * ```
 */
export class NetworkSize {
  private readonly init: NetworkSizeInit
  private readonly estimator: NetworkSizeEstimator

  constructor (init: NetworkSizeInit) {
    this.init = init
    this.estimator = new NetworkSizeEstimator({ k: init.kBucketSize, maxSamples: init.maxSamples, maxAge: init.maxAge })
  }

  /**
   * Watches a lookup of `target`: one for the k closest (whatever it asks) that ends without
   * being stopped counts; one that takes in only some peers (a bucket refresh's `accept`), or
   * wants fewer than k, does not.
   */
  observe (target: KadId, options: QueryOptions = {}): LookupObserver | undefined {
    if (options.accept != null || (options.resultSize ?? this.init.kBucketSize) < this.init.kBucketSize) {
      return undefined
    }
    return {
      event: () => {},
      end: (outcome) => {
        if (outcome != null && !outcome.stopped) {
          this.estimator.add(target, outcome.closest.map(peer => peer.key), this.init.now())
          this.init.channel.emit('network-size', undefined)
        }
      }
    }
  }

  /** The estimate, if it rests on `minSamples` views at least. */
  estimate (minSamples: number): NetworkSizeEstimate | undefined {
    const { table, self, kBucketSize } = this.init
    const closest = table.closest(self, kBucketSize).map(entry => entry.peer.key)
    return this.estimator.estimate(this.init.now(), minSamples, { target: self, closest })
  }
}
