import { expect } from 'aegir/chai'
import { components, connect, eventually, jsNode, kadmiumNode, stopAll, stoppedAfterEach, TEST_PROTOCOL } from '../utils/nodes.ts'
import { vKey, vValidator, vValue } from '../utils/records.ts'
import type { AnyNode, KadmiumNode } from '../utils/nodes.ts'
import type { StreamHandler } from '@libp2p/interface'

const jsValues = {
  validators: { v: async (key: Uint8Array, value: Uint8Array) => { vValidator.validate(key, value) } },
  selectors: { v: (key: Uint8Array, values: Uint8Array[]) => vValidator.select(key, values) }
}

async function all<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) {
    out.push(item)
  }
  return out
}

/** Counts the inbound DHT streams `node` serves from now on. */
async function countStreams (node: AnyNode): Promise<() => number> {
  let count = 0
  const registrar = components(node).registrar
  const { handler, options } = registrar.getHandler(TEST_PROTOCOL)
  const counted: StreamHandler = async (stream, connection) => {
    count++
    await handler(stream, connection)
  }
  await registrar.handle(TEST_PROTOCOL, counted, { ...options, force: true })
  return () => count
}

/**
 * A kadmium client whose only requests are the test's own: no refresh, no closest-servers
 * check, so every lookup asks its one server once.
 */
async function quietClient (): Promise<KadmiumNode> {
  return kadmiumNode({ mode: 'client', refresh: { enabled: false }, connections: { checkInterval: 0 }, validators: { v: vValidator } })
}

describe('interop: stream reuse against kadmium and @libp2p/kad-dht servers', function () {
  this.timeout(120_000)
  const track = stoppedAfterEach()

  for (const impl of ['kadmium', 'js'] as const) {
    it(`sends requests of every kind in sequence on one stream to a ${impl} server, and a new one once the server reset it`, async () => {
      const server: AnyNode = impl === 'kadmium'
        ? await track(kadmiumNode({ mode: 'server', validators: { v: vValidator } }))
        : await track(jsNode(jsValues))
      const client = await track(quietClient())
      await connect(client, server)
      await eventually(() => client.services.dht.routingTable.size === 1, 10_000, 'the server in the client\'s table')
      const streams = await countStreams(server)
      for (let i = 0; i < 3; i++) {
        const found = await all(client.services.dht.getClosestPeers(crypto.getRandomValues(new Uint8Array(32))))
        expect(found.map(p => p.id.toString())).to.deep.equal([server.peerId.toString()])
      }
      // a lookup (FIND_NODE), then PUT_VALUE, then GET_VALUE
      expect(await client.services.dht.put(vKey('reused'), vValue(1, impl))).to.equal(1)
      expect(await client.services.dht.get(vKey('reused'))).to.deep.equal(vValue(1, impl))
      expect(streams()).to.equal(1)
      expect(client.services.dht.stats().outbound).to.include({ FIND_NODE: 4, PUT_VALUE: 1, GET_VALUE: 1 })

      // the server resets the stream
      for (const connection of server.getConnections(client.peerId)) {
        for (const stream of connection.streams.filter(s => s.protocol === TEST_PROTOCOL)) {
          stream.abort(new Error('reset by the test'))
        }
      }
      const again = await all(client.services.dht.getClosestPeers(crypto.getRandomValues(new Uint8Array(32))))
      expect(again.map(p => p.id.toString())).to.deep.equal([server.peerId.toString()])
      expect(streams()).to.equal(2)
      expect(client.services.dht.stats().errors).to.deep.equal({})
    })
  }
})

describe('interop: a kadmium client stays findable by kadmium and @libp2p/kad-dht nodes', function () {
  this.timeout(120_000)
  let servers: KadmiumNode[] = []
  let finders: AnyNode[] = []
  let client: KadmiumNode | undefined

  before(async () => {
    servers = await Promise.all(Array.from({ length: 6 }, async () => kadmiumNode({ mode: 'server' })))
    for (let i = 1; i < servers.length; i++) {
      await connect(servers[i], servers[i - 1])
    }
    await eventually(() => servers.every(s => s.services.dht.routingTable.size >= 1), 10_000, 'server tables')
    finders = [await kadmiumNode({ mode: 'server' }), await jsNode()]
  })

  after(async () => {
    await stopAll([...servers, ...finders, client])
  })

  it('a client that joined through one server reconnects to its closest servers, and others find it through them', async () => {
    // no bucket refresh: the client's only lookup is the self-lookup of its closest-servers check
    client = await kadmiumNode({ mode: 'client', refresh: { enabled: false } })
    await connect(client, servers[0])
    // that lookup reaches every server (k = 20 > 6): all are its closest
    await eventually(() => servers.every(s => s.getConnections(client?.peerId).length > 0), 15_000, 'the client connected to every server')
    await eventually(async () => {
      const tags = await Promise.all(servers.map(async s => (await (client as KadmiumNode).peerStore.get(s.peerId)).tags))
      return tags.every(t => t.has('kadmium-close'))
    }, 5_000, 'the client\'s closest servers tagged')
    // every server drops the client: its keep-alive tags make libp2p dial them again
    await Promise.all(servers.map(async s => { await s.hangUp(client?.peerId as any) }))
    await eventually(() => servers.filter(s => s.getConnections(client?.peerId).length > 0).length >= 3, 30_000, 'the client reconnected')
    for (const finder of finders) {
      // a newcomer that knows one server only, far from the client's own
      await connect(finder, servers[servers.length - 1])
      await eventually(() => (finder.services.dht as any).routingTable.size > 0, 10_000, 'the server in the finder\'s table')
      const found = await finder.peerRouting.findPeer(client.peerId, { useCache: false, signal: AbortSignal.timeout(20_000) })
      expect(found.id.toString()).to.equal(client.peerId.toString())
      expect(found.multiaddrs.length).to.be.above(0)
    }
  })
})
