/**
 * The full table of the accelerated client: every DHT server the crawl found answering, sorted
 * by position in the keyspace, so that the `n` closest to any key are read in O(log N + n log n)
 * without a lookup. Each entry keeps when its peer last answered and how many requests to it
 * failed in a row; a peer leaves after `maxFailures` failures, and none enters past `maxPeers`.
 *
 * Pure: no I/O, no await; times are given by the caller.
 */
import { KAD_ID_BITS, KAD_ID_BYTES, commonPrefixLength, compareDistance } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** What the full table needs to know of a peer. */
export interface FullTablePeer {
  /** A unique string for the peer (its peer id as a string). */
  readonly id: string
  /** Its position in the keyspace. */
  readonly key: KadId
}

/** One peer of the full table. */
export interface FullTableEntry<P extends FullTablePeer> {
  /** The peer, as last offered (its addresses as last heard). */
  peer: P
  /** When it last answered, in the caller's clock. */
  answeredAt: number
  /** Requests to it that failed since it last answered. */
  failures: number
}

/** Limits of a {@link FullTable}. */
export interface FullTableInit {
  /** The most peers held; a new peer past it is refused. */
  maxPeers: number
  /** Requests a peer may fail in a row before it leaves. */
  maxFailures: number
}

/**
 * Every answering server, sorted by keyspace position.
 *
 * @example
 * ```ts
 * const table = new FullTable<DHTPeer>({ maxPeers: 100_000, maxFailures: 1 })
 * table.answered(peer, Date.now())
 * const closest = table.closest(kadId(key), 20).map(entry => entry.peer)
 * ```
 */
export class FullTable<P extends FullTablePeer> {
  private readonly init: FullTableInit
  /** Entries in keyspace order. */
  private readonly sorted: Array<FullTableEntry<P>> = []
  private readonly byId = new Map<string, FullTableEntry<P>>()
  /** Peers refused because the table was full, since it was made. */
  refused = 0

  constructor (init: FullTableInit) {
    this.init = init
  }

  /** Peers held. */
  get size (): number {
    return this.sorted.length
  }

  /** Whether the peer is held. */
  has (id: string): boolean {
    return this.byId.has(id)
  }

  /** The peer's entry, if held. */
  get (id: string): FullTableEntry<P> | undefined {
    return this.byId.get(id)
  }

  /** Every entry, in keyspace order. */
  entries (): ReadonlyArray<FullTableEntry<P>> {
    return this.sorted
  }

  /**
   * Records that `peer` answered at `at`: adds it, or refreshes its entry (with the peer's new
   * form: its addresses as last heard). Returns false when it is new and the table is full.
   */
  answered (peer: P, at: number): boolean {
    const held = this.byId.get(peer.id)
    if (held != null) {
      held.answeredAt = at
      held.failures = 0
      held.peer = peer
      return true
    }
    if (this.sorted.length >= this.init.maxPeers) {
      this.refused++
      return false
    }
    const entry: FullTableEntry<P> = { peer, answeredAt: at, failures: 0 }
    this.sorted.splice(this.lowerBound(peer.key), 0, entry)
    this.byId.set(peer.id, entry)
    return true
  }

  /** Counts a failed request to the peer; it leaves after `maxFailures` in a row. Returns whether it left. */
  failed (id: string): boolean {
    const entry = this.byId.get(id)
    if (entry == null) {
      return false
    }
    if (++entry.failures < this.init.maxFailures) {
      return false
    }
    this.remove(id)
    return true
  }

  /** Removes the peer; returns whether it was held. */
  remove (id: string): boolean {
    const entry = this.byId.get(id)
    if (entry == null) {
      return false
    }
    this.byId.delete(id)
    let i = this.lowerBound(entry.peer.key)
    while (this.sorted[i] !== entry) {
      i++
    }
    this.sorted.splice(i, 1)
    return true
  }

  /**
   * The `count` entries closest to `target` by XOR distance, closest first. Every key sharing
   * `L` leading bits with the target is closer than any sharing fewer, and such keys sit together
   * in keyspace order: the deepest such range that holds `count` entries holds the answer.
   */
  closest (target: KadId, count: number): Array<FullTableEntry<P>> {
    const n = this.sorted.length
    if (count <= 0 || n === 0) {
      return []
    }
    let from = 0
    let to = n
    if (n > count) {
      const at = this.lowerBound(target)
      let bits = Math.max(
        at > 0 ? commonPrefixLength(this.sorted[at - 1].peer.key, target) : 0,
        at < n ? commonPrefixLength(this.sorted[at].peer.key, target) : 0
      )
      for (; bits > 0; bits--) {
        from = this.lowerBound(prefixBound(target, bits, 0))
        to = this.upperBound(prefixBound(target, bits, 0xff))
        if (to - from >= count) {
          break
        }
      }
      if (bits === 0) {
        from = 0
        to = n
      }
    }
    return this.sorted.slice(from, to)
      .sort((a, b) => compareDistance(a.peer.key, b.peer.key, target))
      .slice(0, count)
  }

  /** The first index whose key is not below `key`. */
  private lowerBound (key: KadId): number {
    let lo = 0
    let hi = this.sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareBytes(this.sorted[mid].peer.key, key) < 0) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }
    return lo
  }

  /** The first index whose key is above `key`. */
  private upperBound (key: KadId): number {
    let lo = 0
    let hi = this.sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareBytes(this.sorted[mid].peer.key, key) <= 0) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }
    return lo
  }
}

/** `key`'s first `bits` bits, then every other bit `fill`'s (0x00 for the range's start, 0xff for its end). */
function prefixBound (key: KadId, bits: number, fill: number): KadId {
  const out = new Uint8Array(KAD_ID_BYTES).fill(fill)
  const whole = bits >> 3
  out.set(key.subarray(0, whole))
  if (bits < KAD_ID_BITS && (bits & 7) !== 0) {
    const mask = 0xff << (8 - (bits & 7)) & 0xff
    out[whole] = (key[whole] & mask) | (fill & ~mask & 0xff)
  }
  return out
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KAD_ID_BYTES; i++) {
    if (a[i] !== b[i]) {
      return a[i] - b[i]
    }
  }
  return 0
}
