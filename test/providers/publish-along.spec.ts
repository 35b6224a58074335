import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { compareDistance, kadId } from '../../src/keys.ts'
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
    regionsAtOnce: 4,
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

/**
 * Provider routing without a full table over fakes on a virtual clock: each key's own lookup (no
 * region is explored: minRegionKeys is out of reach) answers at once with the same 20 peers; an
 * ADD_PROVIDER takes `sendMs(key)` and fails when its signal is aborted.
 */
async function batchSetup (sendMs: (key: Uint8Array) => number): Promise<{ routing: ProviderRouting, clock: TestClock, counts: { sends: number, most: number } }> {
  const clock = new TestClock()
  const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const peers = await Promise.all(Array.from({ length: 20 }, async () => dhtPeer(peerIdFromPrivateKey(await generateKeyPair('Ed25519')), [])))
  const open = new Map<string, number>()
  const counts = { sends: 0, most: 0 }
  const init = {
    ...commonInit(self, clock),
    query: { lookup: async () => ({ closest: peers, stopped: false, stats: {}, unanswered: [] }) },
    client: {
      send: async (target: PeerId, message: { key: Uint8Array }, options: { signal: AbortSignal }) => new Promise<void>((resolve, reject) => {
        const id = target.toString()
        open.set(id, (open.get(id) ?? 0) + 1)
        counts.most = Math.max(counts.most, open.get(id) ?? 0)
        const done = (): void => { open.set(id, (open.get(id) ?? 0) - 1) }
        const cancel = clock.schedule(sendMs(message.key), () => {
          done()
          counts.sends++
          resolve()
        })
        options.signal.addEventListener('abort', () => {
          cancel()
          done()
          reject(options.signal.reason)
        }, { once: true })
      })
    },
    minRegionKeys: 1_000,
    fullTable: () => undefined
  }
  return { routing: new ProviderRouting(init as unknown as ProviderRoutingInit), clock, counts }
}

describe('providers: a batch provide without the full table', () => {
  it('sends the records of 8 keys at once, so 16 keys take two sends\' time, and no peer gets more than 8 streams at once', async () => {
    const { routing, clock, counts } = await batchSetup(() => 100)
    const keys = Array.from({ length: 16 }, (_, i) => new Uint8Array([i, 1, 2, 3]))
    const results: Array<{ at: number, sent: number }> = []
    let over = false
    const consumed = (async () => {
      for await (const { sent } of routing.publishMany(keys, key => key)) {
        results.push({ at: clock.now(), sent })
      }
      over = true
    })()
    await clock.run(() => over)
    await consumed
    // every key reached its 20; the first 8 were over at 100 ms, the next 8 at 200 (one at a time: 1.6 s)
    expect(results.map(r => r.sent)).to.deep.equal(keys.map(() => 20))
    expect(results.map(r => r.at)).to.deep.equal([...keys.slice(0, 8).map(() => 100), ...keys.slice(8).map(() => 200)])
    expect(counts.sends).to.equal(16 * 20)
    expect(counts.most).to.equal(8)
  })

  it('yields each key as it is over, not in the order sent; a caller that stops early calls off the sends not yielded and hears nothing more', async () => {
    // key 0 takes 1 s, key i 100 × i ms
    const { routing, clock, counts } = await batchSetup(key => key[0] === 0 ? 1_000 : 100 * key[0])
    const keys = Array.from({ length: 8 }, (_, i) => new Uint8Array([i, 1, 2, 3]))
    const yielded: number[] = []
    let sentEvents = 0
    let eventsAfterStop = 0
    let stoppedAt: number | undefined
    const consumed = (async () => {
      for await (const { item } of routing.publishMany(keys, key => key, {
        onProgress: (event: { type: string }) => {
          sentEvents += event.type === 'kadmium:provide:sent' ? 1 : 0
          eventsAfterStop += stoppedAt == null ? 0 : 1
        }
      })) {
        yielded.push(item[0])
        if (yielded.length === 3) {
          stoppedAt = clock.now()
          break
        }
      }
    })()
    await clock.run(() => stoppedAt != null)
    await consumed
    await clock.run(() => false)
    // the quicker keys came first, as each was over, ahead of key 0 still on its way
    expect(yielded).to.deep.equal([1, 2, 3])
    expect(stoppedAt).to.equal(300)
    // the sends of keys 0 and 4–7 were called off: only 3 keys' records went out, and no event came after the stop
    expect(counts.sends).to.equal(3 * 20)
    expect(sentEvents).to.equal(3 * 20)
    expect(eventsAfterStop).to.equal(0)
  })
  it('explores 4 regions at once, and a caller that stops early calls off the region lookups under way', async () => {
    // 400 peers of known positions; each lookup takes 100 ms and finds the true 20 closest
    const random = ((seed: number) => (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 })(5)
    const bytes = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256))
    const peers = Array.from({ length: 400 }, (_, i) => ({ id: `peer${i}`, key: bytes(), peerId: { toString: () => `peer${i}` }, multiaddrs: [] }))
    const run = async (stopAfter: number): Promise<{ most: number, started: number, finished: number, aborted: number, yielded: number }> => {
      const clock = new TestClock()
      const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const counts = { looking: 0, most: 0, started: 0, finished: 0, aborted: 0, yielded: 0 }
      const routing = new ProviderRouting({
        ...commonInit(self, clock),
        minRegionKeys: 3,
        fullTable: () => undefined,
        query: {
          lookup: async (key: Uint8Array, options: QueryOptions) => new Promise((resolve, reject) => {
            counts.started++
            counts.most = Math.max(counts.most, ++counts.looking)
            const target = kadId(key)
            const onAbort = (): void => {
              cancel()
              counts.looking--
              counts.aborted++
              reject(options.signal?.reason)
            }
            const cancel = clock.schedule(100, () => {
              options.signal?.removeEventListener('abort', onAbort)
              counts.looking--
              counts.finished++
              resolve({ closest: [...peers].sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, 20), stopped: false, stats: {}, unanswered: [] })
            })
            options.signal?.addEventListener('abort', onAbort, { once: true })
          })
        },
        client: { send: async () => {} }
      } as unknown as ProviderRoutingInit)
      const keys = Array.from({ length: 60 }, bytes)
      let over = false
      const consumed = (async () => {
        for await (const result of routing.publishMany(keys, key => key)) {
          expect(result.sent).to.equal(20)
          if (++counts.yielded === stopAfter) {
            break
          }
        }
        over = true
      })()
      await clock.run(() => over)
      await consumed
      await clock.run(() => false)
      return counts
    }
    const whole = await run(Infinity)
    expect(whole.yielded).to.equal(60)
    expect(whole.most).to.be.within(2, 4)
    expect(whole.aborted).to.equal(0)
    const stopped = await run(1)
    // the lookups under way when the caller stopped were called off, and none began after
    expect(stopped.aborted).to.be.at.least(1)
    expect(stopped.started).to.equal(stopped.finished + stopped.aborted)
    expect(stopped.started).to.be.below(whole.started)
  })
})
