/**
 * @packageDocumentation
 *
 * kadmium: a Kademlia DHT for libp2p that speaks `/ipfs/kad/1.0.0` like go-libp2p-kad-dht,
 * rust-libp2p and `@libp2p/kad-dht`.
 *
 * @example
 * ```ts
 * import { noise } from '@chainsafe/libp2p-noise'
 * import { yamux } from '@chainsafe/libp2p-yamux'
 * import { identify } from '@libp2p/identify'
 * import { tcp } from '@libp2p/tcp'
 * import { createLibp2p } from 'libp2p'
 * import { kadDHT } from 'kadmium'
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ['/ip4/0.0.0.0/tcp/0'] },
 *   transports: [tcp()],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 *   services: { identify: identify(), dht: kadDHT() }
 * })
 *
 * for await (const peer of node.services.dht.getClosestPeers(key)) {
 *   console.log(peer.id.toString())
 * }
 * const { multiaddrs } = await node.peerRouting.findPeer(peerId)
 * ```
 */
import { KadDHT } from './service.ts'
import type { KadDHTComponents } from './service.ts'
import type { KadDHTInit } from './settings.ts'

export { KadDHT } from './service.ts'
export type { KadDHTComponents, KadDHTStats, KeptRecord, ProvideManyResult, StoredLists, StoredRecord } from './service.ts'
export type { Cancel, Clock } from './clock.ts'
export type { KadDHTInit } from './settings.ts'
export * from './errors.ts'
export * as constants from './constants.ts'
export { MessageType, ConnectionType } from './wire/codec.ts'
export type { EncodedPeer, Message, WirePeer, WireRecord } from './wire/codec.ts'
export type { AddressScope } from './network/addresses.ts'
export type { CounterSnapshot } from './network/counters.ts'
export type { DHTPeer } from './network/dht-peer.ts'
export type { AddResult, BucketInfo, RoutingTable, RoutingTableInit, TableEntry } from './table/routing-table.ts'
export type { KadId } from './keys.ts'
export type { LookupOptions, LookupProgressEvents } from './query/runner.ts'
export type { GetOptions, PutOptions, ValueProgressEvents } from './values/value-routing.ts'
export type { FindProvidersOptions, ProvideOptions, ProviderProgressEvents } from './providers/provider-routing.ts'
export type { ProviderStoreStats } from './providers/provider-store.ts'
export type { RegionReport, ReprovideProgressEvents, ReprovideStats, WaitReason } from './providers/reprovider.ts'
export type { RepublishProgressEvents, RepublishStats } from './values/republisher.ts'
export type { Validator } from './values/validators.ts'
export { RecordValidator, pkValidator, ipnsRecordValidator } from './values/validators.ts'

export type { Mode, ActiveMode } from './mode.ts'

/**
 * Creates the kadmium DHT as a libp2p service.
 *
 * @example
 * ```ts
 * const node = await createLibp2p({
 *   // transports, encrypters, muxers…
 *   services: { identify: identify(), dht: kadDHT({ mode: 'server' }) }
 * })
 * ```
 */
export function kadDHT (init: KadDHTInit = {}): (components: KadDHTComponents) => KadDHT {
  return (components) => new KadDHT(components, init)
}
