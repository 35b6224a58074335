/**
 * The three peer-info mappers of `@libp2p/kad-dht`'s API, as kadmium's address scopes see
 * addresses: the first two are the scopes `'all'` and `'public'` themselves.
 */
import { isPublicAddress } from '../network/addresses.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { PeerInfo } from '@libp2p/interface'

/**
 * Leaves a peer's addresses as they are: kadmium's address scope `'all'` (LANs, tests).
 *
 * @example
 * ```ts
 * kadDHT({ protocol: '/my-app/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper })
 * ```
 */
export function passthroughMapper (peer: PeerInfo): PeerInfo {
  return peer
}

/**
 * Keeps only the addresses reachable across the internet (no loopback, private, link-local,
 * in-memory or unix ones): kadmium's address scope `'public'`, and the default.
 */
export function removePrivateAddressesMapper (peer: PeerInfo): PeerInfo {
  return { ...peer, multiaddrs: peer.multiaddrs.filter(isPublicAddress) }
}

/** Keeps only the addresses that are not reachable across the internet, for a LAN-only DHT. */
export function removePublicAddressesMapper (peer: PeerInfo): PeerInfo {
  return { ...peer, multiaddrs: peer.multiaddrs.filter(ma => !isPublicAddress(ma)) }
}

/**
 * The kadmium address scope a mapper stands for: `'public'` for the default and
 * {@link removePrivateAddressesMapper}, `'all'` for any other (kadmium has no scope that keeps
 * only private addresses, so the compat service applies such a mapper to what it yields).
 */
export function scopeOf (mapper: ((peer: PeerInfo) => PeerInfo) | undefined): AddressScope {
  return mapper == null || mapper === removePrivateAddressesMapper ? 'public' : 'all'
}
