import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { BaseDatastore, MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { base32 } from 'multiformats/bases/base32'
import { MAX_PROVIDER_KEY_BYTES, PROVIDER_RECORD_TTL } from '../../src/constants.ts'
import { MAX_PROVIDERS_PER_KEY } from '../../src/defaults.ts'
import { ProviderStore } from '../../src/providers/provider-store.ts'
import type { ProviderStoreInit, ProviderStoreStats } from '../../src/providers/provider-store.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Datastore, Pair, Query } from 'interface-datastore'

const TTL = PROVIDER_RECORD_TTL
const START = 1_700_000_000_000

interface Clock { now: number }

function makeStore (datastore: Datastore, clock: Clock, init: Partial<ProviderStoreInit> = {}): ProviderStore {
  return new ProviderStore({ datastore, now: () => clock.now, ...init })
}

async function makePeers (n: number): Promise<PeerId[]> {
  return Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
}

function contentKey (i: number): Uint8Array {
  const key = new Uint8Array(32)
  new DataView(key.buffer).setUint32(0, i)
  key[31] = 0xaa
  return key
}

function ids (peers: PeerId[]): string[] {
  return peers.map(p => p.toString())
}

/**
 * A MemoryDatastore whose operations each take a random 0–2 ms before and after they reach the
 * data, as a disk store's would: what a read returns may be older than a write that finished.
 */
class SlowDatastore extends BaseDatastore {
  readonly inner = new MemoryDatastore()
  /** Queries made so far. */
  queries = 0
  /** Gets made so far. */
  gets = 0
  private readonly maxPause: number
  private held?: Promise<void>

  constructor (maxPause = 2) {
    super()
    this.maxPause = maxPause
  }

  /** The next get reads the data, then waits until the returned function is called. */
  holdNextGet (): () => void {
    let release!: () => void
    this.held = new Promise(resolve => { release = resolve })
    return release
  }

  private async pause (): Promise<void> {
    const ms = Math.floor(Math.random() * (this.maxPause + 1))
    if (ms > 0) {
      await new Promise(resolve => setTimeout(resolve, ms))
    }
  }

  async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    await this.pause()
    this.inner.put(key, value, options)
    await this.pause()
    return key
  }

  async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    this.gets++
    await this.pause()
    const value = this.inner.get(key, options)
    const held = this.held
    this.held = undefined
    await held
    await this.pause()
    return value
  }

  async has (key: Key, options?: AbortOptions): Promise<boolean> {
    await this.pause()
    return this.inner.has(key, options)
  }

  async delete (key: Key, options?: AbortOptions): Promise<void> {
    await this.pause()
    this.inner.delete(key, options)
    await this.pause()
  }

  async * _all (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    this.queries++
    for (const pair of this.inner.query({}, options) as Generator<Pair>) {
      yield pair
      await this.pause()
    }
  }
}

/** What a store over `datastore` counts from scratch. */
async function recount (datastore: Datastore): Promise<ProviderStoreStats> {
  return new ProviderStore({ datastore }).load()
}

describe('providers/provider-store', () => {
  let peers: PeerId[]

  before(async () => {
    peers = await makePeers(1_000)
  })

  it('adds, serves and refreshes providers, first received first', async () => {
    const clock = { now: START }
    const store = makeStore(new MemoryDatastore(), clock)
    const key = contentKey(1)
    expect(await store.get(key)).to.deep.equal([])
    expect(await store.add(key, peers[0])).to.equal('added')
    expect(await store.add(key, peers[1])).to.equal('added')
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0], peers[1]]))
    expect(await store.get(contentKey(2))).to.deep.equal([])

    // a refresh extends the record's life from the moment of the refresh
    clock.now = START + TTL - 10
    expect(await store.add(key, peers[0])).to.equal('refreshed')
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0], peers[1]]))
    expect(store.stats()).to.deep.equal({ keys: 1, records: 2 })
    clock.now = START + TTL
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0]]))
    clock.now = START + 2 * TTL - 11
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0]]))
    clock.now = START + 2 * TTL - 10
    expect(await store.get(key)).to.deep.equal([])
  })

  ;[0, 16].forEach(cacheSize => {
    it(`serves a record until t + ttl - 1 and never from t + ttl (cacheSize ${cacheSize})`, async () => {
      const clock = { now: START }
      const store = makeStore(new MemoryDatastore(), clock, { cacheSize })
      const key = contentKey(1)
      await store.add(key, peers[0])
      expect(ids(await store.get(key))).to.deep.equal(ids([peers[0]]))
      clock.now = START + TTL - 1
      expect(ids(await store.get(key))).to.deep.equal(ids([peers[0]]))
      clock.now = START + TTL
      expect(await store.get(key)).to.deep.equal([])
      // not swept yet: still stored, still not served
      expect(store.stats()).to.deep.equal({ keys: 1, records: 1 })
      clock.now = START + TTL + 1
      expect(await store.get(key)).to.deep.equal([])
    })
  })

  it('honours a custom ttl at its exact boundary', async () => {
    const clock = { now: 5_000 }
    const store = makeStore(new MemoryDatastore(), clock, { ttl: 1_000 })
    await store.add(contentKey(1), peers[0])
    clock.now = 5_999
    expect(await store.get(contentKey(1))).to.have.length(1)
    clock.now = 6_000
    expect(await store.get(contentKey(1))).to.have.length(0)
  })

  it('stores one entry per key under prefix/base32(key), and sweep deletes expired records and empty keys', async () => {
    const clock = { now: START }
    const datastore = new MemoryDatastore()
    const store = makeStore(datastore, clock)
    const [k1, k2, k3] = [contentKey(1), contentKey(2), contentKey(3)]
    await store.add(k1, peers[0])
    await store.add(k2, peers[1])
    clock.now = START + 100
    await store.add(k1, peers[2])
    await store.add(k3, peers[3])
    const entryOf = (key: Uint8Array): Key => new Key(`/kadmium/providers/${base32.baseEncode(key)}`)
    expect(datastore.has(entryOf(k1))).to.equal(true)
    expect(datastore.has(entryOf(k2))).to.equal(true)
    expect(store.stats()).to.deep.equal({ keys: 3, records: 4 })

    clock.now = START + TTL - 1
    expect(await store.sweep()).to.equal(0)
    expect(store.stats()).to.deep.equal({ keys: 3, records: 4 })

    clock.now = START + TTL
    expect(await store.sweep()).to.equal(2)
    expect(store.stats()).to.deep.equal({ keys: 2, records: 2 })
    expect(datastore.has(entryOf(k2))).to.equal(false)
    expect(ids(await store.get(k1))).to.deep.equal(ids([peers[2]]))
    expect(ids(await store.get(k3))).to.deep.equal(ids([peers[3]]))
    expect(await store.sweep()).to.equal(0)

    clock.now = START + 100 + TTL
    expect(await store.sweep()).to.equal(2)
    expect(store.stats()).to.deep.equal({ keys: 0, records: 0 })
    let left = 0
    for await (const _ of datastore.queryKeys({})) { // eslint-disable-line @typescript-eslint/no-unused-vars
      left++
    }
    expect(left).to.equal(0)
  })

  it('keeps to its prefix', async () => {
    const clock = { now: START }
    const datastore = new MemoryDatastore()
    await datastore.put(new Key('/other/thing'), Uint8Array.of(1, 2, 3))
    const store = makeStore(datastore, clock, { prefix: '/test/prov' })
    await store.add(contentKey(1), peers[0])
    expect(datastore.has(new Key(`/test/prov/${base32.baseEncode(contentKey(1))}`))).to.equal(true)
    clock.now = START + TTL
    expect(await store.sweep()).to.equal(1)
    expect(datastore.has(new Key('/other/thing'))).to.equal(true)
    expect(() => makeStore(datastore, clock, { prefix: 'no-slash' })).to.throw().with.property('name', 'InvalidParametersError')
  })

  it('keeps the first maxProvidersPerKey of a flood, lets them refresh, and admits newcomers once they expire', async () => {
    const clock = { now: START }
    const store = makeStore(new MemoryDatastore(), clock)
    const key = contentKey(7)
    const results = []
    for (const peer of peers) {
      results.push(await store.add(key, peer))
    }
    expect(results.filter(r => r === 'added')).to.have.length(MAX_PROVIDERS_PER_KEY)
    expect(results.slice(0, MAX_PROVIDERS_PER_KEY).every(r => r === 'added')).to.equal(true)
    expect(ids(await store.get(key))).to.deep.equal(ids(peers.slice(0, MAX_PROVIDERS_PER_KEY)))
    expect(store.stats()).to.deep.equal({ keys: 1, records: MAX_PROVIDERS_PER_KEY })

    // an established provider republishes; the flood is still turned away
    clock.now = START + TTL / 2
    expect(await store.add(key, peers[0])).to.equal('refreshed')
    expect(await store.add(key, peers[500])).to.equal('refused')

    // the others expire: their slots free up, the republished one stays
    clock.now = START + TTL
    expect(await store.add(key, peers[500])).to.equal('added')
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0], peers[500]]))
    expect(store.stats()).to.deep.equal({ keys: 1, records: 2 })
  })

  it('refuses providers for new keys at maxKeys, and takes them again once keys expire or are removed', async () => {
    const clock = { now: START }
    const store = makeStore(new MemoryDatastore(), clock, { maxKeys: 3 })
    for (let i = 0; i < 3; i++) {
      expect(await store.add(contentKey(i), peers[i])).to.equal('added')
    }
    expect(await store.add(contentKey(3), peers[3])).to.equal('refused')
    expect(await store.get(contentKey(3))).to.deep.equal([])
    // existing keys still take new providers
    expect(await store.add(contentKey(0), peers[4])).to.equal('added')
    expect(store.stats()).to.deep.equal({ keys: 3, records: 4 })

    expect(await store.remove(contentKey(1), peers[1])).to.equal(true)
    expect(store.stats()).to.deep.equal({ keys: 2, records: 3 })
    expect(await store.add(contentKey(3), peers[3])).to.equal('added')
    expect(await store.add(contentKey(4), peers[4])).to.equal('refused')

    clock.now = START + TTL
    expect(await store.add(contentKey(4), peers[4])).to.equal('added')
    expect(store.stats()).to.deep.equal({ keys: 1, records: 1 })
    expect(ids(await store.get(contentKey(4)))).to.deep.equal(ids([peers[4]]))
  })

  it('at maxKeys, sweeps only when a key may have expired, at most once per minSweepGap', async () => {
    const clock = { now: START }
    const datastore = new SlowDatastore(0)
    const store = makeStore(datastore, clock, { maxKeys: 3, minSweepGap: 1_000 })
    await store.add(contentKey(0), peers[0])
    clock.now = START + 5_000
    await store.add(contentKey(1), peers[1])
    clock.now = START + 5_500
    await store.add(contentKey(2), peers[2])
    const loads = datastore.queries

    clock.now = START + TTL // key 0 has expired
    expect(await store.add(contentKey(3), peers[3])).to.equal('added')
    expect(datastore.queries).to.equal(loads + 1)

    clock.now = START + TTL + 2_000 // nothing has expired: refused without reading the datastore
    expect(await store.add(contentKey(4), peers[4])).to.equal('refused')
    expect(datastore.queries).to.equal(loads + 1)

    clock.now = START + TTL + 5_000 // key 1 has expired
    expect(await store.add(contentKey(4), peers[4])).to.equal('added')
    expect(datastore.queries).to.equal(loads + 2)

    clock.now = START + TTL + 5_600 // key 2 has expired, but the last sweep is too recent
    expect(await store.get(contentKey(2))).to.deep.equal([])
    expect(await store.add(contentKey(5), peers[5])).to.equal('refused')
    expect(datastore.queries).to.equal(loads + 2)

    clock.now = START + TTL + 6_000
    expect(await store.add(contentKey(5), peers[5])).to.equal('added')
    expect(datastore.queries).to.equal(loads + 3)
    expect(store.stats()).to.deep.equal({ keys: 3, records: 3 })
  })

  it('refuses empty keys and keys over MAX_PROVIDER_KEY_BYTES', async () => {
    const store = makeStore(new MemoryDatastore(), { now: START })
    expect(await store.add(new Uint8Array(0), peers[0])).to.equal('refused')
    expect(await store.add(new Uint8Array(MAX_PROVIDER_KEY_BYTES + 1), peers[0])).to.equal('refused')
    expect(await store.add(new Uint8Array(MAX_PROVIDER_KEY_BYTES), peers[0])).to.equal('added')
    expect(ids(await store.get(new Uint8Array(MAX_PROVIDER_KEY_BYTES)))).to.deep.equal(ids([peers[0]]))
    expect(store.stats()).to.deep.equal({ keys: 1, records: 1 })
  })

  it('removes one provider of a key, and the key with its last one', async () => {
    const store = makeStore(new MemoryDatastore(), { now: START })
    const key = contentKey(1)
    await store.add(key, peers[0])
    await store.add(key, peers[1])
    expect(await store.remove(key, peers[2])).to.equal(false)
    expect(await store.remove(contentKey(9), peers[0])).to.equal(false)
    expect(await store.remove(key, peers[0])).to.equal(true)
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[1]]))
    expect(await store.remove(key, peers[1])).to.equal(true)
    expect(await store.get(key)).to.deep.equal([])
    expect(store.stats()).to.deep.equal({ keys: 0, records: 0 })
  })

  it('keeps its cache coherent through add, remove and sweep', async () => {
    const clock = { now: START }
    const store = makeStore(new MemoryDatastore(), clock, { cacheSize: 4 })
    const key = contentKey(1)
    await store.add(key, peers[0])
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0]])) // now cached
    clock.now = START + 10
    await store.add(key, peers[1])
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0], peers[1]]))
    await store.remove(key, peers[0])
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[1]]))
    await store.add(key, peers[2])
    clock.now = START + 10 + TTL
    await store.sweep()
    expect(await store.get(key)).to.deep.equal([])
    await store.add(key, peers[3])
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[3]]))
  })

  it('serves the most recently read keys from memory', async () => {
    const datastore = new SlowDatastore(0)
    const store = makeStore(datastore, { now: START }, { cacheSize: 2 })
    for (let i = 0; i < 3; i++) {
      await store.add(contentKey(i), peers[i])
    }
    const reads = async (i: number): Promise<number> => {
      const before = datastore.gets
      expect(ids(await store.get(contentKey(i)))).to.deep.equal(ids([peers[i]]))
      return datastore.gets - before
    }
    expect(await reads(0)).to.equal(1)
    expect(await reads(1)).to.equal(1)
    expect(await reads(0)).to.equal(0)
    expect(await reads(2)).to.equal(1) // evicts 1, the least recently used, not 0
    expect(await reads(0)).to.equal(0)
    expect(await reads(1)).to.equal(1)
  })

  it('serves the right lists after a workload that evicts its cache', async () => {
    const clock = { now: START }
    const datastore = new MemoryDatastore()
    const store = makeStore(datastore, clock, { cacheSize: 4 })
    const keys = 50
    const expected = new Map<number, string[]>()
    for (let i = 0; i < keys; i++) {
      await store.add(contentKey(i), peers[i])
      expected.set(i, [peers[i].toString()])
    }
    for (let round = 0; round < 3; round++) {
      for (let j = 0; j < keys; j++) {
        const i = (j * 7 + round * 13) % keys
        expect(ids(await store.get(contentKey(i)))).to.deep.equal(expected.get(i))
        // change some keys, cached or not
        if ((i + round) % 5 === 0) {
          const extra = peers[100 + round * keys + i]
          await store.add(contentKey(i), extra)
          expected.get(i)?.push(extra.toString())
        }
        if ((i + round) % 11 === 0) {
          const gone = peers[i]
          await store.remove(contentKey(i), gone)
          expected.set(i, expected.get(i)?.filter(id => id !== gone.toString()) ?? [])
        }
      }
    }
    // the datastore agrees, read by a store with no cache
    const fresh = makeStore(datastore, clock, { cacheSize: 0 })
    for (let i = 0; i < keys; i++) {
      expect(ids(await store.get(contentKey(i)))).to.deep.equal(expected.get(i))
      expect(ids(await fresh.get(contentKey(i)))).to.deep.equal(expected.get(i))
    }
  })

  it('does not cache a list read before a concurrent add finished', async () => {
    const datastore = new SlowDatastore(0)
    const store = makeStore(datastore, { now: START })
    const key = contentKey(1)
    await store.add(key, peers[0])
    // a get reads [0] from the datastore, and is slow to return it
    const release = datastore.holdNextGet()
    const reading = store.get(key)
    await new Promise(resolve => setTimeout(resolve, 5))
    const adding = store.add(key, peers[1])
    await Promise.race([adding, new Promise(resolve => setTimeout(resolve, 20))])
    release()
    expect(ids(await reading)).to.deep.equal(ids([peers[0]]))
    expect(await adding).to.equal('added')
    expect(ids(await store.get(key))).to.deep.equal(ids([peers[0], peers[1]]))
  })

  it('serves every add that raced gets, over a slow datastore', async () => {
    const store = makeStore(new SlowDatastore(), { now: START })
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const key = contentKey(i)
      await store.add(key, peers[0])
      await Promise.all([store.get(key), store.add(key, peers[1]), store.get(key)])
      expect(ids(await store.get(key))).to.deep.equal(ids([peers[0], peers[1]]))
    }))
  })

  it('loses no add that races a sweep of the same key', async () => {
    const clock = { now: START }
    const datastore = new SlowDatastore()
    const store = makeStore(datastore, clock)
    const keys = Array.from({ length: 20 }, (_, i) => contentKey(i))
    for (const key of keys) {
      await store.add(key, peers[0])
    }
    clock.now = START + TTL
    const [deleted] = await Promise.all([
      store.sweep(),
      ...keys.map(async key => store.add(key, peers[1]))
    ])
    for (const key of keys) {
      expect(ids(await store.get(key))).to.deep.equal(ids([peers[1]]))
    }
    expect(deleted).to.be.at.most(20)
    expect(store.stats()).to.deep.equal({ keys: 20, records: 20 })
    expect(await recount(datastore)).to.deep.equal({ keys: 20, records: 20 })
  })

  it('loses no update when adds to one key run concurrently', async () => {
    const datastore = new SlowDatastore()
    const store = makeStore(datastore, { now: START })
    const key = contentKey(1)
    const results = await Promise.all(peers.slice(0, 30).map(async peer => store.add(key, peer)))
    expect(results.every(r => r === 'added')).to.equal(true)
    expect(ids(await store.get(key)).sort()).to.deep.equal(ids(peers.slice(0, 30)).sort())
    expect(store.stats()).to.deep.equal({ keys: 1, records: 30 })
    expect(await recount(datastore)).to.deep.equal({ keys: 1, records: 30 })
  })

  it('holds maxKeys when adds of new keys run concurrently', async () => {
    const datastore = new SlowDatastore()
    const store = makeStore(datastore, { now: START }, { maxKeys: 5 })
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => store.add(contentKey(i), peers[i])))
    expect(results.filter(r => r === 'added')).to.have.length(5)
    expect(store.stats()).to.deep.equal({ keys: 5, records: 5 })
    expect(await recount(datastore)).to.deep.equal({ keys: 5, records: 5 })
    expect(await store.add(contentKey(99), peers[99])).to.equal('refused')
  })

  it('stops at an aborted signal, and works again afterwards', async () => {
    const clock = { now: START }
    const store = makeStore(new MemoryDatastore(), clock)
    await store.add(contentKey(1), peers[0])
    const signal = AbortSignal.abort()
    await expect(store.add(contentKey(1), peers[1], { signal })).to.eventually.be.rejected.with.property('name', 'AbortError')
    await expect(store.remove(contentKey(1), peers[0], { signal })).to.eventually.be.rejected.with.property('name', 'AbortError')
    clock.now = START + TTL
    await expect(store.sweep({ signal })).to.eventually.be.rejected.with.property('name', 'AbortError')
    expect(store.stats()).to.deep.equal({ keys: 1, records: 1 })
    expect(await store.sweep()).to.equal(1)
    expect(store.stats()).to.deep.equal({ keys: 0, records: 0 })
  })

  it('counts what a reused datastore holds after a restart, and keeps its bounds', async () => {
    const clock = { now: START }
    const datastore = new MemoryDatastore()
    const before = makeStore(datastore, clock)
    for (let i = 0; i < 3; i++) {
      await before.add(contentKey(i), peers[i])
      await before.add(contentKey(i), peers[10 + i])
    }
    await before.remove(contentKey(0), peers[0])

    const after = makeStore(datastore, clock, { maxKeys: 3 })
    expect(after.stats()).to.deep.equal({ keys: 0, records: 0 })
    await after.start()
    expect(after.stats()).to.deep.equal({ keys: 3, records: 5 })
    expect(await after.add(contentKey(3), peers[3])).to.equal('refused')
    expect(ids(await after.get(contentKey(1)))).to.deep.equal(ids([peers[1], peers[11]]))

    // load runs once, and a store used without start() loads first
    expect(await after.load()).to.deep.equal({ keys: 3, records: 5 })
    const unstarted = makeStore(datastore, clock)
    await unstarted.get(contentKey(0))
    expect(unstarted.stats()).to.deep.equal({ keys: 3, records: 5 })
    await after.stop()
  })

  it('survives a restart over a LevelDatastore on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kadmium-providers-'))
    const clock = { now: START }
    try {
      const first = new LevelDatastore(join(dir, 'db'))
      await first.open()
      const store = makeStore(first, clock)
      await store.start()
      await store.add(contentKey(1), peers[0])
      await store.add(contentKey(1), peers[1])
      clock.now = START + 1_000
      await store.add(contentKey(2), peers[2])
      await Promise.all(peers.slice(3, 13).map(async peer => store.add(contentKey(3), peer)))
      expect(store.stats()).to.deep.equal({ keys: 3, records: 13 })
      await store.stop()
      await first.close()

      const second = new LevelDatastore(join(dir, 'db'))
      await second.open()
      const restarted = makeStore(second, clock)
      try {
        await restarted.start()
        expect(restarted.stats()).to.deep.equal({ keys: 3, records: 13 })
        expect(ids(await restarted.get(contentKey(1)))).to.deep.equal(ids([peers[0], peers[1]]))
        expect(ids(await restarted.get(contentKey(3))).sort()).to.deep.equal(ids(peers.slice(3, 13)).sort())
        // the times came back too: key 1 expires first
        clock.now = START + TTL
        expect(await restarted.get(contentKey(1))).to.deep.equal([])
        expect(ids(await restarted.get(contentKey(2)))).to.deep.equal(ids([peers[2]]))
        expect(await restarted.sweep()).to.equal(2)
        expect(restarted.stats()).to.deep.equal({ keys: 2, records: 11 })
      } finally {
        await restarted.stop()
        await second.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
