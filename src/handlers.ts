/**
 * Every request handler of a server, by message type.
 */
import * as C from './constants.ts'
import { findNodeHandler } from './peers/handlers.ts'
import { pingHandler } from './peers/ping.ts'
import { addProviderHandler, getProvidersHandler } from './providers/handlers.ts'
import { closerPeers } from './table/closer-peers.ts'
import { getValueHandler, putValueHandler } from './values/handlers.ts'
import { MessageType } from './wire/codec.ts'
import type { AddressScope } from './network/addresses.ts'
import type { Counters } from './network/counters.ts'
import type { DHTPeer } from './network/dht-peer.ts'
import type { Handlers } from './network/server.ts'
import type { ProviderStore } from './providers/provider-store.ts'
import type { RoutingTable } from './table/routing-table.ts'
import type { ValueStore } from './values/value-store.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What the handlers need. */
export interface HandlersInit {
  /** Our own peer id. */
  self: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
  /** Peers per answer (k). */
  kBucketSize: number
  /** Which addresses are shared and accepted. */
  addresses: AddressScope
  table: RoutingTable<DHTPeer>
  values: ValueStore
  providers: ProviderStore
  counters: Counters
  /** Our own addresses, for the provider records we hold for ourselves. */
  selfAddresses(): Multiaddr[]
}

/** Makes the six handlers. */
export function createHandlers (init: HandlersInit): Handlers {
  const closer = closerPeers(init)
  const providers = {
    store: init.providers,
    peerStore: init.peerStore,
    counters: init.counters,
    addresses: init.addresses,
    maxKeyBytes: C.MAX_PROVIDER_KEY_BYTES,
    addressTtl: C.PROVIDER_ADDRESS_TTL,
    maxAddresses: C.MAX_PROVIDER_ADDRESSES,
    now: Date.now,
    closer,
    self: init.self,
    selfAddresses: init.selfAddresses
  }
  return {
    [MessageType.FIND_NODE]: findNodeHandler(closer),
    [MessageType.PING]: pingHandler(),
    [MessageType.PUT_VALUE]: putValueHandler(init.values),
    [MessageType.GET_VALUE]: getValueHandler({ store: init.values, peerStore: init.peerStore, closer }),
    [MessageType.ADD_PROVIDER]: addProviderHandler(providers),
    [MessageType.GET_PROVIDERS]: getProvidersHandler(providers)
  }
}
