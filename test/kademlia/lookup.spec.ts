import { expect } from 'aegir/chai'
import { compareDistance, kadId } from '../../src/kademlia/keys.ts'
import { Lookup } from '../../src/kademlia/lookup.ts'
import { RoutingTable } from '../../src/kademlia/routing-table.ts'
import { runLookup } from '../../src/kademlia/run-lookup.ts'
import type { LookupPeer } from '../../src/kademlia/lookup.ts'

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
    const table = new RoutingTable<SimPeer>({ localKey: self.key, kBucketSize: k, freshness: Infinity, now: () => 0, ping: async () => true })
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

describe('kademlia/lookup', () => {
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
        beta: 3,
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
      beta: 3,
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
    const none = await runLookup<SimPeer>({ target, alpha: 3, beta: 3, resultSize: 20, requestTimeout: 10, now: Date.now, seeds: [], ask: async () => [] })
    expect(none.closest).to.deep.equal([])
    const failing = await runLookup<SimPeer>({
      target,
      alpha: 3,
      beta: 3,
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
    const lookup = new Lookup<SimPeer>({ target, alpha: 2, beta: 3, resultSize: 3 }, peers)
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

  it('a closer peer learned late re-opens the lookup', () => {
    const target = kadId(new Uint8Array([9]))
    const all = Array.from({ length: 6 }, (_, n) => simPeer(n)).sort((a, b) => compareDistance(a.key, b.key, target))
    const lookup = new Lookup<SimPeer>({ target, alpha: 5, beta: 1, resultSize: 2 }, all.slice(3))
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
      beta: 3,
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
      beta: 3,
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
