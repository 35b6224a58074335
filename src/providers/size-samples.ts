/**
 * The node's estimate of the network size (see kademlia/netsize.ts), fed by what it sees anyway:
 * every FIND_NODE lookup that ran to its end, and the routing table's closest peers to our own
 * key. It sends nothing of its own.
 */
import { MessageType } from '../wire/codec.ts'
import { NetworkSizeEstimator } from './network-size.ts'
import type { KadId } from '../keys.ts'
import type { NetworkSizeEstimate } from './network-size.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { LookupObserver, QueryOptions } from '../peers/peer-routing.ts'
import type { RoutingTable } from '../table/routing-table.ts'

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
  now(): number
  /** Told after each lookup that counted. */
  onSample?(): void
}

/**
 * Estimates the network size from lookups and the routing table.
 *
 * @example
 * ```ts
 * const size = new NetworkSize({ table, self, kBucketSize: 20, maxSamples: 100, maxAge: 2 * HOUR, now: Date.now })
 * new PeerRouting({ ..., observe: (type, target) => size.observe(type, target) })
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
   * Watches a lookup of `target`: a FIND_NODE lookup for the k closest that ends without being
   * stopped counts; one that takes in only some peers (a bucket refresh's `accept`) does not.
   */
  observe (type: MessageType, target: KadId, options: QueryOptions = {}): LookupObserver | undefined {
    if (type !== MessageType.FIND_NODE || options.accept != null || (options.resultSize ?? this.init.kBucketSize) < this.init.kBucketSize) {
      return undefined
    }
    return {
      event: () => {},
      end: (outcome) => {
        if (outcome != null && !outcome.stopped) {
          this.estimator.add(target, outcome.closest.map(peer => peer.key), this.init.now())
          this.init.onSample?.()
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
