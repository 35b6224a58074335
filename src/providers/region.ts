/**
 * Batch planning for many keys at once: a few lookups that see one part of the keyspace whole
 * settle the k closest peers of every key in it, with no lookup of their own.
 *
 * It rests on the shape of the XOR metric. The keys that share a prefix form a subtree, and
 * every peer inside a subtree is closer to every key inside it than any peer outside. So:
 * (1) when the k closest peers of a key t include a peer outside a subtree that holds t, they
 * include every peer of that subtree: the lookup saw it whole; (2) when a subtree holds at
 * least k peers, the k closest peers of any key in it lie in it.
 *
 * A lookup of an anchor key finds its k closest peers; the longest prefix they all share with
 * it marks a subtree (the *region*) that holds at least k peers. Its half on the anchor's side
 * was seen whole by that lookup (1); lookups in the other half, split further while they find
 * k peers inside, see that half whole too. Then every key in the region has its true k closest
 * among the peers seen (2).
 *
 * What it needs of the lookups: that each returns the true k closest live peers of its target
 * (fewer when the network holds fewer), which a Kademlia lookup gives on a settled network.
 */
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { KAD_ID_BITS, commonPrefixLength, compareDistance } from '../keys.ts'
import type { KadId } from '../keys.ts'

/**
 * Looks up some key sharing the first `bits` bits with `prefix` (`prefix` itself when `bits` is
 * 256) and resolves to that key and its k closest peers (all of them when there are fewer).
 */
export type FindClosest<P> = (prefix: KadId, bits: number) => Promise<{ target: KadId, peers: P[] }>

/** A part of the keyspace seen whole. */
export interface Region<P> {
  /** Any key in it: the region is the keys sharing its first `bits` bits. */
  prefix: KadId
  bits: number
  /** Every peer in it. */
  peers: P[]
}

/** What {@link exploreRegion} found. */
export interface Exploration<P> {
  /**
   * The region, unless `worthIt` said no or it took more than `maxLookups` lookups to see it
   * whole.
   */
  region?: Region<P>
  /** The anchor's own k closest peers, found by the first lookup. */
  anchorPeers: P[]
  /** Lookups made. */
  lookups: number
}

/**
 * Finds the region around `anchor` and every peer in it (see the module comment), with at most
 * `maxLookups` lookups. After the anchor's own lookup, `worthIt` is asked whether the region
 * (the keys sharing its first `bits` bits) deserves the lookups that see it whole; without it,
 * it always does.
 *
 * @example
 * ```ts
 * const { region } = await exploreRegion(kadId(cid.multihash.bytes), async (prefix, bits) => lookUpSomeKeyIn(prefix, bits), 20, 8)
 * for (const key of keys) {
 *   const peers = region == null ? undefined : closestInRegion(region, key, 20)  // undefined: outside it
 * }
 * ```
 */
export async function exploreRegion<P extends { key: KadId }> (anchor: KadId, find: FindClosest<P>, k: number, maxLookups: number, worthIt: (bits: number) => boolean = () => true): Promise<Exploration<P>> {
  const seen = new Map<string, P>()
  const look = async (prefix: KadId, bits: number): Promise<{ target: KadId, peers: P[] }> => {
    const found = await find(prefix, bits)
    for (const peer of found.peers) {
      seen.set(uint8ArrayToString(peer.key, 'base16'), peer)
    }
    return found
  }
  const { peers: anchorPeers } = await look(anchor, KAD_ID_BITS)
  let lookups = 1
  const depth = wholeBelow(anchor, anchorPeers, k)
  if (depth < 0) {
    // fewer than k peers in the whole network: the lookup saw them all
    return { region: { prefix: anchor, bits: 0, peers: anchorPeers }, anchorPeers, lookups }
  }
  if (!worthIt(depth)) {
    return { anchorPeers, lookups }
  }
  // the region shares `depth` bits with the anchor; the anchor's half of it was seen whole
  const open: Array<{ prefix: KadId, bits: number }> = [sibling(anchor, depth)]
  while (open.length > 0) {
    const part = open.pop() as { prefix: KadId, bits: number }
    if (lookups >= maxLookups) {
      return { anchorPeers, lookups }
    }
    const { target, peers } = await look(part.prefix, part.bits)
    lookups++
    // the subtrees of the target deeper than `below` were seen whole; the siblings on the way
    // down from `part` to there still have to be
    const below = wholeBelow(target, peers, k)
    for (let bit = part.bits; bit <= below; bit++) {
      open.push(sibling(target, bit))
    }
  }
  const peers = [...seen.values()].filter(peer => commonPrefixLength(peer.key, anchor) >= depth)
  return { region: { prefix: anchor, bits: depth, peers }, anchorPeers, lookups }
}

/**
 * The k closest peers of `key` when it lies in `region` (they are all in it), closest first;
 * undefined when it lies outside.
 */
export function closestInRegion<P extends { key: KadId }> (region: Region<P>, key: KadId, k: number): P[] | undefined {
  if (commonPrefixLength(region.prefix, key) < region.bits) {
    return undefined
  }
  return [...region.peers].sort((a, b) => compareDistance(a.key, b.key, key)).slice(0, k)
}

/**
 * One step of {@link settleBatch}: the items one region settled, or the one it failed on, with
 * the error of its lookups (none when they found no peer at all).
 */
export type BatchStep<T, P> =
  | { settled: Array<{ item: T, peers: P[] }>, lookups: number }
  | { failed: T, error?: Error, lookups: number }

/**
 * Settles the k closest peers of many keys, region by region: explores the region around the
 * first unsettled item (see {@link exploreRegion}) and settles every item in it, then goes on
 * with the rest. A region holding fewer than `minKeys` unsettled items is not explored (its
 * lookups would cost more than they save), nor one that takes more than `maxLookups`: then
 * only the item it started from is settled, by its own lookup. An item
 * whose exploration failed (or found no peer at all) is yielded as failed and left out.
 *
 * @example
 * ```ts
 * for await (const step of settleBatch(keys, key => kadId(key), key => findFor(key), 20, 8, 3)) {
 *   if ('failed' in step) { ... } else for (const { item, peers } of step.settled) { ... }
 * }
 * ```
 */
export async function * settleBatch<T, P extends { key: KadId }> (items: Iterable<T>, keyOf: (item: T) => KadId, findFor: (anchor: T) => FindClosest<P>, k: number, maxLookups: number, minKeys: number): AsyncGenerator<BatchStep<T, P>> {
  let pending = [...items].map(item => ({ item, key: keyOf(item) }))
  while (pending.length > 0) {
    const anchor = pending[0]
    const candidates = pending
    const worthIt = (bits: number): boolean => candidates.filter(p => commonPrefixLength(p.key, anchor.key) >= bits).length >= minKeys
    let exploration: Exploration<P>
    try {
      exploration = await exploreRegion(anchor.key, findFor(anchor.item), k, maxLookups, worthIt)
    } catch (error: any) {
      pending = pending.slice(1)
      yield { failed: anchor.item, error, lookups: NaN }
      continue
    }
    const { region, anchorPeers, lookups } = exploration
    const settled = region == null
      ? [{ item: anchor.item, peers: anchorPeers }]
      : pending.map(p => ({ item: p.item, peers: closestInRegion(region, p.key, k) ?? [] }))
    const done = new Set(settled.filter(s => s.peers.length > 0).map(s => s.item))
    if (done.size === 0) {
      pending = pending.slice(1)
      yield { failed: anchor.item, lookups }
      continue
    }
    pending = pending.filter(p => !done.has(p.item))
    yield { settled: settled.filter(s => done.has(s.item)), lookups }
  }
}

/**
 * The longest prefix length `bits` such that all of `found` (the k closest peers of `target`)
 * share `bits` bits with it: every subtree of `target` deeper than that was seen whole. -1 when
 * fewer than k were found (the lookup saw the whole network).
 */
function wholeBelow<P extends { key: KadId }> (target: KadId, found: P[], k: number): number {
  if (found.length < k) {
    return -1
  }
  return found.reduce((bits, peer) => Math.min(bits, commonPrefixLength(target, peer.key)), KAD_ID_BITS - 1)
}

/** The subtree beside `key`'s at depth `bit`: `key`'s first `bit` bits, then the other bit. */
function sibling (key: KadId, bit: number): { prefix: KadId, bits: number } {
  const prefix = key.slice()
  prefix[bit >> 3] ^= 0x80 >> (bit & 7)
  return { prefix, bits: bit + 1 }
}
