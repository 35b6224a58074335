/**
 * Trial hashing: raw keys whose SHA-256 lands in a chosen part of the keyspace. A FIND_NODE
 * carries a key, which its receiver hashes, so a lookup aimed at a bucket or a region needs
 * such a key; it is found by hashing random ones.
 */
import { commonPrefixLength, kadId } from '../keys.ts'
import type { KadId } from '../keys.ts'
import type { AbortOptions } from '@libp2p/interface'

/** Yields to the event loop, so long trial hashing does not block serving. */
async function breathe (): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0))
}

/**
 * A raw key whose SHA-256 shares at least `bits` leading bits with `prefix`: a key a lookup can
 * ask for to reach that part of the keyspace (a FIND_NODE carries a key, which its receiver
 * hashes). Found by hashing random keys, about 2^bits tries.
 */
export async function keyWithPrefix (prefix: KadId, bits: number, options: AbortOptions = {}): Promise<Uint8Array> {
  const candidate = new Uint8Array(32)
  for (let tries = 1; ; tries++) {
    crypto.getRandomValues(candidate)
    if (commonPrefixLength(kadId(candidate), prefix) >= bits) {
      return candidate
    }
    if (tries % 4096 === 0) {
      options.signal?.throwIfAborted()
      await breathe()
    }
  }
}

/**
 * A raw key whose SHA-256 shares exactly `bucket` leading bits with `self`: the key a refresh of
 * that bucket looks up. About 2^(bucket+1) tries.
 */
export async function keyInBucket (self: KadId, bucket: number, options: AbortOptions = {}): Promise<Uint8Array> {
  const prefix = self.slice()
  prefix[bucket >> 3] ^= 0x80 >> (bucket & 7)
  return keyWithPrefix(prefix, bucket + 1, options)
}
