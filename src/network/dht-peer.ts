/**
 * The peer as the routing layer sees it: its id, its place in the keyspace and the addresses we
 * may share, with its wire form kept for answering requests without re-encoding.
 */
import { kadId } from '../keys.ts'
import { toEncodedPeer } from '../wire/codec.ts'
import type { KadId } from '../keys.ts'
import type { EncodedPeer } from '../wire/codec.ts'
import type { DialTarget, PeerId } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A peer in the routing table or in a lookup. */
export interface DHTPeer {
  /** `peerId.toString()`. */
  readonly id: string
  /** Its position in the keyspace. */
  readonly key: KadId
  /** Its peer id. */
  readonly peerId: PeerId
  /** Its addresses, already filtered by the address scope. */
  readonly multiaddrs: Multiaddr[]
  /** Its encoded form, made the first time it is needed. */
  wire?: EncodedPeer
}

/** Makes a {@link DHTPeer}; pass `key` when it is already known. */
export function dhtPeer (peerId: PeerId, multiaddrs: Multiaddr[], key?: KadId): DHTPeer {
  return {
    id: peerId.toString(),
    key: key ?? kadId(peerId.toMultihash().bytes),
    peerId,
    multiaddrs
  }
}

/** The wire form of a peer, encoded once and kept. */
export function wireForm (peer: DHTPeer): EncodedPeer {
  peer.wire ??= toEncodedPeer({ id: peer.peerId, multiaddrs: peer.multiaddrs })
  return peer.wire
}

/**
 * How to reach a peer: by id when we are connected (or know no address), otherwise by the
 * addresses we were told, each ending in its `/p2p/` id.
 */
export function dialTarget (peer: DHTPeer, connectionManager: ConnectionManager): DialTarget {
  if (peer.multiaddrs.length === 0 || connectionManager.getConnections(peer.peerId).length > 0) {
    return peer.peerId
  }
  return peer.multiaddrs.map(ma => ma.getComponents().some(c => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${peer.id}`))
}
