import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { connect, jsNode, kadmiumNode, stopAll } from '../utils/nodes.ts'
import type { AnyNode, JsNode, KadmiumNode } from '../utils/nodes.ts'
import type { PeerInfo } from '@libp2p/interface'

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

async function collect (source: AsyncIterable<PeerInfo>): Promise<PeerInfo[]> {
  const out: PeerInfo[] = []
  for await (const peer of source) {
    out.push(peer)
  }
  return out
}

describe('interop: providers in a mixed kadmium / `@libp2p/kad-dht` network', function () {
  this.timeout(120_000)
  let kadmium: KadmiumNode[] = []
  let js: JsNode[] = []
  let all: AnyNode[] = []

  before(async () => {
    kadmium = await Promise.all(Array.from({ length: 6 }, async () => kadmiumNode()))
    js = await Promise.all(Array.from({ length: 6 }, async () => jsNode()))
    all = [...kadmium, ...js]
    await Promise.all(all.map(async (node, i) => {
      await connect(node, all[(i + 1) % all.length])
      await connect(node, all[(i + 5) % all.length])
    }))
    for (const node of kadmium) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
  })

  after(async () => {
    await stopAll(all)
  })

  it('kadmium provides, `@libp2p/kad-dht` finds it with its addresses', async () => {
    const cid = await cidOf('kadmium provides')
    const provider = kadmium[2]
    expect(await provider.services.dht.provide(cid)).to.be.at.least(5)
    for (const finder of [js[0], js[3]]) {
      const found = await collect(finder.contentRouting.findProviders(cid))
      const entry = found.find(p => p.id.equals(provider.peerId))
      expect(entry, 'the provider is found').to.not.equal(undefined)
      expect(entry?.multiaddrs.map(String)).to.include.members(provider.getMultiaddrs().map(ma => ma.decapsulate('/p2p').toString()))
    }
  })

  it('kadmium provides many CIDs with one lookup, and `@libp2p/kad-dht` and kadmium find each', async () => {
    const cids = await Promise.all(Array.from({ length: 20 }, async (_, i) => cidOf(`batch ${i}`)))
    const provider = kadmium[3]
    const before = provider.services.dht.stats().outbound
    let asks = 0
    const onProgress = (event: { type: string }): void => { asks += event.type === 'kadmium:lookup:ask' ? 1 : 0 }
    const outcomes = []
    for await (const outcome of provider.services.dht.provideMany(cids, { onProgress })) {
      outcomes.push(outcome)
    }
    expect(outcomes.map(o => o.cid.toString()).sort()).to.deep.equal(cids.map(String).sort())
    for (const { sent, error } of outcomes) {
      expect(error).to.equal(undefined)
      expect(sent).to.be.at.least(5)
    }
    const after = provider.services.dht.stats().outbound
    // 12 nodes are fewer than k: the first lookup sees them all and settles every CID. One
    // lookup asks each peer once (a provide of each would take 20 lookups)
    expect(asks).to.be.within(1, all.length - 1)
    expect((after.ADD_PROVIDER ?? 0) - (before.ADD_PROVIDER ?? 0)).to.equal(outcomes.reduce((sum, o) => sum + o.sent, 0))
    for (const [finder, cid] of [[js[1], cids[0]], [js[5], cids[7]], [kadmium[0], cids[13]]] as const) {
      const found = await collect(finder.contentRouting.findProviders(cid))
      expect(found.map(p => p.id.toString()), `${cid} is found`).to.include(provider.peerId.toString())
    }
    for (const cid of cids) {
      expect(await provider.services.dht.isReproviding(cid)).to.equal(true)
    }
  })

  it('`@libp2p/kad-dht` provides, kadmium finds it', async () => {
    const cid = await cidOf('js provides')
    const provider = js[4]
    await provider.contentRouting.provide(cid)
    for (const finder of [kadmium[0], kadmium[5]]) {
      const found = await collect(finder.services.dht.findProviders(cid))
      expect(found.map(p => p.id.toString())).to.include(provider.peerId.toString())
      expect(found.filter(p => p.id.equals(provider.peerId))).to.have.length(1)
    }
    // through libp2p's content routing too
    const viaLibp2p = await collect(kadmium[1].contentRouting.findProviders(cid))
    expect(viaLibp2p.map(p => p.id.toString())).to.include(provider.peerId.toString())
  })

  it('several providers of one CID, from both sides, are each found once', async () => {
    const cid = await cidOf('many providers')
    await kadmium[1].services.dht.provide(cid)
    await js[1].contentRouting.provide(cid)
    await kadmium[4].services.dht.provide(cid)
    const found = await collect(kadmium[3].services.dht.findProviders(cid))
    const ids = found.map(p => p.id.toString())
    expect(ids).to.include.members([kadmium[1], js[1], kadmium[4]].map(n => n.peerId.toString()))
    expect(new Set(ids).size).to.equal(ids.length)
    const limited = await collect(kadmium[3].services.dht.findProviders(cid, { count: 2 }))
    expect(limited).to.have.length(2)
  })
})
