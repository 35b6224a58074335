/**
 * The buckets of the routing table (routing-table.ts): each holds its peers least recently seen
 * first, and at most one newcomer waiting on a liveness check of its oldest peer. And the search
 * for the peers closest to a key, bucket by bucket in order of distance, sorting only the
 * buckets that can hold the answer.
 *
 * Pure bookkeeping, no clock: the table says when a peer was seen.
 */
import { KAD_ID_BITS, commonPrefixLength, compareDistance } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** A peer in the table. `P` is whatever the caller keeps with it (its PeerId, say). */
export interface TableEntry<P> {
  /** A unique string for the peer (its peer id as a string). */
  readonly id: string
  /** Its position in the keyspace. */
  readonly key: KadId
  /** What the caller keeps with it. */
  peer: P
  /** When it entered the table (clock milliseconds). */
  readonly added: number
  /** When it last proved alive: answered us, asked us, or passed a liveness check. */
  lastSeen: number
  /** The address groups (IP /16 or /32 prefixes) it was counted in when it entered. */
  readonly groups: readonly string[]
  /** Requests it failed in a row. */
  failures: number
  /**
   * Its last request from us went unanswered: failed, or still unanswered when its lookup ended
   * (a silent peer). It is named in no answer until it proves alive again.
   */
  unanswered: boolean
  /**
   * Held beyond its bucket's k because it is one of our k closest peers (see routing-table.ts);
   * it leaves once it no longer is, unless its bucket made room for it first.
   */
  overflow: boolean
}

/** A newcomer to a full bucket, waiting on the liveness check of the peer `checking`. */
export interface Waiting<P> {
  id: string
  key: KadId
  peer: P
  /** Its address groups, taken when it was offered. */
  groups: readonly string[]
  checking: string
}

/**
 * One bucket: its peers, least recently seen first, and a newcomer that may wait on a check.
 *
 * @example
 * ```ts
 * const bucket = new Bucket<string>()
 * bucket.add(entry)
 * bucket.seen(entry)            // now the most recently seen
 * bucket.oldestRegular()        // the peer a newcomer to a full bucket waits on
 * ```
 */
export class Bucket<P> {
  /** Least recently seen first. */
  readonly entries: Array<TableEntry<P>>
  /** A newcomer waiting on a liveness check. */
  waiting?: Waiting<P>

  constructor () {
    this.entries = []
  }

  /** Its regular (not overflow) peers. */
  regular (): number {
    let n = this.entries.length
    for (const entry of this.entries) {
      if (entry.overflow) {
        n--
      }
    }
    return n
  }

  /** The least recently seen regular peer, if any. */
  oldestRegular (): TableEntry<P> | undefined {
    return this.entries.find(entry => !entry.overflow)
  }

  /** Adds a peer as the most recently seen. */
  add (entry: TableEntry<P>): void {
    this.entries.push(entry)
  }

  /** Takes a peer out; returns whether it was there. */
  delete (entry: TableEntry<P>): boolean {
    const at = this.entries.indexOf(entry)
    if (at < 0) {
      return false
    }
    this.entries.splice(at, 1)
    return true
  }

  /** Makes a peer the most recently seen. */
  seen (entry: TableEntry<P>): void {
    const at = this.entries.indexOf(entry)
    if (at >= 0 && at !== this.entries.length - 1) {
      this.entries.splice(at, 1)
      this.entries.push(entry)
    }
  }
}

/** The index of the deepest non-empty bucket, or -1 when every bucket is empty. */
export function deepestBucket<P> (buckets: ReadonlyArray<Bucket<P> | undefined>): number {
  for (let i = KAD_ID_BITS - 1; i >= 0; i--) {
    if ((buckets[i]?.entries.length ?? 0) > 0) {
      return i
    }
  }
  return -1
}

/**
 * The `count` peers of `buckets` (indexed by common prefix length with `localKey`) closest to
 * `key`, closest first.
 *
 * Buckets are visited in order of distance, so only the buckets that can hold the answer are
 * sorted, each on its own: the bucket `key` falls into, then the deeper ones, then the
 * shallower ones, stopping once `count` peers are collected.
 */
export function closestInBuckets<P> (buckets: ReadonlyArray<Bucket<P> | undefined>, localKey: KadId, key: KadId, count: number): Array<TableEntry<P>> {
  const out: Array<TableEntry<P>> = []
  if (count <= 0) {
    return out
  }
  const collect = (index: number): boolean => collectBucket(buckets[index], key, count, out)
  const cpl = commonPrefixLength(localKey, key)
  // peers of bucket `cpl` agree with `key` on its first cpl+1 bits: the closest of all
  if (cpl < KAD_ID_BITS && collect(cpl)) {
    return out
  }
  // a peer of a deeper bucket i agrees with us up to bit i, so with `key` up to bit i just as
  // we do: bucket i is closer to `key` than every deeper one where `key` differs from us at
  // bit i, and farther than all of them where it does not
  const farther: number[] = []
  const deepest = deepestBucket(buckets)
  for (let i = cpl + 1; i <= deepest; i++) {
    if (bitAt(key, i) === bitAt(localKey, i)) {
      farther.push(i)
    } else if (collect(i)) {
      return out
    }
  }
  for (let j = farther.length - 1; j >= 0; j--) {
    if (collect(farther[j])) {
      return out
    }
  }
  // peers of shallower bucket i first differ from `key` at bit i: nearer buckets first
  for (let i = Math.min(cpl, KAD_ID_BITS) - 1; i >= 0; i--) {
    if (collect(i)) {
      return out
    }
  }
  return out
}

/** Adds a bucket's peers to `out`, closest to `key` first, up to `count`; true when full. */
function collectBucket<P> (bucket: Bucket<P> | undefined, key: KadId, count: number, out: Array<TableEntry<P>>): boolean {
  const entries = bucket?.entries
  if (entries == null || entries.length === 0) {
    return false
  }
  const group = entries.length === 1 ? entries : entries.slice().sort((a, b) => compareDistance(a.key, b.key, key))
  for (const entry of group) {
    out.push(entry)
    if (out.length === count) {
      return true
    }
  }
  return false
}

/** Bit `i` of a key, counted from the most significant bit of its first byte. */
function bitAt (key: KadId, i: number): number {
  return (key[i >> 3] >> (7 - (i & 7))) & 1
}
