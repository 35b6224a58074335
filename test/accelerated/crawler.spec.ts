/**
 * The crawler's visits on a virtual clock, over a client whose servers answer, answer slowly or
 * never connect, as the test says: how long a visit to a server that left holds its slot, and
 * that a slow server that is there is not given up.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { compact } from '../../src/accelerated/compact-peer.ts'
import { Crawl } from '../../src/accelerated/crawl.ts'
import { Crawler } from '../../src/accelerated/crawler.ts'
import { PrefixKeys } from '../../src/accelerated/prefix-keys.ts'
import { CRAWL_VISIT_TIMEOUT, STALL_INITIAL_TIMEOUT, STALL_MIN_SENT_TIMEOUT, STALL_MIN_TIMEOUT, STALL_RTT_FACTOR } from '../../src/defaults.ts'
import { dhtPeer } from '../../src/network/dht-peer.ts'
import { TestClock } from '../utils/clock.ts'
import type { CompactPeer } from '../../src/accelerated/compact-peer.ts'
import type { Client, RequestOptions } from '../../src/network/client.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

const ROUND = 60_000
const ANSWER_MS = 50

async function peerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

async function server (i: number): Promise<{ peerId: PeerId, peer: CompactPeer }> {
  const id = await peerId()
  return { peerId: id, peer: compact(dhtPeer(id, [multiaddr(`/ip4/127.0.0.1/tcp/${4000 + i}`)]), 2) }
}

/** How a server behaves: connects at once and answers in `ms`, naming `names` peers no one heard of (each answer new ones); or never connects. */
type Behaviour = { ms: number, names: number } | 'gone'

describe('accelerated: the crawler', () => {
  it('a re-visit gives up a server that answered before and now does not connect at twice its dial\'s stall deadline, not the visit timeout; one that connects and answers slowly is waited for', async () => {
    const clock = new TestClock()
    const self = await server(0)
    const [answering, leaving, slow, neverAnswered] = await Promise.all([1, 2, 3, 4].map(server))
    // peers named in answers, with no address: counted by a visit's stop rule, never visited (two answers' worth)
    const strangers = await Promise.all(Array.from({ length: 40 }, peerId))
    const behaviour = new Map<string, Behaviour>([
      [answering.peer.id, { ms: ANSWER_MS, names: 0 }],
      [leaving.peer.id, { ms: ANSWER_MS, names: 0 }],
      [slow.peer.id, { ms: ANSWER_MS, names: 0 }],
      [neverAnswered.peer.id, 'gone']
    ])
    // when each server was sent each request
    const asked = new Map<string, number[]>()
    const client = {
      request: async (target: unknown, _message: unknown, options: RequestOptions & { signal: AbortSignal }) => {
        const id = String((target as unknown[])[0]).split('/p2p/')[1]
        asked.set(id, [...asked.get(id) ?? [], clock.now()])
        const does = behaviour.get(id) ?? 'gone'
        return new Promise((resolve, reject) => {
          let cancel = (): void => {}
          if (does !== 'gone') {
            options.onSent?.()
            const names = strangers.splice(0, does.names).map(id => ({ id, multiaddrs: [] }))
            cancel = clock.schedule(does.ms, () => { resolve({ closer: { first: () => names }, providers: { first: () => [] } }) })
          }
          options.signal.addEventListener('abort', () => { cancel(); reject(options.signal.reason) }, { once: true })
        })
      },
      release: async () => {}
    } as unknown as Client
    const crawler = new Crawler({
      now: clock.now,
      schedule: clock.schedule,
      self: self.peerId,
      client,
      connectionManager: { getConnections: () => [] } as unknown as ConnectionManager,
      peerStore: {} as unknown as PeerStore,
      keys: new PrefixKeys(),
      protocol: '/ipfs/kad/1.0.0',
      addresses: 'all',
      kBucketSize: 20,
      maxAddresses: 2,
      visitTimeout: CRAWL_VISIT_TIMEOUT,
      stall: { initial: STALL_INITIAL_TIMEOUT, factor: STALL_RTT_FACTOR, min: STALL_MIN_TIMEOUT, minSent: STALL_MIN_SENT_TIMEOUT },
      keepsConnected: () => false,
      log: logger('kadmium:test:crawler')
    })
    const crawl = new Crawl<CompactPeer>({ kBucketSize: 20, maxDepth: 16, interval: ROUND, maxKnown: 100, maxFailedVisits: 2, retryDelay: 30_000, now: clock.now })
    crawl.offer([answering.peer, leaving.peer, slow.peer, neverAnswered.peer])
    // how long each visit held its slot, from its first request to its end, and its requests
    // (those answered, and the one that failed if one did)
    const visits: Array<{ id: string, ok: boolean, took: number, requests: number }> = []
    const controller = new AbortController()
    const running = crawler.run(crawl, {
      concurrency: 8,
      signal: controller.signal,
      idleRecheck: 5_000,
      onVisit: (visit, ok) => {
        const requests = visit.answers + (visit.more ? 1 : 0)
        const times = asked.get(visit.peer.id) ?? []
        visits.push({ id: visit.peer.id, ok, took: clock.now() - times[times.length - requests], requests })
      }
    })
    await clock.run(() => crawl.progress().firstPassDone)
    // a server never heard from is waited for the whole visit timeout
    expect(visits.find(v => v.id === neverAnswered.peer.id)).to.deep.include({ ok: false, took: CRAWL_VISIT_TIMEOUT })
    expect(visits.filter(v => v.ok).map(v => v.took)).to.deep.equal([ANSWER_MS, ANSWER_MS, ANSWER_MS])

    // one that answered leaves; another is still there but its machine is slow: each answer takes
    // 2.5 s, past the give-up, and names 20 new peers twice, so its visit asks three depths
    behaviour.set(leaving.peer.id, 'gone')
    behaviour.set(slow.peer.id, { ms: 2_500, names: 20 })
    visits.length = 0
    await clock.run(() => visits.some(v => v.id === leaving.peer.id) && visits.some(v => v.id === slow.peer.id))
    // 3 × a dial's 4 round trips of the 12.5 ms its connecting answer bounds is below the stall
    // floor of 1 s; its last connection took 50 ms: given up at twice the floor
    expect(visits.find(v => v.id === leaving.peer.id)).to.deep.include({ ok: false, took: 2 * STALL_MIN_TIMEOUT, requests: 1 })
    expect(visits.find(v => v.id === slow.peer.id)).to.deep.include({ ok: true, took: 3 * 2_500, requests: 3 })
    controller.abort()
    await clock.advance(1)
    await running
  })
})
