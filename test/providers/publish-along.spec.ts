import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { dhtPeer } from '../../src/network/dht-peer.ts'
import { ProviderRouting } from '../../src/providers/provider-routing.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { TestClock } from '../utils/clock.ts'
import type { DHTPeer } from '../../src/network/dht-peer.ts'
import type { ProviderRoutingInit } from '../../src/providers/provider-routing.ts'
import type { QueryOptions } from '../../src/query/runner.ts'
import type { PeerId } from '@libp2p/interface'

/** What every provider routing here shares: a store that takes anything, no connections, k 20. */
function commonInit (self: PeerId, clock: TestClock): Record<string, unknown> {
  return {
    self,
    connectionManager: { getConnections: () => [] },
    peerStore: {},
    store: { add: async () => {} },
    addresses: 'all',
    selfAddresses: () => [],
    log: Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false }),
    kBucketSize: 20,
    maxRegionLookups: 4,
    keysAtOnce: 8,
    requestTimeout: 10_000,
    defaultCount: 20,
    beta: 20,
    lifetime: () => new AbortController().signal,
    now: clock.now,
    schedule: clock.schedule
  }
}

/**
 * Provider routing with a full table (the accelerated client ready) over fakes on a virtual
 * clock: the one-hop lookup hears from its 20 peers 10 ms apart, the last at 1 s, then ends;
 * each ADD_PROVIDER takes 5 ms.
 */
async function setup (optimistic: boolean): Promise<{ routing: ProviderRouting, clock: TestClock, peers: DHTPeer[], received: Map<string, number[]> }> {
  const clock = new TestClock()
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const peers = await Promise.all(Array.from({ length: 20 }, async () => dhtPeer(peerIdFromPrivateKey(await generateKeyPair('Ed25519')), [])))
  const answerAt = peers.map((_, i) => i === peers.length - 1 ? 1_000 : 10 * (i + 1))
  const received = new Map<string, number[]>()
  const query = {
    lookup: async (_key: Uint8Array, options: QueryOptions) => new Promise((resolve) => {
      peers.forEach((peer, i) => {
        clock.schedule(answerAt[i], () => { void options.onAnswer?.(peer, decodeMessage(encodeMessage({ type: MessageType.FIND_NODE }))) })
      })
      clock.schedule(1_000, () => { resolve({ closest: peers, stopped: false, stats: {}, unanswered: [] }) })
    })
  }
  const client = {
    send: async (target: PeerId) => new Promise<void>(resolve => {
      clock.schedule(5, () => {
        const times = received.get(target.toString()) ?? []
        times.push(clock.now())
        received.set(target.toString(), times)
        resolve()
      })
    })
  }
  const init = {
    ...commonInit(self, clock),
    query,
    client,
    minRegionKeys: 2,
    optimistic: optimistic ? { certainty: 0.9, strictness: 0.1, returnRatio: 0.75, closestAnswered: 3, networkSize: () => undefined } : undefined,
    fullTable: () => ({ table: { size: 1_000 }, provideMany: async function * () {} })
  }
  return { routing: new ProviderRouting(init as unknown as ProviderRoutingInit), clock, peers, received }
}

describe('providers: a provide with the full table', () => {
  it('sends the record to each peer as it answers the one-hop lookup, and returns once 15 of the sends settled; the rest follow', async () => {
    const { routing, clock, peers, received } = await setup(true)
    let returned: { at: number, sent: number } | undefined
    void routing.publish(new Uint8Array([1, 2, 3])).then(sent => { returned = { at: clock.now(), sent } })
    await clock.run(() => returned != null)
    // the 15th peer answered at 150 ms and held the record 5 ms later; the lookup ends at 1 s
    expect(returned).to.deep.equal({ at: 155, sent: 15 })
    await clock.run(() => false)
    await routing.settled()
    // every peer got the record once, the last as soon as it answered
    expect(peers.map(p => received.get(p.peerId.toString())?.length)).to.deep.equal(peers.map(() => 1))
    expect(received.get(peers[19].peerId.toString())).to.deep.equal([1_005])
  })

  it('without optimistic providing, returns once every send settled', async () => {
    const { routing, clock } = await setup(false)
    let returned: { at: number, sent: number } | undefined
    void routing.publish(new Uint8Array([1, 2, 3])).then(sent => { returned = { at: clock.now(), sent } })
    await clock.run(() => returned != null)
    expect(returned).to.deep.equal({ at: 1_005, sent: 20 })
  })
})

describe('providers: a batch provide without the full table', () => {
  it('sends the records of 8 keys at once, so 16 keys take two sends\' time, and no peer gets more than 8 streams at once', async () => {
    const clock = new TestClock()
    const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const peers = await Promise.all(Array.from({ length: 20 }, async () => dhtPeer(peerIdFromPrivateKey(await generateKeyPair('Ed25519')), [])))
    const open = new Map<string, number>()
    let most = 0
    let sends = 0
    const init = {
      ...commonInit(self, clock),
      // each key's own lookup (no region is explored: minRegionKeys is out of reach) answers at once
      query: { lookup: async () => ({ closest: peers, stopped: false, stats: {}, unanswered: [] }) },
      // an ADD_PROVIDER takes 100 ms
      client: {
        send: async (target: PeerId) => new Promise<void>(resolve => {
          const id = target.toString()
          open.set(id, (open.get(id) ?? 0) + 1)
          most = Math.max(most, open.get(id) ?? 0)
          clock.schedule(100, () => {
            open.set(id, (open.get(id) ?? 0) - 1)
            sends++
            resolve()
          })
        })
      },
      minRegionKeys: 1_000,
      fullTable: () => undefined
    }
    const routing = new ProviderRouting(init as unknown as ProviderRoutingInit)
    const keys = Array.from({ length: 16 }, (_, i) => new Uint8Array([i, 1, 2, 3]))
    const results: Array<{ at: number, sent: number }> = []
    let over = false
    void (async () => {
      for await (const { sent } of routing.publishMany(keys, key => key)) {
        results.push({ at: clock.now(), sent })
      }
      over = true
    })()
    await clock.run(() => over)
    // every key reached its 20; the first 8 were over at 100 ms, the next 8 at 200 (one at a time: 1.6 s)
    expect(results.map(r => r.sent)).to.deep.equal(keys.map(() => 20))
    expect(results.map(r => r.at)).to.deep.equal([...keys.slice(0, 8).map(() => 100), ...keys.slice(8).map(() => 200)])
    expect(sends).to.equal(16 * 20)
    expect(most).to.equal(8)
  })
})
