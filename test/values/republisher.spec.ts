import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { equals } from 'uint8arrays/equals'
import { kadId } from '../../src/keys.ts'
import { nextDue, phaseOf } from '../../src/values/republish-schedule.ts'
import { Republisher } from '../../src/values/republisher.ts'
import { TestClock } from '../utils/clock.ts'
import { ipnsKey, ipnsRecord, newKey } from '../utils/records.ts'
import type { RepublishProgressEvents, RepublisherInit } from '../../src/values/republisher.ts'
import type { Pair } from 'interface-datastore'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const INTERVAL = 12 * HOUR
/** How long a record lives on the peers that stored it. */
const RECORD_LIFE = 48 * HOUR
const T0 = 1_700_000_000_000

const encode = (name: string): Uint8Array => new TextEncoder().encode(name)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const SELF = kadId(encode('our own peer id'))

/**
 * A republisher on a virtual clock, its timers run by the clock as the node's would be: every
 * value put is logged with the time and its bytes.
 */
class Harness {
  readonly clock = new TestClock(T0)
  online = true
  /** Keys whose put reaches no peer. */
  failing = new Set<string>()
  /** Makes the next put throw after this many puts, as a process killed mid-run. */
  crashAfter?: number
  readonly puts: Array<{ key: string, value: Uint8Array, at: number }> = []
  readonly events: RepublishProgressEvents[] = []
  readonly datastore: MemoryDatastore
  republisher: Republisher

  constructor (datastore = new MemoryDatastore(), overrides: Partial<RepublisherInit> = {}) {
    this.datastore = datastore
    this.republisher = this.make(overrides)
  }

  make (overrides: Partial<RepublisherInit> = {}): Republisher {
    return new Republisher({
      datastore: this.datastore,
      prefix: '/test/kept',
      self: SELF,
      interval: INTERVAL,
      online: () => this.online,
      recheckDelay: MINUTE,
      retryDelay: 5 * MINUTE,
      now: this.clock.now,
      schedule: this.clock.schedule,
      onProgress: (event) => { this.events.push(event) },
      put: async (key, value) => this.put(key, value),
      ...overrides
    })
  }

  private async put (key: Uint8Array, value: Uint8Array): Promise<number> {
    if (this.crashAfter === 0) {
      this.crashAfter = undefined
      throw new Error('killed')
    }
    if (this.crashAfter != null) {
      this.crashAfter--
    }
    if (this.failing.has(decode(key))) {
      throw Object.assign(new Error('no peer stored it'), { name: 'NotStoredError' })
    }
    this.puts.push({ key: decode(key), value, at: this.clock.now() })
    return 20
  }

  /** Keeps each name's value as put now (or never put yet). */
  async keep (names: string[], put: number | 'never' = this.clock.now()): Promise<void> {
    for (const name of names) {
      await this.republisher.keep(encode(name), encode(`value of ${name}`), put === 'never' ? undefined : put)
    }
  }

  /** The times each key was put, in order. */
  times (): Map<string, number[]> {
    const out = new Map<string, number[]>()
    for (const { key, at } of this.puts) {
      out.set(key, [...(out.get(key) ?? []), at])
    }
    return out
  }
}

const names = (n: number, tag = 'key'): string[] => Array.from({ length: n }, (_, i) => `${tag} ${i}`)

/** The gaps between one key's puts, the first from `from`. */
function gaps (times: number[], from: number): number[] {
  return times.map((at, i) => at - (i === 0 ? from : times[i - 1]))
}

describe('values/republisher', () => {
  let h: Harness

  afterEach(async () => {
    await h.republisher.stop()
  })

  it('schedule: each key due ½ to 1½ intervals after its last put, at its own phase', () => {
    h = new Harness()
    for (let i = 0; i < 500; i++) {
      const phase = phaseOf(kadId(encode(`k${i}`)), SELF, INTERVAL)
      expect(phase).to.be.within(0, INTERVAL - 1)
      const last = T0 + i * 7_919_000
      const due = nextDue(last, phase, INTERVAL)
      expect(due - last).to.be.within(INTERVAL / 2, 1.5 * INTERVAL - 1)
      expect(((due % INTERVAL) + INTERVAL) % INTERVAL).to.equal(phase)
    }
  })

  it('puts each kept value again before its records expire, spread over the interval', async function () {
    this.timeout(60_000)
    h = new Harness()
    const keys = names(600)
    await h.keep(keys)
    h.republisher.start()
    await h.clock.advance(4 * 24 * HOUR)
    const times = h.times()
    expect(times.size).to.equal(keys.length)
    for (const [key, at] of times) {
      // never a gap a record could expire in: every put 6 to 18 h after the last
      for (const gap of gaps(at, T0)) {
        expect(gap, key).to.be.within(INTERVAL / 2, 1.5 * INTERVAL)
        expect(gap).to.be.below(RECORD_LIFE)
      }
    }
    // all put at once, none put again at once: in each hour of a later interval about one twelfth
    const hours = Array.from({ length: 12 }, () => 0)
    for (const { at } of h.puts.filter(p => p.at >= T0 + 2 * INTERVAL && p.at < T0 + 3 * INTERVAL)) {
      hours[Math.floor((at - T0 - 2 * INTERVAL) / HOUR)]++
    }
    expect(hours.reduce((a, b) => a + b)).to.equal(keys.length)
    expect(Math.max(...hours)).to.be.at.most(keys.length / 12 * 1.5)
    expect(Math.min(...hours)).to.be.at.least(keys.length / 12 * 0.5)
    expect(h.republisher.stats()).to.include({ keys: 600, failed: 0, errors: 0, republished: h.puts.length })
  })

  it('reports each put and where it stands in stats', async () => {
    h = new Harness()
    await h.keep(['a', 'b'])
    const due = (await h.republisher.get(encode('a')))?.due ?? NaN
    h.republisher.start()
    await h.clock.advance(due - T0)
    const sent = h.events.filter(e => e.type === 'kadmium:republish:sent')
    expect(sent.map(e => decode((e.detail as { key: Uint8Array }).key))).to.include('a')
    const stats = h.republisher.stats()
    expect(stats.last).to.deep.include({ at: due, stored: 20 })
    expect(stats.next?.due).to.be.above(h.clock.now())
    const listed = []
    for await (const kept of h.republisher.list()) {
      listed.push({ key: decode(kept.key), value: decode(kept.value), put: kept.put })
    }
    expect(listed).to.deep.include({ key: 'a', value: 'value of a', put: due })
  })

  it('resumes after a restart from the datastore: nothing put twice, nothing skipped', async () => {
    h = new Harness()
    const keys = names(300)
    await h.keep(keys)
    h.republisher.start()
    await h.clock.advance(10 * HOUR)
    // killed in the middle of a run: several keys due at once (the node was offline for an hour)
    h.online = false
    await h.clock.advance(HOUR)
    h.online = true
    h.crashAfter = 5
    await h.republisher.republishDue().catch(() => {})
    await h.republisher.stop()
    const before = h.puts.length
    expect(h.republisher.stats().keys).to.equal(keys.length)
    // a new process, two hours later, on the same datastore
    await h.clock.advance(2 * HOUR)
    h.republisher = h.make()
    h.republisher.start()
    await h.clock.advance(2 * 24 * HOUR)
    expect(h.puts.length).to.be.above(before)
    const times = h.times()
    expect(times.size).to.equal(keys.length)
    for (const [key, at] of times) {
      for (const gap of gaps(at, T0)) {
        // no key put twice (a gap under half an interval), none left out past its time (the
        // 3 h the node was down or offline aside)
        expect(gap, key).to.be.within(INTERVAL / 2, 1.5 * INTERVAL + 3 * HOUR)
      }
    }
  })

  it('waits while the node has no DHT peer, then puts what came due, in order', async () => {
    h = new Harness()
    await h.keep(names(100))
    h.republisher.start()
    h.online = false
    await h.clock.advance(20 * HOUR)
    expect(h.puts).to.have.length(0)
    expect(h.republisher.stats().waiting).to.equal('offline')
    expect(h.events.filter(e => e.type === 'kadmium:republish:waiting')).to.have.length(1)
    h.online = true
    h.republisher.wake()
    await h.clock.advance(0)
    expect(h.republisher.stats().waiting).to.equal(undefined)
    // those that came due in the 20 h, at once, in the order they came due
    const back = h.clock.now()
    const due = names(100)
      .map(name => ({ name, due: nextDue(T0, phaseOf(kadId(encode(name)), SELF, INTERVAL), INTERVAL) }))
      .filter(k => k.due <= back)
      .sort((a, b) => a.due - b.due)
    expect(due.length).to.be.within(60, 100)
    expect(h.puts.map(p => p.key)).to.deep.equal(due.map(k => k.name))
    expect(h.puts.every(p => p.at === back)).to.equal(true)
  })

  it('stops putting a value once it is forgotten', async () => {
    h = new Harness()
    await h.keep(['stay', 'go'])
    h.republisher.start()
    await h.clock.advance(2 * INTERVAL)
    const put = h.times().get('go')?.length ?? 0
    expect(put).to.be.at.least(1)
    expect(await h.republisher.forget(encode('go'))).to.equal(true)
    expect(await h.republisher.forget(encode('go'))).to.equal(false)
    expect(await h.republisher.has(encode('go'))).to.equal(false)
    await h.clock.advance(4 * INTERVAL)
    expect(h.times().get('go')).to.have.length(put)
    expect(h.times().get('stay')?.length).to.be.at.least(4)
    expect(h.republisher.stats().keys).to.equal(1)
    // and after a restart it stays forgotten
    await h.republisher.stop()
    h.republisher = h.make()
    expect(await h.republisher.size()).to.equal(1)
  })

  it('puts a kept IPNS record again byte for byte, never signed anew', async () => {
    h = new Harness()
    const owner = await newKey()
    const key = ipnsKey(owner)
    const record = await ipnsRecord(owner, 7)
    await h.republisher.keep(key, record, h.clock.now())
    h.republisher.start()
    await h.clock.advance(3 * INTERVAL)
    const puts = h.puts.filter(p => p.key === decode(key))
    expect(puts.length).to.be.at.least(2)
    expect(puts.every(p => equals(p.value, record))).to.equal(true)
    // a new process reads the same bytes back
    await h.republisher.stop()
    h.republisher = h.make()
    expect((await h.republisher.get(key))?.value).to.deep.equal(record)
  })

  it('a value never put (no peer at first) is due at once; a put that fails is tried again, each time later', async () => {
    h = new Harness()
    await h.keep(['new'], 'never')
    h.failing.add('new')
    h.republisher.start()
    await h.clock.advance(HOUR)
    const retries = h.events.filter(e => e.type === 'kadmium:republish:failed').map(e => (e.detail as { retry: number }).retry)
    // 5, 10, 20, 40 minutes apart
    expect(retries.slice(0, 4).map((at, i) => at - (i === 0 ? T0 : retries[i - 1]))).to.deep.equal([5, 10, 20, 40].map(m => m * MINUTE))
    expect(h.republisher.stats().failed).to.equal(retries.length)
    h.failing.clear()
    await h.clock.advance(2 * HOUR)
    expect(h.times().get('new')).to.have.length(1)
    expect(h.republisher.stats().failed).to.equal(retries.length)
  })

  it('a run the datastore breaks is counted and told, and tried again until it works', async () => {
    const datastore = new FlakyDatastore()
    h = new Harness(datastore)
    await h.keep(['a'])
    datastore.broken = true
    h.republisher = h.make()
    h.republisher.start()
    await h.clock.advance(3 * MINUTE)
    expect(h.republisher.stats().errors).to.be.at.least(2)
    expect(h.events.some(e => e.type === 'kadmium:republish:error')).to.equal(true)
    datastore.broken = false
    await h.clock.advance(INTERVAL * 1.5)
    expect(h.times().get('a')).to.have.length.at.least(1)
  })

  it('stop leaves no timer running', async () => {
    h = new Harness()
    await h.keep(names(10))
    h.republisher.start()
    await h.clock.advance(INTERVAL)
    await h.republisher.stop()
    expect(h.clock.pending).to.equal(0)
  })
})

/** A datastore that fails every read while `broken`. */
class FlakyDatastore extends MemoryDatastore {
  broken = false

  async * query (...args: Parameters<MemoryDatastore['query']>): AsyncGenerator<Pair> {
    if (this.broken) {
      throw new Error('the disk is gone')
    }
    yield * super.query(...args)
  }
}
