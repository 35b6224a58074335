/**
 * The pure pieces of the WAN benchmark whose bugs would silently corrupt its numbers: the floor
 * of a lookup, the latency model, and the transport's delay.
 */
import { expect } from 'aegir/chai'
import { Random } from '../../bench/lib/random.ts'
import { lookupFloor } from '../../bench/wan/floor.ts'
import { AMINO_RTT, drawFactors, pairRtt, pairRttPercentiles } from '../../bench/wan/latency.ts'
import { delayIncoming } from '../../bench/wan/transport.ts'
import type { Referrals } from '../../bench/wan/floor.ts'

/** A hand-made trace: `known` at the start, who was asked (cold or not), who listed whom. */
function referrals (known: string[], asked: Record<string, boolean>, answers: Record<string, string[]>): Referrals {
  return {
    known: new Set(known),
    asked: new Map(Object.entries(asked).map(([peer, cold]) => [peer, { cold }])),
    answers: new Map(Object.entries(answers))
  }
}

const RTT: Record<string, number> = { a: 100, b: 50, c: 200, d: 30, e: 10 }
const rtt = (peer: string): number => RTT[peer]

describe('WAN benchmark: the floor of a lookup', () => {
  it('adds up a referral chain, each cold hop costing the dial and the request', () => {
    // a (known) lists b, b lists c; every ask needed a new connection: 3 + 1 round trips each
    const ref = referrals(['a'], { a: true, b: true, c: true }, { a: ['b'], b: ['c'], c: [] })
    expect(lookupFloor(ref, rtt, { all: ['c'] })).to.deep.equal({ ms: 4 * (100 + 50 + 200), hops: 3, missing: 0 })
  })

  it('charges a warm hop one round trip', () => {
    const ref = referrals(['a'], { a: false, b: true, c: false }, { a: ['b'], b: ['c'], c: [] })
    expect(lookupFloor(ref, rtt, { all: ['c'] }).ms).to.equal(100 + 4 * 50 + 200)
  })

  it('takes the earliest referral, not the first one heard', () => {
    // c is listed by a (slow: 400 ms) and by d's chain (d 120 ms): c is known at 120 ms at best
    const ref = referrals(['a', 'd'], { a: true, c: true, d: true }, { a: ['c'], d: ['c'], c: [] })
    expect(lookupFloor(ref, rtt, { all: ['c'] })).to.deep.equal({ ms: 4 * 30 + 4 * 200, hops: 2, missing: 0 })
  })

  it('ends a closest-peers lookup at its latest result and a search at its first find', () => {
    const ref = referrals(['a', 'e'], { a: false, b: false, e: false }, { a: ['b'], b: [], e: [] })
    expect(lookupFloor(ref, rtt, { all: ['b', 'e'] }).ms).to.equal(150)
    expect(lookupFloor(ref, rtt, { any: ['b', 'e'] })).to.deep.equal({ ms: 10, hops: 1, missing: 0 })
  })

  it('adds a cost after each result (a put waits for its answers) and counts results it never saw', () => {
    const ref = referrals(['a'], { a: false, b: false }, { a: ['b'], b: [] })
    expect(lookupFloor(ref, rtt, { all: ['a', 'b', 'z'], after: () => 10 })).to.deep.equal({ ms: 100 + 50 + 10, hops: 2, missing: 1 })
  })

  it('has no floor when no goal peer answered', () => {
    const ref = referrals(['a'], { a: true }, { a: [] })
    expect(lookupFloor(ref, rtt, { any: ['b'] }).ms).to.be.NaN()
  })
})

describe('WAN benchmark: the latency model', () => {
  it('realises log-normal pair RTTs with the median and p99 asked for, symmetric', () => {
    const factors = drawFactors(new Random(7), 300)
    const f = pairRtt(AMINO_RTT)
    const [median, p99] = pairRttPercentiles(factors, f, [0.5, 0.99])
    expect(median).to.be.within(AMINO_RTT.medianRtt * 0.95, AMINO_RTT.medianRtt * 1.05)
    expect(p99).to.be.within(AMINO_RTT.p99Rtt * 0.85, AMINO_RTT.p99Rtt * 1.15)
    expect(f(factors[0], factors[1])).to.equal(f(factors[1], factors[0]))
  })
})

describe('WAN benchmark: the transport delay', () => {
  it('hands a burst of chunks over one one-way delay later, in order, and the end after them', async () => {
    const seen: Array<[unknown, number]> = []
    const started = performance.now()
    const conn = {
      onData (data: unknown) { seen.push([data, performance.now() - started]) },
      onTransportClosed () { seen.push(['end', performance.now() - started]) }
    }
    delayIncoming(conn, 100)
    for (let i = 0; i < 10; i++) {
      conn.onData(i)
    }
    conn.onTransportClosed()
    expect(seen).to.be.empty()
    await new Promise(resolve => setTimeout(resolve, 600))
    expect(seen.map(([d]) => d)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 'end'])
    // one delay for the burst: chunk after chunk (the memory transport's own latency) would
    // take 10 × 100 ms
    expect(Math.min(...seen.map(([, t]) => t))).to.be.at.least(99)
    expect(Math.max(...seen.map(([, t]) => t))).to.be.below(500)
  })
})
