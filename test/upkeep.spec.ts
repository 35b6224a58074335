import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { kadId } from '../src/keys.ts'
import { stoppedAfterEach, TEST_PROTOCOL, connect, eventually, kadmiumNode, trueClosest } from './utils/nodes.ts'
import type { KadmiumNode } from './utils/nodes.ts'
import type { Libp2p } from '@libp2p/interface'

/** The libp2p components of a node (not part of its public type). */
function components (node: Libp2p): any {
  return (node as any).components
}

describe('routing-table upkeep and modes', function () {
  this.timeout(120_000)
  const track = stoppedAfterEach()

  it('auto mode follows the addresses: a server with a reachable one, a client without, both ways', async () => {
    // the public scope on loopback: no reachable address, so a client
    const a = await track(kadmiumNode({ addresses: 'public', mode: 'auto' }))
    const b = await track(kadmiumNode({ mode: 'server' }))
    expect(a.services.dht.getMode()).to.equal('client')
    expect(a.getProtocols()).to.not.include(TEST_PROTOCOL)
    await connect(b, a)
    const port = Number(a.getMultiaddrs()[0].getComponents().find(c => c.name === 'tcp')?.value)
    const am = components(a).addressManager
    am.addPublicAddressMapping('127.0.0.1', port, '93.184.216.34', 4001, 'tcp')
    am.confirmObservedAddr(multiaddr('/ip4/93.184.216.34/tcp/4001'), { type: 'ip-mapping' })
    await eventually(() => a.services.dht.getMode() === 'server', 10_000, 'server mode')
    expect(a.getProtocols()).to.include(TEST_PROTOCOL)
    // its peer learns it serves now (identify push) and takes it in
    await eventually(() => b.services.dht.routingTable.has(a.peerId.toString()), 10_000, 'a in b\'s table')
    am.removePublicAddressMapping('127.0.0.1', port, '93.184.216.34', 4001, 'tcp')
    await eventually(() => a.services.dht.getMode() === 'client', 10_000, 'client mode')
    expect(a.getProtocols()).to.not.include(TEST_PROTOCOL)
    await eventually(() => !b.services.dht.routingTable.has(a.peerId.toString()), 10_000, 'a out of b\'s table')
  })

  it('setMode pins the mode at run time', async () => {
    const a = await track(kadmiumNode())
    await eventually(() => a.services.dht.getMode() === 'server', 5_000, 'auto: server on loopback with the \'all\' scope')
    await a.services.dht.setMode('client')
    expect(a.getProtocols()).to.not.include(TEST_PROTOCOL)
    await a.services.dht.setMode('server')
    expect(a.getProtocols()).to.include(TEST_PROTOCOL)
    await expect(a.services.dht.setMode('lan' as any)).to.eventually.be.rejected.with.property('name', 'InvalidParametersError')
  })

  it('a refresh drops a dead peer, keeps a live one, and marks its buckets looked up', async () => {
    const a = await track(kadmiumNode({ refresh: { interval: 50 } }))
    const live = await track(kadmiumNode())
    const dead = await track(kadmiumNode())
    await connect(a, live)
    await connect(a, dead)
    await eventually(() => a.services.dht.stats().routingTableSize === 2, 5_000, 'table of two')
    await dead.stop()
    // both are now older than the 50 ms interval: both are checked
    await new Promise(resolve => setTimeout(resolve, 100))
    await a.services.dht.refreshRoutingTable()
    expect(a.services.dht.routingTable.has(live.peerId.toString())).to.equal(true)
    expect(a.services.dht.routingTable.has(dead.peerId.toString())).to.equal(false)
    const info = a.services.dht.routingTableInfo()
    expect(info.every(bucket => bucket.lastLookup > 0)).to.equal(true)
  })

  it('with the random walk on, the tables of 50 nodes that each knew one other converge', async function () {
    this.timeout(300_000)
    const list: KadmiumNode[] = []
    for (let i = 0; i < 50; i++) {
      // as a user runs it: bucket refresh on (its first round when a node meets its first peer);
      // a walk every 10 s: 50 nodes walking every 3 s kept one process so busy that TCP
      // handshakes of the tree's dials timed out on a slower machine
      list.push(await track(kadmiumNode({ randomWalk: { enabled: true, interval: 10_000 } })))
    }
    // each node knows one earlier node: a random tree
    for (let i = 1; i < list.length; i++) {
      await connect(list[i], list[Math.floor(Math.random() * i)])
    }
    const ids = list.map(n => n.peerId)
    const converged = (node: KadmiumNode): boolean => {
      const self = kadId(node.peerId.toMultihash().bytes)
      const known = node.services.dht.routingTable.closest(self, 20).map(e => e.id)
      return known.join() === trueClosest(ids, node.peerId.toMultihash().bytes, 20, node.peerId).join()
    }
    await eventually(() => list.every(converged), 150_000, 'converged tables')
  })
})
