/**
 * The crawler's visits on a virtual clock, over a client that answers or stays silent as the
 * test says: how long a visit to a server that stopped answering holds its slot.
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
import { PeerList } from '../../src/wire/codec.ts'
import { TestClock } from '../utils/clock.ts'
import type { CompactPeer } from '../../src/accelerated/compact-peer.ts'
import type { Client } from '../../src/network/client.ts'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

const ROUND = 60_000
const ANSWER_MS = 50

async function server (i: number): Promise<{ peerId: PeerId, peer: CompactPeer }> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return { peerId, peer: compact(dhtPeer(peerId, [multiaddr(`/ip4/127.0.0.1/tcp/${4000 + i}`)]), 2) }
}

describe('accelerated: the crawler', () => {
  it('a re-visit of a server that answered before and has stopped answering gives up at its dial\'s stall deadline, not the visit timeout', async () => {
    const clock = new TestClock()
    const self = await server(0)
    const [answering, leaving, neverAnswered] = await Promise.all([1, 2, 3].map(server))
    const silent = new Set<string>([neverAnswered.peerId.toString()])
    // when each server was last asked; each server answers in ANSWER_MS naming nobody, a silent one never
    const asked = new Map<string, number>()
    const client = {
      request: async (target: unknown, _message: unknown, options: { signal: AbortSignal }) => {
        const id = String((target as unknown[])[0]).split('/p2p/')[1]
        asked.set(id, clock.now())
        return new Promise((resolve, reject) => {
          const cancel = silent.has(id) ? () => {} : clock.schedule(ANSWER_MS, () => { resolve({ closer: new PeerList(), providers: new PeerList() }) })
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
    crawl.offer([answering.peer, leaving.peer, neverAnswered.peer])
    // each visit here is one request: how long it held its slot is from that request to its end
    const visits: Array<{ id: string, ok: boolean, took: number }> = []
    const controller = new AbortController()
    const running = crawler.run(crawl, {
      concurrency: 8,
      signal: controller.signal,
      idleRecheck: 5_000,
      onVisit: (visit, ok) => {
        visits.push({ id: visit.peer.id, ok, took: clock.now() - (asked.get(visit.peer.id) ?? NaN) })
      }
    })
    await clock.run(() => crawl.progress().firstPassDone)
    // a server never heard from is waited for the whole visit timeout
    expect(visits.find(v => v.id === neverAnswered.peer.id)).to.deep.include({ ok: false, took: CRAWL_VISIT_TIMEOUT })
    expect(visits.filter(v => v.ok).map(v => v.took)).to.deep.equal([ANSWER_MS, ANSWER_MS])

    // one that answered leaves: the sweep's re-visit of it gives up at the stall floor (3 × a
    // dial's 4 round trips of the 12.5 ms its dialled answer bounds is below 1 s)
    silent.add(leaving.peerId.toString())
    visits.length = 0
    await clock.run(() => visits.some(v => v.id === leaving.peer.id))
    expect(visits.find(v => v.id === leaving.peer.id)).to.deep.include({ ok: false, took: STALL_MIN_TIMEOUT })
    // while the one still there is re-visited as before
    await clock.run(() => visits.some(v => v.id === answering.peer.id))
    expect(visits.find(v => v.id === answering.peer.id)).to.deep.include({ ok: true, took: ANSWER_MS })
    controller.abort()
    await clock.advance(1)
    await running
  })
})
