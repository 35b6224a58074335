/**
 * Keys for the crawler's FIND_NODE requests. To read a peer's bucket at depth `d` (its peers
 * sharing exactly `d` leading bits with it), the crawler asks for a key whose hash shares exactly
 * `d` bits with the peer's position; the receiver hashes the key, so such a key is found by
 * hashing candidates. Every hash computed is kept by its first 16 bits, so each 16-bit prefix is
 * hashed for once per process: about 730,000 hashes fill all 65,536 slots, after which any key up
 * to depth 15 costs a table read.
 *
 * Pure: no I/O, no clock, no await.
 */
import { kadId } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** Leading bits of a kad id the key table is indexed by: keys reach depths 0 to 15. */
export const PREFIX_KEY_BITS = 16

/** The deepest bucket a prefix key can aim at. */
export const MAX_PREFIX_DEPTH = PREFIX_KEY_BITS - 1

const SLOTS = 1 << PREFIX_KEY_BITS

/**
 * The raw key of candidate `n`: shaped like a sha2-256 peer id multihash (0x12, 0x20, 32 digest
 * bytes, the last four holding `n`), so that servers which parse a FIND_NODE key as a peer id
 * accept it too.
 */
function candidate (n: number): Uint8Array {
  const key = new Uint8Array(34)
  key[0] = 0x12
  key[1] = 0x20
  new DataView(key.buffer).setUint32(30, n)
  return key
}

/**
 * A table of keys by the first 16 bits of their hash, filled as it is asked.
 *
 * @example
 * ```ts
 * const keys = new PrefixKeys()
 * const key = keys.atDepth(peer.key, 3) // kadId(key) shares exactly 3 leading bits with peer.key
 * ```
 */
export class PrefixKeys {
  /**
   * Candidate number + 1 of a key whose hash starts with the slot's 16 bits; 0 when none yet.
   * Made at the first key asked for (256 KiB): a node that never crawls holds none.
   */
  private table?: Uint32Array
  private nextCandidate = 0

  /** Hashes computed so far. */
  get hashed (): number {
    return this.nextCandidate
  }

  /** Bytes the table holds: 0 until the first key is asked for. */
  get bytes (): number {
    return this.table?.byteLength ?? 0
  }

  private get slots (): Uint32Array {
    this.table ??= new Uint32Array(SLOTS)
    return this.table
  }

  /**
   * A raw key whose kad id shares exactly `depth` leading bits with `position` (its first `depth`
   * bits, then bit `depth` flipped): asked of the peer at `position`, it names that peer's
   * bucket `depth` first. `depth` runs from 0 to {@link MAX_PREFIX_DEPTH}.
   */
  atDepth (position: KadId, depth: number): Uint8Array {
    if (!Number.isInteger(depth) || depth < 0 || depth > MAX_PREFIX_DEPTH) {
      throw new RangeError(`depth must be an integer from 0 to ${MAX_PREFIX_DEPTH}, got ${depth}`)
    }
    const bits = depth + 1
    const top = ((position[0] << 8) | position[1]) ^ (0x8000 >>> depth)
    const from = (top >>> (PREFIX_KEY_BITS - bits)) << (PREFIX_KEY_BITS - bits)
    const to = from + (1 << (PREFIX_KEY_BITS - bits))
    for (;;) {
      for (let slot = from; slot < to; slot++) {
        if (this.slots[slot] !== 0) {
          return candidate(this.slots[slot] - 1)
        }
      }
      this.hashUntil(from, to)
    }
  }

  /** Hashes candidates, keeping each in its slot, until one lands in slots `from` to `to`. */
  private hashUntil (from: number, to: number): void {
    for (;;) {
      const n = this.nextCandidate++
      const hash = kadId(candidate(n))
      const slot = (hash[0] << 8) | hash[1]
      if (this.slots[slot] === 0) {
        this.slots[slot] = n + 1
      }
      if (slot >= from && slot < to) {
        return
      }
    }
  }
}
