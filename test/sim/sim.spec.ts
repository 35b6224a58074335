import { expect } from 'aegir/chai'
import { VirtualClock } from '../../bench/sim/clock.ts'
import { DEFAULT_STALL, SimNetwork } from '../../bench/sim/network.ts'

describe('network simulator', function () {
  this.timeout(20_000)

  it('runs events in virtual-time order, ties in scheduling order, and skips cancelled ones', () => {
    const clock = new VirtualClock()
    const seen: string[] = []
    clock.at(30, () => seen.push('c'))
    clock.at(10, () => {
      seen.push('a')
      clock.after(5, () => seen.push('a+5'))
    })
    clock.at(10, () => seen.push('b'))
    clock.cancellable(12, () => seen.push('cancelled')).cancel()
    while (clock.step()) { /* run all */ }
    expect(seen).to.deep.equal(['a', 'b', 'a+5', 'c'])
    expect(clock.now).to.equal(30)
  })

  it('in a 2,000-node network with no churn, every lookup finds the true 20 closest', async () => {
    const net = new SimNetwork({ seed: 42 })
    await net.buildByJoining(2_000, { alpha: 10, resultSize: 20 })
    for (let i = 0; i < 50; i++) {
      const from = net.nodes[net.random.int(net.nodes.length)]
      const record = await net.lookupNow(from, net.random.bytes(32), { alpha: 10, resultSize: 20 })
      expect(record.exact, `lookup ${i}: accuracy ${record.accuracy}`).to.equal(true)
      expect(record.requests).to.be.greaterThan(0)
    }
  })

  it('tables filled from the global view also give exact lookups', async () => {
    const net = new SimNetwork({ seed: 7 })
    net.buildFromGlobalView(2_000)
    for (let i = 0; i < 30; i++) {
      const from = net.nodes[net.random.int(net.nodes.length)]
      const record = await net.lookupNow(from, net.random.bytes(32), { alpha: 10, resultSize: 20 })
      expect(record.exact).to.equal(true)
    }
  })

  it('a request to a node that is down fails after the request timeout, in virtual time', async () => {
    const net = new SimNetwork({ seed: 3, latency: { kind: 'constant', rtt: 10 }, requestTimeout: 1_000 })
    net.buildFromGlobalView(200)
    const from = net.nodes[0]
    const target = net.random.bytes(32)
    // every peer the lookup would ask first is down
    for (const entry of from.table.closest(target, 20)) {
      net.nodes[entry.peer.index].up = false
    }
    const record = await net.lookupNow(from, target, { alpha: 10, resultSize: 20 })
    expect(record.failures).to.be.at.least(10)
    expect(record.latency).to.be.at.least(1_000)
  })

  it('with silent nodes, stall detection keeps lookups from waiting out the request timeout', async () => {
    const run = async (stall: boolean): Promise<Array<{ latency: number, stalls: number, timedOut: boolean, accuracy: number }>> => {
      const net = new SimNetwork({ seed: 5, stall: stall ? DEFAULT_STALL : false })
      net.buildFromGlobalView(1_000)
      for (const i of net.random.sample(1_000, 200)) {
        net.nodes[i].up = false
      }
      const out = []
      for (let i = 0; i < 20; i++) {
        const from = net.randomUp()!
        out.push(await net.lookupNow(from, net.random.bytes(32), { alpha: 10, resultSize: 20 }))
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

  it('the same seed replays the same network and lookups', async () => {
    const run = async (): Promise<unknown[]> => {
      const net = new SimNetwork({ seed: 11 })
      await net.buildByJoining(300, { alpha: 10, resultSize: 20 })
      const out: unknown[] = []
      for (let i = 0; i < 5; i++) {
        out.push(await net.lookupNow(net.nodes[i], net.random.bytes(32), { alpha: 3, resultSize: 20 }))
      }
      return out
    }
    expect(await run()).to.deep.equal(await run())
  })
})
