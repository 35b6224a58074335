/**
 * Regions of the keyspace seen whole, as a pure state machine: what a batch provide looks up to
 * settle the k closest peers of many keys at once (region.ts drives it over real lookups).
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
 * among the peers seen (2). A region here is the same thing the reprovide schedule cuts the
 * keyspace into (schedule.ts): a subtree holding about k peers or more.
 *
 * What it needs of the lookups: that each returns the true k closest live peers of its target
 * (fewer when the network holds fewer), which a Kademlia lookup gives on a settled network.
 */
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { KAD_ID_BITS, commonPrefixLength, compareDistance } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** A lookup to make: of some key sharing the first `bits` bits with `prefix` (`prefix` itself when `bits` is 256). */
export interface Probe {
  prefix: KadId
  bits: number
}

/** A part of the keyspace seen whole. */
export interface Region<P> {
  /** Any key in it: the region is the keys sharing its first `bits` bits. */
  prefix: KadId
  bits: number
  /** Every peer in it. */
  peers: P[]
}

/** What an exploration found. */
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
 * The exploration of the region around `anchor` (see the module comment), at most `maxLookups`
 * lookups. After the anchor's own lookup, `worthIt` is asked whether the region (the keys
 * sharing its first `bits` bits) deserves the lookups that see it whole; without it, it always
 * does. Ask it what to look up, tell it what each lookup found.
 *
 * @example
 * ```ts
 * const exploration = new RegionExploration(kadId(cid.multihash.bytes), 20, 8)
 * for (let probe = exploration.next(); probe != null; probe = exploration.next()) {
 *   const { target, peers } = await lookUpSomeKeyIn(probe.prefix, probe.bits)
 *   exploration.found(target, peers)
 * }
 * const { region } = exploration.result()
 * ```
 */
export class RegionExploration<P extends { key: KadId }> {
  private readonly anchor: KadId
  private readonly k: number
  private readonly maxLookups: number
  private readonly worthIt: (bits: number) => boolean
  private readonly seen: Map<string, P>
  /** The parts still to be seen whole; the last is looked up next. */
  private open: Probe[]
  private lookups: number
  private anchorPeers: P[]
  private depth: number
  private done: boolean
  private region?: Region<P>

  constructor (anchor: KadId, k: number, maxLookups: number, worthIt: (bits: number) => boolean = () => true) {
    this.anchor = anchor
    this.k = k
    this.maxLookups = maxLookups
    this.worthIt = worthIt
    this.seen = new Map()
    this.open = []
    this.lookups = 0
    this.anchorPeers = []
    this.depth = 0
    this.done = false
  }

  /** The next lookup to make, or undefined once the exploration is over. */
  next (): Probe | undefined {
    if (this.done) {
      return undefined
    }
    if (this.lookups === 0) {
      return { prefix: this.anchor, bits: KAD_ID_BITS }
    }
    if (this.open.length === 0) {
      // every part was seen whole: the region is every peer seen inside it
      const peers = [...this.seen.values()].filter(peer => commonPrefixLength(peer.key, this.anchor) >= this.depth)
      this.finish({ prefix: this.anchor, bits: this.depth, peers })
      return undefined
    }
    if (this.lookups >= this.maxLookups) {
      this.finish()
      return undefined
    }
    return this.open[this.open.length - 1]
  }

  /** What the lookup that {@link next} asked for found: its target and its k closest peers. */
  found (target: KadId, peers: P[]): void {
    for (const peer of peers) {
      this.seen.set(uint8ArrayToString(peer.key, 'base16'), peer)
    }
    this.lookups++
    if (this.lookups === 1) {
      this.anchorPeers = peers
      this.depth = wholeBelow(this.anchor, peers, this.k)
      if (this.depth < 0) {
        // fewer than k peers in the whole network: the lookup saw them all
        this.finish({ prefix: this.anchor, bits: 0, peers })
      } else if (!this.worthIt(this.depth)) {
        this.finish()
      } else {
        // the region shares `depth` bits with the anchor; the anchor's half of it was seen whole
        this.open = [sibling(this.anchor, this.depth)]
      }
      return
    }
    const part = this.open.pop() as Probe
    // the subtrees of the target deeper than `below` were seen whole; the siblings on the way
    // down from `part` to there still have to be
    const below = wholeBelow(target, peers, this.k)
    for (let bit = part.bits; bit <= below; bit++) {
      this.open.push(sibling(target, bit))
    }
  }

  /** What it found; complete once {@link next} returned undefined. */
  result (): Exploration<P> {
    return { region: this.region, anchorPeers: this.anchorPeers, lookups: this.lookups }
  }

  private finish (region?: Region<P>): void {
    this.done = true
    this.region = region
  }
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
