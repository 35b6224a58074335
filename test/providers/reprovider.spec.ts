import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { base32 } from 'multiformats/bases/base32'
import { kadId } from '../../src/keys.ts'
import { Reprovider } from '../../src/providers/reprovider.ts'
import { rankOf } from '../../src/providers/schedule.ts'
import { encodeTime } from '../../src/storage/time.ts'
import { TestClock } from '../utils/clock.ts'
import type { ReprovideProgressEvents, ReproviderInit } from '../../src/providers/reprovider.ts'
import type { Pair } from 'interface-datastore'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const INTERVAL = 22 * HOUR
const T0 = 1_700_000_000_000

const encode = (name: string): Uint8Array => new TextEncoder().encode(name)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const SELF = kadId(encode('our own peer id'))

/**
 * A reprovider on a virtual clock: `step` moves the clock and runs what is due, as the timer
 * would; every key published is logged with the time.
 */
class Harness {
  now = T0
  online = true
  bits = 6
  /** Keys that reach no peer. */
  failing = new Set<string>()
  /** Makes the next publish stop after this many keys, as a process killed mid-region. */
  crashAfter?: number
  readonly published: Array<{ key: string, at: number }> = []
  readonly events: ReprovideProgressEvents[] = []
  readonly datastore = new MemoryDatastore()
  reprovider: Reprovider

  constructor (overrides: Partial<ReproviderInit> = {}) {
    this.reprovider = this.make(overrides)
  }

  make (overrides: Partial<ReproviderInit> = {}): Reprovider {
    return new Reprovider({
      datastore: this.datastore,
      self: SELF,
      interval: INTERVAL,
      prefix: '/test/provided',
      stateKey: '/test/reprovide',
      regionBits: () => this.bits,
      online: () => this.online,
      recheckDelay: MINUTE,
      retryDelay: 5 * MINUTE,
      maxRetries: 2,
      now: () => this.now,
      onProgress: (event) => { this.events.push(event) },
      publish: (keys) => this.publish(keys),
      ...overrides
    })
  }

  private async * publish (keys: Uint8Array[]): AsyncGenerator<{ item: Uint8Array, error?: Error }> {
    for (const key of keys) {
      if (this.crashAfter === 0) {
        this.crashAfter = undefined
        throw new Error('killed')
      }
      if (this.crashAfter != null) {
        this.crashAfter--
      }
      if (this.failing.has(decode(key))) {
        yield { item: key, error: new Error('no peer') }
      } else {
        this.published.push({ key: decode(key), at: this.now })
        yield { item: key }
      }
    }
  }

  async track (names: string[]): Promise<void> {
    for (const name of names) {
      await this.reprovider.track(encode(name))
    }
  }

  /** Runs what is due now, then moves the clock on by `ms` in 5-minute steps, running what is due at each. */
  async advance (ms: number): Promise<void> {
    const end = this.now + ms
    await this.reprovider.reprovideDue().catch(() => {})
    while (this.now < end) {
      this.now = Math.min(end, this.now + 5 * MINUTE)
      await this.reprovider.reprovideDue().catch(() => {})
    }
  }

  /** How many times each key was published in [from, to). */
  counts (from: number, to: number): Map<string, number> {
    const counts = new Map<string, number>()
    for (const { key, at } of this.published) {
      if (at >= from && at < to) {
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
    }
    return counts
  }
}

/** A datastore that fails every read while `broken`. */
class FlakyDatastore extends MemoryDatastore {
  broken = false

  async get (...args: Parameters<MemoryDatastore['get']>): Promise<Uint8Array> {
    if (this.broken) {
      throw new Error('the disk is gone')
    }
    return super.get(...args)
  }

  async * query (...args: Parameters<MemoryDatastore['query']>): AsyncGenerator<Pair> {
    if (this.broken) {
      throw new Error('the disk is gone')
    }
    yield * super.query(...args)
  }
}

const names = (n: number, tag = 'key'): string[] => Array.from({ length: n }, (_, i) => `${tag} ${i}`)

describe('providers/reprovider', () => {
  let h: Harness

  afterEach(async () => {
    await h.reprovider.stop()
  })

  it('spreads a cycle over 22 h: every key once a cycle, no hour busier than 1.2 × the mean hour', async function () {
    this.timeout(60_000)
    h = new Harness()
    h.bits = 7
    const keys = names(8000)
    await h.track(keys)
    await h.advance(2 * INTERVAL)
    // the first cycle passes over what was provided less than 11 h before; the second has it all
    const second = h.counts(T0 + INTERVAL, T0 + 2 * INTERVAL)
    expect(second.size).to.equal(keys.length)
    expect([...second.values()].every(n => n === 1)).to.equal(true)
    const hours = Array.from({ length: 22 }, () => 0)
    for (const { at } of h.published.filter(p => p.at >= T0 + INTERVAL && p.at < T0 + 2 * INTERVAL)) {
      hours[Math.floor((at - T0 - INTERVAL) / HOUR)]++
    }
    const mean = keys.length / 22
    expect(Math.max(...hours) / mean).to.be.at.most(1.2)
    expect(Math.min(...hours) / mean).to.be.at.least(0.8)
    // each key's first reprovide came 11 to 33 h after its provide, well inside the 48 h a record lives
    const first = new Map<string, number>()
    for (const { key, at } of h.published) {
      if (!first.has(key)) {
        first.set(key, at)
      }
    }
    for (const at of first.values()) {
      expect(at - T0).to.be.within(11 * HOUR, 33 * HOUR)
    }
    expect(h.reprovider.stats()).to.include({ keys: 8000, regions: 128, cycle: 2 })
  })

  it('reports each region: due, each key sent, done; and its state in stats', async () => {
    h = new Harness()
    h.bits = 2
    await h.track(names(40))
    h.now += INTERVAL
    expect(await h.reprovider.reprovideDue()).to.be.above(0)
    const due = h.events.filter(e => e.type === 'kadmium:reprovide:due')
    const done = h.events.filter(e => e.type === 'kadmium:reprovide:done')
    const sent = h.events.filter(e => e.type === 'kadmium:reprovide:sent')
    // the schedule began with this call: only our own region (rank 0) is due yet
    expect(due).to.have.length(1)
    expect(done).to.have.length(1)
    expect(done[0].detail).to.include({ region: (due[0].detail as { region: string }).region, keys: sent.length, provided: sent.length, failed: 0, skipped: 0 })
    const stats = h.reprovider.stats()
    expect(stats).to.include({ keys: 40, regions: 4, cycle: 0 })
    expect(stats.next?.due).to.equal(h.now + INTERVAL / 4)
    expect(stats.last?.provided).to.equal(sent.length)
  })

  it('new keys join the schedule: each is reprovided in its region\'s turn', async () => {
    h = new Harness()
    await h.track(names(200))
    await h.advance(5 * HOUR)
    const later = names(100, 'later')
    const added = h.now
    await h.track(later)
    await h.advance(2 * INTERVAL)
    const counts = h.counts(added, added + 2 * INTERVAL)
    for (const key of later) {
      expect(counts.get(key), key).to.be.within(1, 2)
    }
    for (const { key, at } of h.published.filter(p => p.key.startsWith('later'))) {
      expect(at - added, key).to.be.at.least(11 * HOUR)
    }
  })

  it('resumes after a restart from the datastore: nothing sent twice, nothing skipped', async () => {
    h = new Harness()
    const keys = names(1000)
    await h.track(keys)
    await h.advance(INTERVAL + 9 * HOUR)
    // killed in the middle of a region
    const { next } = h.reprovider.stats()
    h.now = next?.due ?? h.now
    h.crashAfter = 3
    await h.reprovider.reprovideDue().catch(() => {})
    await h.reprovider.stop()
    // a new process, an hour later, on the same datastore
    h.now += HOUR
    h.reprovider = h.make()
    await h.advance(INTERVAL - 10 * HOUR)
    const counts = h.counts(T0 + INTERVAL, T0 + 2 * INTERVAL)
    expect(counts.size).to.equal(keys.length)
    expect([...counts.entries()].filter(([, n]) => n !== 1)).to.deep.equal([])
    expect(h.reprovider.stats()).to.include({ cycle: 2, keys: 1000 })
  })

  it('takes over the list an earlier version kept (no position in the key) and reprovides it in turn', async () => {
    h = new Harness()
    const keys = names(100, 'old')
    for (const name of keys) {
      await h.datastore.put(new Key(`/test/provided/${base32.baseEncode(encode(name))}`), encodeTime(T0 - 12 * HOUR))
    }
    await h.advance(INTERVAL)
    expect(h.reprovider.stats().keys).to.equal(keys.length)
    const counts = h.counts(T0, T0 + INTERVAL)
    expect([...counts.keys()].sort()).to.deep.equal([...keys].sort())
    expect([...counts.values()].every(n => n === 1)).to.equal(true)
  })

  it('waits while the node has no DHT peers, then catches up region by region', async () => {
    h = new Harness()
    h.bits = 4
    await h.track(names(500))
    await h.advance(INTERVAL)
    h.online = false
    const before = h.published.length
    await h.advance(6 * HOUR)
    expect(h.published.length).to.equal(before)
    expect(h.reprovider.stats().waiting).to.equal('offline')
    expect(h.events.filter(e => e.type === 'kadmium:reprovide:waiting')).to.have.length(1)
    const back = h.now
    h.online = true
    await h.reprovider.reprovideDue()
    expect(h.reprovider.stats().waiting).to.equal(undefined)
    // the regions due while offline, at once and in their order; the others in their turn
    const caughtUp = h.published.slice(before)
    expect(caughtUp.length).to.be.within(100, 200)
    expect(caughtUp.every(p => p.at === back)).to.equal(true)
    await h.advance(INTERVAL - 6 * HOUR)
    const counts = h.counts(T0 + INTERVAL, T0 + 2 * INTERVAL)
    expect(counts.size).to.equal(500)
    expect([...counts.values()].every(n => n === 1)).to.equal(true)
  })

  it('a node stopped for two days reprovides each key once when it returns, not once per cycle missed', async () => {
    h = new Harness()
    h.bits = 3
    await h.track(names(300))
    await h.advance(INTERVAL + 3 * HOUR)
    await h.reprovider.stop()
    h.now += 2 * 24 * HOUR
    h.reprovider = h.make()
    const back = h.now
    await h.advance(INTERVAL)
    // the one region overdue (by 1.5 h) at once, the others in their turn: each once in 20 h
    expect(h.published.filter(p => p.at === back)).to.have.length.within(1, 100)
    const counts = h.counts(back, back + INTERVAL - 2 * HOUR)
    expect(counts.size).to.equal(300)
    expect([...counts.values()].every(n => n === 1)).to.equal(true)
  })

  it('tries a region none of whose keys reached a peer again later, then goes on', async () => {
    h = new Harness()
    h.bits = 1
    const keys = names(50)
    await h.track(keys)
    h.now += INTERVAL
    keys.forEach(key => h.failing.add(key))
    await h.reprovider.reprovideDue()
    const first = h.reprovider.stats()
    expect(first.last).to.include({ provided: 0 })
    expect(first.next?.due).to.equal(h.now + 5 * MINUTE)
    h.failing.clear()
    h.now += 5 * MINUTE
    expect(await h.reprovider.reprovideDue()).to.be.above(0)
    expect(h.reprovider.stats().next?.due).to.equal(T0 + INTERVAL + INTERVAL / 2)
    // failing for good: two retries, then the next region
    keys.forEach(key => h.failing.add(key))
    await h.advance(INTERVAL)
    expect(h.reprovider.stats().cycle).to.equal(1)
  })

  it('a key that failed alone is tried again with the next region', async () => {
    h = new Harness()
    h.bits = 1
    const keys = names(100)
    await h.track(keys)
    const [key] = keys.filter(name => rankOf(kadId(encode(name)), SELF, 1) === 0)
    h.failing.add(key)
    // cycle 1 begins with our own region, at T0 + 22 h: all its other keys go
    await h.advance(INTERVAL + HOUR)
    expect(h.counts(0, Infinity).get(key)).to.equal(undefined)
    h.failing.clear()
    await h.advance(11 * HOUR)
    expect(h.published.filter(p => p.key === key).map(p => p.at)).to.deep.equal([T0 + INTERVAL + INTERVAL / 2])
  })

  it('forgets a key on cancel and keeps count of the keys', async () => {
    h = new Harness()
    h.bits = 0
    await h.track(['a', 'b', 'a'])
    expect(h.reprovider.stats().keys).to.equal(2)
    expect(await h.reprovider.forget(encode('a'))).to.equal(true)
    expect(await h.reprovider.forget(encode('a'))).to.equal(false)
    expect(h.reprovider.stats().keys).to.equal(1)
    h.now += INTERVAL
    await h.reprovider.reprovideDue()
    expect(h.published.map(p => p.key)).to.deep.equal(['b'])
    expect(await h.reprovider.has(encode('b'))).to.equal(true)
  })

  it('waits for the network size before it cuts the keyspace the first time', async () => {
    const network: { bits?: number } = {}
    h = new Harness({ regionBits: () => network.bits })
    await h.track(names(40))
    h.now += INTERVAL
    await h.reprovider.reprovideDue()
    expect(h.reprovider.stats()).to.include({ regions: 0, waiting: 'network-size' })
    network.bits = 2
    await h.reprovider.reprovideDue()
    expect(h.reprovider.stats()).to.include({ regions: 4, waiting: undefined })
    expect(h.published.length).to.be.above(0)
  })

  it('a run the datastore breaks is counted and told, and tried again until it works', async () => {
    const clock = new TestClock(T0)
    const datastore = new FlakyDatastore()
    h = new Harness({ datastore, now: clock.now, schedule: clock.schedule })
    h.bits = 0
    await h.track(['a'])
    await clock.advance(INTERVAL)
    datastore.broken = true
    h.reprovider.start()
    await clock.advance(3 * MINUTE)
    const errors = h.events.filter(event => event.type === 'kadmium:reprovide:error')
    expect(errors.length).to.be.at.least(2)
    expect(h.reprovider.stats().errors).to.equal(errors.length)
    expect(h.published).to.deep.equal([])
    datastore.broken = false
    await clock.advance(MINUTE)
    expect(h.published.map(p => p.key)).to.deep.equal(['a'])
  })

  it('start runs what is due at once; stop leaves no timer running', async () => {
    h = new Harness()
    h.bits = 0
    await h.track(['a'])
    h.now += INTERVAL
    h.reprovider.start()
    const deadline = Date.now() + 5_000
    while (h.published.length === 0 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    expect(h.published.map(p => p.key)).to.deep.equal(['a'])
    await h.reprovider.stop()
  })
})
