/**
 * ADD_PROVIDER and GET_PROVIDERS.
 *
 * ADD_PROVIDER: only the entry whose id is the sender's is stored, with its addresses kept in
 * the peer store; entries for other peers are ignored and counted; a key over 80 bytes is
 * refused. No reply is sent (go-libp2p-kad-dht sends none). GET_PROVIDERS: the key's providers,
 * with the addresses we may share and received within the address TTL, and the closer peers.
 */
import { ForeignProviderError, InvalidKeyError, InvalidMessageError } from '../errors.ts'
import { inScope } from '../network/addresses.ts'
import { decodeTime, encodeTime } from '../storage/time.ts'
import { MessageType } from '../wire/codec.ts'
import type { ProviderStore } from './provider-store.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { Counters } from '../network/counters.ts'
import type { RequestHandler } from '../network/server.ts'
import type { CloserPeers } from '../table/closer-peers.ts'
import type { WirePeer } from '../wire/codec.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The peer-store metadata key under which the time a provider's addresses arrived is kept. */
export const PROVIDER_ADDRESSES_TIME = 'kadmium/provider-addresses-time'

/** What the provider handlers need. */
export interface ProviderHandlersInit {
  store: ProviderStore
  peerStore: PeerStore
  counters: Counters
  addresses: AddressScope
  maxKeyBytes: number
  /** How long the addresses that came with a provider record are shared, in ms. */
  addressTtl: number
  /** The most addresses shared per provider, so an answer stays far below the frame limit. */
  maxAddresses: number
  now(): number
  closer: CloserPeers
  self: PeerId
  /** Our own addresses, for the records we provide ourselves. */
  selfAddresses(): Multiaddr[]
}

function checkKey (key: Uint8Array | undefined, maxKeyBytes: number): Uint8Array {
  if (key == null) {
    throw new InvalidMessageError('a provider message needs a key')
  }
  if (key.length > maxKeyBytes) {
    throw new InvalidKeyError(`provider keys are at most ${maxKeyBytes} bytes, got ${key.length}`)
  }
  return key
}

/** Makes the ADD_PROVIDER handler. */
export function addProviderHandler (init: ProviderHandlersInit): RequestHandler {
  return async (from, request) => {
    const key = checkKey(request.key, init.maxKeyBytes)
    // only the sender's own entry counts, taken once however often it is listed; the others
    // are counted without being decoded
    const sender = from.toMultihash().bytes
    for (let i = request.providers.countOthers(sender); i > 0; i--) {
      init.counters.error(new ForeignProviderError())
    }
    const provider = request.providers.find(sender)
    if (provider == null) {
      return undefined
    }
    // addresses first, so that once the record is served its addresses are too
    const multiaddrs = inScope(init.addresses, provider.multiaddrs).slice(0, init.maxAddresses)
    if (multiaddrs.length > 0) {
      await init.peerStore.merge(from, {
        multiaddrs,
        metadata: { [PROVIDER_ADDRESSES_TIME]: encodeTime(init.now()) }
      })
    }
    await init.store.add(key, from)
    // no reply, as go-libp2p-kad-dht
    return undefined
  }
}

/** Makes the GET_PROVIDERS handler. */
export function getProvidersHandler (init: ProviderHandlersInit): RequestHandler {
  return async (from, request) => {
    const key = checkKey(request.key, init.maxKeyBytes)
    const providers = await init.store.get(key)
    const [listed, closer] = await Promise.all([
      Promise.all(providers.map(async id => providerEntry(init, id))),
      init.closer(from, key)
    ])
    return { type: MessageType.GET_PROVIDERS, key, providers: listed, closer, clusterLevel: request.clusterLevel }
  }
}

/** A provider with the addresses it announced, while they are fresh. */
async function providerEntry (init: ProviderHandlersInit, id: PeerId): Promise<WirePeer> {
  if (id.equals(init.self)) {
    return { id, multiaddrs: inScope(init.addresses, init.selfAddresses()).slice(0, init.maxAddresses) }
  }
  let multiaddrs: Multiaddr[] = []
  try {
    const peer = await init.peerStore.get(id)
    if ((decodeTime(peer.metadata.get(PROVIDER_ADDRESSES_TIME)) ?? -Infinity) + init.addressTtl > init.now()) {
      multiaddrs = inScope(init.addresses, peer.addresses.map(a => a.multiaddr)).slice(0, init.maxAddresses)
    }
  } catch {
    // not in the peer store: listed without addresses; the requester can look it up
  }
  return { id, multiaddrs }
}
