/**
 * The page of the Helia browser test: a Helia node as a page would build it to fetch blocks
 * without a DHT of its own. Its libp2p node has WebSockets and no content or peer routing; its one
 * router is a kadmium daemon's Delegated Routing V1 HTTP API; blocks come over Bitswap. The test
 * drives it through `window.heliaPage`.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { delegatedHTTPRouter } from '@helia/delegated-routing-client'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { toString } from 'uint8arrays'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Identify } from '@libp2p/identify'

let helia: HeliaWithLibp2p<{ identify: Identify }> | undefined

const api = {
  /** Starts Helia with the API at `routingOrigin` (`http://127.0.0.1:<port>`) as its router; resolves to its peer id. */
  async start (routingOrigin: string): Promise<string> {
    await helia?.stop()
    const light = createHeliaLight({
      routers: [delegatedHTTPRouter({
        url: routingOrigin,
        // what a page can dial (the test's ws:// on loopback), and what it can fetch with
        filterAddrs: ['ws'],
        filterProtocols: ['unknown', 'transport-bitswap'],
        cacheTTL: 0
      })]
    })
    const started = withBitswap(withLibp2pLight(light, {
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // a browser refuses ws:// and private addresses by default: the provider here is both
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify() }
    }))
    await started.start()
    helia = started
    return started.libp2p.peerId.toString()
  },

  /**
   * Fetches a block: its bytes as hex, and the addresses of the peers the page is connected to
   * once it has it.
   */
  async fetchBlock (cid: string): Promise<{ hex: string, connections: string[] }> {
    if (helia == null) {
      throw new Error('start Helia first')
    }
    let hex = ''
    for await (const chunk of helia.blockstore.get(CID.parse(cid), { signal: AbortSignal.timeout(30_000) })) {
      hex += toString(chunk, 'base16')
    }
    return { hex, connections: helia.libp2p.getConnections().map(c => c.remoteAddr.toString()) }
  },

  async stop (): Promise<void> {
    await helia?.stop()
    helia = undefined
  }
}

/** What the test calls in the page. */
export type HeliaPageApi = typeof api

declare global {
  interface Window { heliaPage: HeliaPageApi }
}

window.heliaPage = api
