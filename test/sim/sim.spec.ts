import { expect } from 'aegir/chai'
import { VirtualClock } from '../../bench/sim/clock.ts'
import { DEFAULT_STALL, SimNetwork } from '../../bench/sim/network.ts'
import { REFRESH_INTERVAL } from '../../src/constants.ts'
import { MAX_PEER_FAILURES, REQUEST_TIMEOUT } from '../../src/defaults.ts'
import { runLookup } from '../../src/query/run-lookup.ts'
import { learnFromLookup, learnFromOutcome, lookupSeeds } from '../../src/query/table-lookup.ts'
import type { SimPeer } from '../../bench/sim/network.ts'
import type { LookupEvent, LookupOutcome } from '../../src/query/run-lookup.ts'

const PARAMS = { alpha: 10, resultSize: 20 }

/** A lookup's events as text, with the virtual time of each. */
function trace (clock: VirtualClock, into: string[]): (event: LookupEvent<SimPeer>) => void {
  return (event) => {
    const detail = event.type === 'answer' ? ` +${event.added.map(p => p.id).join(',')}` : ''
    into.push(`${clock.now.toFixed(3)} ${event.type} ${event.peer.id}${detail}`)
  }
}

describe('network simulator', function () {
  this.timeout(60_000)

  it('runs events in virtual-time order, ties in scheduling order, and skips cancelled ones', () => {
    const clock = new VirtualClock()
    const seen: string[] = []
    clock.at(30, () => seen.push('c'))
    clock.at(10, () => {
      seen.push('a')
      clock.after(5, () => seen.push('a+5'))
    })
    clock.at(10, () => seen.push('b'))
    clock.schedule(12, () => seen.push('cancelled'))()
    while (clock.step()) { /* run all */ }
    expect(seen).to.deep.equal(['a', 'b', 'a+5', 'c'])
    expect(clock.now).to.equal(30)
  })

  it('its lookups are runLookup with the peer routing\'s table policy: the same lookup on the same network gives the same events, at the same virtual times, and teaches the table the same', async () => {
    // a network where some peers are silent, so that answers, stalls and failures all happen
    const network = (): SimNetwork => {
      const net = new SimNetwork({ seed: 21, refreshInterval: 0 })
      net.buildFromGlobalView(400)
      for (let i = 0; i < 400; i += 5) {
        net.stop(net.nodes[i])
      }
      return net
    }
    const viaSim = network()
    const target = viaSim.random.bytes(32)
    const simEvents: string[] = []
    const record = await viaSim.lookupNow(viaSim.nodes[1], target, PARAMS, { onEvent: trace(viaSim.clock, simEvents) })

    // the same network again, and runLookup with the peer routing's table policy, on its clock
    const direct = network()
    const from = direct.nodes[1]
    const directEvents: string[] = []
    const onEvent = trace(direct.clock, directEvents)
    let outcome: LookupOutcome<SimPeer> | undefined
    void runLookup<SimPeer>({
      target,
      ...PARAMS,
      requestTimeout: REQUEST_TIMEOUT,
      stall: DEFAULT_STALL,
      seeds: lookupSeeds(from.table, target, 20),
      now: () => direct.clock.now,
      schedule: direct.clock.schedule,
      ask: direct.asker(from, target),
      onEvent: (event) => {
        learnFromLookup(from.table, event)
        onEvent(event)
      }
    }).then(result => {
      learnFromOutcome(from.table, result)
      outcome = result
    })
    await direct.run(() => outcome != null)
    if (outcome == null) {
      throw new Error('the lookup never ended')
    }

    expect(directEvents).to.deep.equal(simEvents)
    expect(simEvents.some(e => e.includes(' stall '))).to.equal(true)
    expect(simEvents.filter(e => e.includes(' ask ')).length).to.equal(record.requests)
    const truth = new Set(viaSim.trueClosest(target, 20, 1).map(p => p.id))
    expect(outcome.closest.filter(p => truth.has(p.id)).length / 20).to.equal(record.accuracy)
    // and the tables learnt the same from it
    expect([...direct.nodes[1].table.entries()].map(e => `${e.id}:${e.failures}:${e.unanswered}`).sort())
      .to.deep.equal([...viaSim.nodes[1].table.entries()].map(e => `${e.id}:${e.failures}:${e.unanswered}`).sort())
  })

  it('nodes that join one by one, with the refresher they run, make a network where every lookup finds the true 20 closest; the same seed replays it', async () => {
    const run = async (): Promise<unknown[]> => {
      const net = new SimNetwork({ seed: 42 })
      await net.buildByJoining(200, 60_000)
      const sizes = net.tableSizes()
      // the join refresh and one periodic refresh filled the tables well past the bootstrap peer
      expect(sizes.min).to.be.greaterThan(50)
      const out: unknown[] = []
      for (let i = 0; i < 30; i++) {
        const record = await net.lookupNow(net.nodes[net.random.int(net.nodes.length)], net.random.bytes(32))
        expect(record.exact, `lookup ${i}: accuracy ${record.accuracy}`).to.equal(true)
        out.push(record)
      }
      return out
    }
    expect(await run()).to.deep.equal(await run())
  })

  it('tables filled from the global view give exact lookups', async () => {
    const net = new SimNetwork({ seed: 7, refreshInterval: 0 })
    net.buildFromGlobalView(2_000)
    for (let i = 0; i < 30; i++) {
      const from = net.nodes[net.random.int(net.nodes.length)]
      const record = await net.lookupNow(from, net.random.bytes(32), PARAMS)
      expect(record.exact).to.equal(true)
    }
  })

  it('a request to a node that is down fails after the request timeout; the asker drops it after its second failure in a row, as the service does', async () => {
    const net = new SimNetwork({ seed: 3, latency: { kind: 'constant', rtt: 10 }, requestTimeout: 1_000, stall: false, refreshInterval: 0 })
    net.buildFromGlobalView(200)
    const from = net.nodes[0]
    const target = net.random.bytes(32)
    // every peer the lookup would ask first is down
    const down = from.table.closest(target, 20).map(entry => entry.peer)
    for (const peer of down) {
      net.stop(net.nodes[peer.index])
    }
    const first = await net.lookupNow(from, target, PARAMS)
    expect(first.failures).to.be.at.least(10)
    expect(first.latency).to.be.at.least(1_000)
    const failedOnce = down.filter(peer => from.table.get(peer.id)?.failures === 1)
    expect(failedOnce.length).to.equal(first.failures)
    expect(MAX_PEER_FAILURES).to.equal(2)
    await net.lookupNow(from, target, PARAMS)
    for (const peer of failedOnce) {
      expect(from.table.has(peer.id), `${peer.id} failed twice`).to.equal(false)
    }
  })

  it('with silent nodes, stall detection keeps lookups from waiting out the request timeout', async () => {
    const run = async (stall: boolean): Promise<Array<{ latency: number, stalls: number, timedOut: boolean, accuracy: number }>> => {
      const net = new SimNetwork({ seed: 5, stall: stall ? DEFAULT_STALL : false, refreshInterval: 0 })
      net.buildFromGlobalView(1_000)
      for (const i of net.random.sample(1_000, 200)) {
        net.stop(net.nodes[i])
      }
      const out = []
      for (let i = 0; i < 20; i++) {
        const from = net.randomUp()!
        out.push(await net.lookupNow(from, net.random.bytes(32), PARAMS))
      }
      return out
    }
    const without = await run(false)
    const withStall = await run(true)
    expect(without.every(r => r.stalls === 0)).to.equal(true)
    // without it, a lookup that meets a silent peer among the closest waits out its 10 s timeout
    expect(without.filter(r => r.latency >= 10_000).length).to.be.greaterThan(0)
    // with it, silent peers stall and no lookup waits for a request timeout
    expect(withStall.some(r => r.stalls > 0)).to.equal(true)
    expect(withStall.every(r => !r.timedOut && r.latency < 10_000)).to.equal(true)
    expect(withStall.every(r => r.accuracy >= 0.9)).to.equal(true)
  })

  it('the refresher runs on the virtual clock: within two refresh intervals, every live node checked its stale peers and dropped every silent one', async () => {
    const net = new SimNetwork({ seed: 9 })
    net.buildFromGlobalView(200)
    await net.runUntil(REFRESH_INTERVAL)
    for (let i = 0; i < 200; i += 4) {
      net.stop(net.nodes[i])
    }
    expect(net.deadEntries()).to.be.greaterThan(2_000)
    const checks = net.counters.checks
    // a refresh checks the peers not seen within the interval before it began; the first one
    // after the silence may have seen them just before, the next one cannot have
    await net.runUntil(net.clock.now + 2 * REFRESH_INTERVAL)
    expect(net.deadEntries()).to.equal(0)
    expect(net.counters.checks - checks).to.be.greaterThan(net.upCount * 50)
  })
})
