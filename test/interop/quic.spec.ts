/**
 * Interop over QUIC alone: kadmium and `@libp2p/kad-dht` nodes whose only transport is
 * `@chainsafe/libp2p-quic`, on loopback quic-v1, find each other's providers, peers and values.
 */
import { quic } from '@chainsafe/libp2p-quic'
import { expect } from 'aegir/chai'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import drain from 'it-drain'
import { connect, jsNode, kadmiumNode, stopAll } from '../utils/nodes.ts'
import { cidOf, ipnsKey, ipnsRecord, newKey } from '../utils/records.ts'
import type { AnyNode, JsNode, KadmiumNode, NodeOptions } from '../utils/nodes.ts'

/** QUIC on loopback, and nothing else. */
const overQuic = (): NodeOptions => ({ transports: [quic()], addresses: { listen: ['/ip4/127.0.0.1/udp/0/quic-v1'] } })

describe('interop over QUIC: kadmium and `@libp2p/kad-dht`', function () {
  this.timeout(60_000)
  let kadmium: KadmiumNode[] = []
  let js: JsNode[] = []
  let all: AnyNode[] = []

  before(async () => {
    kadmium = await Promise.all([kadmiumNode({}, overQuic()), kadmiumNode({}, overQuic())])
    js = await Promise.all([
      jsNode({ validators: { ipns: ipnsValidator }, selectors: { ipns: ipnsSelector } }, overQuic()),
      jsNode({ validators: { ipns: ipnsValidator }, selectors: { ipns: ipnsSelector } }, overQuic())
    ])
    all = [kadmium[0], js[0], kadmium[1], js[1]]
    // a line, alternating implementations: each lookup crosses both
    for (let i = 1; i < all.length; i++) {
      await connect(all[i - 1], all[i])
    }
    for (const node of kadmium) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
  })

  after(async () => {
    await stopAll(all)
  })

  it('connects over quic-v1 only', () => {
    for (const node of all) {
      expect(node.getMultiaddrs().map(String).every(a => a.includes('/quic-v1/'))).to.equal(true)
      expect(node.getConnections().length).to.be.at.least(1)
      expect(node.getConnections().every(c => c.remoteAddr.toString().includes('/quic-v1'))).to.equal(true)
    }
  })

  it('kadmium provides, `@libp2p/kad-dht` finds it; `@libp2p/kad-dht` provides, kadmium finds it', async () => {
    const fromKadmium = await cidOf('provided by kadmium over quic')
    await kadmium[1].services.dht.provide(fromKadmium)
    const foundByJs = []
    for await (const provider of js[0].contentRouting.findProviders(fromKadmium)) {
      foundByJs.push(provider.id.toString())
    }
    expect(foundByJs).to.include(kadmium[1].peerId.toString())

    const fromJs = await cidOf('provided by js over quic')
    await js[1].contentRouting.provide(fromJs)
    const foundByKadmium = []
    for await (const provider of kadmium[0].services.dht.findProviders(fromJs)) {
      foundByKadmium.push(provider.id.toString())
    }
    expect(foundByKadmium).to.include(js[1].peerId.toString())
  })

  it('an IPNS record put by one implementation is got by the other, both ways', async () => {
    const key = await newKey()
    const record = await ipnsRecord(key, 1)
    await kadmium[0].services.dht.put(ipnsKey(key), record)
    expect(await js[1].contentRouting.get(ipnsKey(key))).to.deep.equal(record)
    const newer = await ipnsRecord(key, 2)
    await js[0].contentRouting.put(ipnsKey(key), newer)
    expect(await kadmium[1].services.dht.get(ipnsKey(key))).to.deep.equal(newer)
  })

  it('kadmium finds a `@libp2p/kad-dht` peer\'s QUIC address by a lookup (not from its cache)', async () => {
    const found = await kadmium[0].services.dht.findPeer(js[1].peerId, { useCache: false })
    expect(found.multiaddrs.map(String).some(a => a.includes('/quic-v1'))).to.equal(true)
  })
})
