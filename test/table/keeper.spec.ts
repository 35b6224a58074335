import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { TypedEventEmitter } from 'main-event'
import { Channel } from '../../src/events.ts'
import { compareDistance, kadId } from '../../src/keys.ts'
import { dhtPeer } from '../../src/network/dht-peer.ts'
import { TableKeeper } from '../../src/table/keeper.ts'
import type { NodeEvents } from '../../src/events.ts'
import type { Client } from '../../src/network/client.ts'
import type { DHTPeer } from '../../src/network/dht-peer.ts'
import type { Libp2pEvents, PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

const MINUTE = 60_000
const log = Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {}, newScope: () => ({}) }) as any

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Two peers of `self`'s bucket 0, the first closer to `self` than the second. */
async function bucketZeroPair (self: PeerId): Promise<[DHTPeer, DHTPeer]> {
  const selfKey = kadId(self.toMultihash().bytes)
  const found: DHTPeer[] = []
  while (found.length < 2) {
    const peer = dhtPeer(await newPeerId(), [])
    if (((peer.key[0] ^ selfKey[0]) & 0x80) !== 0) {
      found.push(peer)
    }
  }
  found.sort((a, b) => compareDistance(a.key, b.key, selfKey))
  return [found[0], found[1]]
}

describe('table/keeper', () => {
  it('stop() cuts a liveness check short without taking it for the checked peer\'s death', async () => {
    const self = await newPeerId()
    const [old, newcomer] = await bucketZeroPair(self)
    // a peer that never answers: the check ends only when something aborts it
    const client = {
      request: async (_peer: unknown, _message: unknown, options: { signal: AbortSignal }) => new Promise((_resolve, reject) => {
        options.signal.addEventListener('abort', () => { reject(options.signal.reason) }, { once: true })
      })
    } as unknown as Client
    const keeper = new TableKeeper({
      self,
      events: new TypedEventEmitter<Libp2pEvents>(),
      peerStore: { merge: async () => {} } as unknown as PeerStore,
      connectionManager: { getConnections: () => [] } as unknown as ConnectionManager,
      protocol: '/test/kad/1.0.0',
      addresses: 'all',
      kBucketSize: 1,
      client,
      log,
      tags: { tableTag: 0, closeTag: 0, keepAlive: false, delay: 100 },
      freshness: 5 * MINUTE,
      maxFailures: 2,
      pingTimeout: 5_000,
      channel: new Channel<NodeEvents>(() => {})
    })
    await keeper.start()
    keeper.table.add(old.id, old.key, old)
    const entry = keeper.table.get(old.id)
    if (entry == null) {
      throw new Error('the first peer did not enter the table')
    }
    // not seen lately: a newcomer to its full bucket makes the keeper check it
    entry.lastSeen -= 10 * MINUTE
    expect(keeper.table.add(newcomer.id, newcomer.key, newcomer)).to.equal('pending')
    await keeper.stop()
    expect(keeper.table.has(old.id)).to.equal(true)
    expect(keeper.table.has(newcomer.id)).to.equal(false)
  })
})
