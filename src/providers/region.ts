/**
 * Batch planning for many keys at once: a few lookups that see one region of the keyspace whole
 * settle the k closest peers of every key in it, with no lookup of their own. The exploration of
 * a region is a pure state machine (region-plan.ts, where the reasoning is); this file drives it
 * over real lookups.
 */
import { commonPrefixLength } from '../keys.ts'
import { RegionExploration, closestInRegion } from './region-plan.ts'
import type { Exploration } from './region-plan.ts'
import type { KadId } from '../keys.ts'

/**
 * Looks up some key sharing the first `bits` bits with `prefix` (`prefix` itself when `bits` is
 * 256) and resolves to that key and its k closest peers (all of them when there are fewer).
 */
export type FindClosest<P> = (prefix: KadId, bits: number) => Promise<{ target: KadId, peers: P[] }>

/**
 * Finds the region around `anchor` and every peer in it (see region-plan.ts), with at most
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
export async function exploreRegion<P extends { key: KadId }> (anchor: KadId, find: FindClosest<P>, k: number, maxLookups: number, worthIt?: (bits: number) => boolean): Promise<Exploration<P>> {
  const exploration = new RegionExploration<P>(anchor, k, maxLookups, worthIt)
  for (let probe = exploration.next(); probe != null; probe = exploration.next()) {
    const { target, peers } = await find(probe.prefix, probe.bits)
    exploration.found(target, peers)
  }
  return exploration.result()
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
