/**
 * Which peer addresses a node shares and accepts.
 */
import { isLinkLocal, isLoopback, isNetworkAddress, isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * `'public'`: only addresses reachable across the internet (no loopback, private or link-local
 * ranges, no in-memory or unix addresses), as a public network like the Amino DHT needs.
 * `'all'`: every address, for LANs and tests.
 */
export type AddressScope = 'public' | 'all'

/** Whether an address is reachable across the internet. */
export function isPublicAddress (ma: Multiaddr): boolean {
  return isNetworkAddress(ma) && !isLoopback(ma) && !isPrivate(ma) && !isLinkLocal(ma)
}

/** The addresses of `list` that `scope` allows. */
export function inScope (scope: AddressScope, list: Multiaddr[]): Multiaddr[] {
  return scope === 'all' ? list : list.filter(isPublicAddress)
}
