import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { connect, eventually, jsNode, kadmiumNode, stopAll, trueClosest } from '../utils/nodes.ts'
import type { AnyNode, JsNode, KadmiumNode } from '../utils/nodes.ts'

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

const ADD_PROVIDER = 'ADD_PROVIDER'

describe('interop: optimistic provide in a 30-node kadmium / `@libp2p/kad-dht` network', function () {
  this.timeout(120_000)
  let kadmium: KadmiumNode[] = []
  let js: JsNode[] = []
  let all: AnyNode[] = []

  before(async () => {
    // kadmium[0] provides optimistically (the default), kadmium[1] waits for its full lookup
    kadmium = await Promise.all(Array.from({ length: 26 }, async (_, i) => kadmiumNode(i === 1 ? { optimisticProvide: false } : {})))
    js = await Promise.all(Array.from({ length: 4 }, async () => jsNode()))
    all = [...kadmium, ...js]
    await Promise.all(all.map(async (node, i) => {
      await connect(node, all[(i + 1) % all.length])
      await connect(node, all[(i + 7) % all.length])
    }))
    await Promise.all(kadmium.map(async node => { await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes)) }))
    // a second round, a few nodes at a time, once every table has its first peers: the optimistic
    // stop trusts the closest peers' tables to know their neighbourhood, as they do in a network
    // up for a while (a join fills a table over 10 minutes; 26 lookups at once on a loaded
    // machine left some of them short)
    for (let i = 0; i < kadmium.length; i += 5) {
      await Promise.all(kadmium.slice(i, i + 5).map(async node => { await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes)) }))
    }
    // the providers' own lookups tell them the network size
    await Promise.all(kadmium.slice(0, 2).map(async provider => {
      for (let i = 0; i < 5; i++) {
        await drain(provider.services.dht.getClosestPeers(new TextEncoder().encode(`size ${i}`)))
      }
    }))
  })

  after(async () => {
    await stopAll(all)
  })

  it('knows the network size from its lookups', () => {
    // 29 other peers; one estimate from 6 lookups of k = 20 is within a factor of two
    expect(kadmium[0].services.dht.stats().networkSize).to.be.within(15, 60)
  })

  it('returns early, yet its records reach the true k closest a full lookup finds, `@libp2p/kad-dht` ones among them, and `@libp2p/kad-dht` finds them', async () => {
    const ids = all.map(node => node.peerId)
    const provider = kadmium[0]
    const inbound = (): number[] => kadmium.map(node => node.services.dht.stats().inbound[ADD_PROVIDER] ?? 0)
    for (let i = 0; i < 3; i++) {
      const cid = await cidOf(`optimistic ${i}`)
      const before = inbound()
      expect(await provider.services.dht.provide(cid)).to.be.at.least(1)
      // the true k closest that a full lookup reaches: on a loaded machine a peer or two may not
      // answer, or be in no table yet, and no provide could reach those
      const answered = new Set<string>()
      for await (const peer of provider.services.dht.getClosestPeers(cid.multihash.bytes)) {
        answered.add(peer.id.toString())
      }
      const closest = new Set(trueClosest(ids, cid.multihash.bytes, 20, provider.peerId).filter(id => answered.has(id)))
      expect(closest.size).to.be.at.least(15)
      const onKadmium = kadmium.map((node, j) => ({ node, j })).filter(({ node }) => closest.has(node.peerId.toString()))
      const onJs = js.filter(node => closest.has(node.peerId.toString()))
      const holds = async (node: JsNode): Promise<boolean> => {
        // @libp2p/kad-dht's own provider store (a public field of its class, not of its interface)
        const providers: Array<{ equals(id: unknown): boolean }> = await (node.services.dht as any).providers.getProviders(cid)
        return providers.some(id => id.equals(provider.peerId))
      }
      // the sends still under way when provide returned reach all but at most one of them
      await eventually(async () => {
        const now = inbound()
        const reached = onKadmium.filter(({ j }) => now[j] > before[j]).length + (await Promise.all(onJs.map(holds))).filter(Boolean).length
        return reached >= onKadmium.length + onJs.length - 1
      }, 30_000, 'the records on the true k closest')
      const found = []
      for await (const p of js[i].contentRouting.findProviders(cid)) {
        found.push(p.id.toString())
      }
      expect(found).to.include(provider.peerId.toString())
    }
  })

  it('asks fewer peers than a provide that waits for its full lookup', async () => {
    const asked = async (node: KadmiumNode, text: string): Promise<number> => {
      let asks = 0
      await node.services.dht.provide(await cidOf(text), { onProgress: (event) => { asks += event.type === 'kadmium:lookup:ask' ? 1 : 0 } })
      return asks
    }
    let optimistic = 0
    let full = 0
    for (let i = 0; i < 5; i++) {
      optimistic += await asked(kadmium[0], `compared ${i}`)
      full += await asked(kadmium[1], `compared ${i}`)
    }
    expect(optimistic).to.be.below(full)
  })
})
