/**
 * Batch planning for many keys at once: one lookup that found the peers closest to an *anchor*
 * key also settles the k closest peers of every key near enough to it, without a lookup of
 * their own.
 *
 * Why it is exact: the lookup returned every peer within distance `r` of the anchor `a` (the
 * distance of the last peer it returned). For a key `y`, take its k closest among those peers,
 * the farthest at distance `d`. The XOR distance obeys the triangle inequality
 * (a ⊕ z ≤ (a ⊕ y) + (y ⊕ z)), so every peer within `d` of `y` lies within (a ⊕ y) + d of `a`;
 * when that is at most `r`, no peer closer to `y` can be missing, and the k found are y's true
 * k closest. When the lookup returned fewer peers than it asked for, it saw the whole network
 * and every key is settled.
 */
import { compareDistance, xorDistance } from './keys.ts'
import type { KadId } from './keys.ts'

/** What a lookup around an anchor found. */
export interface Region<P extends { key: KadId }> {
  /** The key the lookup was for. */
  anchor: KadId
  /** Every peer the lookup returned (any order). */
  peers: readonly P[]
  /** Whether it returned fewer peers than it asked for: then it knows the whole network. */
  complete: boolean
}

/**
 * The keys of `keys` whose k closest peers `region` settles, each with those peers, closest
 * first; `indexOf` gives the key of each item. Keys it cannot settle are left out.
 *
 * @example
 * ```ts
 * const { closest } = await lookup(anchor, { resultSize: 3 * k })
 * const settled = settleKeys({ anchor: kadId(anchor), peers: closest, complete: closest.length < 3 * k }, pending, k, item => item.id)
 * ```
 */
export function settleKeys<P extends { key: KadId }, T> (region: Region<P>, keys: readonly T[], k: number, keyOf: (item: T) => KadId): Array<{ item: T, peers: P[] }> {
  const radius = region.peers.reduce((far, peer) => {
    const d = distance(region.anchor, peer.key)
    return d > far ? d : far
  }, 0n)
  const out: Array<{ item: T, peers: P[] }> = []
  for (const item of keys) {
    const key = keyOf(item)
    const away = distance(region.anchor, key)
    if (!region.complete && away > radius) {
      continue
    }
    const peers = [...region.peers].sort((a, b) => compareDistance(a.key, b.key, key)).slice(0, k)
    if (peers.length > 0 && (region.complete || away + distance(key, peers[peers.length - 1].key) <= radius)) {
      out.push({ item, peers })
    }
  }
  return out
}

/** The XOR distance of two keys as a number. */
function distance (a: KadId, b: KadId): bigint {
  let out = 0n
  for (const byte of xorDistance(a, b)) {
    out = (out << 8n) | BigInt(byte)
  }
  return out
}
