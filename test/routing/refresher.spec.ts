import { expect } from 'aegir/chai'
import { commonPrefixLength, kadId } from '../../src/kademlia/keys.ts'
import { RoutingTable } from '../../src/kademlia/routing-table.ts'
import { Refresher } from '../../src/routing/refresher.ts'
import type { KadId } from '../../src/kademlia/keys.ts'
import type { RefresherInit } from '../../src/routing/refresher.ts'
import type { AbortOptions } from '@libp2p/interface'

const MINUTE = 60_000

/** A key in bucket `index` of `self`. */
function keyInBucket (self: KadId, index: number, seed: number): KadId {
  const out = self.slice()
  out[index >> 3] ^= 0x80 >> (index & 7)
  out[31] ^= seed
  return out
}

interface Setup {
  refresher: Refresher<string>
  table: RoutingTable<string>
  clock: { now: number }
  /** The bucket of each key looked up (-1: our own id), in order. */
  lookups: number[]
  pinged: string[]
  dead: Set<string>
}

function setup (overrides: Partial<RefresherInit<string>> = {}): Setup {
  const selfKey = new TextEncoder().encode('self')
  const self = kadId(selfKey)
  const clock = { now: 10 * MINUTE }
  const table = new RoutingTable<string>({ localKey: self, kBucketSize: 20, freshness: 0, maxFailures: 1, now: () => clock.now, onCheck: () => {} })
  const lookups: number[] = []
  const pinged: string[] = []
  const dead = new Set<string>()
  const refresher = new Refresher<string>({
    table,
    selfKey,
    selfKadId: self,
    lookup: async (key: Uint8Array, options: AbortOptions) => {
      options.signal?.throwIfAborted()
      const target = kadId(key)
      table.markLookup(target)
      lookups.push(key === selfKey ? -1 : commonPrefixLength(target, self))
    },
    ping: async (entry) => {
      pinged.push(entry.id)
      return !dead.has(entry.id)
    },
    interval: 10 * MINUTE,
    queryTimeout: 5_000,
    maxBucket: 15,
    randomWalkInterval: 0,
    firstRefreshDelay: 10,
    now: () => clock.now,
    log: Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {}, newScope: () => ({}) }) as any,
    ...overrides
  })
  return { refresher, table, clock, lookups, pinged, dead }
}

describe('routing/refresher', () => {
  it('looks up a key in every bucket that saw no lookup within the interval, up to the deepest non-empty one, then our own id', async () => {
    const s = setup()
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('deep', keyInBucket(self, 4, 1), 'deep')
    // bucket 2 had a lookup a minute ago: it is fresh
    s.table.markLookup(keyInBucket(self, 2, 2))
    s.clock.now += MINUTE
    await s.refresher.refresh()
    expect(s.lookups).to.deep.equal([0, 1, 3, 4, -1])
  })

  it('never refreshes buckets past maxBucket with a key of their own: the self lookup covers them', async () => {
    const s = setup({ maxBucket: 2 })
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('deep', keyInBucket(self, 9, 1), 'deep')
    await s.refresher.refresh()
    expect(s.lookups).to.deep.equal([0, 1, 2, -1])
  })

  it('checks the peers not heard from within the interval: those that fail leave, those that answer are marked seen', async () => {
    const s = setup()
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('old-live', keyInBucket(self, 0, 1), 'old-live')
    s.table.add('old-dead', keyInBucket(self, 0, 2), 'old-dead')
    s.clock.now += 11 * MINUTE
    s.table.add('recent', keyInBucket(self, 0, 3), 'recent')
    s.dead.add('old-dead')
    await s.refresher.refresh()
    expect(s.pinged.sort()).to.deep.equal(['old-dead', 'old-live'])
    expect([s.table.has('old-live'), s.table.has('old-dead'), s.table.has('recent')]).to.deep.equal([true, false, true])
    expect(s.table.get('old-live')?.lastSeen).to.equal(s.clock.now)
  })

  it('a refresh asked for while one runs joins it instead of running twice', async () => {
    const s = setup()
    await Promise.all([s.refresher.refresh(), s.refresher.refresh()])
    expect(s.lookups.filter(b => b === -1)).to.have.length(1)
  })

  it('after the table gets its first peer, refreshes once the first-refresh delay has passed', async () => {
    const s = setup({ firstRefreshDelay: 20 })
    s.refresher.start()
    try {
      s.refresher.joined()
      expect(s.lookups).to.deep.equal([])
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(s.lookups).to.include(-1)
    } finally {
      await s.refresher.stop()
    }
  })

  it('runs the random walk at its interval, and nothing once stopped', async () => {
    const s = setup({ interval: 0, randomWalkInterval: 20 })
    s.refresher.start()
    await new Promise(resolve => setTimeout(resolve, 150))
    await s.refresher.stop()
    const walked = s.lookups.length
    // random keys of a 2^256 space: not our own id
    expect(walked).to.be.at.least(2)
    expect(s.lookups).to.not.include(-1)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(s.lookups).to.have.length(walked)
  })

  it('stop aborts a refresh under way, which asks nothing more', async () => {
    let started!: () => void
    const begun = new Promise<void>(resolve => { started = resolve })
    const asked: AbortSignal[] = []
    const s = setup({
      lookup: async (_key, options) => {
        asked.push(options.signal as AbortSignal)
        started()
        await new Promise((resolve, reject) => { options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }) })
      }
    })
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('deep', keyInBucket(self, 6, 1), 'deep')
    s.refresher.start()
    const running = s.refresher.refresh()
    await begun
    await s.refresher.stop()
    await expect(running).to.eventually.be.rejected()
    expect(asked).to.have.length(1)
    expect(asked[0].aborted).to.equal(true)
    expect(s.pinged).to.deep.equal([])
  })
})
