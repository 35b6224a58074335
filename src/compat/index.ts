/**
 * @packageDocumentation
 *
 * `kadmium/kad-dht`: kadmium behind `@libp2p/kad-dht`'s API, for code written against that
 * package (Helia, `@helia/ipns`, `@libp2p/daemon-server`, libp2p's examples). It takes
 * `@libp2p/kad-dht`'s options and returns a service whose queries are async iterables of its
 * query events, with the `validators` and `selectors` maps `@helia/ipns` writes to. Change the
 * import and nothing else:
 *
 * @example
 * ```ts
 * // import { kadDHT, removePrivateAddressesMapper } from '@libp2p/kad-dht'
 * import { kadDHT, removePrivateAddressesMapper } from 'kadmium/kad-dht'
 *
 * const node = await createLibp2p({
 *   // transports, encrypters, muxers…
 *   services: {
 *     identify: identify(),
 *     dht: kadDHT({ protocol: '/ipfs/kad/1.0.0', peerInfoMapper: removePrivateAddressesMapper })
 *   }
 * })
 *
 * for await (const event of node.services.dht.findPeer(peerId)) {
 *   if (event.name === 'FINAL_PEER') {
 *     console.log(event.peer.multiaddrs)
 *   }
 * }
 * ```
 *
 * kadmium's own API stays one property away: `node.services.dht.kadmium.findPeer(peerId)`
 * resolves to the peer, with progress through `onProgress`.
 */
import { CompatKadDHT } from './service.ts'
import type { KadDHTInit } from './types.ts'
import type { KadDHTComponents } from '../index.ts'

export { CompatKadDHT } from './service.ts'
export { passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper } from './mappers.ts'
export { EventTypes, MessageType } from './types.ts'
export type {
  AddPeerEvent, AdaptiveTimeoutOptions, DHTProgressEvents, DHTRecord, DialPeerEvent, DisjointPath, FinalPeerEvent, KadDHT,
  KadDHTInit, MessageName, PathEndedEvent, PeerInfoMapper, PeerResponseEvent, ProviderEvent, ProvidersInit, PutOptions, QueryErrorEvent,
  QueryEvent, ReProvideInit, RoutingTable, SelectFn, Selectors, SendQueryEvent, SetModeOptions, SingleKadDHT, ValidateFn,
  Validators, ValueEvent
} from './types.ts'
export type { KadDHTComponents } from '../index.ts'

/**
 * Creates kadmium as a libp2p service with `@libp2p/kad-dht`'s options and API.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({
 *   services: { identify: identify(), dht: kadDHT({ clientMode: false, peerInfoMapper: passthroughMapper }) }
 * })
 * const ipns = ipns(helia) // installs its validator in node.services.dht.validators.ipns
 * ```
 */
export function kadDHT (init: KadDHTInit = {}): (components: KadDHTComponents) => CompatKadDHT {
  return (components) => new CompatKadDHT(components, init)
}
