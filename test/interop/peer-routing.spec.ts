import { EventTypes } from '@libp2p/kad-dht'
import { expect } from 'aegir/chai'
import { connect, eventually, jsNode, kadmiumNode, plainNode, stopAll, trueClosest } from '../utils/nodes.ts'
import type { AnyNode, JsNode, KadmiumNode } from '../utils/nodes.ts'
import type { PeerId } from '@libp2p/interface'

const KADMIUM_NODES = 15
const JS_NODES = 15

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function rng (seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x7fffffff
  }
}

/** `@libp2p/kad-dht`'s routing table (public on the class, not on the exported interface). */
function jsTable (node: JsNode): { size: number, find(peer: PeerId): Promise<PeerId | undefined> } {
  return (node.services.dht as any).routingTable
}

async function jsClosest (node: JsNode, key: Uint8Array): Promise<string[]> {
  const out: string[] = []
  for await (const event of node.services.dht.getClosestPeers(key)) {
    if (event.type === EventTypes.FINAL_PEER) {
      out.push(event.peer.id.toString())
    }
  }
  return out
}

async function kadmiumClosest (node: KadmiumNode, key: Uint8Array): Promise<string[]> {
  const out: string[] = []
  for await (const peer of node.services.dht.getClosestPeers(key)) {
    out.push(peer.id.toString())
  }
  return out
}

describe('interop: peer routing in a mixed kadmium / @libp2p/kad-dht network', function () {
  this.timeout(120_000)
  let kadmium: KadmiumNode[] = []
  let js: JsNode[] = []
  let all: AnyNode[] = []
  let ids: PeerId[] = []

  before(async () => {
    kadmium = await Promise.all(Array.from({ length: KADMIUM_NODES }, async () => kadmiumNode()))
    js = await Promise.all(Array.from({ length: JS_NODES }, async () => jsNode()))
    // interleave, then link each node to the next (a ring) and to two random others
    all = []
    for (let i = 0; i < Math.max(KADMIUM_NODES, JS_NODES); i++) {
      if (kadmium[i] != null) { all.push(kadmium[i]) }
      if (js[i] != null) { all.push(js[i]) }
    }
    ids = all.map(n => n.peerId)
    const random = rng(7)
    const links: Array<Promise<void>> = []
    for (let i = 0; i < all.length; i++) {
      links.push(connect(all[i], all[(i + 1) % all.length]))
      for (let j = 0; j < 2; j++) {
        const other = Math.floor(random() * all.length)
        if (other !== i) {
          links.push(connect(all[i], all[other]))
        }
      }
    }
    await Promise.all(links)
    // every node sees some DHT servers in its table
    await eventually(() => kadmium.every(n => n.services.dht.stats().routingTableSize >= 2), 10_000, 'kadmium tables')
    await eventually(() => js.every(n => jsTable(n).size >= 2), 10_000, 'js tables')
    // each kadmium node looks itself up, as a node joining a network does: its neighbours learn of it
    for (const node of kadmium) {
      await kadmiumClosest(node, node.peerId.toMultihash().bytes)
    }
  })

  after(async () => {
    await stopAll(all)
  })

  it('kadmium getClosestPeers returns the true 20 closest of the whole network', async () => {
    for (let run = 0; run < 5; run++) {
      const from = kadmium[run * 3 % kadmium.length]
      const key = crypto.getRandomValues(new Uint8Array(32))
      const found = await kadmiumClosest(from, key)
      expect(found).to.deep.equal(trueClosest(ids, key, 20, from.peerId))
    }
  })

  it('@libp2p/kad-dht getClosestPeers, entering through kadmium servers, converges on the closest', async () => {
    // a js node whose only contacts are kadmium servers: its first answers all come from kadmium.
    // @libp2p/kad-dht ends a lookup once its 3 closest known peers answered and does not wait for
    // all 20, so it may miss a few of the 20: what it guarantees is the closest 3 and real peers.
    const newcomer = await jsNode()
    try {
      for (const node of kadmium.slice(0, 3)) {
        await connect(newcomer, node)
      }
      await eventually(() => jsTable(newcomer).size >= 3, 5_000, 'newcomer table')
      const members = new Set(ids.map(String))
      let overlap = 0
      const runs = 5
      for (let run = 0; run < runs; run++) {
        const key = crypto.getRandomValues(new Uint8Array(32))
        const found = await jsClosest(newcomer, key)
        const truth = trueClosest(ids, key, 20)
        expect(found).to.include.members(truth.slice(0, 3))
        expect(found.every(id => members.has(id))).to.equal(true)
        overlap += found.filter(id => truth.includes(id)).length / 20
      }
      expect(overlap / runs).to.be.at.least(0.85)
    } finally {
      await newcomer.stop()
    }
  })

  it('kadmium findPeer finds a node that only a @libp2p/kad-dht node knows', async () => {
    // quiet: its own self-lookup, 1 s after start, would meet kadmium nodes through its neighbours'
    // answers (it did once in a clean-clone run under load, while the test waited for their tables)
    const hidden = await jsNode({ quiet: true })
    try {
      // it joins next to the js nodes closest to it, as a node does: only they know it
      const neighbours = trueClosest(js.map(n => n.peerId), hidden.peerId.toMultihash().bytes, 3)
        .map(id => js.find(n => n.peerId.toString() === id)!)
      for (const neighbour of neighbours) {
        await connect(hidden, neighbour)
        await eventually(async () => (await jsTable(neighbour).find(hidden.peerId)) != null, 5_000, 'js table')
      }
      // no kadmium node has met it
      for (const node of kadmium) {
        expect(node.services.dht.routingTable.has(hidden.peerId.toString())).to.equal(false)
        expect(await node.peerStore.has(hidden.peerId)).to.equal(false)
      }
      const seeker = kadmium[0]
      const found = await seeker.services.dht.findPeer(hidden.peerId)
      expect(found.id.equals(hidden.peerId)).to.equal(true)
      expect(found.multiaddrs.map(String)).to.include.members(hidden.getMultiaddrs().map(ma => ma.decapsulate('/p2p').toString()))
    } finally {
      await hidden.stop()
    }
  })

  it('@libp2p/kad-dht findPeer finds a node that only a kadmium node knows, even one without a DHT', async () => {
    const hidden = await plainNode()
    try {
      // it is connected to the kadmium node nearest its id, the one a lookup for it surely asks
      // (a random kadmium node may sit outside the peers the js lookup asks at all)
      const nearest = trueClosest(kadmium.map(n => n.peerId), hidden.peerId.toMultihash().bytes, 1)[0]
      await connect(hidden, kadmium.find(n => n.peerId.toString() === nearest)!)
      const seeker = js.find(j => j.getConnections(hidden.peerId).length === 0)!
      expect(await seeker.peerStore.has(hidden.peerId)).to.equal(false)
      let found: string[] = []
      for await (const event of seeker.services.dht.findPeer(hidden.peerId)) {
        if (event.type === EventTypes.FINAL_PEER && event.peer.id.equals(hidden.peerId)) {
          found = event.peer.multiaddrs.map(String)
          break
        }
      }
      expect(found).to.include.members(hidden.getMultiaddrs().map(ma => ma.decapsulate('/p2p').toString()))
    } finally {
      await hidden.stop()
    }
  })
})
