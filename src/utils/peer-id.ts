/**
 * Peer ids from bytes of the wire, the datastore or a record key.
 */
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { compact } from './bytes.ts'
import type { PeerId } from '@libp2p/interface'

/**
 * The peer id whose multihash `bytes` are, or undefined when they are not one (a CID's
 * multihash of content, garbage…). It holds a copy of the bytes when they are a view into a
 * larger buffer (see {@link compact}): peer ids outlive the messages they came in.
 *
 * @example
 * ```ts
 * peerIdFromBytes(peerId.toMultihash().bytes)?.equals(peerId)   // true
 * peerIdFromBytes(new Uint8Array([1, 2, 3]))                    // undefined
 * ```
 */
export function peerIdFromBytes (bytes: Uint8Array): PeerId | undefined {
  try {
    return peerIdFromMultihash(Digest.decode(compact(bytes)))
  } catch {
    return undefined
  }
}
