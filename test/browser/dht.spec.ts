/**
 * kadmium in a real browser: test/browser/page.ts, bundled by esbuild for the browser with no
 * shims, runs in Debian's headless Chromium as a DHT client over WebSockets, against networks of
 * three Node servers of each implementation (kadmium, `@libp2p/kad-dht`) in this process. The
 * page dials one server; it learns the others from the wire.
 */
import { webSockets } from '@libp2p/websockets'
import { expect } from 'aegir/chai'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { toString } from 'uint8arrays'
import { bundlePage, launchChromium, servePage, skipWithoutChromium } from '../../packages/daemon/test/chromium.ts'
import { TEST_PROTOCOL, connect, eventually, jsNode, kadmiumNode, stopAll } from '../utils/nodes.ts'
import { ipnsKey, ipnsRecord, newKey } from '../utils/records.ts'
import type { PageApi, PagePeer } from './page.ts'
import type { Chromium } from '../../packages/daemon/test/chromium.ts'
import type { AnyNode, NodeOptions } from '../utils/nodes.ts'
import type { Server } from 'node:http'

/** Node servers reachable from the page: WebSockets on 127.0.0.1. */
const overWebSockets = (): NodeOptions => ({ transports: [webSockets()], addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] } })

const IMPLEMENTATIONS: Record<string, () => Promise<AnyNode>> = {
  kadmium: async () => kadmiumNode({}, overWebSockets()),
  '@libp2p/kad-dht': async () => jsNode({ validators: { ipns: ipnsValidator }, selectors: { ipns: ipnsSelector } }, overWebSockets())
}

const wsAddress = (node: AnyNode): string => {
  const ws = node.getMultiaddrs().find(ma => ma.toString().includes('/ws/'))
  if (ws == null) {
    throw new Error(`${node.peerId} has no WebSockets address`)
  }
  return ws.toString()
}

/** An address as a peer hands it on: without the `/p2p/` part. */
const bare = (address: string): string => address.replace(/\/p2p\/[^/]+$/, '')

describe('browser: kadmium in Chromium as a DHT client over WebSockets', function () {
  this.timeout(60_000)
  let browser: Chromium | undefined
  let http: Server | undefined

  /** Calls the page's API. */
  async function call<K extends keyof PageApi> (method: K, ...args: Parameters<PageApi[K]>): Promise<Awaited<ReturnType<PageApi[K]>>> {
    if (browser == null) {
      throw new Error('no browser')
    }
    return browser.tab.evaluate(async ({ method, args }) => (window.kadmiumPage[method] as any)(...args), { method, args })
  }

  /** What went wrong in the page so far. */
  function problems (): string[] {
    return browser?.problems ?? ['no browser']
  }

  before(async function () {
    skipWithoutChromium(this)
    const page = await servePage(await bundlePage(import.meta.url, 'page'))
    http = page.server
    browser = await launchChromium()
    await browser.tab.goto(page.url)
    await browser.tab.waitForFunction(() => window.kadmiumPage != null, undefined, { timeout: 10_000 })
  })

  after(async () => {
    await browser?.close()
    http?.close()
  })

  for (const [name, makeNode] of Object.entries(IMPLEMENTATIONS)) {
    describe(`against ${name} servers`, () => {
      let servers: AnyNode[] = []

      before(async () => {
        servers = await Promise.all([makeNode(), makeNode(), makeNode()])
        const [a, b, c] = servers
        await connect(b, a)
        await connect(c, a)
        await connect(c, b)
        await call('start', TEST_PROTOCOL, wsAddress(a))
      })

      after(async () => {
        await call('stop').catch(() => {})
        await stopAll(servers)
      })

      it('getClosestPeers reaches every server, the ones the page never dialled too', async () => {
        const closest: PagePeer[] = await call('closest', toString(new TextEncoder().encode('browser closest'), 'base16'))
        expect(closest.map(p => p.id).sort()).to.deep.equal(servers.map(s => s.peerId.toString()).sort())
      })

      it('findPeer finds a server\'s WebSockets address', async () => {
        const c = servers[2]
        const found: PagePeer = await call('findPeer', c.peerId.toString())
        expect(found.id).to.equal(c.peerId.toString())
        expect(found.multiaddrs.map(bare)).to.include(bare(wsAddress(c)))
      })

      it('a value put from Node is got in the page', async () => {
        const key = await newKey()
        const value = await ipnsRecord(key, 1, '/ipfs/bafkqaddwgevxmmraojswg33smq')
        // through libp2p's router, which both implementations serve
        await servers[1].contentRouting.put(ipnsKey(key), value)
        expect(await call('get', toString(ipnsKey(key), 'base16'))).to.equal(toString(value, 'base16'))
      })

      it('a provider announced from Node is found in the page, with its addresses', async () => {
        const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`provided by ${name}`)))
        const provider = servers[2]
        await provider.contentRouting.provide(cid)
        let found: PagePeer[] = []
        // a server stores an ADD_PROVIDER after the provider sent it, with no reply
        await eventually(async () => (found = await call('findProviders', cid.toString())).length > 0, 10_000, 'a provider found in the page')
        expect(found[0].id).to.equal(provider.peerId.toString())
        expect(found[0].multiaddrs.map(bare)).to.include(bare(wsAddress(provider)))
      })

      it('left no uncaught error, console error or failed request in the page', () => {
        expect(problems()).to.deep.equal([])
      })
    })
  }
})
