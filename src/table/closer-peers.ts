/**
 * The closer peers every answer but PING carries: the k peers of our table closest to a key,
 * with the addresses we may share. Never the requester or ourselves; the peer a key names first
 * when we are connected to it, even if it is not a DHT server. Peers with no address to share
 * are left out: the requester could not reach them; so are peers whose last request from us
 * went unanswered (a silent or gone peer), until they prove alive again.
 */
import { kadId } from '../keys.ts'
import { inScope } from '../network/addresses.ts'
import { dhtPeer, wireForm } from '../network/dht-peer.ts'
import { peerIdFromBytes } from '../utils/peer-id.ts'
import type { RoutingTable } from './routing-table.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { EncodedPeer } from '../wire/codec.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** What the closer-peers selection needs. */
export interface CloserPeersInit {
  self: PeerId
  table: RoutingTable<DHTPeer>
  peerStore: PeerStore
  connectionManager: ConnectionManager
  kBucketSize: number
  addresses: AddressScope
}

/** Picks the closer peers for an answer to `from` about `key`, in their wire form. */
export type CloserPeers = (from: PeerId, key: Uint8Array) => Promise<EncodedPeer[]>

/** Makes the function that picks the closer peers of an answer. */
export function closerPeers (init: CloserPeersInit): CloserPeers {
  const { table, kBucketSize } = init
  return async (from, key) => {
    const fromId = from.toString()
    const closer: EncodedPeer[] = []
    const named = peerIdFromBytes(key)
    if (named != null && !named.equals(from) && !named.equals(init.self) && !table.has(named.toString()) &&
      init.connectionManager.getConnections(named).length > 0) {
      const info = await init.peerStore.getInfo(named).catch(() => undefined)
      const multiaddrs = inScope(init.addresses, info?.multiaddrs ?? [])
      if (multiaddrs.length > 0) {
        closer.push(wireForm(dhtPeer(named, multiaddrs)))
      }
    }
    // a peer whose last request from us went unanswered is left out: the requester would wait for it
    for (const entry of table.answerable(kadId(key), kBucketSize - closer.length, e => e.id === fromId || e.peer.multiaddrs.length === 0)) {
      closer.push(wireForm(entry.peer))
    }
    return closer
  }
}
