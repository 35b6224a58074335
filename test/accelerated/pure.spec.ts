/**
 * The accelerated client's pure parts: the full table against brute force, the crawl's stop
 * rule and schedule, and the prefix keys.
 */
import { expect } from 'aegir/chai'
import { Crawl, Visit } from '../../src/accelerated/crawl.ts'
import { FullTable } from '../../src/accelerated/full-table.ts'
import { PrefixKeys } from '../../src/accelerated/prefix-keys.ts'
import { commonPrefixLength, compareDistance, kadId } from '../../src/keys.ts'
import { RoundTrips } from '../../src/query/round-trips.ts'
import { PHASE_ROUND_TRIPS, requestDeadline } from '../../src/query/stall.ts'

interface P { id: string, key: Uint8Array }

function peers (n: number, seed = 1): P[] {
  return Array.from({ length: n }, (_, i) => ({ id: `p${seed}-${i}`, key: kadId(new TextEncoder().encode(`peer ${seed} ${i}`)) }))
}

describe('accelerated: full table', () => {
  it('gives the n closest to any key exactly as brute force, after adds and removals', () => {
    const all = peers(3_000)
    const table = new FullTable<P>({ maxPeers: 10_000, maxFailures: 2 })
    all.forEach(p => table.answered(p, 0))
    const gone = new Set(all.filter((_, i) => i % 7 === 0).map(p => p.id))
    gone.forEach(id => table.remove(id))
    const live = all.filter(p => !gone.has(p.id))
    expect(table.size).to.equal(live.length)
    for (let i = 0; i < 200; i++) {
      const target = kadId(new TextEncoder().encode(`target ${i}`))
      const count = [1, 20, 40][i % 3]
      const truth = [...live].sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, count).map(p => p.id)
      expect(table.closest(target, count).map(e => e.peer.id)).to.deep.equal(truth)
    }
    // a peer's own key gives it first
    expect(table.closest(live[5].key, 1)[0].peer.id).to.equal(live[5].id)
  })

  it('refuses peers past maxPeers and drops a peer after maxFailures failures in a row', () => {
    const table = new FullTable<P>({ maxPeers: 10, maxFailures: 2 })
    const list = peers(12)
    expect(list.map(p => table.answered(p, 0)).filter(Boolean)).to.have.length(10)
    expect(table.refused).to.equal(2)
    expect(table.failed(list[0].id)).to.equal(false)
    table.answered(list[0], 1)
    expect(table.failed(list[0].id)).to.equal(false)
    expect(table.failed(list[0].id)).to.equal(true)
    expect(table.has(list[0].id)).to.equal(false)
  })
})

describe('accelerated: measured round trips', () => {
  it('a visit times its answers and gives the peer\'s round trip: its quickest on an open connection, else its first over a dial\'s round trips', () => {
    const [peer, ...named] = peers(30, 7)
    const visit = new Visit<P>(peer, 20, 16)
    expect(visit.roundTrip).to.be.NaN()
    visit.answer(named.slice(0, 20), 400, true)
    // only the request that opened the connection: 400 ms over the 5 round trips the stall deadlines count for it
    expect(visit.roundTrip).to.equal(400 / PHASE_ROUND_TRIPS.dial)
    visit.answer(named.slice(5, 25), 90)
    visit.answer(named.slice(9, 29), 80)
    expect([visit.cold, visit.rtt, visit.roundTrip]).to.deep.equal([400, 80, 80])
    // what the crawl tells the node's round trips is what a request to the peer stalls after
    const roundTrips = new RoundTrips()
    roundTrips.observe(peer.id, visit.roundTrip)
    const stall = { initial: 2_000, factor: 3, min: 2_000, minSent: 250 }
    expect(requestDeadline(stall, roundTrips, peer.id, 'sent', 10_000)).to.equal(250)
    // a dial: 3 × its round trips at the peer's 80 ms, above the floor
    stall.min = 500
    expect(requestDeadline(stall, roundTrips, peer.id, 'dial', 10_000)).to.equal(3 * PHASE_ROUND_TRIPS.dial * 80)
  })
})

describe('accelerated: crawl', () => {
  it('a visit stops at an answer naming fewer than k, or nothing new', () => {
    const named = peers(60, 2)
    const short = new Visit<P>(named[0], 20, 16)
    expect(short.answer(named.slice(1, 21))).to.equal(true)
    expect(short.depth).to.equal(1)
    expect(short.answer(named.slice(21, 30))).to.equal(false)
    const stale = new Visit<P>(named[0], 20, 16)
    expect(stale.answer(named.slice(1, 21))).to.equal(true)
    expect(stale.answer(named.slice(1, 21))).to.equal(false)
    const deep = new Visit<P>(named[0], 20, 2)
    expect(deep.answer(named.slice(1, 21))).to.equal(true)
    expect(deep.answer(named.slice(21, 41))).to.equal(false)
    expect(deep.named.size).to.equal(40)
  })

  it('one pass visits every peer heard of once, and is done', () => {
    let now = 0
    const crawl = new Crawl<P>({ kBucketSize: 20, maxDepth: 16, interval: 0, maxKnown: 1_000, maxFailedVisits: 2, now: () => now })
    const all = peers(50, 3)
    crawl.offer(all.slice(0, 1))
    const seen: string[] = []
    for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
      seen.push(peer.id)
      const visit = crawl.visit(peer)
      visit.answer(all.slice(0, 10))
      crawl.finish(visit, peer.id !== all[3].id, 1)
      now += 10
    }
    expect(seen.sort()).to.deep.equal(all.slice(0, 10).map(p => p.id).sort())
    expect(crawl.done).to.equal(true)
    const progress = crawl.progress()
    expect(progress).to.include({ known: 10, visited: 10, answering: 9, unreachable: 1, pending: 0, firstPassDone: true, requests: 10 })
  })

  it('rolling: a failed visit is tried again after the retry delay, then forgotten after a second failure', () => {
    let now = 0
    const crawl = new Crawl<P>({ kBucketSize: 20, maxDepth: 16, interval: 60_000, maxKnown: 100, maxFailedVisits: 2, retryDelay: 5_000, now: () => now })
    const [peer] = peers(1, 6)
    crawl.offer([peer])
    crawl.finish(crawl.visit(crawl.take() as P), false, 1)
    expect(crawl.nextDue()).to.equal(5_000)
    now = 5_000
    crawl.finish(crawl.visit(crawl.take() as P), false, 1)
    expect(crawl.has(peer.id)).to.equal(false)
    expect(crawl.progress()).to.include({ known: 0, visited: 0, unreachable: 0 })
  })

  it('rolling: a peer a lookup found late or failing is due again at once, unless its visit is under way', () => {
    let now = 0
    const crawl = new Crawl<P>({ kBucketSize: 20, maxDepth: 16, interval: 60_000, maxKnown: 100, maxFailedVisits: 2, now: () => now })
    const all = peers(1, 9)
    crawl.offer(all)
    for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
      crawl.finish(crawl.visit(peer), true, 1)
    }
    now = 1_000
    expect(crawl.take()).to.equal(undefined)
    crawl.soon(all[0].id)
    crawl.soon('unknown')
    const again = crawl.take()
    expect(again?.id).to.equal(all[0].id)
    // while it is visited, soon changes nothing
    crawl.soon(all[0].id)
    expect(crawl.take()).to.equal(undefined)
    crawl.finish(crawl.visit(again as P), true, 1)
    // then it waits for the sweep again: at least half a round
    expect(crawl.nextDue()).to.be.at.least(now + 30_000)
  })

  it('rolling: a peer heard of for the first time is visited before the re-visits already due', () => {
    let now = 0
    const crawl = new Crawl<P>({ kBucketSize: 20, maxDepth: 16, interval: 60_000, maxKnown: 100, maxFailedVisits: 2, now: () => now })
    const [newcomer, ...known] = peers(11, 10)
    crawl.offer(known)
    for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
      crawl.finish(crawl.visit(peer), true, 1)
    }
    // the sweep fell a whole round behind: every re-visit is overdue when a newcomer is named
    now = 120_000
    crawl.offer([newcomer])
    expect(crawl.nextDue()).to.be.below(now)
    expect(crawl.take()?.id).to.equal(newcomer.id)
    const rest: string[] = []
    for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
      rest.push(peer.id)
    }
    expect(rest.sort()).to.deep.equal(known.map(p => p.id).sort())
  })

  it('a visit gives up a connection to a peer measured before at twice its dial\'s stall deadline or last connection, else at the visit timeout', () => {
    const stall = { initial: 2_000, factor: 3, min: 1_000, minSent: 250 }
    let now = 0
    const crawl = new Crawl<P>({ kBucketSize: 20, maxDepth: 16, interval: 60_000, maxKnown: 100, maxFailedVisits: 2, now: () => now })
    const [near, far, slowToConnect] = peers(3, 11)
    crawl.offer([near, far, slowToConnect])
    expect(crawl.visit(near).giveUpAfter(stall, 15_000)).to.equal(15_000)
    for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
      const visit = crawl.visit(peer)
      // the first request opened the connection, the second went over it
      visit.answer(peers(20, 12), peer === slowToConnect ? 2_000 : 400, true)
      visit.answer([], peer === near ? 40 : 100)
      crawl.finish(visit, true, 2)
    }
    now = 60_000
    expect(crawl.visit(near)).to.include({ lastRoundTrip: 40, lastConnect: 400 })
    // 3 × the dial's 4 round trips (at least the stall floor), or the last connection's time, the longer; twice that; at most the visit timeout
    expect(crawl.visit(near).giveUpAfter(stall, 15_000)).to.equal(2 * 1_000)
    expect(crawl.visit(far).giveUpAfter(stall, 15_000)).to.equal(2 * 3 * PHASE_ROUND_TRIPS.dial * 100)
    expect(crawl.visit(slowToConnect).giveUpAfter(stall, 15_000)).to.equal(2 * 2_000)
    expect(crawl.visit(far).giveUpAfter(stall, 2_000)).to.equal(2_000)
    expect(crawl.visit(far).giveUpAfter(undefined, 15_000)).to.equal(15_000)
  })

  it('rolling: after the first pass each peer is due once per round, spread over it', () => {
    let now = 0
    const round = 60_000
    const crawl = new Crawl<P>({ kBucketSize: 20, maxDepth: 16, interval: round, maxKnown: 10_000, maxFailedVisits: 2, now: () => now })
    const all = peers(1_000, 4)
    crawl.offer(all)
    for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
      crawl.finish(crawl.visit(peer), true, 1)
    }
    expect(crawl.progress().firstPassDone).to.equal(true)
    // over the next three rounds: every peer visited three times, no tenth of a round holding more than twice its share
    const perMinute = new Map<number, number>()
    const visits = new Map<string, number>()
    for (now = 0; now < 3 * round; now++) {
      for (let peer = crawl.take(); peer != null; peer = crawl.take()) {
        visits.set(peer.id, (visits.get(peer.id) ?? 0) + 1)
        const slot = Math.floor(now / (round / 10))
        perMinute.set(slot, (perMinute.get(slot) ?? 0) + 1)
        crawl.finish(crawl.visit(peer), true, 1)
      }
    }
    // the sweep begins when the first pass ends: once per round from then on, no gap, no storm
    expect(visits.size).to.equal(all.length)
    expect([...visits.values()].every(n => n === 3)).to.equal(true)
    expect(Math.max(...perMinute.values())).to.be.at.most(2 * all.length / 10)
  })
})

describe('accelerated: prefix keys', () => {
  it('gives a key whose hash shares exactly `depth` bits with the position', () => {
    const keys = new PrefixKeys()
    for (const position of peers(20, 5).map(p => p.key)) {
      for (let depth = 0; depth <= 15; depth++) {
        expect(commonPrefixLength(kadId(keys.atDepth(position, depth)), position)).to.equal(depth)
      }
    }
    expect(() => keys.atDepth(new Uint8Array(32), 16)).to.throw(RangeError)
  })

  it('holds no table until the first key is asked for (a node that never crawls pays nothing)', () => {
    const keys = new PrefixKeys()
    expect(keys.bytes).to.equal(0)
    keys.atDepth(new Uint8Array(32), 0)
    expect(keys.bytes).to.equal(4 << 16)
  })
})
