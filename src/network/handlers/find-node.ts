/**
 * FIND_NODE: the k peers of our table closest to the key, with the addresses we may share.
 * Never the requester or ourselves; the target itself first when we are connected to it, even
 * if it is not a DHT server. Peers with no address to share are left out: the requester could
 * not reach them.
 */
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidMessageError } from '../../errors.ts'
import { kadId } from '../../kademlia/keys.ts'
import { MessageType } from '../../wire/codec.ts'
import { inScope } from '../addresses.ts'
import { dhtPeer, wireForm } from '../dht-peer.ts'
import type { RoutingTable } from '../../kademlia/routing-table.ts'
import type { EncodedPeer } from '../../wire/codec.ts'
import type { AddressScope } from '../addresses.ts'
import type { DHTPeer } from '../dht-peer.ts'
import type { RequestHandler } from '../server.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** What the FIND_NODE handler needs. */
export interface FindNodeInit {
  self: PeerId
  table: RoutingTable<DHTPeer>
  peerStore: PeerStore
  connectionManager: ConnectionManager
  kBucketSize: number
  addresses: AddressScope
}

/** The peer a key names, if it is a peer id's multihash. */
function keyAsPeerId (key: Uint8Array): PeerId | undefined {
  try {
    return peerIdFromMultihash(Digest.decode(key))
  } catch {
    return undefined
  }
}

/** Makes the FIND_NODE handler. */
export function findNodeHandler (init: FindNodeInit): RequestHandler {
  const { table, kBucketSize } = init
  return async (from, request) => {
    if (request.key == null) {
      throw new InvalidMessageError('FIND_NODE without a key')
    }
    const fromId = from.toString()
    const closer: EncodedPeer[] = []
    const wanted = keyAsPeerId(request.key)
    let wantedId: string | undefined
    if (wanted != null && !wanted.equals(from) && !wanted.equals(init.self)) {
      wantedId = wanted.toString()
      if (!table.has(wantedId) && init.connectionManager.getConnections(wanted).length > 0) {
        const info = await init.peerStore.getInfo(wanted).catch(() => undefined)
        const multiaddrs = inScope(init.addresses, info?.multiaddrs ?? [])
        if (multiaddrs.length > 0) {
          closer.push(wireForm(dhtPeer(wanted, multiaddrs)))
        }
      }
    }
    for (const entry of table.closest(kadId(request.key), kBucketSize + 1)) {
      if (closer.length === kBucketSize) {
        break
      }
      if (entry.id === fromId || entry.peer.multiaddrs.length === 0) {
        continue
      }
      closer.push(wireForm(entry.peer))
    }
    return { type: MessageType.FIND_NODE, clusterLevel: request.clusterLevel, closer }
  }
}
