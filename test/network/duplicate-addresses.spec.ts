/**
 * A server whose answers list every address twice (as some `@libp2p/kad-dht` answers do): what
 * kadmium hands on, providers, closest peers and a found peer, carries each address once.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { TEST_PROTOCOL, connect, eventually, kadmiumNode, plainNode, stopAll } from '../utils/nodes.ts'
import type { WirePeer } from '../../src/wire/codec.ts'
import type { KadmiumNode } from '../utils/nodes.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Its addresses, each listed twice, in the order a doubled answer has them: [a, a, b, b]. */
function twice (list: Multiaddr[]): Multiaddr[] {
  return list.flatMap(ma => [ma, ma])
}

/**
 * Makes `node` a DHT server that answers every FIND_NODE and GET_PROVIDERS with `closer` as
 * closer peers and `providers` as providers, as given (repeated addresses and all).
 */
async function answerWith (node: Libp2p, closer: () => WirePeer[], providers: WirePeer[]): Promise<void> {
  await node.handle(TEST_PROTOCOL, async (stream) => {
    for await (const bytes of lp.decode(stream)) {
      const request = decodeMessage(bytes)
      stream.send(lp.encode.single(encodeMessage({
        type: request.type,
        key: request.key,
        closer: request.type === MessageType.PING ? [] : closer(),
        providers: request.type === MessageType.GET_PROVIDERS ? providers : []
      })))
    }
    await stream.close()
  })
}

describe('network: repeated addresses from the wire', function () {
  this.timeout(30_000)
  let client: KadmiumNode
  let doubler: Libp2p
  let other: Libp2p
  let provider: Libp2p
  let cid: CID

  before(async () => {
    doubler = await plainNode()
    other = await plainNode()
    provider = await plainNode()
    cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('repeated addresses')))
    // both servers name the other server with its addresses twice; the doubler also lists a
    // provider whose two addresses come twice each
    const fakeAddresses = ['/ip4/127.0.0.1/tcp/1234', '/ip4/127.0.0.1/tcp/1235/ws']
    await answerWith(doubler, () => [{ id: other.peerId, multiaddrs: twice(other.getMultiaddrs()) }],
      [{ id: provider.peerId, multiaddrs: twice(fakeAddresses.map(a => multiaddr(a))) }])
    await answerWith(other, () => [{ id: doubler.peerId, multiaddrs: twice(doubler.getMultiaddrs()) }], [])
    client = await kadmiumNode({ mode: 'client' })
    await connect(client, doubler)
    await eventually(() => client.services.dht.stats().routingTableSize === 1, 5_000, 'the doubler in the table')
  })

  after(async () => {
    await stopAll([client, doubler, other, provider])
  })

  it('findProviders gives a provider\'s addresses once each', async () => {
    const found = []
    for await (const p of client.services.dht.findProviders(cid, { count: 1 })) {
      found.push(p)
    }
    expect(found.map(p => p.id.toString())).to.deep.equal([provider.peerId.toString()])
    expect(found[0].multiaddrs.map(String)).to.deep.equal(['/ip4/127.0.0.1/tcp/1234', '/ip4/127.0.0.1/tcp/1235/ws'])
  })

  it('findPeer gives the peer\'s addresses once each', async () => {
    const found = await client.services.dht.findPeer(other.peerId)
    expect(found.multiaddrs.map(String)).to.deep.equal(other.getMultiaddrs().map(String))
  })

  it('getClosestPeers gives each peer\'s addresses once each', async () => {
    const closest = []
    for await (const peer of client.services.dht.getClosestPeers(new TextEncoder().encode('anything'))) {
      closest.push(peer)
    }
    const byId = new Map(closest.map(p => [p.id.toString(), p.multiaddrs.map(String)]))
    expect([...byId.keys()].sort()).to.deep.equal([doubler.peerId.toString(), other.peerId.toString()].sort())
    // the other server is known only from the doubled answer
    expect(byId.get(other.peerId.toString())).to.deep.equal(other.getMultiaddrs().map(String))
  })
})
