/**
 * The k-bucket routing table, relative to our own position in the keyspace.
 *
 * Bucket `i` holds peers whose key shares exactly `i` leading bits with ours. A full bucket keeps
 * its older live peers: a newcomer only takes the place of the least-recently-seen peer after
 * that peer has failed a liveness check.
 *
 * The table also always knows our own neighbourhood, as the Kademlia paper (§4.2) requires of a
 * node for its closest subtree: a newcomer that would be one of our k closest known peers enters
 * even a full bucket, held there as an *overflow* peer beyond the bucket's k. It stays while it
 * is one of our k closest, becomes a regular peer when its bucket has room, and leaves when
 * closer peers push it out of our k closest; the bucket's regular peers are never displaced by
 * it. So a bucket holds at most k regular peers and the whole table at most k overflow ones.
 * Without this, when fewer than k peers share our first bit, the rest of our k closest would
 * sit in a full bucket 0 behind far peers that arrived first, and we would never learn them.
 *
 * Nothing here touches the network or waits: the table is synchronous. When a newcomer needs a
 * liveness check of a bucket's oldest peer, the table says so through `onCheck` and the owner
 * reports the outcome later with {@link RoutingTable.checked} (rust-libp2p's pending-entry
 * shape). The clock is the caller's too.
 */
import { KAD_ID_BITS, commonPrefixLength, compareDistance } from '../keys.ts'
import { Bucket, closestInBuckets, deepestBucket } from './buckets.ts'
import { GroupLimits } from './group-limits.ts'
import type { TableEntry, Waiting } from './buckets.ts'
import type { KadId } from '../keys.ts'

export type { TableEntry } from './buckets.ts'

/** What {@link RoutingTable.add} did with a peer. */
export type AddResult =
  /** The peer is now in the table. */
  | 'added'
  /** The peer was already there; it is marked seen. */
  | 'updated'
  /**
   * Its bucket is full; the least-recently-seen peer is being checked (see
   * {@link RoutingTableInit.onCheck}) and the newcomer waits for the outcome.
   */
  | 'pending'
  /** Its bucket is full of live peers (or it is our own key); the newcomer is not kept. */
  | 'rejected'

/** What the table needs from its owner. */
export interface RoutingTableInit<P> {
  /** Our own position in the keyspace. */
  localKey: KadId
  /** Peers per bucket (k). */
  kBucketSize: number
  /** The clock, in milliseconds. */
  now(): number
  /**
   * Told that a peer must be checked for liveness: the least-recently-seen peer of a full bucket
   * that a newcomer waits on (unless it was seen within `freshness`). Check it, then report the
   * outcome with {@link RoutingTable.checked}; until then the newcomer waits.
   */
  onCheck(entry: TableEntry<P>): void
  /** A peer seen within this many milliseconds is taken to be alive without a check. */
  freshness: number
  /**
   * Requests a peer may fail in a row before it leaves the table (one timeout on a loaded
   * network is not a dead peer).
   */
  maxFailures: number
  /** Told about each peer that enters the table. */
  onAdd?(entry: TableEntry<P>): void
  /** Told about each peer that leaves the table. */
  onRemove?(entry: TableEntry<P>): void
  /**
   * The diversity filter: the address groups of a peer (for example the IPv4 /16 it connects
   * from), asked once when the peer is offered. A peer is refused when one of its groups already
   * has `maxPerGroupPerBucket` peers in its bucket or `maxPerGroupInTable` in the table. Without
   * it, there is no filter.
   */
  groups?(peer: P): string[]
  /** Peers of one group per bucket, when `groups` is given. */
  maxPerGroupPerBucket?: number
  /** Peers of one group in the whole table, when `groups` is given. */
  maxPerGroupInTable?: number
}

/** One bucket of {@link RoutingTable.info}. */
export interface BucketInfo<P> {
  /** The common prefix length with our key shared by every peer in it. */
  index: number
  /** Its peers, least recently seen first. */
  peers: Array<Readonly<TableEntry<P>>>
  /** When a lookup last targeted a key in it (0: never). */
  lastLookup: number
}

/**
 * A Kademlia routing table of `kBucketSize` peers per bucket, plus up to `kBucketSize` overflow
 * peers that keep our own k closest in it (see the module comment).
 *
 * @example
 * ```ts
 * const table = new RoutingTable<string>({
 *   localKey: kadId(self), kBucketSize: 20, freshness: 60_000, maxFailures: 2, now: Date.now,
 *   onCheck: (entry) => { void pingPeer(entry.peer).then(alive => { table.checked(entry.id, alive) }) }
 * })
 * table.add('peer-a', kadId(a), 'peer-a')
 * const nearest = table.closest(kadId(key), 20)
 * ```
 */
export class RoutingTable<P> {
  private readonly init: RoutingTableInit<P>
  private readonly buckets: Array<Bucket<P> | undefined>
  private readonly byId: Map<string, TableEntry<P>>
  private readonly lookups: number[]
  private readonly limits?: GroupLimits
  private readonly overflow: Set<TableEntry<P>>

  constructor (init: RoutingTableInit<P>) {
    this.init = init
    this.buckets = new Array(KAD_ID_BITS)
    this.byId = new Map()
    this.lookups = new Array(KAD_ID_BITS).fill(0)
    this.limits = init.groups == null ? undefined : new GroupLimits(init.maxPerGroupPerBucket ?? Infinity, init.maxPerGroupInTable ?? Infinity)
    this.overflow = new Set()
  }

  /** How many peers the table holds. */
  get size (): number {
    return this.byId.size
  }

  /** The entry of a peer, if it is in the table. */
  get (id: string): TableEntry<P> | undefined {
    return this.byId.get(id)
  }

  /** Whether a peer is in the table. */
  has (id: string): boolean {
    return this.byId.has(id)
  }

  /** The index of the bucket a key belongs to, or -1 for our own key. */
  bucketIndex (key: KadId): number {
    const cpl = commonPrefixLength(this.init.localKey, key)
    return cpl === KAD_ID_BITS ? -1 : cpl
  }

  /**
   * Offers a peer to the table. A peer already there is marked seen (and its `peer` value
   * replaced). A newcomer to a full bucket waits while the bucket's least-recently-seen peer is
   * checked (`onCheck`), and enters only if that peer fails the check ({@link checked}).
   */
  add (id: string, key: KadId, peer: P): AddResult {
    const now = this.init.now()
    const existing = this.byId.get(id)
    if (existing != null) {
      existing.peer = peer
      this.markSeen(existing, now)
      return 'updated'
    }
    const index = this.bucketIndex(key)
    if (index < 0) {
      return 'rejected'
    }
    let bucket = this.buckets[index]
    if (bucket == null) {
      bucket = new Bucket<P>()
      this.buckets[index] = bucket
    }
    const groups = this.init.groups?.(peer) ?? []
    if (this.limits?.admits(index, groups) === false) {
      return 'rejected'
    }
    const full = bucket.regular() >= this.init.kBucketSize
    if (!full || this.isNeighbour(index, key)) {
      this.insert(bucket, { id, key, peer, added: now, lastSeen: now, groups, failures: 0, unanswered: false, overflow: full })
      this.placeOverflow()
      return 'added'
    }
    // the least-recently-seen regular peer (entries are in that order)
    const oldest = bucket.oldestRegular() as TableEntry<P>
    if (now - oldest.lastSeen < this.init.freshness) {
      return 'rejected'
    }
    if (bucket.waiting != null) {
      // a check is already under way: the latest newcomer takes the waiting place
      bucket.waiting = { id, key, peer, groups, checking: bucket.waiting.checking }
      return 'pending'
    }
    bucket.waiting = { id, key, peer, groups, checking: oldest.id }
    this.init.onCheck(oldest)
    return 'pending'
  }

  /**
   * The outcome of a liveness check that `onCheck` asked for: a live peer is marked seen and the
   * newcomer waiting on it turned away; a dead one leaves, and the newcomer takes its place if
   * the bucket has room and the diversity limits allow.
   */
  checked (id: string, alive: boolean): void {
    const entry = this.byId.get(id)
    if (entry == null) {
      // it left meanwhile, and its waiting newcomer was settled then
      return
    }
    if (!alive) {
      this.remove(id)
      return
    }
    this.markSeen(entry, this.init.now())
    const bucket = this.buckets[this.bucketIndex(entry.key)]
    if (bucket?.waiting?.checking === id) {
      bucket.waiting = undefined
    }
  }

  /**
   * A liveness check that `onCheck` asked for will not come (the owner stopped): the peer stays
   * as it was, and the newcomer waiting on it is turned away, so that the next one can be checked.
   */
  checkAbandoned (id: string): void {
    const entry = this.byId.get(id)
    const bucket = entry == null ? undefined : this.buckets[this.bucketIndex(entry.key)]
    if (bucket?.waiting?.checking === id) {
      bucket.waiting = undefined
    }
  }

  /** Marks a peer in the table as alive now. */
  touch (id: string): void {
    const entry = this.byId.get(id)
    if (entry != null) {
      this.markSeen(entry, this.init.now())
    }
  }

  /**
   * Records that a peer failed a request; after `maxFailures` in a row it leaves the table.
   * Returns whether it left.
   */
  failed (id: string): boolean {
    const entry = this.byId.get(id)
    if (entry == null) {
      return false
    }
    entry.failures++
    entry.unanswered = true
    return entry.failures >= this.init.maxFailures && this.remove(id)
  }

  /**
   * Records that a peer's request was still unanswered when its lookup ended (late, not failed):
   * it stays, but is named in no answer ({@link answerable}) until it proves alive again.
   */
  unanswered (id: string): void {
    const entry = this.byId.get(id)
    if (entry != null) {
      entry.unanswered = true
    }
  }

  /** Removes a peer; returns whether it was there. */
  remove (id: string): boolean {
    const entry = this.byId.get(id)
    if (entry == null) {
      return false
    }
    const orphan = this.drop(entry)
    // a freed place goes to the overflow peers first, then to a newcomer that waited on the peer
    this.placeOverflow()
    if (orphan != null) {
      this.admit(orphan)
    }
    return true
  }

  /** Takes a peer out; returns the newcomer that waited on a check of it, if one did. */
  private drop (entry: TableEntry<P>): Waiting<P> | undefined {
    this.overflow.delete(entry)
    const index = this.bucketIndex(entry.key)
    const bucket = this.buckets[index]
    if (bucket != null) {
      bucket.delete(entry)
      this.limits?.remove(index, entry.groups)
    }
    this.byId.delete(entry.id)
    this.init.onRemove?.(entry)
    const waiting = bucket?.waiting
    if (bucket == null || waiting?.checking !== entry.id) {
      return undefined
    }
    bucket.waiting = undefined
    return waiting
  }

  /** Puts a newcomer that waited on a check into its bucket, if there is room and the limits allow. */
  private admit (newcomer: Waiting<P>): void {
    const index = this.bucketIndex(newcomer.key)
    const bucket = this.buckets[index] as Bucket<P>
    if (this.byId.has(newcomer.id) || bucket.regular() >= this.init.kBucketSize) {
      return
    }
    if (this.limits?.admits(index, newcomer.groups) !== false) {
      const now = this.init.now()
      this.insert(bucket, { id: newcomer.id, key: newcomer.key, peer: newcomer.peer, added: now, lastSeen: now, groups: newcomer.groups, failures: 0, unanswered: false, overflow: false })
    }
  }

  /**
   * The `count` peers closest to `key`, closest first: the buckets are visited in order of
   * distance, and only those that can hold the answer are sorted (see buckets.ts).
   */
  closest (key: KadId, count: number): Array<TableEntry<P>> {
    return closestInBuckets(this.buckets, this.init.localKey, key, count)
  }

  /**
   * The `count` peers closest to `key` to name in an answer, closest first: those whose last
   * request from us was answered (see {@link unanswered}), and none that `skip` returns true for.
   * A silent or gone peer our own lookups caught is not passed on to others, and the next
   * closest takes its place.
   */
  answerable (key: KadId, count: number, skip?: (entry: TableEntry<P>) => boolean): Array<TableEntry<P>> {
    let want = count + 1
    while (true) {
      const closest = this.closest(key, want)
      const out = closest.filter(entry => !entry.unanswered && skip?.(entry) !== true)
      if (out.length >= count || closest.length < want) {
        return out.slice(0, count)
      }
      want = 2 * want
    }
  }

  /** Every peer in the table, bucket by bucket. */
  * entries (): Generator<TableEntry<P>> {
    for (const bucket of this.buckets) {
      if (bucket != null) {
        yield * bucket.entries
      }
    }
  }

  /** The non-empty buckets with their peers, shallowest first. */
  info (): Array<BucketInfo<P>> {
    const out: Array<BucketInfo<P>> = []
    this.buckets.forEach((bucket, index) => {
      if (bucket != null && bucket.entries.length > 0) {
        out.push({ index, peers: bucket.entries.map(e => ({ ...e })), lastLookup: this.lookups[index] })
      }
    })
    return out
  }

  /** Records that a lookup targeted `key` now: its bucket counts as refreshed. */
  markLookup (key: KadId): void {
    const index = this.bucketIndex(key)
    this.lookups[index < 0 ? KAD_ID_BITS - 1 : index] = this.init.now()
  }

  /** When a lookup last targeted a key in bucket `index` (0: never). */
  lastLookup (index: number): number {
    return this.lookups[index] ?? 0
  }

  /** How many peers bucket `index` holds (k or more only when it is full: overflow peers need a full bucket). */
  bucketSize (index: number): number {
    return this.buckets[index]?.entries.length ?? 0
  }

  /** The index of the deepest non-empty bucket, or -1 when the table is empty. */
  deepestBucket (): number {
    return deepestBucket(this.buckets)
  }

  /**
   * Whether a key of bucket `index` would be one of our k closest known peers: every peer of a
   * deeper bucket is closer to us than it, and within its bucket the XOR distance decides.
   */
  private isNeighbour (index: number, key: KadId): boolean {
    const k = this.init.kBucketSize
    let closer = 0
    for (let i = index + 1; i < KAD_ID_BITS && closer < k; i++) {
      closer += this.buckets[i]?.entries.length ?? 0
    }
    for (const entry of this.buckets[index]?.entries ?? []) {
      if (closer >= k) {
        break
      }
      if (compareDistance(entry.key, key, this.init.localKey) < 0) {
        closer++
      }
    }
    return closer < k
  }

  /**
   * Puts each overflow peer right after the table changed: regular where its bucket has room
   * again, gone where closer peers pushed it out of our k closest.
   */
  private placeOverflow (): void {
    if (this.overflow.size === 0) {
      return
    }
    const near = new Set(this.closest(this.init.localKey, this.init.kBucketSize))
    for (const entry of [...this.overflow]) {
      const bucket = this.buckets[this.bucketIndex(entry.key)] as Bucket<P>
      if (bucket.regular() < this.init.kBucketSize) {
        entry.overflow = false
        this.overflow.delete(entry)
      } else if (!near.has(entry)) {
        this.drop(entry)
      }
    }
  }

  private insert (bucket: Bucket<P>, entry: TableEntry<P>): void {
    this.limits?.add(this.bucketIndex(entry.key), entry.groups)
    bucket.add(entry)
    this.byId.set(entry.id, entry)
    if (entry.overflow) {
      this.overflow.add(entry)
    }
    this.init.onAdd?.(entry)
  }

  private markSeen (entry: TableEntry<P>, now: number): void {
    entry.lastSeen = now
    entry.failures = 0
    entry.unanswered = false
    this.buckets[this.bucketIndex(entry.key)]?.seen(entry)
  }
}
