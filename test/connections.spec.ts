import { expect } from 'aegir/chai'
import { kadId } from '../src/keys.ts'
import { components, connect, eventually, kadmiumNode, plainNode, stoppedAfterEach } from './utils/nodes.ts'
import type { KadmiumNode } from './utils/nodes.ts'

describe('connection-manager tags', function () {
  this.timeout(60_000)
  const track = stoppedAfterEach()

  it('when libp2p prunes, the k closest table peers keep their connections and untagged ones go first', async () => {
    // k = 4. No refresh and no stream kept open: libp2p never prunes a connection with a DHT
    // stream open, and here only the tags are to decide
    const quiet = { refresh: { enabled: false }, connections: { outboundIdleTimeout: 0 } }
    const node = await track(kadmiumNode({ ...quiet, kBucketSize: 4 }))
    // the servers do not keep the node alive in turn (they would dial it again once pruned)
    const servers: KadmiumNode[] = []
    for (let i = 0; i < 10; i++) {
      servers.push(await track(kadmiumNode({ ...quiet, mode: 'server', connections: { keepAlive: false, outboundIdleTimeout: 0 } })))
    }
    const plain = [await track(plainNode()), await track(plainNode())]
    for (const peer of [...servers, ...plain]) {
      await connect(peer, node)
    }
    const self = kadId(node.peerId.toMultihash().bytes)
    const closest = node.services.dht.routingTable.closest(self, 4).map(e => e.peer.peerId)
    expect(closest).to.have.length(4)
    await eventually(async () => {
      const tags = await Promise.all(closest.map(async id => (await node.peerStore.get(id)).tags))
      return tags.every(t => t.has('kadmium-close') && t.has('keep-alive-kadmium'))
    }, 5_000, 'the k closest tagged')
    expect(node.getConnections()).to.have.length.at.least(12)
    // libp2p prunes once each time it is triggered, and passes over a connection that has a stream
    // it may not close open at that moment (the connection monitor's ping): trigger it until done
    const manager = components(node).connectionManager
    await eventually(() => {
      manager.setMaxConnections(100)
      manager.setMaxConnections(6)
      return node.getConnections().length <= 6
    }, 10_000, 'pruned to 6')
    for (const id of closest) {
      expect(node.getConnections(id), `${id} connected`).to.have.length.above(0)
    }
    for (const p of plain) {
      expect(node.getConnections(p.peerId)).to.have.length(0)
    }
  })
})
