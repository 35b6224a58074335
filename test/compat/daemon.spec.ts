/**
 * `@libp2p/daemon-server` drives the compat service as it drives `@libp2p/kad-dht`, with no
 * adapter: a daemon on a kadmium node and one on a `@libp2p/kad-dht` node, each used through
 * `@libp2p/daemon-client`, find each other and each other's values and providers.
 */
import { createClient } from '@libp2p/daemon-client'
import { createServer } from '@libp2p/daemon-server'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { compatNode, connect, eventually, jsNode, stopAll } from '../utils/nodes.ts'
import { cidOf, vKey, vValidator, vValue } from '../utils/records.ts'
import type { DHTNode } from './program.ts'
import type { CompatNode, JsNode } from '../utils/nodes.ts'
import type { DaemonClient } from '@libp2p/daemon-client'
import type { Libp2pServer } from '@libp2p/daemon-server'
import type { PeerInfo } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'

const maps = {
  validators: { v: async (key: Uint8Array, value: Uint8Array) => { vValidator.validate(key, value) } },
  selectors: { v: async (key: Uint8Array, values: Uint8Array[]) => vValidator.select(key, values) }
}

/**
 * A daemon on `node`, typed as code written for `@libp2p/kad-dht` types it. daemon-server's
 * type also asks for a gossipsub service, which it uses only for pubsub requests (it checks
 * `services.pubsub` at run time): that, and only that, is what the cast adds.
 */
async function daemon (node: DHTNode): Promise<Libp2pServer> {
  const server = createServer(multiaddr('/ip4/127.0.0.1/tcp/0'), node as Parameters<typeof createServer>[1])
  await server.start()
  return server
}

async function collect (source: AsyncIterable<PeerInfo>): Promise<string[]> {
  const out: string[] = []
  for await (const peer of source) {
    out.push(peer.id.toString())
  }
  return out
}

describe('kad-dht: `@libp2p/daemon-server` over the compat service and over `@libp2p/kad-dht`', function () {
  this.timeout(120_000)
  let kadmium: CompatNode
  let js: JsNode
  let middle: [CompatNode, JsNode] | [] = []
  let servers: Libp2pServer[] = []
  let onKadmium: DaemonClient
  let onJs: DaemonClient

  before(async () => {
    // a line: kadmium — compat — js — js; the two ends meet only through lookups
    kadmium = await compatNode(maps)
    js = await jsNode(maps)
    const [compatMiddle, jsMiddle] = middle = [await compatNode(maps), await jsNode(maps)]
    await connect(kadmium, compatMiddle)
    await connect(compatMiddle, jsMiddle)
    await connect(jsMiddle, js)
    const size = (node: JsNode): number => (node.services.dht as SingleKadDHT).routingTable.size
    await eventually(() => size(jsMiddle) >= 2 && size(js) >= 1, 10_000, '`@libp2p/kad-dht` tables')
    servers = [await daemon(kadmium), await daemon(js)]
    onKadmium = createClient(servers[0].getMultiaddr())
    onJs = createClient(servers[1].getMultiaddr())
  })

  after(async () => {
    await Promise.all(servers.map(async server => server.stop()))
    await stopAll([kadmium, js, ...middle])
  })

  it('findPeer: each daemon finds the other node, two hops away', async () => {
    const found = await onKadmium.dht.findPeer(js.peerId)
    expect(found.id.equals(js.peerId)).to.equal(true)
    expect(found.multiaddrs.map(String)).to.include.members(js.getMultiaddrs().map(ma => ma.decapsulate('/p2p').toString()))
    const back = await onJs.dht.findPeer(kadmium.peerId)
    expect(back.multiaddrs.length).to.be.at.least(1)
  })

  it('getClosestPeers: the kadmium daemon streams the peers its lookup heard of', async () => {
    const peers = await collect(onKadmium.dht.getClosestPeers(js.peerId.toMultihash().bytes))
    expect(peers).to.include.members([...middle, js].map(n => n.peerId.toString()))
    const theirs = await collect(onJs.dht.getClosestPeers(kadmium.peerId.toMultihash().bytes))
    expect(theirs).to.include(kadmium.peerId.toString())
  })

  it('provide and findProviders: each daemon finds the other\'s provider record', async () => {
    const fromKadmium = await cidOf('provided through the kadmium daemon')
    await onKadmium.dht.provide(fromKadmium)
    expect(await collect(onJs.dht.findProviders(fromKadmium))).to.include(kadmium.peerId.toString())

    const fromJs = await cidOf('provided through the js daemon')
    await onJs.dht.provide(fromJs)
    expect(await collect(onKadmium.dht.findProviders(fromJs))).to.include(js.peerId.toString())
  })

  it('put and get: each daemon gets what the other put', async () => {
    await onKadmium.dht.put(vKey('daemon-kadmium'), vValue(1, 'kadmium daemon'))
    expect(await onJs.dht.get(vKey('daemon-kadmium'))).to.deep.equal(vValue(1, 'kadmium daemon'))
    await onJs.dht.put(vKey('daemon-js'), vValue(1, 'js daemon'))
    expect(await onKadmium.dht.get(vKey('daemon-js'))).to.deep.equal(vValue(1, 'js daemon'))
  })
})
