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

/** How {@link settleBatch} goes about it. */
export interface SettleOptions {
  /** Peers settled per item: its k closest. */
  k: number
  /** Lookups one region's exploration may take, at most. */
  maxLookups: number
  /** Unsettled items a region must hold to be explored. */
  minKeys: number
  /** Regions explored at once, at most (1 unless told). */
  regionsAtOnce?: number
}

/**
 * Settles the k closest peers of many keys, region by region: explores the region around the
 * first unsettled item (see {@link exploreRegion}) and settles every item in it, then goes on
 * with the rest. A region holding fewer than `minKeys` unsettled items is not explored (its
 * lookups would cost more than they save), nor one that takes more than `maxLookups`: then
 * only the item it started from is settled, by its own lookup. An item whose exploration failed
 * (or found no peer at all) is yielded as failed and left out.
 *
 * With `regionsAtOnce` above 1, once a first exploration told how wide regions are here, others
 * start beside it from items far enough from every anchor under way (sharing fewer prefix bits
 * with it than the widest region seen has, less one) that their regions should not overlap; when
 * they do, an item is still settled once, by whichever ends first, and a step may then settle
 * nothing new (its lookups are still counted). Steps come in the order explorations end.
 *
 * @example
 * ```ts
 * for await (const step of settleBatch(keys, key => kadId(key), key => findFor(key), { k: 20, maxLookups: 8, minKeys: 3, regionsAtOnce: 4 })) {
 *   if ('failed' in step) { ... } else for (const { item, peers } of step.settled) { ... }
 * }
 * ```
 */
export async function * settleBatch<T, P extends { key: KadId }> (items: Iterable<T>, keyOf: (item: T) => KadId, findFor: (anchor: T) => FindClosest<P>, options: SettleOptions): AsyncGenerator<BatchStep<T, P>> {
  const { k, maxLookups, minKeys } = options
  const atOnce = Math.max(1, options.regionsAtOnce ?? 1)
  interface Entry { item: T, key: KadId, done: boolean }
  interface Ended { anchor: Entry, exploration?: Exploration<P>, error?: Error }
  let pending: Entry[] = [...items].map(item => ({ item, key: keyOf(item), done: false }))
  const exploring = new Set<Entry>()
  const ended: Ended[] = []
  let wake: (() => void) | undefined
  // the prefix bits of the widest region seen (the fewest), or of an anchor's k closest when it explored no region
  let regionBits: number | undefined

  const explore = (anchor: Entry): void => {
    exploring.add(anchor)
    const worthIt = (bits: number): boolean => pending.filter(p => !p.done && commonPrefixLength(p.key, anchor.key) >= bits).length >= minKeys
    // one callback does all the bookkeeping of the end: the loop never sees it half done
    const end = (outcome: Ended): void => {
      exploring.delete(anchor)
      ended.push(outcome)
      wake?.()
    }
    void exploreRegion(anchor.key, findFor(anchor.item), k, maxLookups, worthIt).then(
      exploration => { end({ anchor, exploration }) },
      (error: Error) => { end({ anchor, error }) }
    )
  }
  const nextEnd = async (): Promise<void> => {
    await new Promise<void>(resolve => { wake = resolve })
    wake = undefined
  }
  const nextAnchor = (): Entry | undefined => {
    if (exploring.size === 0) {
      return pending.find(p => !p.done)
    }
    if (exploring.size >= atOnce || regionBits == null) {
      return undefined
    }
    const apart = regionBits - 1
    return pending.find(p => !p.done && [...exploring].every(a => commonPrefixLength(a.key, p.key) < apart))
  }
  const settle = ({ anchor, exploration, error }: Ended): BatchStep<T, P> | undefined => {
    if (exploration == null) {
      if (anchor.done) {
        return undefined
      }
      anchor.done = true
      return { failed: anchor.item, error, lookups: NaN }
    }
    const { region, anchorPeers, lookups } = exploration
    const farthest = anchorPeers[anchorPeers.length - 1]
    const bits = region?.bits ?? (farthest == null ? undefined : commonPrefixLength(farthest.key, anchor.key))
    regionBits = bits == null ? regionBits : Math.min(regionBits ?? bits, bits)
    const candidates = region == null ? [anchor] : pending
    const settled = candidates.filter(p => !p.done)
      .map(p => ({ entry: p, peers: region == null ? anchorPeers : closestInRegion(region, p.key, k) ?? [] }))
      .filter(s => s.peers.length > 0)
    if (settled.length === 0 && !anchor.done) {
      anchor.done = true
      return { failed: anchor.item, lookups }
    }
    settled.forEach(s => { s.entry.done = true })
    return { settled: settled.map(s => ({ item: s.entry.item, peers: s.peers })), lookups }
  }

  for (;;) {
    // what the explorations that ended settled, before new anchors are chosen: an anchor chosen
    // first could lie in a region that just ended, and its lookups would be spent for nothing
    const steps = ended.splice(0).map(settle)
    pending = pending.filter(p => !p.done)
    for (let anchor = nextAnchor(); anchor != null; anchor = nextAnchor()) {
      explore(anchor)
    }
    for (const step of steps) {
      if (step != null) {
        yield step
      }
    }
    if (pending.length === 0 && exploring.size === 0 && ended.length === 0) {
      return
    }
    if (ended.length === 0) {
      await nextEnd()
    }
  }
}
