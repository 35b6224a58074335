import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { connect, eventually, kadmiumNode, stoppedAfterEach, trueClosest } from '../utils/nodes.ts'
import { cidOf } from '../utils/records.ts'
import type { KadmiumNode } from '../utils/nodes.ts'

describe('findProviders after the closest peers changed', function () {
  this.timeout(60_000)
  const track = stoppedAfterEach()

  it('finds a provider whose records are on peers farther than the closest, which joined after the provide (the soak\'s nodes replaced)', async () => {
    const cid = await cidOf('joined after the provide')
    // eight peers: the three closest to the key join after the provide, as the asker does
    const keys = await Promise.all(Array.from({ length: 8 }, async () => generateKeyPair('Ed25519')))
    const ids = keys.map(key => peerIdFromPrivateKey(key))
    const closest = new Set(trueClosest(ids, cid.multihash.bytes, 3))
    const late = keys.filter((_, i) => closest.has(ids[i].toString()))
    const early = keys.filter((_, i) => !closest.has(ids[i].toString()))
    // one request at a time: the closest known peer is asked first, and answers in that order
    const make = async (privateKey: (typeof keys)[number]): Promise<KadmiumNode> => track(kadmiumNode({ alpha: 1 }, { privateKey }))
    const holders = await Promise.all(early.map(make))
    for (const [i, a] of holders.entries()) {
      for (const b of holders.slice(i + 1)) {
        await connect(a, b)
      }
    }
    await eventually(() => holders.every(n => n.services.dht.stats().routingTableSize === holders.length - 1), 10_000, 'the holders\' tables')
    const provider = holders[0]
    expect(await provider.services.dht.provide(cid)).to.equal(holders.length - 1)
    // the three closest join, and an asker that knows every peer
    const newcomers = await Promise.all(late.map(make))
    const asker = await track(kadmiumNode({ alpha: 1 }))
    for (const node of [...newcomers, ...holders]) {
      await connect(asker, node)
    }
    await eventually(() => asker.services.dht.stats().routingTableSize === keys.length, 10_000, 'the asker\'s table')
    const found: string[] = []
    for await (const peer of asker.services.dht.findProviders(cid, { count: 1 })) {
      found.push(peer.id.toString())
    }
    expect(found).to.deep.equal([provider.peerId.toString()])
  })
})
