/**
 * The accelerated client in a 30-server mixed network of kadmium and `@libp2p/kad-dht` nodes
 * over libp2p's memory transport: the crawl, one-hop closest peers against the brute-force
 * truth, providing both ways, bulk providing, operations before the first pass ends, and the
 * crawl's concurrency counted at the servers.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT as jsKadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { memory } from '@libp2p/memory'
import { ping } from '@libp2p/ping'
import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { kadDHT } from '../../src/index.ts'
import { MemoryMetrics } from '../utils/metrics.ts'
import { TEST_PROTOCOL, components, connect, eventually, stopAll, trueClosest } from '../utils/nodes.ts'
import type { KadDHTInit } from '../../src/index.ts'
import type { AnyNode, JsNode, KadmiumNode } from '../utils/nodes.ts'
import type { Connection, Libp2p, PeerId, PeerInfo, Stream } from '@libp2p/interface'

let counter = 0

function memoryBase (): any {
  return {
    addresses: { listen: [`/memory/kadmium-accel-${process.pid}-${counter++}`] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 500, inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1_000 }
  }
}

async function kadmiumMemoryNode (init: KadDHTInit = {}, metrics?: MemoryMetrics): Promise<KadmiumNode> {
  return createLibp2p({
    ...memoryBase(),
    ...(metrics == null ? {} : { metrics: () => metrics }),
    services: { identify: identify(), identifyPush: identifyPush(), ping: ping(), dht: kadDHT({ protocol: TEST_PROTOCOL, addresses: 'all', ...init }) }
  }) as Promise<KadmiumNode>
}

async function jsMemoryNode (): Promise<JsNode> {
  return createLibp2p({
    ...memoryBase(),
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      dht: jsKadDHT({ protocol: TEST_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, allowQueryWithZeroPeers: true })
    }
  }) as Promise<JsNode>
}

/** The providers of `cid` in a server's own store (read from each implementation's store). */
async function storedProviders (server: AnyNode, cid: CID): Promise<PeerId[]> {
  const dht = server.services.dht as any
  return dht.layers != null ? dht.layers.providerStore.get(cid.multihash.bytes) : dht.providers.getProviders(cid)
}

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) {
    out.push(item)
  }
  return out
}

/**
 * Counts the DHT streams `from` has open at the servers at once, as the servers see them: from
 * the moment a server's handler gets one until it closes. A crawl visit holds one such stream
 * from its first request to its end, so this is the crawl's concurrency as the network sees it
 * (however the crawler opened its streams: protocol-first on the muxer, or negotiated).
 */
async function countOpenStreams (from: Libp2p, at: Libp2p[]): Promise<{ open: number, peak: number, total: number }> {
  const count = { open: 0, peak: 0, total: 0 }
  const wanted = from.peerId.toString()
  await Promise.all(at.map(async server => {
    const registrar = components(server).registrar
    const { handler, options } = registrar.getHandler(TEST_PROTOCOL)
    await registrar.handle(TEST_PROTOCOL, async (stream: Stream, connection: Connection) => {
      if (connection.remotePeer.toString() === wanted) {
        count.open++
        count.total++
        count.peak = Math.max(count.peak, count.open)
        stream.addEventListener('close', () => { count.open-- }, { once: true })
      }
      await handler(stream, connection)
    }, { ...options, force: true })
  }))
  return count
}

describe('accelerated client in a 30-server mixed kadmium / `@libp2p/kad-dht` network (memory transport)', function () {
  this.timeout(180_000)
  let kadmium: KadmiumNode[] = []
  let js: JsNode[] = []
  let servers: AnyNode[] = []
  const extra: Libp2p[] = []

  before(async () => {
    kadmium = await Promise.all(Array.from({ length: 15 }, async () => kadmiumMemoryNode({ mode: 'server' })))
    js = await Promise.all(Array.from({ length: 15 }, async () => jsMemoryNode()))
    servers = [...kadmium, ...js]
    // a ring with chords: every node knows two others, nobody knows everyone; ten nodes dial at
    // a time (sixty handshakes at once can outlast connect's 10 s on a loaded machine)
    const all = servers
    const links = all.map((node, i) => async (): Promise<void> => {
      await connect(node, all[(i + 1) % all.length])
      await connect(node, all[(i + 7) % all.length])
    })
    for (let from = 0; from < links.length; from += 10) {
      await Promise.all(links.slice(from, from + 10).map(async link => { await link() }))
    }
    for (const node of kadmium) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
  })

  afterEach(async () => {
    await stopAll(extra.splice(0))
  })

  after(async () => {
    await stopAll(servers)
  })

  it('crawl() finds every server, within its concurrency counted at the servers, and closes what it opened', async () => {
    // no lookups of its own (refresh, the client's check of its closest): only the crawl asks; no
    // keep-alive for its closest, whose connections a crawl leaves open
    const crawler = await kadmiumMemoryNode({ mode: 'client', refresh: { enabled: false }, connections: { checkInterval: 0, keepAlive: false } })
    extra.push(crawler)
    await connect(crawler, js[3])
    await eventually(() => crawler.services.dht.routingTable.size > 0, 10_000, 'the crawler to have its first peer')
    const streams = await countOpenStreams(crawler, servers)
    let closed = 0
    crawler.addEventListener('connection:close', () => { closed++ })
    const census = await crawler.services.dht.crawl({ concurrency: 4 })
    expect(census.found).to.equal(servers.length)
    expect(census.answering).to.equal(servers.length)
    expect(census.unreachable).to.equal(0)
    // a visit's requests share one stream (kept for reuse): a stream per visit, at least
    expect(streams.total).to.be.within(servers.length, census.requests)
    // each visit asks one depth at a time on one stream, closed when the visit ends: never more
    // than 4 of them open at once
    expect(streams.peak).to.be.within(2, 4)
    expect(census.peakVisiting).to.be.within(2, 4)
    // about two requests a server here: 29 others fill depth 0, fewer than k share a bit with it
    expect(census.requests).to.be.below(servers.length * 4)
    // identify told us of the servers whose connection lived long enough (a protocol-first visit
    // may close it before identify ended): each of them lists the DHT protocol, and most did
    const identified = servers.length - (census.agents.unknown ?? 0)
    expect(census.protocols[TEST_PROTOCOL]).to.equal(identified)
    expect(identified).to.be.at.least(servers.length / 2)
    // every connection it dialled it closed once its questions were answered
    expect(closed).to.be.at.least(servers.length - 1)
  })

  describe('an accelerated node', () => {
    let node: KadmiumNode
    const metrics = new MemoryMetrics()

    before(async () => {
      node = await kadmiumMemoryNode({ mode: 'server', accelerated: { crawlConcurrency: 8 } }, metrics)
      await connect(node, kadmium[5])
      await eventually(() => node.services.dht.stats().accelerated?.ready === true, 60_000, 'the first pass of the crawl')
    })

    after(async () => {
      await stopAll([node])
    })

    it('holds every server in its full table after the first pass, and says so in its stats and metrics', async () => {
      // a server whose visit failed on a loaded machine is visited again 30 s later
      await eventually(() => node.services.dht.stats().accelerated?.peers === servers.length, 60_000, 'every server in the full table')
      const stats = node.services.dht.stats().accelerated
      expect(stats?.firstPassDone).to.equal(true)
      expect(stats?.lastFullPass).to.be.a('number')
      expect(stats?.peakCrawling).to.be.within(1, 8)
      const collected = await metrics.collect()
      expect(collected.libp2p_kadmium_accelerated_table_size).to.deep.equal({ '': stats?.peers })
      expect(collected.libp2p_kadmium_crawl_requests_total).to.deep.equal({ '': stats?.requests })
    })

    it('getClosestPeers equals the brute-force truth, asking one round of peers', async () => {
      const ids = servers.map(s => s.peerId)
      for (let i = 0; i < 5; i++) {
        const key = (await cidOf(`closest ${i}`)).multihash.bytes
        let asks = 0
        const found = await collect(node.services.dht.getClosestPeers(key, {
          onProgress: (event) => { asks += event.type === 'kadmium:lookup:ask' ? 1 : 0 }
        }))
        expect(found.map((p: PeerInfo) => p.id.toString())).to.deep.equal(trueClosest(ids, key, 20))
        // the full table's 20 closest, all at once (and the next for one whose request failed
        // while the rolling crawl closed its connection); nobody named a closer peer
        expect(asks).to.be.within(20, 24)
      }
    })

    it('provides what `@libp2p/kad-dht` nodes find, and finds what they provide', async () => {
      const cid = await cidOf('accelerated provides')
      // each peer is sent the record as it answers the one-hop lookup: the call returns once 15
      // of the sends settled, and the rest reach the true 20 after it (a peer asked in place of
      // one whose request failed holds one more)
      expect(await node.services.dht.provide(cid)).to.be.at.least(15)
      const ids = servers.map(s => s.peerId)
      const provider = node.peerId
      for (const id of trueClosest(ids, cid.multihash.bytes, 20)) {
        const holder = servers.find(s => s.peerId.toString() === id) as AnyNode
        await eventually(async () => (await storedProviders(holder, cid)).some(p => p.equals(provider)), 10_000, `${id} to hold ${cid}`)
      }
      for (const finder of [js[0], js[9]]) {
        const found = await collect(finder.contentRouting.findProviders(cid))
        expect(found.map(p => p.id.toString())).to.include(node.peerId.toString())
      }
      const other = await cidOf('js provides to the accelerated node')
      await js[6].contentRouting.provide(other)
      const found = await collect(node.services.dht.findProviders(other))
      expect(found.map(p => p.id.toString())).to.include(js[6].peerId.toString())
    })

    it('provideMany sends each record to its true 20 closest with no lookup, and js nodes find them', async () => {
      const cids = await Promise.all(Array.from({ length: 40 }, async (_, i) => cidOf(`bulk ${i}`)))
      const before = node.services.dht.stats().outbound
      const failedBefore = node.services.dht.stats().outboundFailed
      const results = await collect(node.services.dht.provideMany(cids))
      expect(results.map(r => r.cid.toString()).sort()).to.deep.equal(cids.map(String).sort())
      for (const result of results) {
        expect(result.error).to.equal(undefined)
        expect(result.sent).to.equal(20)
      }
      const after = node.services.dht.stats().outbound
      expect((after.FIND_NODE ?? 0) - (before.FIND_NODE ?? 0), 'no lookup').to.be.below(5)
      // every send that went through was one of the 40 × 20 (a send whose connection closed under it is tried again)
      const failed = (node.services.dht.stats().outboundFailed.ADD_PROVIDER ?? 0) - (failedBefore.ADD_PROVIDER ?? 0)
      expect((after.ADD_PROVIDER ?? 0) - (before.ADD_PROVIDER ?? 0) - failed).to.equal(40 * 20)
      // on the true 20: each holder's store has the record
      const ids = servers.map(s => s.peerId)
      const provider = node.peerId
      for (const cid of [cids[0], cids[17], cids[33]]) {
        for (const id of trueClosest(ids, cid.multihash.bytes, 20)) {
          const holder = servers.find(s => s.peerId.toString() === id) as AnyNode
          // ADD_PROVIDER has no answer: the holder stores it a moment after the send ended
          await eventually(async () => (await storedProviders(holder, cid)).some(p => p.equals(provider)), 10_000, `${id} to hold ${cid}`)
        }
      }
    })
  })

  it('operations issued before the first pass of the crawl ends succeed through the normal lookups', async () => {
    const early = await kadmiumMemoryNode({ mode: 'server', accelerated: { crawlConcurrency: 1 } })
    extra.push(early)
    await connect(early, js[11])
    await eventually(() => early.services.dht.routingTable.size > 0, 10_000, 'the node to have its first peer')
    const key = (await cidOf('early')).multihash.bytes
    const cid = await cidOf('provided before the first pass')
    // all issued at once, while the crawl (one visit at a time) has barely begun
    expect(early.services.dht.stats().accelerated?.ready).to.equal(false)
    const [closest, provided, peer] = await Promise.all([
      collect(early.services.dht.getClosestPeers(key)),
      early.services.dht.provide(cid),
      early.services.dht.findPeer(js[14].peerId)
    ])
    expect(closest.map(p => p.id.toString())).to.deep.equal(trueClosest(servers.map(s => s.peerId), key, 20))
    expect(provided).to.be.at.least(15)
    expect(peer.multiaddrs).to.have.length.above(0)
    const found = await collect(js[2].contentRouting.findProviders(cid))
    expect(found.map(p => p.id.toString())).to.include(early.peerId.toString())
  })
})
