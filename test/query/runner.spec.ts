import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { kadId } from '../../src/keys.ts'
import { dhtPeer } from '../../src/network/dht-peer.ts'
import { QueryRunner } from '../../src/query/runner.ts'
import { RoutingTable } from '../../src/table/routing-table.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { TestClock } from '../utils/clock.ts'
import type { DHTPeer } from '../../src/network/dht-peer.ts'
import type { LookupProgressEvents, QueryRunnerInit } from '../../src/query/runner.ts'
import type { StallOptions } from '../../src/query/stall.ts'
import type { Message } from '../../src/wire/codec.ts'
import type { PeerId } from '@libp2p/interface'

/**
 * The query runner over a fake client: every peer answers at once with no closer peers, but for
 * `silent`, which answers only by failing when its request is aborted.
 */
async function setup (stall: StallOptions | undefined, requestTimeout: number, overrides: Partial<QueryRunnerInit> = {}): Promise<{ routing: QueryRunner, table: RoutingTable<DHTPeer>, peers: PeerId[], silent: PeerId, aborted: Array<{ peer: string, reason: string }>, lifetime: AbortController }> {
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const peers = await Promise.all(Array.from({ length: 6 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  const silent = peers[2]
  // one failed request is enough to leave this table: a failure reported wrongly would show
  const table = new RoutingTable<DHTPeer>({ localKey: kadId(self.toMultihash().bytes), kBucketSize: 20, freshness: Infinity, maxFailures: 1, now: Date.now, onCheck: () => {} })
  for (const peer of peers) {
    const entry = dhtPeer(peer, [])
    table.add(entry.id, entry.key, entry)
  }
  const aborted: Array<{ peer: string, reason: string }> = []
  const client = {
    request: async (target: PeerId, _request: unknown, options: { signal: AbortSignal }): Promise<Message> => {
      if (!target.equals(silent)) {
        return decodeMessage(encodeMessage({ type: MessageType.FIND_NODE }))
      }
      return new Promise((_resolve, reject) => {
        options.signal.addEventListener('abort', () => {
          aborted.push({ peer: target.toString(), reason: (options.signal.reason as Error).message })
          reject(options.signal.reason)
        }, { once: true })
      })
    }
  }
  const log = Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false })
  const lifetime = new AbortController()
  const init: QueryRunnerInit = {
    self,
    table,
    client: client as unknown as QueryRunnerInit['client'],
    connectionManager: { getConnections: () => [] } as unknown as QueryRunnerInit['connectionManager'],
    log: log as unknown as QueryRunnerInit['log'],
    kBucketSize: 20,
    alpha: 3,
    queryTimeout: 30_000,
    requestTimeout,
    stall,
    addresses: 'all',
    lifetime: () => lifetime.signal,
    channel: { emit: () => {} },
    observers: []
  }
  return { routing: new QueryRunner({ ...init, ...overrides }), table, peers, silent, aborted, lifetime }
}

describe('query/runner', () => {
  it('reports a stalled request as kadmium:lookup:stall and keeps the peer in the table when the lookup ends without it; the request runs on until the node stops', async () => {
    // a short stall deadline and a request timeout far beyond the test
    const { routing, table, peers, silent, aborted, lifetime } = await setup({ initial: 20, factor: 3, min: 20 }, 60_000)
    const events: LookupProgressEvents[] = []
    const { closest } = await routing.lookup(new Uint8Array([1, 2, 3]), { onProgress: (event) => { events.push(event) } })
    expect(closest.map(p => p.id)).to.have.members(peers.filter(p => !p.equals(silent)).map(String))
    const stalls = events.filter(e => e.type === 'kadmium:lookup:stall')
    expect(stalls.map(e => e.detail.peer.toString())).to.deep.equal([silent.toString()])
    expect(events.filter(e => e.type === 'kadmium:lookup:fail')).to.deep.equal([])
    // its answer, late, would still count: the request outlives the lookup
    expect(aborted).to.deep.equal([])
    lifetime.abort(new Error('stopping'))
    expect(aborted).to.deep.equal([{ peer: silent.toString(), reason: 'stopping' }])
    // the node stopping is not the peer's failure
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(table.has(silent.toString())).to.equal(true)
  })

  it('without stall detection a silent peer fails at its request timeout and leaves the table', async () => {
    const { routing, table, silent } = await setup(undefined, 50)
    const events: LookupProgressEvents[] = []
    await routing.lookup(new Uint8Array([1, 2, 3]), { onProgress: (event) => { events.push(event) } })
    expect(events.filter(e => e.type === 'kadmium:lookup:stall')).to.deep.equal([])
    expect(events.filter(e => e.type === 'kadmium:lookup:fail').map(e => e.detail.peer.toString())).to.deep.equal([silent.toString()])
    expect(table.has(silent.toString())).to.equal(false)
  })

  it('takes in only the peers accept returns true for, of those answers name', async () => {
    const { routing, table, peers } = await setup(undefined, 1_000)
    // one seed, which names two peers it knows
    const [seed, wanted, refused] = peers
    for (const peer of peers.slice(1)) {
      table.remove(peer.toString())
    }
    const asked: string[] = []
    ;(routing as any).init.client = {
      request: async (target: PeerId): Promise<Message> => {
        asked.push(target.toString())
        return decodeMessage(encodeMessage({ type: MessageType.FIND_NODE, closer: target.equals(seed) ? [{ id: wanted, multiaddrs: [] }, { id: refused, multiaddrs: [] }] : [] }))
      }
    }
    await routing.lookup(new Uint8Array([4]), { accept: (peer) => !peer.peerId.equals(refused) })
    expect(asked.sort()).to.deep.equal([seed.toString(), wanted.toString()].sort())
  })

  describe('the stall deadline of a peer never measured, and doubted peers', () => {
    const stall = { initial: 2_000, factor: 3, min: 1_000, minSent: 250 }
    const RTT = 80

    /**
     * Lookups on a virtual clock over a fake client, with two peers in the table, one of them
     * silent: each request waits `dial` ms (its dial), goes out, and the live peer answers one
     * RTT later, naming the silent one. Each lookup resolves to the silent peer's stalls (ms
     * after it was asked) and how long it took.
     */
    async function fixture (dial: number, connections: (peer: PeerId) => unknown[], slow?: number): Promise<{ lookup(): Promise<{ stalledAt: number[], took: number, found: boolean }>, answerable(): boolean, clock: TestClock }> {
      const clock = new TestClock()
      const connectionManager = { getConnections: connections } as unknown as QueryRunnerInit['connectionManager']
      const { routing, table, peers, silent } = await setup(stall, 10_000, { now: clock.now, schedule: clock.schedule, connectionManager })
      const live = peers.find(p => !p.equals(silent)) as PeerId
      for (const peer of peers) {
        if (!peer.equals(silent) && !peer.equals(live)) {
          table.remove(peer.toString())
        }
      }
      const runner = routing as any
      runner.init.client = {
        request: async (target: PeerId, _request: unknown, options: { signal: AbortSignal, onSent(): void }): Promise<Message> => new Promise((resolve, reject) => {
          options.signal.addEventListener('abort', () => { reject(options.signal.reason) }, { once: true })
          clock.schedule(dial, () => {
            options.onSent()
            if (!target.equals(silent)) {
              // the live peer names the silent one, as others' answers keep naming a silent peer
              clock.schedule(RTT, () => { resolve(decodeMessage(encodeMessage({ type: MessageType.FIND_NODE, closer: [{ id: silent, multiaddrs: [] }] }))) })
            } else if (slow != null) {
              // not silent after all, only slow
              clock.schedule(slow, () => { resolve(decodeMessage(encodeMessage({ type: MessageType.FIND_NODE }))) })
            }
          })
        })
      }
      const lookup = async (): Promise<{ stalledAt: number[], took: number, found: boolean }> => {
        const stalledAt: number[] = []
        const started = clock.now()
        let took = NaN
        const running = routing.lookup(new Uint8Array([5]), {
          onProgress: (event) => {
            if (event.type === 'kadmium:lookup:stall' && event.detail.peer.equals(silent)) {
              stalledAt.push(event.detail.elapsed)
            }
          }
        }).then(outcome => {
          took = clock.now() - started
          return outcome.closest.some(p => p.peerId.equals(silent))
        })
        await clock.run(() => !Number.isNaN(took))
        const found = await running
        return { stalledAt, took, found }
      }
      // whether the table would name the silent (or slow) peer in an answer
      const answerable = (): boolean => table.answerable(kadId(silent.toMultihash().bytes), 20).some(e => e.peer.peerId.equals(silent))
      return { lookup, answerable, clock }
    }

    it('is set by the dial that opened its connection: a silent peer stalls 3 of its round trips after its request went out', async () => {
      // the dial took 3 round trips of 80 ms: 250 ms (the floor for a request on the wire) after it, not 1 s or 2 s
      const { stalledAt, took, found } = await (await fixture(3 * RTT, () => [])).lookup()
      expect(stalledAt).to.deep.equal([3 * RTT + 250])
      expect(took).to.equal(3 * RTT + 250)
      expect(found).to.equal(false)
    })

    it('is set by libp2p\'s ping of a connection already open', async () => {
      const { stalledAt } = await (await fixture(0, () => [{ rtt: 150 }])).lookup()
      expect(stalledAt).to.deep.equal([450])
    })

    it('a peer left unanswered is asked but not waited for in the next lookup that hears of it', async () => {
      const { lookup } = await fixture(3 * RTT, () => [])
      expect(await lookup()).to.deep.equal({ stalledAt: [3 * RTT + 250], took: 3 * RTT + 250, found: false })
      // no longer a seed (the table names it in no answer), but the live peer names it: it is
      // asked, stalled as it is asked, and the lookup ends with the live peer's answer
      expect(await lookup()).to.deep.equal({ stalledAt: [0], took: 4 * RTT, found: false })
    })

    it('a live peer that answers after its lookup ended is named again and waited for: a doubt does not outlast a late answer', async () => {
      // it answers 1 s after its request went out, long after its stall deadline (490 ms)
      const { lookup, answerable, clock } = await fixture(3 * RTT, () => [], 1_000)
      expect(await lookup()).to.deep.equal({ stalledAt: [3 * RTT + 250], took: 3 * RTT + 250, found: false })
      expect(answerable()).to.equal(false)
      // its answer comes 750 ms after the lookup ended: the table names it again
      await clock.advance(750)
      expect(answerable()).to.equal(true)
      // neither doubted nor unanswered, it is a seed waited for as any other (its measured round
      // trip of 1 s sets its stall deadline at 3 s)
      const second = await lookup()
      expect(second.stalledAt).to.deep.equal([])
      expect(second.found).to.equal(true)
      expect(second.took).to.equal(3 * RTT + 1_000)
    })
  })
})
