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
async function setup (stall: StallOptions | undefined, requestTimeout: number, overrides: Partial<QueryRunnerInit> = {}): Promise<{ routing: QueryRunner, table: RoutingTable<DHTPeer>, peers: PeerId[], silent: PeerId, aborted: Array<{ peer: string, reason: string }> }> {
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
    lifetime: () => new AbortController().signal,
    channel: { emit: () => {} },
    observers: []
  }
  return { routing: new QueryRunner({ ...init, ...overrides }), table, peers, silent, aborted }
}

describe('query/runner', () => {
  it('reports a stalled request as kadmium:lookup:stall and keeps the peer in the table when the lookup ends without it', async () => {
    // a short stall deadline and a request timeout far beyond the test
    const { routing, table, peers, silent, aborted } = await setup({ initial: 20, factor: 3, min: 20 }, 60_000)
    const events: LookupProgressEvents[] = []
    const { closest } = await routing.lookup(new Uint8Array([1, 2, 3]), { onProgress: (event) => { events.push(event) } })
    expect(closest.map(p => p.id)).to.have.members(peers.filter(p => !p.equals(silent)).map(String))
    const stalls = events.filter(e => e.type === 'kadmium:lookup:stall')
    expect(stalls.map(e => e.detail.peer.toString())).to.deep.equal([silent.toString()])
    expect(events.filter(e => e.type === 'kadmium:lookup:fail')).to.deep.equal([])
    expect(aborted).to.deep.equal([{ peer: silent.toString(), reason: 'lookup ended' }])
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

  describe('the stall deadline of a peer never measured', () => {
    const stall = { initial: 2_000, factor: 3, min: 1_000, minSent: 250 }
    const RTT = 80

    /**
     * A lookup on a virtual clock over a fake client, with two peers in the table, one of them
     * silent: each request waits `dial` ms (its dial), goes out, and is answered one RTT later by
     * the live peer. Resolves to the silent peer's stall (ms after it was asked) and when the
     * lookup ended.
     */
    async function silentStall (dial: number, connections: (peer: PeerId) => unknown[]): Promise<{ stalledAt: number[], endedAt: number }> {
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
              clock.schedule(RTT, () => { resolve(decodeMessage(encodeMessage({ type: MessageType.FIND_NODE }))) })
            }
          })
        })
      }
      const stalledAt: number[] = []
      let endedAt = NaN
      const lookup = routing.lookup(new Uint8Array([5]), {
        onProgress: (event) => {
          if (event.type === 'kadmium:lookup:stall' && event.detail.peer.equals(silent)) {
            stalledAt.push(event.detail.elapsed)
          }
        }
      }).then(() => { endedAt = clock.now() })
      await clock.run(() => !Number.isNaN(endedAt))
      await lookup
      return { stalledAt, endedAt }
    }

    it('is set by the dial that opened its connection: a silent peer stalls 3 of its round trips after its request went out', async () => {
      // the dial took 3 round trips of 80 ms: 250 ms (the floor for a request on the wire) after it, not 1 s or 2 s
      const { stalledAt, endedAt } = await silentStall(3 * RTT, () => [])
      expect(stalledAt).to.deep.equal([3 * RTT + 250])
      expect(endedAt).to.equal(3 * RTT + 250)
    })

    it('is set by libp2p\'s ping of a connection already open', async () => {
      const { stalledAt } = await silentStall(0, () => [{ rtt: 150 }])
      expect(stalledAt).to.deep.equal([450])
    })
  })
})
