/**
 * `peerInfoMapper` on the compat entry, held against `@libp2p/kad-dht` given the same mapper in
 * the same network: a server reachable only on 127.0.0.1.
 */
import { removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { expect } from 'aegir/chai'
import { removePrivateAddressesMapper as compatRemovePrivate } from '../../src/compat/index.ts'
import { compatNode, connect, eventually, jsNode, stopAll } from '../utils/nodes.ts'
import type { AnyNode } from '../utils/nodes.ts'
import type { KadDHT as JsKadDHT, QueryEvent } from '@libp2p/kad-dht'

/** The peers getClosestPeers hands out (its FINAL_PEERs), as id and addresses. */
async function closest (dht: { getClosestPeers(key: Uint8Array, options?: { signal?: AbortSignal }): AsyncIterable<QueryEvent> }): Promise<Array<{ id: string, addresses: number }>> {
  const out: Array<{ id: string, addresses: number }> = []
  for await (const event of dht.getClosestPeers(new TextEncoder().encode('a key'), { signal: AbortSignal.timeout(20_000) })) {
    if (event.name === 'FINAL_PEER') {
      out.push({ id: event.peer.id.toString(), addresses: event.peer.multiaddrs.length })
    }
  }
  return out
}

describe('compat: peerInfoMapper as `@libp2p/kad-dht` applies it', function () {
  this.timeout(60_000)
  let nodes: AnyNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('getClosestPeers hands out no peer the mapper leaves without an address, and the others with the mapped addresses', async () => {
    const server = await jsNode()
    const js = { private: await jsNode({ peerInfoMapper: removePrivateAddressesMapper }), all: await jsNode() }
    const compat = { private: await compatNode({ peerInfoMapper: compatRemovePrivate }), all: await compatNode() }
    nodes = [server, js.private, js.all, compat.private, compat.all]
    for (const node of [js.private, js.all, compat.private, compat.all]) {
      await connect(node, server)
    }
    await eventually(() => (js.all.services.dht as unknown as { routingTable: { size: number } }).routingTable.size > 0, 10_000, 'the server in the table of @libp2p/kad-dht with passthroughMapper')
    await eventually(() => compat.all.services.dht.routingTable.size > 0, 10_000, 'the server in the compat table')
    const found = {
      js: { private: await closest(js.private.services.dht as JsKadDHT), all: await closest(js.all.services.dht as JsKadDHT) },
      compat: { private: await closest(compat.private.services.dht), all: await closest(compat.all.services.dht) }
    }
    // the only other server is reachable on 127.0.0.1 alone: removePrivateAddressesMapper hands out nobody
    expect(found.js.private).to.deep.equal([])
    expect(found.compat.private).to.deep.equal(found.js.private)
    // passthroughMapper hands out the server, with its address
    expect(found.js.all.map(p => p.id)).to.include(server.peerId.toString())
    expect(found.compat.all.map(p => p.id)).to.include(server.peerId.toString())
    expect(found.compat.all.every(p => p.addresses > 0)).to.equal(true)
  })
})
