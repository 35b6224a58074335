/**
 * Helia in a real browser with a kadmium daemon as its router: helia-page.ts beside this file,
 * bundled by esbuild, runs in Debian's headless Chromium. Its only router is the daemon's
 * Delegated Routing V1 HTTP API; a Helia node in this process (kadmium as its DHT, TCP and
 * WebSockets) holds a block and provides it to the daemon. The page finds the provider through the
 * daemon and fetches the block from it over WebSockets with Bitswap.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createHeliaLight } from 'helia'
import { kadDHT } from 'kadmium'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { toString } from 'uint8arrays'
import { bundlePage, launchChromium, servePage, skipWithoutChromium } from './chromium.ts'
import { TEST_PROTOCOL, cleanUp, startDaemon, tempDir, until } from './processes.ts'
import type { Chromium } from './chromium.ts'
import type { HeliaPageApi } from './helia-page.ts'
import type { DaemonProcess } from './processes.ts'
import type { HeliaWithLibp2p } from '@helia/libp2p'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from 'kadmium'
import type { Server } from 'node:http'

describe('browser: Helia in Chromium routed by a kadmium daemon\'s /routing/v1', function () {
  this.timeout(90_000)
  let browser: Chromium | undefined
  let http: Server | undefined
  let daemon: DaemonProcess
  let provider: HeliaWithLibp2p<{ identify: Identify, dht: KadDHT }> | undefined

  /** Calls the page's API. */
  async function call<K extends keyof HeliaPageApi> (method: K, ...args: Parameters<HeliaPageApi[K]>): Promise<Awaited<ReturnType<HeliaPageApi[K]>>> {
    if (browser == null) {
      throw new Error('no browser')
    }
    return browser.tab.evaluate(async ({ method, args }) => (window.heliaPage[method] as any)(...args), { method, args })
  }

  before(async function () {
    skipWithoutChromium(this)
    daemon = await startDaemon(await tempDir())
    const page = await servePage(await bundlePage(import.meta.url, 'helia-page'))
    http = page.server
    browser = await launchChromium()
    await browser.tab.goto(page.url)
    await browser.tab.waitForFunction(() => window.heliaPage != null, undefined, { timeout: 10_000 })
  })

  after(async () => {
    await call('stop').catch(() => {})
    await provider?.stop()
    await browser?.close()
    http?.close()
    await cleanUp()
  })

  it('fetches a block that a Node Helia node provides, found through the daemon, over WebSockets', async () => {
    const helia = withBitswap(withLibp2pLight(createHeliaLight(), {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] },
      transports: [tcp(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), ping: ping(), dht: kadDHT({ protocol: TEST_PROTOCOL, addresses: 'all' }) }
    }))
    provider = helia
    await helia.start()
    const node = helia.libp2p
    await node.dial(multiaddr(daemon.address))
    await until(() => node.services.dht.routingTable.size === 1 ? true : undefined, 10_000, 'the daemon in the provider\'s table')

    const bytes = new TextEncoder().encode(`a block only the Node Helia node has, made at ${Date.now()}`)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await helia.blockstore.put(cid, bytes)
    // through Helia's routing, whose libp2p router is kadmium: the record goes to the daemon
    await helia.routing.provide(cid)
    // the provide returns once its record is written, not once the daemon stored it: the page
    // asks only when the daemon answers with the provider (else a failure here is the routing's,
    // not Bitswap's)
    await until(async () => {
      const answer = await fetch(`${daemon.routingV1}/providers/${cid}`, { headers: { accept: 'application/json' } })
      const body = answer.ok ? await answer.json() as { Providers?: Array<{ ID?: string }> | null } : {}
      return body.Providers?.some(p => p.ID === node.peerId.toString()) === true ? true : undefined
    }, 10_000, 'the daemon to list the provider')

    const asked: string[] = []
    browser?.tab.on('request', request => { asked.push(request.url()) })
    const routingOrigin = new URL(daemon.routingV1).origin
    await call('start', routingOrigin)
    const fetched = await call('fetchBlock', cid.toString())

    expect(fetched.hex).to.equal(toString(bytes, 'base16'))
    // the page asked the daemon for the providers…
    expect(asked.some(url => url.startsWith(`${daemon.routingV1}/providers/${cid}`)), asked.join('\n')).to.equal(true)
    // …and fetched from the provider over WebSockets (the only transport a page has)
    const bare = (address: string): string => address.replace(/\/p2p\/[^/]+$/, '')
    const providerWs = node.getMultiaddrs().map(String).filter(a => a.includes('/ws/')).map(bare)
    expect(providerWs).to.have.length(1)
    expect(fetched.connections.map(bare)).to.include(providerWs[0])
    expect(browser?.problems.filter(p => !p.includes('favicon'))).to.deep.equal([])
  })
})
