import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { STALL_INITIAL_TIMEOUT, STALL_MIN_TIMEOUT, STALL_RTT_FACTOR } from '../../src/defaults.ts'
import { commonPrefixLength, compareDistance, kadId } from '../../src/keys.ts'
import { Doubts } from '../../src/query/doubts.ts'
import { Lookup } from '../../src/query/lookup.ts'
import { RoundTrips } from '../../src/query/round-trips.ts'
import { runLookup } from '../../src/query/run-lookup.ts'
import { StallDeadline, requestDeadline } from '../../src/query/stall.ts'
import { learnFromLookup, learnFromOutcome } from '../../src/query/table-lookup.ts'
import { RoutingTable } from '../../src/table/routing-table.ts'
import type { LookupPeer } from '../../src/query/lookup.ts'
import type { LateEvent, LookupEvent, RunLookupInit } from '../../src/query/run-lookup.ts'

/** The service's stall detection. */
const STALL = { initial: STALL_INITIAL_TIMEOUT, factor: STALL_RTT_FACTOR, min: STALL_MIN_TIMEOUT }

interface SimPeer extends LookupPeer {
  n: number
}

function simPeer (n: number): SimPeer {
  return { id: `peer-${n}`, key: kadId(new TextEncoder().encode(`peer-${n}`)), n }
}

/** A virtual network whose nodes each keep a real routing table filled with every other node. */
function network (size: number, k = 20): { peers: SimPeer[], tables: Map<string, RoutingTable<SimPeer>> } {
  const peers = Array.from({ length: size }, (_, n) => simPeer(n))
  const tables = new Map<string, RoutingTable<SimPeer>>()
  for (const self of peers) {
    const table = new RoutingTable<SimPeer>({ localKey: self.key, kBucketSize: k, freshness: Infinity, now: () => 0, maxFailures: 2, onCheck: () => {} })
    for (const other of peers) {
      if (other !== self) {
        table.add(other.id, other.key, other)
      }
    }
    tables.set(self.id, table)
  }
  return { peers, tables }
}

function bruteForce (peers: SimPeer[], target: Uint8Array, n: number, exclude: Set<string> = new Set()): string[] {
  return peers.filter(p => !exclude.has(p.id))
    .sort((a, b) => compareDistance(a.key, b.key, target))
    .slice(0, n)
    .map(p => p.id)
}

async function tick (): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0))
}

describe('query/lookup', () => {
  it('finds the true k closest in a 500-node network, asking each peer at most once', async () => {
    const { peers, tables } = network(500)
    for (let run = 0; run < 10; run++) {
      const origin = peers[run * 37]
      const target = kadId(new TextEncoder().encode(`target-${run}`))
      const asked = new Map<string, number>()
      let inFlight = 0
      let maxInFlight = 0
      const outcome = await runLookup<SimPeer>({
        target,
        alpha: 10,
        resultSize: 20,
        requestTimeout: 1_000,
        now: Date.now,
        seeds: tables.get(origin.id)!.closest(target, 20).map(e => e.peer),
        ask: async (peer) => {
          asked.set(peer.id, (asked.get(peer.id) ?? 0) + 1)
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          await tick()
          inFlight--
          return tables.get(peer.id)!.closest(target, 20).map(e => e.peer).filter(p => p.id !== origin.id)
        }
      })
      expect(outcome.closest.map(p => p.id)).to.deep.equal(bruteForce(peers, target, 20, new Set([origin.id])))
      expect([...asked.values()].every(count => count === 1)).to.equal(true)
      expect(maxInFlight).to.be.at.most(10)
      expect(outcome.stats.asked).to.equal(asked.size)
      // only the neighbourhood is queried, not the network
      expect(outcome.stats.asked).to.be.below(60)
    }
  })

  it('never returns a peer that failed, and ends when peers fail or time out', async () => {
    const { peers, tables } = network(200)
    const target = kadId(new TextEncoder().encode('failing'))
    const dead = new Set(bruteForce(peers, target, 30).filter((_, i) => i % 3 === 0))
    const slow = new Set(bruteForce(peers, target, 30).filter((_, i) => i % 3 === 1).slice(0, 2))
    const origin = peers.find(p => !dead.has(p.id) && !slow.has(p.id))!
    const failures: string[] = []
    const outcome = await runLookup<SimPeer>({
      target,
      alpha: 3,
      resultSize: 20,
      requestTimeout: 50,
      now: Date.now,
      seeds: tables.get(origin.id)!.closest(target, 20).map(e => e.peer),
      onEvent: (event) => {
        if (event.type === 'fail') {
          failures.push(event.peer.id)
        }
      },
      ask: async (peer, signal) => {
        if (dead.has(peer.id)) {
          throw new Error('connection refused')
        }
        if (slow.has(peer.id)) {
          // never answers; only the timeout ends it
          await new Promise((resolve, reject) => signal.addEventListener('abort', () => { reject(signal.reason) }))
        }
        await tick()
        return tables.get(peer.id)!.closest(target, 20).map(e => e.peer).filter(p => p.id !== origin.id)
      }
    })
    const ids = outcome.closest.map(p => p.id)
    for (const id of [...dead, ...slow]) {
      expect(ids).to.not.include(id)
    }
    expect(failures).to.include.members([...slow])
    // answers list the 20 closest, dead or not: every live peer among them is found, in order
    const liveOfTop20 = bruteForce(peers, target, 20, new Set([origin.id])).filter(id => !dead.has(id) && !slow.has(id))
    expect(ids.slice(0, liveOfTop20.length)).to.deep.equal(liveOfTop20)
    expect(ids.length).to.be.at.most(20)
  })

  it('ends at once with no seeds, and with every seed failing', async () => {
    const target = kadId(new Uint8Array([1]))
    const none = await runLookup<SimPeer>({ target, alpha: 3, resultSize: 20, requestTimeout: 10, now: Date.now, seeds: [], ask: async () => [] })
    expect(none.closest).to.deep.equal([])
    const failing = await runLookup<SimPeer>({
      target,
      alpha: 3,
      resultSize: 20,
      requestTimeout: 10,
      now: Date.now,
      seeds: [simPeer(1), simPeer(2)],
      ask: async () => { throw new Error('down') }
    })
    expect(failing.closest).to.deep.equal([])
    expect(failing.stats.failed).to.equal(2)
  })

  it('the state machine hands out at most α requests and ends when the closest have answered', () => {
    const target = kadId(new Uint8Array([7]))
    const peers = Array.from({ length: 12 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const lookup = new Lookup<SimPeer>({ target, alpha: 2, resultSize: 3 }, peers)
    const first = lookup.next()
    expect(first.map(p => p.id)).to.deep.equal([peers[0].id, peers[1].id])
    expect(lookup.next()).to.deep.equal([])
    lookup.answered(peers[0].id)
    lookup.failed(peers[1].id)
    expect(lookup.state(peers[1].id)).to.equal('failed')
    // the failed peer widens the window: peers 2 and 3 are next
    expect(lookup.next().map(p => p.id)).to.deep.equal([peers[2].id, peers[3].id])
    expect(lookup.done).to.equal(false)
    lookup.answered(peers[2].id)
    lookup.answered(peers[3].id)
    // the three closest live peers (0, 2, 3) have answered
    expect(lookup.done).to.equal(true)
    expect(lookup.next()).to.deep.equal([])
    expect(lookup.results().map(p => p.id)).to.deep.equal([peers[0].id, peers[2].id, peers[3].id])
    // answers for peers never asked, or asked twice, change nothing
    expect(lookup.answered(peers[9].id, [simPeer(99)])).to.deep.equal([])
    expect(lookup.answered(peers[0].id, [simPeer(99)])).to.deep.equal([])
  })

  it('with widen, each failed peer among the closest makes it wait for one more live peer, whose answer may name closer ones', () => {
    const target = kadId(new Uint8Array([7]))
    const peers = Array.from({ length: 12 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const start = (widen: boolean): Lookup<SimPeer> => {
      const lookup = new Lookup<SimPeer>({ target, alpha: 4, resultSize: 3, widen }, peers.slice(0, 8))
      expect(lookup.next().map(p => p.id)).to.deep.equal(peers.slice(0, 3).map(p => p.id))
      lookup.failed(peers[1].id)
      lookup.answered(peers[0].id)
      lookup.answered(peers[2].id)
      return lookup
    }
    // without widen, peer 3 takes the failed one's place, and once it answered the lookup is done
    const plain = start(false)
    expect(plain.next().map(p => p.id)).to.deep.equal([peers[3].id])
    plain.answered(peers[3].id)
    expect(plain.done).to.equal(true)
    // with it, one more beyond: peers 3 and 4 are asked and waited for
    const widened = start(true)
    expect(widened.next().map(p => p.id)).to.deep.equal([peers[3].id, peers[4].id])
    widened.answered(peers[3].id)
    expect(widened.done).to.equal(false)
    widened.answered(peers[4].id)
    expect(widened.done).to.equal(true)
    // the result is still the closest three that answered
    expect(widened.results().map(p => p.id)).to.deep.equal([peers[0].id, peers[2].id, peers[3].id])
  })

  it('with prefer, asks the preferred first among candidates as close to the target, but never before closer ones', () => {
    const target = kadId(new Uint8Array([3]))
    const peers = Array.from({ length: 40 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const cpl = (p: SimPeer): number => commonPrefixLength(p.key, target)
    // a group of peers as close as each other (same shared bits) behind at least one closer peer
    const start = peers.findIndex((p, i) => i > 0 && cpl(p) < cpl(peers[i - 1]) && peers.filter(q => cpl(q) === cpl(p)).length >= 3)
    expect(start).to.be.above(0)
    const group = peers.filter(p => cpl(p) === cpl(peers[start]))
    const last = group[group.length - 1]
    const farther = peers.find(p => cpl(p) < cpl(last)) as SimPeer
    const preferred = new Set([last.id, farther.id])
    const lookup = new Lookup<SimPeer>({ target, alpha: start + 1, resultSize: 20, prefer: p => preferred.has(p.id) }, peers)
    // every closer peer, then the preferred one of the group, not its closer but unpreferred peers
    expect(lookup.next().map(p => p.id)).to.deep.equal([...peers.slice(0, start).map(p => p.id), last.id])
    // without prefer, the group's closest
    const plain = new Lookup<SimPeer>({ target, alpha: start + 1, resultSize: 20 }, peers)
    expect(plain.next().map(p => p.id)).to.deep.equal(peers.slice(0, start + 1).map(p => p.id))
  })

  it('a closer peer learned late re-opens the lookup', () => {
    const target = kadId(new Uint8Array([9]))
    const all = Array.from({ length: 6 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const lookup = new Lookup<SimPeer>({ target, alpha: 5, resultSize: 2 }, all.slice(3))
    for (const p of lookup.next()) {
      expect(p.id).to.be.oneOf(all.slice(3).map(q => q.id))
    }
    lookup.answered(all[3].id, [all[0]])
    expect(lookup.done).to.equal(false)
    expect(lookup.next().map(p => p.id)).to.deep.equal([all[0].id])
    lookup.answered(all[0].id, [])
    lookup.answered(all[4].id, [])
    lookup.answered(all[5].id, [])
    expect(lookup.done).to.equal(true)
    expect(lookup.results().map(p => p.id)).to.deep.equal([all[0].id, all[3].id])
  })

  it('stops early when stopWhen says so, and rejects when aborted', async () => {
    const { peers, tables } = network(100)
    const wanted = peers[42]
    const origin = peers[0]
    const outcome = await runLookup<SimPeer>({
      target: wanted.key,
      alpha: 3,
      resultSize: 3,
      requestTimeout: 1_000,
      now: Date.now,
      seeds: tables.get(origin.id)!.closest(wanted.key, 20).map(e => e.peer),
      stopWhen: (_peer, closer) => closer.some(p => p.id === wanted.id),
      ask: async (peer) => { await tick(); return tables.get(peer.id)!.closest(wanted.key, 20).map(e => e.peer) }
    })
    expect(outcome.stopped).to.equal(true)

    const controller = new AbortController()
    const running = runLookup<SimPeer>({
      target: wanted.key,
      alpha: 3,
      resultSize: 20,
      requestTimeout: 10_000,
      now: Date.now,
      signal: controller.signal,
      seeds: [peers[1]],
      ask: async (_peer, signal) => new Promise((resolve, reject) => signal.addEventListener('abort', () => { reject(signal.reason) }))
    })
    controller.abort(new Error('user gave up'))
    await expect(running).to.eventually.be.rejectedWith('user gave up')
  })
})

/** A virtual clock for runLookup: its timers fire only as the test runs it, in time order. */
class FakeClock {
  now = 0
  private timers: Array<{ at: number, seq: number, fire(): void, cancelled: boolean }> = []
  private seq = 0

  readonly schedule = (ms: number, fire: () => void): (() => void) => {
    const timer = { at: this.now + ms, seq: this.seq++, fire, cancelled: false }
    this.timers.push(timer)
    return () => { timer.cancelled = true }
  }

  /** Fires timers in time order, letting promise callbacks run after each, until `done()` or none is left. */
  async run (done: () => boolean): Promise<void> {
    await settle()
    while (!done()) {
      this.timers = this.timers.filter(t => !t.cancelled).sort((a, b) => a.at - b.at || a.seq - b.seq)
      const timer = this.timers.shift()
      if (timer == null) {
        return
      }
      this.now = timer.at
      timer.fire()
      await settle()
    }
  }
}

/** Lets every pending promise callback run. */
async function settle (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

/**
 * How a peer answers in a virtual run: after `after` virtual ms with `closer` (never without
 * `after`), its request on the wire after `sent` ms (never without it), or never.
 */
type Plan = { after?: number, closer?: SimPeer[], sent?: number } | 'silent'

interface VirtualRun {
  closest: string[]
  stats: { asked: number, answered: number, failed: number, stalled: number }
  /** Every event with the virtual time it happened at. */
  events: Array<LookupEvent<SimPeer> & { at: number }>
  /** When the lookup ended, in virtual ms. */
  endedAt: number
  /** Requests aborted, with when and why. */
  aborted: Array<{ id: string, reason: string, at: number }>
  /** What `onLate` was told, and when. */
  late: Array<LateEvent<SimPeer> & { at: number }>
  /** Whether a late event came before the caller had the outcome (it must not). */
  lateBeforeOutcome: boolean
  /** The lookup's unanswered peers. */
  unanswered: string[]
  /** The most requests open at once, and the most live (open, not stalled) ones. */
  maxOpen: number
  maxLive: number
}

/**
 * Runs runLookup on a fake clock; each peer answers as `plan` says. With `drain`, the clock runs
 * on after the lookup ended until no timer is left (for requests that outlive it).
 */
async function virtualLookup (init: Omit<RunLookupInit<SimPeer>, 'ask' | 'now' | 'schedule' | 'onEvent'>, plan: (peer: SimPeer) => Plan, drain = false): Promise<VirtualRun> {
  const clock = new FakeClock()
  const events: VirtualRun['events'] = []
  const aborted: VirtualRun['aborted'] = []
  const stalledOpen = new Set<string>()
  let open = 0
  let maxOpen = 0
  let maxLive = 0
  const measure = (): void => {
    maxOpen = Math.max(maxOpen, open)
    maxLive = Math.max(maxLive, open - stalledOpen.size)
  }
  let outcome: Awaited<ReturnType<typeof runLookup<SimPeer>>> | undefined
  const late: VirtualRun['late'] = []
  let lateBeforeOutcome = false
  const running = runLookup<SimPeer>({
    ...init,
    onLate: init.onLate == null
      ? undefined
      : (event) => {
          lateBeforeOutcome ||= outcome == null
          late.push({ ...event, at: clock.now })
          init.onLate?.(event)
        },
    now: () => clock.now,
    schedule: clock.schedule,
    onEvent: (event) => {
      events.push({ ...event, at: clock.now })
      if (event.type === 'stall') {
        stalledOpen.add(event.peer.id)
      } else if (event.type !== 'ask') {
        stalledOpen.delete(event.peer.id)
      }
      measure()
    },
    ask: async (peer, signal, sent) => new Promise<SimPeer[]>((resolve, reject) => {
      open++
      measure()
      const how = plan(peer)
      const onAbort = (): void => {
        open--
        stalledOpen.delete(peer.id)
        cancel()
        cancelSent()
        aborted.push({ id: peer.id, reason: (signal.reason as Error).message, at: clock.now })
        reject(signal.reason)
      }
      const cancelSent = how === 'silent' || how.sent == null ? () => {} : clock.schedule(how.sent, sent)
      const cancel = how === 'silent' || how.after == null
        ? () => {}
        : clock.schedule(how.after, () => {
          open--
          signal.removeEventListener('abort', onAbort)
          resolve(how.closer ?? [])
        })
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }).then(result => { outcome = result })
  await clock.run(() => outcome != null)
  await running
  if (outcome == null) {
    throw new Error('the lookup never ended')
  }
  const endedAt = clock.now
  if (drain) {
    await clock.run(() => false)
  }
  return {
    closest: outcome.closest.map(p => p.id),
    stats: outcome.stats,
    events,
    endedAt,
    aborted,
    late,
    lateBeforeOutcome,
    unanswered: outcome.unanswered.map(p => p.id),
    maxOpen,
    maxLive
  }
}

function ids (events: VirtualRun['events'], type: LookupEvent<SimPeer>['type']): string[] {
  return events.filter(e => e.type === type).map(e => e.peer.id)
}

describe('query/lookup: stalled requests', () => {
  it('the adaptive deadline starts at its initial value, then follows the median answer time between its floor and the request timeout', () => {
    const stall = new StallDeadline({ initial: 2_000, factor: 3, min: 500 }, 10_000)
    expect(stall.current).to.equal(2_000)
    stall.observe(100)
    expect(stall.current).to.equal(500)
    stall.observe(400)
    stall.observe(300)
    expect(stall.median).to.equal(300)
    expect(stall.current).to.equal(900)
    for (let i = 0; i < 5; i++) {
      stall.observe(9_000)
    }
    expect(stall.current).to.equal(10_000)
    expect(new StallDeadline(STALL, 1_000).current).to.equal(1_000)
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 20_000, noNaN: true }), { maxLength: 50 }), fc.integer({ min: 1, max: 30_000 }), (times, max) => {
      const deadline = new StallDeadline(STALL, max)
      for (const t of times) {
        deadline.observe(t)
      }
      expect(deadline.current).to.be.at.most(max)
      expect(deadline.current).to.be.at.least(Math.min(max, STALL_MIN_TIMEOUT))
    }))
  })

  it('a request\'s own deadline: a few of its peer\'s round trips once sent and measured; never under the floor for a dial, or at the typical round trip of a peer never measured, whose own may be 5 times longer', () => {
    const options = { initial: 2_000, factor: 3, min: 1_000, minSent: 250 }
    const rtts = new RoundTrips()
    expect(requestDeadline(options, rtts, 'a', 'sent', 10_000)).to.equal(undefined)
    rtts.observe('a', 80)
    // measured: 3 round trips once sent; before, 3 × (a dial and a stream) but at least the floor
    expect(requestDeadline(options, rtts, 'a', 'sent', 10_000)).to.equal(250)
    expect(requestDeadline(options, rtts, 'a', 'stream', 10_000)).to.equal(1_000)
    expect(requestDeadline(options, rtts, 'a', 'dial', 10_000)).to.equal(1_000)
    rtts.observe('far', 400)
    expect(requestDeadline(options, rtts, 'far', 'sent', 10_000)).to.equal(1_200)
    expect(requestDeadline(options, rtts, 'far', 'dial', 10_000)).to.equal(4_800)
    expect(requestDeadline(options, rtts, 'far', 'dial', 4_000)).to.equal(4_000)
    // never measured: the typical round trip (here 240 ms) says little of this peer's, the floor holds
    expect(requestDeadline(options, rtts, 'b', 'sent', 10_000)).to.equal(1_000)
    expect(requestDeadline(options, rtts, 'b', 'dial', 10_000)).to.equal(2_880)
  })

  it('a bound on a peer\'s round trip (its dial, libp2p\'s ping) sets its deadline once sent, gives way to the first measurement, and leaves the typical round trip alone', () => {
    const options = { initial: 2_000, factor: 3, min: 1_000, minSent: 250 }
    const rtts = new RoundTrips()
    rtts.observe('a', 300)
    // a dial of 240 ms: 3 round trips of at most 80 ms
    rtts.dialled('b', 240)
    expect(rtts.of('b')).to.equal(80)
    expect(rtts.typical).to.equal(300)
    expect(requestDeadline(options, rtts, 'b', 'sent', 10_000)).to.equal(250)
    // the first measurement replaces the bound instead of being smoothed with it
    rtts.observe('b', 40)
    expect(rtts.of('b')).to.equal(40)
    // and a bound never overrides a measurement
    rtts.bound('b', 500)
    expect(rtts.of('b')).to.equal(40)
    rtts.bound('a', 10)
    expect(rtts.of('a')).to.equal(300)
    // a newer bound of a peer never measured replaces the older
    rtts.bound('c', 90)
    rtts.bound('c', 120)
    expect(rtts.of('c')).to.equal(120)
  })

  it('doubts a peer whose request failed or went unanswered at the end of its lookup, until it answers; remembers at most its size', () => {
    const table = new RoutingTable<SimPeer>({ localKey: simPeer(99).key, kBucketSize: 20, freshness: Infinity, now: () => 0, maxFailures: 1, onCheck: () => {} })
    const [a, b, c] = [simPeer(1), simPeer(2), simPeer(3)]
    const doubts = new Doubts(2)
    learnFromLookup(table, { type: 'fail', peer: a, error: new Error('gone'), elapsed: 10 }, doubts)
    learnFromOutcome(table, { unanswered: [b] }, doubts)
    expect([a, b, c].map(p => doubts.has(p.id))).to.deep.equal([true, true, false])
    // a dial the lookup's end gave up while it was late is no reason to doubt (a far peer's dial takes long)
    learnFromLookup(table, { type: 'fail', peer: c, error: new Error('late'), elapsed: 1_500, lookupEnded: true }, doubts)
    expect(doubts.has(c.id)).to.equal(false)
    // an answer clears it (and it enters the table)
    learnFromLookup(table, { type: 'answer', peer: a, closer: [], added: [], elapsed: 10 }, doubts)
    expect(doubts.has(a.id)).to.equal(false)
    expect(table.has(a.id)).to.equal(true)
    // past its size the least recently doubted is forgotten
    doubts.doubt(a.id)
    doubts.doubt(c.id)
    expect([a, b, c].map(p => doubts.has(p.id))).to.deep.equal([true, false, true])
    expect(doubts.size).to.equal(2)
  })

  it('remembers at most its size of peers, the least recently seen forgotten first, bounds counted', () => {
    const rtts = new RoundTrips(2)
    rtts.bound('a', 10)
    rtts.observe('b', 20)
    rtts.observe('c', 30)
    expect(rtts.of('a')).to.equal(undefined)
    // 'a' forgotten with its bound: measured again, its first measurement stands alone
    rtts.observe('a', 50)
    expect(rtts.of('a')).to.equal(50)
    expect(rtts.of('b')).to.equal(undefined)
  })

  it('the state machine: a stalled request frees its α slot, does not hold the end, and may still answer or fail', () => {
    const target = kadId(new Uint8Array([3]))
    const peers = Array.from({ length: 6 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const lookup = new Lookup<SimPeer>({ target, alpha: 2, resultSize: 2 }, peers.slice(0, 4))
    expect(lookup.next().map(p => p.id)).to.deep.equal([peers[0].id, peers[1].id])
    expect(lookup.next()).to.deep.equal([])
    expect(lookup.stalled(peers[0].id)).to.equal(true)
    expect(lookup.state(peers[0].id)).to.equal('stalled')
    expect([lookup.pending, lookup.stalledPending]).to.deep.equal([1, 1])
    // only a request in flight can stall, and only once
    expect(lookup.stalled(peers[0].id)).to.equal(false)
    expect(lookup.stalled(peers[3].id)).to.equal(false)
    // its slot is free: the next closest is asked
    expect(lookup.next().map(p => p.id)).to.deep.equal([peers[2].id])
    lookup.answered(peers[1].id)
    lookup.answered(peers[2].id)
    // the closest two live peers answered: the stalled one is not waited for
    expect(lookup.done).to.equal(true)
    expect(lookup.results().map(p => p.id)).to.deep.equal([peers[1].id, peers[2].id])
    // its late answer still counts
    expect(lookup.answered(peers[0].id, [peers[5]]).map(p => p.id)).to.deep.equal([peers[5].id])
    expect(lookup.stalledPending).to.equal(0)
    expect(lookup.results().map(p => p.id)).to.deep.equal([peers[0].id, peers[1].id])
    expect(lookup.stats).to.include({ asked: 3, answered: 3, failed: 0, stalled: 1 })

    const other = new Lookup<SimPeer>({ target, alpha: 1, resultSize: 1 }, peers.slice(0, 2))
    expect(other.next().map(p => p.id)).to.deep.equal([peers[0].id])
    other.stalled(peers[0].id)
    expect(other.next().map(p => p.id)).to.deep.equal([peers[1].id])
    other.failed(peers[0].id)
    expect(other.state(peers[0].id)).to.equal('failed')
    expect(other.stats).to.include({ failed: 1, stalled: 1 })
    expect([other.pending, other.stalledPending]).to.deep.equal([1, 0])
  })

  it('the state machine never holds more than α live and α + maxStalled open requests, never asks twice, and ends (property)', () => {
    const target = kadId(new Uint8Array([5]))
    const universe = Array.from({ length: 40 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const op = fc.tuple(fc.nat(), fc.constantFrom('answer', 'fail', 'stall'), fc.array(fc.nat({ max: 39 }), { maxLength: 5 }))
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 150 }),
      (alpha, maxStalled, resultSize, seedCount, ops) => {
        const lookup = new Lookup<SimPeer>({ target, alpha, resultSize, maxStalled }, universe.slice(-seedCount))
        const asked = new Set<string>()
        const answered = new Set<string>()
        const open: string[] = []
        const step = (): void => {
          for (const peer of lookup.next()) {
            expect(asked.has(peer.id), `${peer.id} asked twice`).to.equal(false)
            asked.add(peer.id)
            open.push(peer.id)
          }
          expect(lookup.pending).to.be.at.most(alpha)
          expect(lookup.pending + lookup.stalledPending).to.equal(open.length)
          expect(open.length).to.be.at.most(alpha + maxStalled)
        }
        const close = (id: string): void => { open.splice(open.indexOf(id), 1) }
        step()
        for (const [pick, kind, closer] of ops) {
          if (open.length === 0) {
            break
          }
          const id = open[pick % open.length]
          if (kind === 'answer') {
            lookup.answered(id, closer.map(i => universe[i]))
            answered.add(id)
            close(id)
          } else if (kind === 'fail') {
            lookup.failed(id)
            close(id)
          } else {
            const wasAsked = lookup.state(id) === 'asked'
            expect(lookup.stalled(id)).to.equal(wasAsked)
          }
          step()
        }
        // whatever is still open answers, one at a time, with nothing new: the lookup must end
        while (open.length > 0 && !lookup.done) {
          const id = open[0]
          lookup.answered(id)
          answered.add(id)
          close(id)
          step()
        }
        expect(lookup.done).to.equal(true)
        for (const peer of lookup.results()) {
          expect(answered.has(peer.id)).to.equal(true)
        }
      }
    ))
  })

  it('a silent peer among the closest no longer holds the lookup until its request timeout, and is not reported failed', async () => {
    const { peers, tables } = network(300)
    for (let run = 0; run < 4; run++) {
      const target = kadId(new TextEncoder().encode(`stall-${run}`))
      const top = bruteForce(peers, target, 20)
      // a quarter of the 20 closest never answer
      const silent = new Set(top.filter((_, i) => i % 4 === 1))
      const origin = peers.find(p => !top.includes(p.id))!
      const plan = (peer: SimPeer): Plan => silent.has(peer.id)
        ? 'silent'
        : { after: 40 + (peer.n % 9) * 15, closer: tables.get(peer.id)!.closest(target, 20).map(e => e.peer).filter(p => p.id !== origin.id) }
      const init = { target, alpha: 10, resultSize: 20, requestTimeout: 10_000, seeds: tables.get(origin.id)!.closest(target, 20).map(e => e.peer) }
      // answers list the 20 closest, silent or not: every live peer among them is found, in order
      const live = top.filter(id => !silent.has(id) && id !== origin.id)

      const before = await virtualLookup(init, plan)
      expect(before.closest.slice(0, live.length)).to.deep.equal(live)
      // without stall detection the silent peers hold the lookup until their requests time out
      expect(before.endedAt).to.be.at.least(10_000)
      expect(ids(before.events, 'fail')).to.include.members(ids(before.events, 'ask').filter(id => silent.has(id)))

      const after = await virtualLookup({ ...init, stall: STALL }, plan)
      expect(after.closest.slice(0, live.length)).to.deep.equal(live)
      const askedSilent = ids(after.events, 'ask').filter(id => silent.has(id))
      expect(askedSilent).to.not.be.empty()
      // each silent peer asked stalled by the stall deadline, and the lookup did not wait for it
      expect(ids(after.events, 'stall')).to.have.members(askedSilent)
      for (const event of after.events.filter(e => e.type === 'stall')) {
        expect(event.type === 'stall' && event.elapsed).to.be.at.most(STALL_INITIAL_TIMEOUT)
      }
      expect(after.endedAt).to.be.below(10_000)
      // the lookup's end aborted them; none is reported as a failure
      expect(ids(after.events, 'fail')).to.deep.equal([])
      expect(after.aborted.map(a => a.id)).to.have.members(askedSilent)
      expect(after.aborted.every(a => a.reason === 'lookup ended')).to.equal(true)
      expect(after.stats).to.include({ failed: 0, stalled: askedSilent.length })
      expect(after.maxLive).to.be.at.most(10)
      expect(after.maxOpen).to.be.at.most(20)
    }
  })

  it('a late answer from a stalled peer is taken, and a closer peer it brings re-opens the lookup', async () => {
    const target = kadId(new Uint8Array([11]))
    const [x, a, b, c] = Array.from({ length: 10 }, (_, n) => simPeer(n)).sort((p, q) => compareDistance(p.key, q.key, target))
    // a answers after its stall deadline (2 s before any answer), with the closest peer x; c is
    // slow too: the lookup, which met a stall, waits for it until its own stall deadline, then ends
    const plans = new Map<string, Plan>([
      [a.id, { after: 2_200, closer: [x] }],
      [b.id, { after: 100, closer: [] }],
      [c.id, { after: 5_000, closer: [] }],
      [x.id, { after: 100, closer: [] }]
    ])
    const run = await virtualLookup({ target, alpha: 3, resultSize: 2, requestTimeout: 10_000, stall: STALL, seeds: [a, b, c] }, peer => plans.get(peer.id) ?? 'silent')
    const names = new Map([[x.id, 'x'], [a.id, 'a'], [b.id, 'b'], [c.id, 'c']])
    const trace = run.events.map(e => `${e.at} ${e.type} ${names.get(e.peer.id)}`)
    expect(trace).to.deep.equal([
      '0 ask a', '0 ask b',
      '100 answer b',
      // a stalls: its slot goes to c, the next closest
      '2000 stall a', '2000 ask c',
      // a answers late: taken, and x, closer than anyone, is asked
      '2200 answer a', '2200 ask x',
      '2300 answer x',
      // done, but c's answer could still name a closer peer: waited for until it stalls (1 s)
      '3000 stall c'
    ])
    expect(run.endedAt).to.equal(3_000)
    expect(run.closest).to.deep.equal([x.id, a.id])
    const lateAnswer = run.events.find(e => e.type === 'answer' && e.peer.id === a.id)
    expect(lateAnswer?.type === 'answer' && lateAnswer.added.map(p => p.id)).to.deep.equal([x.id])
    // c was still open at the end: aborted, never reported
    expect(run.aborted).to.deep.equal([{ id: c.id, reason: 'lookup ended', at: 3_000 }])
    expect(run.stats).to.include({ asked: 4, answered: 3, failed: 0, stalled: 2 })
  })

  it('a doubted peer is asked but not waited for: a silent one costs nothing, a live one that answers in time is in the result', async () => {
    const target = kadId(new Uint8Array([12]))
    const [d1, d2, a, b, c] = Array.from({ length: 10 }, (_, n) => simPeer(n)).sort((p, q) => compareDistance(p.key, q.key, target))
    // d1 and d2 are doubted and the closest: d1 is silent, d2 answers after 50 ms; a, b, c after 100 ms
    const plans = new Map<string, Plan>([
      [d1.id, 'silent'],
      [d2.id, { after: 50, closer: [] }],
      [a.id, { after: 100, closer: [] }],
      [b.id, { after: 100, closer: [] }],
      [c.id, { after: 100, closer: [] }]
    ])
    const doubted = new Set([d1.id, d2.id])
    const names = new Map([[d1.id, 'd1'], [d2.id, 'd2'], [a.id, 'a'], [b.id, 'b'], [c.id, 'c']])
    const init = { target, alpha: 3, resultSize: 2, widen: true, requestTimeout: 10_000, stall: STALL, seeds: [d1, d2, a, b, c] }
    const run = await virtualLookup({ ...init, doubted: (peer: SimPeer) => doubted.has(peer.id) }, peer => plans.get(peer.id) ?? 'silent')
    expect(run.events.map(e => `${e.at} ${e.type} ${names.get(e.peer.id)}`)).to.deep.equal([
      // each doubted peer frees its slot as it is asked, and widen asks one more live peer for it
      '0 ask d1', '0 stall d1', '0 ask d2', '0 stall d2', '0 ask a', '0 ask b', '0 ask c',
      // d2's answer is taken: it is back among the live
      '50 answer d2',
      // d2, a and b are the closest live peers (one more for the silent d1); c's answer, on its
      // way, is waited for too, as in any lookup that met a stall
      '100 answer a', '100 answer b', '100 answer c'
    ])
    expect(run.closest).to.deep.equal([d2.id, a.id])
    expect(run.endedAt).to.equal(100)
    expect(run.unanswered).to.deep.equal([d1.id])
    // without doubts the silent d1 holds the lookup until its stall deadline (2 s before any
    // answer), and the one more live peer it then waits for answers 100 ms later
    const plain = await virtualLookup(init, peer => plans.get(peer.id) ?? 'silent')
    expect(plain.endedAt).to.equal(STALL_INITIAL_TIMEOUT + 100)
    expect(plain.closest).to.deep.equal([d2.id, a.id])
  })

  it('slow but live peers that answer after their stall deadline, while the lookup runs, end up in the result', async () => {
    const { peers, tables } = network(300)
    let lateInResult = 0
    for (let run = 0; run < 6; run++) {
      const target = kadId(new TextEncoder().encode(`slow-${run}`))
      const origin = peers[run * 41]
      // one peer in four is slow: 1–4 s, past any stall deadline here (≤ 2 s) and within the 10 s timeout
      const plan = (peer: SimPeer): Plan => ({
        after: peer.n % 4 === 0 ? 1_000 + (peer.n % 7) * 500 : 30 + (peer.n % 11) * 20,
        closer: tables.get(peer.id)!.closest(target, 20).map(e => e.peer).filter(p => p.id !== origin.id)
      })
      const result = await virtualLookup({ target, alpha: 10, resultSize: 20, requestTimeout: 10_000, stall: STALL, seeds: tables.get(origin.id)!.closest(target, 20).map(e => e.peer) }, plan)
      const answeredIds = new Set(ids(result.events, 'answer'))
      const stalledIds = new Set(ids(result.events, 'stall'))
      // the result is exactly the 20 closest of the peers that answered before the end, late or not
      expect(result.closest).to.deep.equal(bruteForce(peers.filter(p => answeredIds.has(p.id)), target, 20))
      lateInResult += result.closest.filter(id => stalledIds.has(id)).length
      // nobody failed: the slow ones left open at the end were aborted, not reported
      expect(ids(result.events, 'fail')).to.deep.equal([])
      for (const { id, reason } of result.aborted) {
        expect(stalledIds.has(id) || reason === 'lookup ended').to.equal(true)
      }
    }
    expect(lateInResult, 'some slow peer answered late and was kept').to.be.greaterThan(0)
  })

  it('with onLate, a request still unanswered when the lookup ends runs on: its late answer or timeout is told after the outcome, and linger ends it untold', async () => {
    const target = kadId(new Uint8Array([13]))
    const [d1, d2, a, b] = Array.from({ length: 10 }, (_, n) => simPeer(n)).sort((p, q) => compareDistance(p.key, q.key, target))
    // two doubted peers, the closest: d1 answers 400 ms after the lookup is done, d2 never
    const plans = new Map<string, Plan>([
      [d1.id, { after: 500, closer: [] }],
      [a.id, { after: 100, closer: [] }],
      [b.id, { after: 100, closer: [] }]
    ])
    const names = new Map([[d1.id, 'd1'], [d2.id, 'd2'], [a.id, 'a'], [b.id, 'b']])
    const doubted = new Set([d1.id, d2.id])
    const lookup = async (onLate: RunLookupInit<SimPeer>['onLate'], linger?: AbortSignal): Promise<VirtualRun> => virtualLookup({
      target,
      alpha: 2,
      resultSize: 2,
      requestTimeout: 10_000,
      stall: STALL,
      seeds: [d1, d2, a, b],
      doubted: (peer: SimPeer) => doubted.has(peer.id),
      onLate,
      linger
    }, peer => plans.get(peer.id) ?? 'silent', true)
    const told = (run: VirtualRun): string[] => run.late.map(e => `${e.at} ${e.type} ${names.get(e.peer.id)}${e.type === 'fail' ? ` ${e.error.name}` : ''}`)

    const run = await lookup(() => {})
    expect(run.endedAt).to.equal(100)
    expect(run.closest).to.deep.equal([a.id, b.id])
    expect(run.unanswered.map(id => names.get(id))).to.deep.equal(['d1', 'd2'])
    // neither was cut short by the lookup's end: d1's answer and d2's timeout are told, after the
    // caller had the outcome
    expect(run.aborted.map(r => `${names.get(r.id)} ${r.reason}`)).to.deep.equal(['d2 no answer within 10000 ms'])
    expect(told(run)).to.deep.equal(['500 answer d1', '10000 fail d2 TimeoutError'])
    expect(run.lateBeforeOutcome).to.equal(false)

    // the node stops (linger aborts) once d1 answered: d2's request ends then, untold
    const stopping = new AbortController()
    const stopped = await lookup(() => { stopping.abort(new Error('stopping')) }, stopping.signal)
    expect(told(stopped)).to.deep.equal(['500 answer d1'])
    expect(stopped.aborted.map(r => `${r.at} ${names.get(r.id)} ${r.reason}`)).to.deep.equal(['500 d2 stopping'])

    // without onLate both are aborted when the lookup ends, and nothing is told
    const plain = await lookup(undefined)
    expect(plain.aborted.map(r => `${r.at} ${names.get(r.id)} ${r.reason}`)).to.deep.equal(['100 d1 lookup ended', '100 d2 lookup ended'])
    expect(plain.late).to.deep.equal([])
  })

  it('per request: a dial that hangs stalls at its deadline, a late dial that connects is waited for again, a silent peer stalls a few round trips after it was sent', async () => {
    const target = kadId(new Uint8Array([17]))
    const [a, s, g, q, e, h, i] = Array.from({ length: 12 }, (_, n) => simPeer(n)).sort((p, r) => compareDistance(p.key, r.key, target))
    // round trips: a dial is 3 of them, the request 1
    const rtt = new Map([[a.id, 20], [s.id, 400], [g.id, 30], [q.id, 20], [e.id, 30], [h.id, 60], [i.id, 60]])
    const dialled = (peer: SimPeer, answers = true): Plan => {
      const r = rtt.get(peer.id) as number
      return answers ? { sent: 3 * r, after: 4 * r } : { sent: 3 * r }
    }
    const plans = new Map<string, Plan>([
      [a.id, dialled(a)],
      // slow: connected after its dial deadline, answers at 1.6 s
      [s.id, dialled(s)],
      // gone: its dial hangs
      [g.id, {}],
      // silent: connected, never answers
      [q.id, dialled(q, false)],
      [e.id, dialled(e)], [h.id, dialled(h)], [i.id, dialled(i)]
    ])
    // a dial's deadline 1 s, a request's on the wire 3 round trips
    const stallAfter = (peer: SimPeer, sent: boolean): number => sent ? 3 * (rtt.get(peer.id) as number) : 1_000
    const names = new Map([[a.id, 'a'], [s.id, 's'], [g.id, 'g'], [q.id, 'q'], [e.id, 'e'], [h.id, 'h'], [i.id, 'i']])
    const run = await virtualLookup({ target, alpha: 10, resultSize: 4, requestTimeout: 10_000, stall: STALL, stallAfter, seeds: [a, s, g, q, e, h, i] }, peer => plans.get(peer.id) ?? 'silent')
    expect(run.events.map(ev => `${ev.at} ${ev.type} ${names.get(ev.peer.id)}`)).to.deep.equal([
      '0 ask a', '0 ask s', '0 ask g', '0 ask q',
      '80 answer a',
      // q was sent at 60, 3 round trips of 20 ms later it stalls: e takes its place
      '120 stall q', '120 ask e',
      '240 answer e',
      // s and g are still dialling at their 1 s deadline: h and i are asked
      '1000 stall s', '1000 ask h', '1000 stall g', '1000 ask i',
      // s connects at 1.2 s and is waited for again; h and i answer, then s
      '1240 answer h', '1240 answer i',
      '1600 answer s',
      // the lookup ended with g's dial still hanging past its stall deadline: g failed
      '1600 fail g'
    ])
    expect(run.closest).to.deep.equal([a.id, s.id, e.id, h.id])
    // both were open at the end and aborted; the silent one, sent but unanswered, is told apart
    expect(run.aborted.map(x => names.get(x.id)).sort()).to.deep.equal(['g', 'q'])
    expect(run.unanswered).to.deep.equal([q.id])
    const failure = run.events.find(ev => ev.type === 'fail')
    expect(failure?.type === 'fail' && failure.error.name).to.equal('TimeoutError')
  })

  it('a dial that hangs past twice its stall deadline is given up and reported failed while the lookup goes on', async () => {
    const target = kadId(new Uint8Array([19]))
    const [g, s, x] = Array.from({ length: 6 }, (_, n) => simPeer(n)).sort((p, r) => compareDistance(p.key, r.key, target))
    // g's dial hangs; s is connected at once and answers at 3 s; x quickly
    const plans = new Map<string, Plan>([[g.id, {}], [s.id, { sent: 0, after: 3_000 }], [x.id, { sent: 10, after: 20 }]])
    const stallAfter = (_peer: SimPeer, sent: boolean): number => sent ? 5_000 : 1_000
    const names = new Map([[g.id, 'g'], [s.id, 's'], [x.id, 'x']])
    const run = await virtualLookup({ target, alpha: 3, resultSize: 3, requestTimeout: 10_000, stall: STALL, stallAfter, seeds: [g, s, x] }, peer => plans.get(peer.id) ?? 'silent')
    expect(run.events.map(ev => `${ev.at} ${ev.type} ${names.get(ev.peer.id)}`)).to.deep.equal([
      '0 ask g', '0 ask s', '0 ask x',
      '20 answer x',
      '1000 stall g',
      '2000 fail g',
      '3000 answer s'
    ])
    expect(run.aborted.map(a => names.get(a.id))).to.deep.equal(['g'])
    expect(run.unanswered).to.deep.equal([])
  })

  it('at most α live requests and 2α open ones, stalled included, when every peer is silent', async () => {
    const target = kadId(new Uint8Array([13]))
    const seeds = Array.from({ length: 14 }, (_, n) => simPeer(n))
    const run = await virtualLookup({ target, alpha: 3, resultSize: 20, requestTimeout: 10_000, stall: STALL, seeds }, () => 'silent')
    expect(run.maxLive).to.equal(3)
    expect(run.maxOpen).to.equal(6)
    // every request stalled, then failed at its timeout, but for the last ones: with nothing left
    // to ask and nothing live, the lookup ended without waiting for them (aborted, not failed)
    expect(run.stats).to.include({ asked: 14, answered: 0, stalled: 14 })
    const endedOpen = run.aborted.filter(a => a.reason === 'lookup ended').map(a => a.id)
    expect(endedOpen).to.not.be.empty()
    expect(run.stats.failed + endedOpen.length).to.equal(14)
    expect(ids(run.events, 'fail')).to.not.include.members(endedOpen)
    expect(run.closest).to.deep.equal([])
    expect(new Set(ids(run.events, 'ask')).size).to.equal(14)

    // maxStalled 0: a stalled request still frees nothing beyond α in all
    const strict = await virtualLookup({ target, alpha: 3, resultSize: 20, requestTimeout: 10_000, stall: STALL, seeds, maxStalled: 0 }, () => 'silent')
    expect(strict.maxOpen).to.equal(3)
    expect(strict.stats).to.include({ asked: 14, answered: 0 })
  })
})
