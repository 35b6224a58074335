/**
 * The page the browser test bundles: a libp2p node in the browser with kadmium in client mode,
 * over WebSockets, as a user would write it. The test drives it through `window.kadmiumPage`.
 * Everything crosses as strings (hex for bytes), which is what `page.evaluate` can carry.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { fromString, toString } from 'uint8arrays'
import { kadDHT } from '../../src/index.ts'
import type { KadDHT } from '../../src/index.ts'
import type { Libp2p } from '@libp2p/interface'

/** A peer as the page reports it. */
export interface PagePeer {
  id: string
  multiaddrs: string[]
}

let node: Libp2p<{ dht: KadDHT }> | undefined

function dht (): KadDHT {
  if (node == null) {
    throw new Error('start the node first')
  }
  return node.services.dht
}

const api = {
  /**
   * Starts a new node (stopping the last one), dials `bootstrap` and waits until identify has
   * put it in the routing table; resolves to the node's peer id.
   */
  async start (protocol: string, bootstrap: string): Promise<string> {
    await node?.stop()
    node = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // a browser refuses ws:// and private addresses by default: the servers here are both
      connectionGater: { denyDialMultiaddr: () => false },
      services: {
        identify: identify(),
        dht: kadDHT({ protocol, mode: 'client', addresses: 'all' })
      }
    })
    await node.dial(multiaddr(bootstrap))
    for (let wait = 0; node.services.dht.stats().routingTableSize === 0; wait += 20) {
      if (wait > 10_000) {
        throw new Error('the bootstrap peer never joined the routing table')
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    return node.peerId.toString()
  },

  /** The closest peers to a key that answered. */
  async closest (keyHex: string): Promise<PagePeer[]> {
    const peers: PagePeer[] = []
    for await (const peer of dht().getClosestPeers(fromString(keyHex, 'base16'))) {
      peers.push({ id: peer.id.toString(), multiaddrs: peer.multiaddrs.map(String) })
    }
    return peers
  },

  async findPeer (id: string): Promise<PagePeer> {
    const peer = await dht().findPeer(peerIdFromString(id))
    return { id: peer.id.toString(), multiaddrs: peer.multiaddrs.map(String) }
  },

  /** The best value under a key, as hex. */
  async get (keyHex: string): Promise<string> {
    return toString(await dht().get(fromString(keyHex, 'base16')), 'base16')
  },

  async findProviders (cid: string): Promise<PagePeer[]> {
    const providers: PagePeer[] = []
    for await (const provider of dht().findProviders(CID.parse(cid), { count: 1 })) {
      providers.push({ id: provider.id.toString(), multiaddrs: provider.multiaddrs.map(String) })
    }
    return providers
  },

  async stop (): Promise<void> {
    await node?.stop()
    node = undefined
  }
}

/** What the test calls in the page. */
export type PageApi = typeof api

declare global {
  interface Window { kadmiumPage: PageApi }
}

window.kadmiumPage = api
