/**
 * Peer routing: the k closest peers of a key, and one peer's addresses, over the query runner.
 */
import { NotFoundError } from '../errors.ts'
import type { LookupOptions, QueryRunner } from '../query/runner.ts'
import type { PeerId, PeerInfo, PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What peer routing needs. */
export interface PeerRoutingInit {
  self: PeerId
  query: QueryRunner
  peerStore: PeerStore
}

/** findPeer and getClosestPeers. */
export class PeerRouting {
  private readonly init: PeerRoutingInit

  constructor (init: PeerRoutingInit) {
    this.init = init
  }

  /**
   * The `k` closest peers to `key` that answered, closest first, yielded when the lookup ends.
   */
  async * getClosestPeers (key: Uint8Array, options: LookupOptions = {}): AsyncGenerator<PeerInfo> {
    const { closest } = await this.init.query.lookup(key, options)
    for (const peer of closest) {
      yield { id: peer.peerId, multiaddrs: peer.multiaddrs }
    }
  }

  /**
   * A peer's addresses: from the peer store when we are connected or know them already (unless
   * `useCache` is false), otherwise from a lookup that stops as soon as a peer lists it.
   * Throws {@link NotFoundError} when no peer knows it.
   */
  async findPeer (peerId: PeerId, options: LookupOptions = {}): Promise<PeerInfo> {
    const { init } = this
    if (peerId.equals(init.self)) {
      throw new NotFoundError('cannot look up our own peer id')
    }
    if (options.useCache !== false) {
      const known = await this.known(peerId)
      if (known != null) {
        return known
      }
    }
    if (options.useNetwork === false) {
      throw new NotFoundError(`${peerId} is not known locally`)
    }
    const wanted = peerId.toString()
    let found: Multiaddr[] | undefined
    // the whole neighbourhood of the target may be asked: the lookup stops at the first peer
    // that lists it, so the wider window only costs when the peer is not on the network
    await this.init.query.lookup(peerId.toMultihash().bytes, {
      ...options,
      stopWhen: (peer, closer) => {
        if (peer.id === wanted && peer.multiaddrs.length > 0) {
          found = peer.multiaddrs
        }
        for (const candidate of closer) {
          if (candidate.id === wanted && candidate.multiaddrs.length > 0) {
            found = candidate.multiaddrs
          }
        }
        return found != null
      }
    })
    if (found == null) {
      throw new NotFoundError(`no peer knows ${peerId}`)
    }
    return { id: peerId, multiaddrs: found }
  }

  private async known (peerId: PeerId): Promise<PeerInfo | undefined> {
    try {
      const info = await this.init.peerStore.getInfo(peerId)
      if (info.multiaddrs.length > 0) {
        return info
      }
    } catch {
      // not in the peer store
    }
    return undefined
  }
}
