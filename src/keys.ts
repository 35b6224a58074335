/**
 * Keys of the Kademlia keyspace: 256-bit SHA-256 digests compared by XOR distance.
 *
 * Pure functions over bytes; nothing here touches the network.
 */
import { sha256 } from '@noble/hashes/sha2.js'

/** Length in bytes of a position in the keyspace. */
export const KAD_ID_BYTES = 32

/** Length in bits of a position in the keyspace. */
export const KAD_ID_BITS = KAD_ID_BYTES * 8

/**
 * A position in the keyspace: 32 bytes, the SHA-256 of a peer id's multihash bytes or of a
 * content key.
 */
export type KadId = Uint8Array

/**
 * Hashes arbitrary key bytes into the keyspace.
 *
 * @example
 * ```ts
 * const id = kadId(peerId.toMultihash().bytes) // a peer's position
 * const key = kadId(cid.multihash.bytes)        // a CID's position
 * ```
 */
export function kadId (bytes: Uint8Array): KadId {
  return sha256(bytes)
}

/** The first `bits` bits (at most 32) of `position`, as an integer. */
export function leadingBits (position: KadId, bits: number): number {
  let value = 0
  for (let i = 0; i < bits; i++) {
    value = value * 2 + ((position[i >> 3] >> (7 - (i & 7))) & 1)
  }
  return value
}

/**
 * Orders `a` and `b` by their XOR distance to `target` without allocating: negative when `a`
 * is closer, positive when `b` is, zero when they are equal.
 */
export function compareDistance (a: KadId, b: KadId, target: KadId): number {
  for (let i = 0; i < KAD_ID_BYTES; i++) {
    const da = a[i] ^ target[i]
    const db = b[i] ^ target[i]
    if (da !== db) {
      return da - db
    }
  }
  return 0
}

/**
 * The number of leading bits `a` and `b` share: 256 for equal keys, 0 when the first bit
 * differs. A peer at common prefix length `n` with us lives in bucket `n`.
 */
export function commonPrefixLength (a: KadId, b: KadId): number {
  for (let i = 0; i < KAD_ID_BYTES; i++) {
    const x = a[i] ^ b[i]
    if (x !== 0) {
      return i * 8 + Math.clz32(x) - 24
    }
  }
  return KAD_ID_BITS
}
