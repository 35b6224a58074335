import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { connect, kadmiumNode, stopAll, trueClosest } from '../utils/nodes.ts'
import type { KadmiumNode } from '../utils/nodes.ts'

describe('providers: provideMany over regions of the keyspace', function () {
  this.timeout(180_000)
  const K = 4
  let nodes: KadmiumNode[] = []

  before(async () => {
    // k = 4 over 16 nodes: a region holds a handful of peers, so a batch has to explore. The
    // comparison is with a provide that runs its whole lookup: an optimistic one stops early
    // (fewer requests, records sent on confidence), which provideMany does not claim to beat
    // (fixed keys: how many peers a region holds depends on where the ids fall, and a failure
    // must replay; with random ids the batch took 0.15-0.35x the requests, once in ~15 runs 0.55x)
    nodes = await Promise.all(Array.from({ length: 16 }, async (_, i) => kadmiumNode({ kBucketSize: K, optimisticProvide: false }, {
      privateKey: await generateKeyPairFromSeed('Ed25519', Uint8Array.from({ length: 32 }, (_, j) => (i * 37 + j * 11 + 1) & 0xff))
    })))
    await Promise.all(nodes.map(async (node, i) => {
      await connect(node, nodes[(i + 1) % nodes.length])
      await connect(node, nodes[(i + 7) % nodes.length])
    }))
    for (const node of nodes) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
  })

  after(async () => {
    await stopAll(nodes)
  })

  it('sends each CID\'s record to exactly its true k closest peers, with under half the requests of a provide each', async () => {
    const cidsOf = async (label: string): Promise<CID[]> => Promise.all(Array.from({ length: 40 }, async (_, i) => CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`${label} ${i}`)))))
    const provider = nodes[5]
    // requests counted from the calls' own progress events: the node's background refresh stays out
    let asks = 0
    const countAsks = (event: { type: string }): void => { asks += event.type === 'kadmium:lookup:ask' ? 1 : 0 }
    // the cost of providing 40 CIDs one by one
    for (const cid of await cidsOf('each')) {
      await provider.services.dht.provide(cid, { onProgress: countAsks })
    }
    const each = asks
    asks = 0
    const cids = await cidsOf('batch')
    const before = provider.services.dht.stats().outbound
    // who was sent each key's record (several keys' records are on their way at once)
    const told = new Map<string, string[]>()
    const keyOf = (bytes: Uint8Array): string => uint8ArrayToString(bytes, 'base64')
    for await (const { error } of provider.services.dht.provideMany(cids, {
      onProgress: (event: any) => {
        countAsks(event)
        if (event.type === 'kadmium:provide:sent') {
          const key = keyOf(event.detail.key)
          told.set(key, [...(told.get(key) ?? []), event.detail.peer.toString()])
        }
      }
    })) {
      expect(error).to.equal(undefined)
    }
    const after = provider.services.dht.stats().outbound
    const ids = nodes.map(n => n.peerId)
    for (const cid of cids) {
      // the provider's own store holds it; the k closest others are the true k closest
      const want = trueClosest(ids, cid.multihash.bytes, K, provider.peerId)
      expect((told.get(keyOf(cid.multihash.bytes)) ?? []).sort(), `${cid} went to its ${K} closest`).to.deep.equal([...want].sort())
    }
    expect(asks).to.be.below(each / 2)
    expect((after.ADD_PROVIDER ?? 0) - (before.ADD_PROVIDER ?? 0)).to.equal(40 * K)
  })
})
