import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { kadDHT } from '../src/index.ts'
import { stoppedAfterEach, TEST_PROTOCOL, connect, eventually, jsNode, kadmiumNode } from './utils/nodes.ts'
import { cidOf } from './utils/records.ts'
import type { PeerInfo } from '@libp2p/interface'

describe('service', function () {
  this.timeout(30_000)
  const track = stoppedAfterEach()

  it('refuses options out of range with a typed error', () => {
    const components: any = { peerId: { toString: () => 'x', toMultihash: () => ({ bytes: new Uint8Array(1) }) }, logger: { forComponent: () => Object.assign(() => {}, { trace: () => {}, error: () => {} }) } }
    expect(() => kadDHT({ kBucketSize: 0 })(components)).to.throw().with.property('name', 'InvalidParametersError')
    expect(() => kadDHT({ alpha: 1.5 })(components)).to.throw().with.property('name', 'InvalidParametersError')
    expect(() => kadDHT({ mode: 'lan' as any })(components)).to.throw().with.property('name', 'InvalidParametersError')
    expect(() => kadDHT({ addresses: 'lan' as any })(components)).to.throw().with.property('name', 'InvalidParametersError')
    expect(() => kadDHT({ stall: { factor: 0 } })(components)).to.throw().with.property('name', 'InvalidParametersError')
    expect(() => kadDHT({ stall: { min: -1 } })(components)).to.throw().with.property('name', 'InvalidParametersError')
  })

  it('serves libp2p peer routing: node.peerRouting reaches kadmium', async () => {
    const a = await track(kadmiumNode())
    const b = await track(kadmiumNode())
    const c = await track(kadmiumNode())
    await connect(a, b)
    await connect(b, c)
    await eventually(() => a.services.dht.stats().routingTableSize === 1, 5_000, 'a table')
    const found: string[] = []
    for await (const peer of a.peerRouting.getClosestPeers(c.peerId.toMultihash().bytes)) {
      found.push(peer.id.toString())
    }
    expect(found).to.include(c.peerId.toString())
    expect(a.services.dht.stats().outbound.FIND_NODE).to.be.at.least(2)
    await a.hangUp(c.peerId)
    await a.peerStore.delete(c.peerId)
    const info = await a.peerRouting.findPeer(c.peerId, { useCache: false })
    expect(info.multiaddrs.length).to.be.greaterThan(0)
  })

  it('emits the peers a lookup discovers', async () => {
    const a = await track(kadmiumNode())
    const b = await track(kadmiumNode())
    const c = await track(kadmiumNode())
    await connect(a, b)
    await connect(b, c)
    await eventually(() => b.services.dht.stats().routingTableSize === 2, 5_000, 'b table')
    const discovered: PeerInfo[] = []
    a.services.dht.addEventListener('peer', (event) => { discovered.push(event.detail) })
    await drain(a.services.dht.getClosestPeers(new Uint8Array([1, 2, 3])))
    expect(discovered.map(p => p.id.toString())).to.include(c.peerId.toString())
  })

  it('reports lookup progress through onProgress', async () => {
    const a = await track(kadmiumNode())
    const b = await track(kadmiumNode())
    await connect(a, b)
    await eventually(() => a.services.dht.stats().routingTableSize === 1, 5_000, 'a table')
    const types: string[] = []
    await drain(a.services.dht.getClosestPeers(new Uint8Array([4]), { onProgress: (e) => types.push(e.type) }))
    expect(types).to.deep.equal(['kadmium:lookup:ask', 'kadmium:lookup:answer'])
  })

  it('findPeer throws NotFoundError for a peer nobody knows', async () => {
    const a = await track(kadmiumNode())
    const b = await track(kadmiumNode())
    const stranger = await track(kadmiumNode())
    await connect(a, b)
    await eventually(() => a.services.dht.stats().routingTableSize === 1, 5_000, 'a table')
    await expect(a.services.dht.findPeer(stranger.peerId)).to.eventually.be.rejected.with.property('name', 'NotFoundError')
  })

  it('a provide from a node with no DHT peer says its lookup found none, and keeps the record locally', async () => {
    const alone = await track(kadmiumNode())
    const cid = await cidOf('alone')
    const err = await alone.services.dht.provide(cid).then(() => undefined, (err: Error) => err)
    expect(err).to.have.property('name', 'NotStoredError')
    expect(err?.message).to.include('the lookup found none')
    const providers: string[] = []
    for await (const provider of alone.services.dht.findProviders(cid)) {
      providers.push(provider.id.toString())
    }
    expect(providers).to.include(alone.peerId.toString())
  })

  it('in client mode, neither handles nor advertises the protocol, and still looks up', async () => {
    const server = await track(kadmiumNode())
    const client = await track(kadmiumNode({ mode: 'client' }))
    expect(client.services.dht.getMode()).to.equal('client')
    await connect(server, client)
    await connect(client, server)
    expect((await server.peerStore.get(client.peerId)).protocols).to.not.include(TEST_PROTOCOL)
    await expect(server.dialProtocol(client.peerId, TEST_PROTOCOL)).to.eventually.be.rejected()
    // the server never takes the client into its table; the client does take the server
    await eventually(() => client.services.dht.stats().routingTableSize === 1, 5_000, 'client table')
    expect(server.services.dht.stats().routingTableSize).to.equal(0)
    const found: string[] = []
    for await (const peer of client.services.dht.getClosestPeers(new Uint8Array([7]))) {
      found.push(peer.id.toString())
    }
    expect(found).to.deep.equal([server.peerId.toString()])
    expect(server.services.dht.stats().routingTableSize).to.equal(0)
  })

  it('never puts a @libp2p/kad-dht client into the table', async () => {
    const server = await track(kadmiumNode())
    const jsClient = await track(jsNode({ clientMode: true }))
    const jsServer = await track(jsNode())
    await connect(jsClient, server)
    await connect(jsServer, server)
    await eventually(() => server.services.dht.routingTable.has(jsServer.peerId.toString()), 5_000, 'js server in table')
    // the js client asks the kadmium server, which answers it without taking it in
    await drain(jsClient.services.dht.getClosestPeers(new Uint8Array([9])))
    expect(server.services.dht.stats().inbound.FIND_NODE).to.be.at.least(1)
    expect(server.services.dht.routingTable.has(jsClient.peerId.toString())).to.equal(false)
  })

  it('stop unregisters the protocol and aborts lookups under way; start brings it back', async () => {
    const a = await track(kadmiumNode())
    const b = await track(kadmiumNode())
    await connect(a, b)
    await eventually(() => a.services.dht.stats().routingTableSize === 1, 5_000, 'a table')
    await b.services.dht.stop()
    expect(b.getProtocols()).to.not.include(TEST_PROTOCOL)
    expect(b.services.dht.isStarted()).to.equal(false)
    // b now takes DHT streams and never answers: a's lookup can only end by timeout or by stop
    await b.handle(TEST_PROTOCOL, () => {})
    const started = Date.now()
    const pending = a.services.dht.findPeer(b.peerId, { useCache: false }).catch((err: Error) => err)
    await new Promise(resolve => setTimeout(resolve, 100))
    await a.services.dht.stop()
    const outcome = await pending
    expect(outcome).to.be.instanceOf(Error)
    expect((outcome as Error).message).to.equal('the DHT stopped')
    expect(Date.now() - started).to.be.below(3_000)
    await b.unhandle(TEST_PROTOCOL)
    await a.services.dht.start()
    await b.services.dht.start()
    expect(b.getProtocols()).to.include(TEST_PROTOCOL)
    expect(a.services.dht.isStarted()).to.equal(true)
  })
})
