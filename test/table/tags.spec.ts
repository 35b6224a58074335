import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { CLOSE_TAG, TABLE_TAG } from '../../src/defaults.ts'
import { compareDistance, kadId } from '../../src/keys.ts'
import { dhtPeer } from '../../src/network/dht-peer.ts'
import { RoutingTable } from '../../src/table/routing-table.ts'
import { KEEP_ALIVE_TAG, PeerTags } from '../../src/table/tags.ts'
import type { DHTPeer } from '../../src/network/dht-peer.ts'
import type { PeerTagsInit } from '../../src/table/tags.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'

const log = Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {}, newScope: () => ({}) }) as any

/** A peer store that only keeps tags, as merge leaves them. */
function tagStore (): { peerStore: PeerStore, tags(id: PeerId): Record<string, number> } {
  const store = new Map<string, Record<string, number>>()
  const peerStore = {
    merge: async (peerId: PeerId, update: { tags: Record<string, { value: number } | undefined> }) => {
      const tags = store.get(peerId.toString()) ?? {}
      for (const [name, tag] of Object.entries(update.tags)) {
        if (tag == null) {
          delete tags[name]
        } else {
          tags[name] = tag.value
        }
      }
      store.set(peerId.toString(), tags)
    }
  } as unknown as PeerStore
  return { peerStore, tags: (id) => store.get(id.toString()) ?? {} }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('routing/tags', () => {
  let self: PeerId
  let others: PeerId[]
  before(async () => {
    self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const selfKey = kadId(self.toMultihash().bytes)
    others = await Promise.all(Array.from({ length: 4 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    // closest to us first
    others.sort((a, b) => compareDistance(kadId(a.toMultihash().bytes), kadId(b.toMultihash().bytes), selfKey))
  })

  function setup (overrides: Partial<PeerTagsInit> = {}): { table: RoutingTable<DHTPeer>, tags: PeerTags, store: ReturnType<typeof tagStore>, add(p: PeerId): void } {
    const store = tagStore()
    const localKey = kadId(self.toMultihash().bytes)
    const holder: { tags?: PeerTags } = {}
    const table = new RoutingTable<DHTPeer>({
      localKey,
      kBucketSize: 2,
      freshness: 0,
      maxFailures: 1,
      now: Date.now,
      onCheck: () => {},
      onAdd: (entry) => { holder.tags?.changed(entry.peer.peerId) },
      onRemove: (entry) => { holder.tags?.changed(entry.peer.peerId) }
    })
    const tags = new PeerTags({ peerStore: store.peerStore, table, selfKadId: localKey, kBucketSize: 2, tableTag: 5, closeTag: 50, keepAlive: true, delay: 5, log, ...overrides })
    holder.tags = tags
    tags.start()
    const add = (p: PeerId): void => { table.add(p.toString(), kadId(p.toMultihash().bytes), dhtPeer(p, [])) }
    return { table, tags, store, add }
  }

  it('tags every table peer, and the k closest as close and keep-alive; the tags follow the table', async () => {
    const { table, tags, store, add } = setup()
    try {
      add(others[3])
      add(others[1])
      add(others[2])
      await sleep(50)
      expect(store.tags(others[1])).to.deep.equal({ [TABLE_TAG]: 5, [CLOSE_TAG]: 50, [KEEP_ALIVE_TAG]: 1 })
      expect(store.tags(others[2])).to.deep.equal({ [TABLE_TAG]: 5, [CLOSE_TAG]: 50, [KEEP_ALIVE_TAG]: 1 })
      // with k = 2, the third is too far to be close (it may not even have a place)
      expect(store.tags(others[3])[CLOSE_TAG]).to.equal(undefined)
      // a closer peer arrives: the farthest close peer is close no more
      add(others[0])
      await sleep(50)
      expect(store.tags(others[0])).to.deep.equal({ [TABLE_TAG]: 5, [CLOSE_TAG]: 50, [KEEP_ALIVE_TAG]: 1 })
      expect(store.tags(others[2])[CLOSE_TAG]).to.equal(undefined)
      expect(store.tags(others[2])[KEEP_ALIVE_TAG]).to.equal(undefined)
      // a peer that leaves the table loses every tag
      table.remove(others[0].toString())
      await sleep(50)
      expect(store.tags(others[0])).to.deep.equal({})
      expect(store.tags(others[2])[CLOSE_TAG]).to.equal(table.has(others[2].toString()) ? 50 : undefined)
    } finally {
      await tags.stop()
    }
  })

  it('leaves a tag whose value is 0 off, and keep-alive when turned off', async () => {
    const { tags, store, add } = setup({ tableTag: 0, keepAlive: false })
    try {
      add(others[0])
      await sleep(50)
      expect(store.tags(others[0])).to.deep.equal({ [CLOSE_TAG]: 50 })
    } finally {
      await tags.stop()
    }
  })
})
