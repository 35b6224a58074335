import { expect } from 'aegir/chai'
import { commonPrefixLength, kadId } from '../../src/keys.ts'
import { Refresher } from '../../src/table/refresher.ts'
import { RoutingTable } from '../../src/table/routing-table.ts'
import { TestClock, settle } from '../utils/clock.ts'
import type { KadId } from '../../src/keys.ts'
import type { RefresherInit } from '../../src/table/refresher.ts'
import type { AbortOptions } from '@libp2p/interface'

const MINUTE = 60_000

/** A key in bucket `index` of `self`. */
function keyInBucket (self: KadId, index: number, seed: number): KadId {
  const out = self.slice()
  out[index >> 3] ^= 0x80 >> (index & 7)
  out[31] ^= seed
  return out
}

/** Whether a key looked up is our own id. */
function isSelf (key: Uint8Array): boolean {
  return new TextDecoder().decode(key) === 'self'
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
  const table = new RoutingTable<string>({ localKey: self, kBucketSize: overrides.kBucketSize ?? 20, freshness: 0, maxFailures: 1, now: () => clock.now, onCheck: () => {} })
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
    kBucketSize: 20,
    joinWindow: 0,
    closestCheckInterval: 0,
    isClient: () => false,
    randomWalkInterval: 0,
    firstRefreshDelay: 10,
    now: () => clock.now,
    log: Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {}, newScope: () => ({}) }) as any,
    ...overrides
  })
  return { refresher, table, clock, lookups, pinged, dead }
}

describe('routing/refresher', () => {
  it('looks up our own id, then a key in every bucket that saw no lookup within the interval, up to the deepest non-empty one', async () => {
    const s = setup()
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('deep', keyInBucket(self, 4, 1), 'deep')
    // bucket 2 had a lookup a minute ago: it is fresh
    s.table.markLookup(keyInBucket(self, 2, 2))
    s.clock.now += MINUTE
    await s.refresher.refresh()
    expect(s.lookups).to.deep.equal([-1, 0, 1, 3, 4])
  })

  it('never refreshes buckets past maxBucket with a key of their own: the self lookup covers them', async () => {
    const s = setup({ maxBucket: 2 })
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('deep', keyInBucket(self, 9, 1), 'deep')
    await s.refresher.refresh()
    expect(s.lookups).to.deep.equal([-1, 0, 1, 2])
  })

  it('leaves out full buckets, and those nearer us than our k-th closest peer (the self-lookup saw them whole)', async () => {
    const s = setup({ kBucketSize: 2 })
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('a', keyInBucket(self, 0, 1), 'a')
    s.table.add('b', keyInBucket(self, 0, 2), 'b')
    s.table.add('c', keyInBucket(self, 1, 1), 'c')
    s.table.add('d', keyInBucket(self, 5, 1), 'd')
    s.table.add('e', keyInBucket(self, 7, 1), 'e')
    // our 2 closest are e (bucket 7) and d (bucket 5): buckets 6 and 7 hold only peers closer
    // than d; bucket 0 is full
    await s.refresher.refresh()
    expect(s.lookups).to.deep.equal([-1, 1, 2, 3, 4, 5])
  })

  it('a bucket lookup keeps to its bucket and ends once it holds k peers; a bucket filled meanwhile gets none', async () => {
    const self = kadId(new TextEncoder().encode('self'))
    const answers: number[] = []
    const within: Array<number | undefined> = []
    const s: Setup = setup({
      kBucketSize: 3,
      lookup: async (key, options) => {
        const bucket = isSelf(key) ? -1 : commonPrefixLength(kadId(key), self)
        s.lookups.push(bucket)
        within.push(options.within)
        if (bucket !== 0) {
          return
        }
        // every answer of bucket 0's lookup brings a peer of bucket 0 and one of bucket 1
        for (let i = 1; i <= 10; i++) {
          answers.push(i)
          s.table.add(`p${i}`, keyInBucket(self, 0, i), `p${i}`)
          s.table.add(`q${i}`, keyInBucket(self, 1, i), `q${i}`)
          if (options.stopWhen?.() === true) {
            return
          }
        }
      }
    })
    s.table.add('deep', keyInBucket(self, 2, 1), 'deep')
    await s.refresher.refresh()
    // bucket 1 was full by the time its turn came; bucket 2 is where our closest peer sits
    expect(s.lookups).to.deep.equal([-1, 0, 2])
    expect(within).to.deep.equal([undefined, 0, 2])
    expect(answers).to.deep.equal([1, 2, 3])
  })

  it('after joining, spreads its bucket lookups over the join window, our own id first', async () => {
    const times: Array<[number, number]> = []
    const self = kadId(new TextEncoder().encode('self'))
    const started = Date.now()
    const s = setup({
      firstRefreshDelay: 10,
      joinWindow: 400,
      lookup: async (key) => { times.push([isSelf(key) ? -1 : commonPrefixLength(kadId(key), self), Date.now() - started]) }
    })
    s.table.add('deep', keyInBucket(self, 9, 1), 'deep')
    s.refresher.start()
    try {
      s.refresher.joined()
      await new Promise(resolve => setTimeout(resolve, 700))
    } finally {
      await s.refresher.stop()
    }
    expect(times[0][0]).to.equal(-1)
    expect(times.slice(1).map(([bucket]) => bucket).sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    const at = times.slice(1).map(([, ms]) => ms).sort((a, b) => a - b)
    // ten lookups at random moments of a 400 ms window, not all at once after the self-lookup
    expect(at[9] - at[0]).to.be.above(100)
    expect(at[9] - times[0][1]).to.be.below(600)
  })

  it('a client looks up its own id every check interval; a server does not', async () => {
    let client = true
    const s = setup({ interval: 0, closestCheckInterval: 40, isClient: () => client, now: Date.now })
    s.refresher.start()
    try {
      await new Promise(resolve => setTimeout(resolve, 150))
      const asClient = s.lookups.length
      expect(asClient).to.be.at.least(2)
      expect(s.lookups.every(b => b === -1)).to.equal(true)
      client = false
      await new Promise(resolve => setTimeout(resolve, 150))
      expect(s.lookups.length).to.be.at.most(asClient + 1)
    } finally {
      await s.refresher.stop()
    }
  })

  it('the client\'s check skips its self-lookup when a refresh looked up our id within the interval', async () => {
    const s = setup({ closestCheckInterval: 10 * MINUTE, isClient: () => true })
    await s.refresher.refresh()
    await s.refresher.checkClosest()
    expect(s.lookups).to.deep.equal([-1])
    s.clock.now += 10 * MINUTE
    await s.refresher.checkClosest()
    expect(s.lookups).to.deep.equal([-1, -1])
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

  it('checks our closest peers that did not answer the self lookup, even when seen within the interval', async () => {
    const self = kadId(new TextEncoder().encode('self'))
    const answering = new Set(['near-live'])
    const s = setup({
      kBucketSize: 2,
      lookup: async (key) => {
        if (isSelf(key)) {
          // the self lookup: the neighbours that are alive answer it
          answering.forEach(id => { s.table.touch(id) })
        }
      }
    })
    s.table.add('near-live', keyInBucket(self, 9, 1), 'near-live')
    s.table.add('near-gone', keyInBucket(self, 9, 2), 'near-gone')
    s.table.add('far', keyInBucket(self, 0, 3), 'far')
    s.dead.add('near-gone')
    // everybody was seen a minute ago: no peer is stale
    s.clock.now += MINUTE
    s.table.touch('near-live')
    s.table.touch('near-gone')
    s.table.touch('far')
    s.clock.now += MINUTE
    await s.refresher.refresh()
    expect(s.pinged).to.deep.equal(['near-gone'])
    expect([s.table.has('near-live'), s.table.has('near-gone'), s.table.has('far')]).to.deep.equal([true, false, true])
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

  it('the periodic refresh goes on after a run that failed', async () => {
    // the table's clock says its peer was last seen at 10 min: at 30 min it is stale
    const clock = new TestClock(30 * MINUTE)
    let failures = 1
    const s = setup({
      now: clock.now,
      schedule: clock.schedule,
      ping: async () => {
        if (failures-- > 0) {
          throw new Error('the peer store broke')
        }
        return true
      }
    })
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('stale', keyInBucket(self, 0, 1), 'stale')
    s.refresher.start()
    try {
      await clock.advance(10 * MINUTE)
      expect(s.lookups.filter(b => b === -1)).to.have.length(1)
      await clock.advance(10 * MINUTE)
      await clock.advance(10 * MINUTE)
      expect(s.lookups.filter(b => b === -1)).to.have.length(3)
    } finally {
      await s.refresher.stop()
    }
  })

  it('a caller whose signal aborts stops waiting for the shared refresh, which goes on, and so does the periodic one', async () => {
    const clock = new TestClock(30 * MINUTE)
    let release: (() => void) | undefined
    const s: Setup = setup({
      now: clock.now,
      schedule: clock.schedule,
      // longer than the interval: the refresh under way is still running when the next is due
      queryTimeout: 20 * MINUTE,
      lookup: async (key, options) => {
        s.lookups.push(isSelf(key) ? -1 : 0)
        if (release == null && isSelf(key)) {
          // the first self-lookup waits until the test lets it go
          await new Promise<void>((resolve, reject) => {
            release = resolve
            options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) })
          })
        }
      }
    })
    const self = kadId(new TextEncoder().encode('self'))
    s.table.add('stale', keyInBucket(self, 0, 1), 'stale')
    s.refresher.start()
    try {
      const caller = new AbortController()
      const asked = s.refresher.refresh({ signal: caller.signal })
      // the periodic refresh comes due while the caller's runs, and joins it
      await clock.advance(10 * MINUTE)
      caller.abort(new Error('the caller gave up'))
      await expect(asked).to.eventually.be.rejectedWith('the caller gave up')
      release?.()
      await settle()
      // the shared run went on: it checked the stale peer
      expect(s.pinged).to.deep.equal(['stale'])
      await clock.advance(10 * MINUTE)
      await clock.advance(10 * MINUTE)
      expect(s.lookups.filter(b => b === -1)).to.have.length(3)
    } finally {
      await s.refresher.stop()
    }
  })

  it('checks stale peers α at once, not one after another', async () => {
    let open = 0
    let most = 0
    const s = setup({
      concurrentChecks: 10,
      ping: async () => {
        open++
        most = Math.max(most, open)
        await settle()
        open--
        return true
      }
    })
    const self = kadId(new TextEncoder().encode('self'))
    for (let i = 0; i < 40; i++) {
      s.table.add(`p${i}`, keyInBucket(self, i % 10, i), `p${i}`)
    }
    s.clock.now += 11 * MINUTE
    await s.refresher.refresh()
    expect(most).to.equal(10)
    expect(s.table.size).to.equal(40)
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
