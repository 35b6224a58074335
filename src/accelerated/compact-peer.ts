/**
 * A peer as the full table and the crawl keep it: its id string, its position, and its peer id and
 * addresses as bytes (copied, so no message buffer stays alive through them). A libp2p `PeerId`
 * and `Multiaddr` objects take about four times the memory; they are made again when the peer is
 * asked or dialled ({@link expand}), some 40 per lookup.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { dhtPeer } from '../network/dht-peer.ts'
import { peerIdFromBytes } from '../utils/peer-id.ts'
import type { KadId } from '../keys.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { PeerId } from '@libp2p/interface'

/** A peer of the full table or the crawl. */
export interface CompactPeer {
  /** `peerId.toString()`. */
  readonly id: string
  /** Its position in the keyspace. */
  readonly key: KadId
  /** Its peer id's multihash bytes. */
  readonly peer: Uint8Array
  /** Its addresses' bytes. */
  readonly addresses: Uint8Array[]
}

/** The compact form of a peer, keeping at most `maxAddresses` of its addresses. */
export function compact (peer: DHTPeer, maxAddresses: number): CompactPeer {
  return {
    id: peer.id,
    key: peer.key,
    peer: peer.peerId.toMultihash().bytes.slice(),
    addresses: peer.multiaddrs.slice(0, maxAddresses).map(ma => ma.bytes.slice())
  }
}

/** The peer again as lookups and the client take it. */
export function expand (peer: CompactPeer): DHTPeer {
  return dhtPeer(peerIdFromBytes(peer.peer) as PeerId, peer.addresses.map(bytes => multiaddr(bytes)), peer.key)
}
