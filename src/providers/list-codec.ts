/**
 * The binary form of one key's provider list, as the provider store keeps it in the datastore.
 *
 * ```
 * list  = version entry*
 * entry = uvarint(length of multihash) multihash uvarint(time received, ms)
 * ```
 *
 * `version` is one byte ({@link PROVIDER_LIST_VERSION}); the multihash is the provider's peer id
 * (38 bytes for an Ed25519 key), the time a non-negative integer of clock milliseconds (6 bytes
 * today). An Ed25519 provider costs about 45 bytes.
 */
import { varint } from 'multiformats'
import type { PeerId } from '@libp2p/interface'

/** The first byte of every encoded list; a list with another first byte is not read. */
export const PROVIDER_LIST_VERSION = 1

/** One provider of a key. */
export interface ProviderEntry {
  /** The provider's peer id, as multihash bytes. */
  readonly multihash: Uint8Array
  /** When its record was received, in clock milliseconds (a non-negative integer). */
  readonly time: number
  /** The provider's PeerId, once a reader has decoded it (not stored). */
  peerId?: PeerId
}

/**
 * Encodes a provider list.
 *
 * @example
 * ```ts
 * const bytes = encodeProviders([{ multihash: peerId.toMultihash().bytes, time: Date.now() }])
 * ```
 */
export function encodeProviders (entries: readonly ProviderEntry[]): Uint8Array {
  let length = 1
  for (const { multihash, time } of entries) {
    length += varint.encodingLength(multihash.byteLength) + multihash.byteLength + varint.encodingLength(time)
  }
  const out = new Uint8Array(length)
  out[0] = PROVIDER_LIST_VERSION
  let offset = 1
  for (const { multihash, time } of entries) {
    varint.encodeTo(multihash.byteLength, out, offset)
    offset += varint.encodingLength(multihash.byteLength)
    out.set(multihash, offset)
    offset += multihash.byteLength
    varint.encodeTo(time, out, offset)
    offset += varint.encodingLength(time)
  }
  return out
}

/**
 * Decodes a provider list, or returns `undefined` if the bytes are not one (another version, a
 * truncated entry, an empty multihash). The multihashes are views into `bytes`, not copies.
 *
 * @example
 * ```ts
 * const entries = decodeProviders(bytes) ?? []
 * ```
 */
export function decodeProviders (bytes: Uint8Array): ProviderEntry[] | undefined {
  if (bytes.byteLength < 1 || bytes[0] !== PROVIDER_LIST_VERSION) {
    return undefined
  }
  const entries: ProviderEntry[] = []
  let offset = 1
  try {
    while (offset < bytes.byteLength) {
      const [length, lengthBytes] = varint.decode(bytes, offset)
      offset += lengthBytes
      if (length === 0 || offset + length > bytes.byteLength) {
        return undefined
      }
      const multihash = bytes.subarray(offset, offset + length)
      offset += length
      const [time, timeBytes] = varint.decode(bytes, offset)
      offset += timeBytes
      if (!Number.isSafeInteger(time)) {
        return undefined
      }
      entries.push({ multihash, time, peerId: undefined })
    }
  } catch {
    // a varint ran past the end or was malformed
    return undefined
  }
  return entries
}
