/**
 * The Delegated Routing V1 server as a fetch handler: what each endpoint answers over a real
 * kadmium network (five nodes on loopback TCP), and, over a routing whose answers the test
 * releases one by one, how identical requests share a lookup, how records stream, and how the
 * bounds answer 429.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { NotFoundError } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { pushable } from 'it-pushable'
import { base36 } from 'multiformats/bases/base36'
import { RoutingV1Server } from '../../src/routing-v1/index.ts'
import { connect, kadmiumNode, stopAll, trueClosest } from '../utils/nodes.ts'
import { cidOf, ipnsRecord, newKey } from '../utils/records.ts'
import type { RoutingV1Init, RoutingV1Routing } from '../../src/routing-v1/index.ts'
import type { KadmiumNode } from '../utils/nodes.ts'
import type { PeerId, PeerInfo } from '@libp2p/interface'
import type { Pushable } from 'it-pushable'

const ORIGIN = 'http://routing.test'
const IPNS_TYPE = 'application/vnd.ipfs.ipns-record'

/** A GET of `path` with `headers`. */
function get (path: string, headers: Record<string, string> = {}, signal?: AbortSignal): Request {
  return new Request(`${ORIGIN}${path}`, { headers, signal })
}

/** The lines of an NDJSON body, parsed. */
async function ndjson (response: Response): Promise<any[]> {
  const text = await response.text()
  return text.split('\n').filter(line => line !== '').map(line => JSON.parse(line))
}

describe('routing v1 server over a kadmium network', function () {
  this.timeout(60_000)
  let nodes: KadmiumNode[] = []
  let server: RoutingV1Server

  before(async () => {
    nodes = await Promise.all(Array.from({ length: 5 }, async () => kadmiumNode()))
    for (let i = 1; i < nodes.length; i++) {
      await connect(nodes[i - 1], nodes[i])
    }
    for (const node of nodes) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
    server = new RoutingV1Server(nodes[0].services.dht)
  })

  after(async () => {
    await stopAll(nodes)
  })

  it('finds a provider three hops away, in JSON with the reference cache headers and CORS', async () => {
    const cid = await cidOf('routing v1 provider')
    const provider = nodes[4]
    await provider.services.dht.provide(cid)
    const response = await server.fetch(get(`/routing/v1/providers/${cid}`))
    expect(response.status).to.equal(200)
    expect(response.headers.get('content-type')).to.equal('application/json')
    expect(response.headers.get('cache-control')).to.equal('public, max-age=300, stale-while-revalidate=172800, stale-if-error=172800')
    expect(response.headers.get('vary')).to.equal('Accept')
    expect(response.headers.get('access-control-allow-origin')).to.equal('*')
    expect(Date.parse(response.headers.get('last-modified') ?? '')).to.be.closeTo(Date.now(), 5_000)
    const body = await response.json()
    const record = body.Providers.find((p: any) => p.ID === provider.peerId.toString())
    expect(record).to.include({ Schema: 'peer' })
    expect(record.Addrs).to.include.members(provider.getMultiaddrs().map(ma => ma.decapsulateCode(0x01a5).toString()))
  })

  it('streams providers as NDJSON when asked', async () => {
    const cid = await cidOf('routing v1 streamed provider')
    await nodes[3].services.dht.provide(cid)
    const response = await server.fetch(get(`/routing/v1/providers/${cid}`, { accept: 'application/x-ndjson' }))
    expect(response.status).to.equal(200)
    expect(response.headers.get('content-type')).to.equal('application/x-ndjson')
    expect(response.headers.get('cache-control')).to.match(/max-age=300,/)
    const lines = await ndjson(response)
    expect(lines.map(line => line.ID)).to.include(nodes[3].peerId.toString())
  })

  it('answers 200 with no results when nothing is found (IPIP-513), cached briefly', async () => {
    const cid = await cidOf('nobody provides this')
    const json = await server.fetch(get(`/routing/v1/providers/${cid}`))
    expect(json.status).to.equal(200)
    expect(await json.json()).to.deep.equal({ Providers: [] })
    expect(json.headers.get('cache-control')).to.equal('public, max-age=15, stale-while-revalidate=172800, stale-if-error=172800')
    const streamed = await server.fetch(get(`/routing/v1/providers/${cid}`, { accept: 'application/x-ndjson' }))
    expect(streamed.status).to.equal(200)
    expect(streamed.headers.get('content-type')).to.equal('application/x-ndjson')
    expect(await streamed.text()).to.equal('')
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const peers = await server.fetch(get(`/routing/v1/peers/${stranger}`))
    expect(peers.status).to.equal(200)
    expect(await peers.json()).to.deep.equal({ Peers: [] })
  })

  it('finds a peer by its base36 CID, with its addresses', async () => {
    const wanted = nodes[3]
    const response = await server.fetch(get(`/routing/v1/peers/${wanted.peerId.toCID().toString(base36)}`))
    expect(response.status).to.equal(200)
    const { Peers } = await response.json()
    expect(Peers).to.have.length(1)
    expect(Peers[0].ID).to.equal(wanted.peerId.toString())
    expect(Peers[0].Addrs.map((a: string) => multiaddr(a).toString())).to.include(wanted.getMultiaddrs()[0].decapsulateCode(0x01a5).toString())
  })

  it('answers the closest peers of a key in XOR order, filters applied', async () => {
    const cid = await cidOf('closest peers key')
    const response = await server.fetch(get(`/routing/v1/dht/closest/peers/${cid}`))
    expect(response.status).to.equal(200)
    const { Peers } = await response.json()
    const expected = trueClosest(nodes.map(n => n.peerId), cid.multihash.bytes, 20, nodes[0].peerId)
    expect(Peers.map((p: any) => p.ID)).to.deep.equal(expected)
    // no test node listens on WebSockets: the filter leaves every one out
    const filtered = await server.fetch(get(`/routing/v1/dht/closest/peers/${cid}?filter-addrs=ws`))
    expect(await filtered.json()).to.deep.equal({ Peers: [] })
  })

  it('publishes an IPNS record and serves it back with its cache headers; other nodes get it from the DHT', async () => {
    const key = await newKey()
    const name = peerIdFromPrivateKey(key).toCID().toString(base36)
    const record = await ipnsRecord(key, 2)
    const put = await server.fetch(new Request(`${ORIGIN}/routing/v1/ipns/${name}`, { method: 'PUT', headers: { 'content-type': IPNS_TYPE }, body: new Uint8Array(record) }))
    expect(put.status, await put.clone().text()).to.equal(200)
    const got = await server.fetch(get(`/routing/v1/ipns/${name}`, { accept: IPNS_TYPE }))
    expect(got.status).to.equal(200)
    expect(got.headers.get('content-type')).to.equal(IPNS_TYPE)
    expect(got.headers.get('etag')).to.match(/^"[0-9a-f]{32}"$/)
    // the record's TTL is 5 minutes (the ipns package's default), its validity a day
    expect(got.headers.get('cache-control')).to.match(/^public, max-age=300, stale-while-revalidate=\d+, stale-if-error=\d+$/)
    expect(Date.parse(got.headers.get('expires') ?? '')).to.be.closeTo(Date.now() + 24 * 60 * 60_000, 60_000)
    expect(new Uint8Array(await got.arrayBuffer())).to.deep.equal(record)
    const routingKey = new Uint8Array([...new TextEncoder().encode('/ipns/'), ...key.publicKey.toMultihash().bytes])
    expect(await nodes[4].services.dht.get(routingKey)).to.deep.equal(record)
  })

  it('refuses an IPNS record that is older, signed by another key, too large, or of another type', async () => {
    const key = await newKey()
    const name = peerIdFromPrivateKey(key).toCID().toString(base36)
    const put = async (body: Uint8Array, contentType = IPNS_TYPE): Promise<Response> =>
      server.fetch(new Request(`${ORIGIN}/routing/v1/ipns/${name}`, { method: 'PUT', headers: { 'content-type': contentType }, body: new Uint8Array(body) }))
    const newer = await ipnsRecord(key, 5)
    expect((await put(newer)).status).to.equal(200)
    const older = await put(await ipnsRecord(key, 4))
    expect(older.status).to.equal(400)
    expect(await older.text()).to.match(/higher sequence/)
    expect((await put(await ipnsRecord(await newKey(), 9))).status).to.equal(400)
    expect((await put(new Uint8Array(10 * 1024 + 1))).status).to.equal(413)
    expect((await put(newer, 'application/octet-stream')).status).to.equal(406)
    // what is held is still the newest
    const got = await server.fetch(get(`/routing/v1/ipns/${name}`))
    expect(new Uint8Array(await got.arrayBuffer())).to.deep.equal(newer)
  })

  it('answers an IPNS GET that accepts no record 406, and a name with no record 200 as text', async () => {
    const name = peerIdFromPrivateKey(await newKey()).toCID().toString(base36)
    expect((await server.fetch(get(`/routing/v1/ipns/${name}`, { accept: 'application/json' }))).status).to.equal(406)
    const missing = await server.fetch(get(`/routing/v1/ipns/${name}`, { accept: IPNS_TYPE }))
    expect(missing.status).to.equal(200)
    expect(missing.headers.get('content-type')).to.match(/^text\/plain/)
  })

  it('answers preflights, and bad requests 4xx or 501 with CORS, then serves on', async () => {
    const preflight = await server.fetch(new Request(`${ORIGIN}/routing/v1/ipns/x`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } }))
    expect(preflight.status).to.equal(204)
    expect(preflight.headers.get('access-control-allow-origin')).to.equal('*')
    expect(preflight.headers.get('access-control-allow-methods')).to.include('PUT')
    expect(preflight.headers.get('access-control-allow-headers')).to.include('Content-Type')
    const cid = await cidOf('after errors')
    const statuses = await Promise.all([
      get('/nothing/here'),
      get('/routing/v1/providers/not-a-cid'),
      get('/routing/v1/peers/bafkqaaa'),
      get(`/routing/v1/providers/${cid}`, { accept: 'text/html' }),
      new Request(`${ORIGIN}/routing/v1/providers/${cid}`, { method: 'PUT', body: 'x' })
    ].map(async request => {
      const response = await server.fetch(request)
      expect(response.headers.get('access-control-allow-origin')).to.equal('*')
      return response.status
    }))
    expect(statuses).to.deep.equal([400, 400, 400, 406, 501])
    expect((await server.fetch(get(`/routing/v1/providers/${cid}`))).status).to.equal(200)
  })
})

/** A routing whose lookups the test drives: each call is recorded with the pushable it reads. */
class ScriptedRouting {
  readonly calls: Array<{ method: string, signal: AbortSignal, results: Pushable<PeerInfo> }> = []

  get routing (): RoutingV1Routing {
    const call = (method: string, signal: AbortSignal): Pushable<PeerInfo> => {
      const results = pushable<PeerInfo>({ objectMode: true })
      signal.addEventListener('abort', () => { results.end() }, { once: true })
      this.calls.push({ method, signal, results })
      return results
    }
    return {
      findProviders: (_cid: unknown, options: { signal: AbortSignal }) => call('findProviders', options.signal),
      getClosestPeers: (_key: unknown, options: { signal: AbortSignal }) => call('getClosestPeers', options.signal),
      findPeer: async (_id: unknown, options: { signal: AbortSignal }) => {
        const found = await call('findPeer', options.signal).next()
        if (found.done === true) {
          throw new NotFoundError('not found')
        }
        return found.value
      },
      get: async () => { throw new NotFoundError('no record') },
      put: async () => 1
    } as unknown as RoutingV1Routing
  }
}

describe('routing v1 server: shared lookups, streaming and bounds', () => {
  let script: ScriptedRouting
  let peers: PeerInfo[]

  const serverWith = (init: RoutingV1Init = {}): RoutingV1Server => new RoutingV1Server(script.routing, init)
  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !check(); i++) {
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    expect(check()).to.equal(true)
  }

  before(async () => {
    peers = await Promise.all([1, 2, 3].map(async i => ({
      id: peerIdFromPrivateKey(await generateKeyPair('Ed25519')) as PeerId,
      multiaddrs: [multiaddr(`/ip4/10.0.0.${i}/tcp/4001/ws`)]
    })))
  })

  beforeEach(() => {
    script = new ScriptedRouting()
  })

  it('identical requests in flight share one lookup, and each gets every record', async () => {
    const server = serverWith()
    const cid = await cidOf('shared')
    const path = `/routing/v1/providers/${cid}`
    const first = server.fetch(get(path))
    await until(() => script.calls.length === 1)
    script.calls[0].results.push(peers[0])
    const second = server.fetch(get(path, { accept: 'application/x-ndjson' }))
    const third = server.fetch(get(path))
    await new Promise(resolve => setTimeout(resolve, 20))
    script.calls[0].results.push(peers[1])
    script.calls[0].results.end()
    const ids = peers.slice(0, 2).map(p => p.id.toString())
    expect((await (await first).json()).Providers.map((p: any) => p.ID)).to.deep.equal(ids)
    expect((await ndjson(await second)).map(p => p.ID)).to.deep.equal(ids)
    expect((await (await third).json()).Providers.map((p: any) => p.ID)).to.deep.equal(ids)
    expect(script.calls).to.have.length(1)
    expect(server.stats().lookups).to.deep.equal({ started: 1, joined: 2 })
    // once it ended, the same request starts a lookup of its own
    const again = server.fetch(get(path))
    await until(() => script.calls.length === 2)
    script.calls[1].results.end()
    expect((await again).status).to.equal(200)
  })

  it('streams each NDJSON record as it is found', async () => {
    const server = serverWith()
    const responding = server.fetch(get(`/routing/v1/providers/${await cidOf('stream')}`, { accept: 'application/x-ndjson' }))
    await until(() => script.calls.length === 1)
    script.calls[0].results.push(peers[0])
    const response = await responding
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    expect(JSON.parse(decoder.decode((await reader.read()).value)).ID).to.equal(peers[0].id.toString())
    // the second record goes out when it is found, before the lookup ends
    script.calls[0].results.push(peers[1])
    expect(JSON.parse(decoder.decode((await reader.read()).value)).ID).to.equal(peers[1].id.toString())
    script.calls[0].results.end()
    expect((await reader.read()).done).to.equal(true)
    expect(server.stats().inFlight).to.equal(0)
  })

  it('answers at most 100 records in JSON and 1,000 in NDJSON', async () => {
    const server = serverWith()
    const many = await Promise.all(Array.from({ length: 1_050 }, async (_, i) => ({
      id: i < peers.length ? peers[i].id : peerIdFromPrivateKey(await generateKeyPair('Ed25519')),
      multiaddrs: []
    })))
    const path = `/routing/v1/providers/${await cidOf('many providers')}`
    const json = server.fetch(get(path))
    const streamed = server.fetch(get(path, { accept: 'application/x-ndjson' }))
    await until(() => script.calls.length === 1)
    many.forEach(peer => { script.calls[0].results.push(peer) })
    script.calls[0].results.end()
    expect((await (await json).json()).Providers).to.have.length(100)
    expect(await ndjson(await streamed)).to.have.length(1_000)
  })

  it('answers with what was found when the lookup runs out of time', async () => {
    const server = serverWith({ lookupTimeout: 200 })
    const responding = server.fetch(get(`/routing/v1/providers/${await cidOf('slow')}`))
    await until(() => script.calls.length === 1)
    script.calls[0].results.push(peers[2])
    const response = await responding
    expect((await response.json()).Providers.map((p: any) => p.ID)).to.deep.equal([peers[2].id.toString()])
    expect(script.calls[0].signal.aborted).to.equal(true)
  })

  it('stops the lookup when the last request for it goes away', async () => {
    const server = serverWith()
    const controller = new AbortController()
    const responding = server.fetch(get(`/routing/v1/dht/closest/peers/${await cidOf('abandoned')}`, {}, controller.signal))
    await until(() => script.calls.length === 1)
    controller.abort()
    await responding
    expect(script.calls[0].signal.aborted).to.equal(true)
    expect(server.stats().inFlight).to.equal(0)
  })

  it('answers 429 with Retry-After to a client over its share, and serves the others', async () => {
    const server = serverWith({ maxRequestsPerClient: 2 })
    const greedy = { client: '192.0.2.1' }
    const cids = await Promise.all([0, 1, 2, 3].map(async i => cidOf(`greedy ${i}`)))
    const held = [cids[0], cids[1]].map(async cid => server.fetch(get(`/routing/v1/providers/${cid}`), greedy))
    await until(() => script.calls.length === 2)
    const refused = await server.fetch(get(`/routing/v1/providers/${cids[2]}`), greedy)
    expect(refused.status).to.equal(429)
    expect(refused.headers.get('retry-after')).to.equal('1')
    expect(refused.headers.get('access-control-allow-origin')).to.equal('*')
    const other = server.fetch(get(`/routing/v1/providers/${await cidOf('polite')}`), { client: '192.0.2.2' })
    await until(() => script.calls.length === 3)
    script.calls[2].results.end()
    expect((await other).status).to.equal(200)
    // once its requests are answered, the greedy client is served again
    script.calls[0].results.end()
    script.calls[1].results.end()
    expect((await held[0]).status).to.equal(200)
    expect((await held[1]).status).to.equal(200)
    const later = server.fetch(get(`/routing/v1/providers/${cids[3]}`), greedy)
    await until(() => script.calls.length === 4)
    script.calls[3].results.end()
    expect((await later).status).to.equal(200)
  })

  it('lets a bounded number of lookups run and wait, and answers 429 past the line', async () => {
    const server = serverWith({ maxLookups: 1, maxWaiting: 1 })
    const running = server.fetch(get(`/routing/v1/providers/${await cidOf('one')}`))
    await until(() => script.calls.length === 1)
    const waiting = server.fetch(get(`/routing/v1/providers/${await cidOf('two')}`))
    await until(() => server.stats().waiting === 1)
    const refused = await server.fetch(get(`/routing/v1/providers/${await cidOf('three')}`))
    expect(refused.status).to.equal(429)
    expect(refused.headers.get('retry-after')).to.equal('5')
    // the waiting lookup starts when the running one ends
    expect(script.calls).to.have.length(1)
    script.calls[0].results.end()
    await until(() => script.calls.length === 2)
    script.calls[1].results.push(peers[0])
    script.calls[1].results.end()
    expect((await running).status).to.equal(200)
    expect((await (await waiting).json()).Providers).to.have.length(1)
    expect(server.stats()).to.deep.include({ running: 0, waiting: 0, inFlight: 0 })
    expect(server.stats().answered).to.deep.equal({ 200: 2, 429: 1 })
  })

  it('answers a routing failure 500, and a peer not found 200 with no peers', async () => {
    const failing = new RoutingV1Server({
      ...script.routing,
      findPeer: async () => { throw new Error('the DHT stopped') }
    } as unknown as RoutingV1Routing)
    const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const failed = await failing.fetch(get(`/routing/v1/peers/${stranger}`))
    expect(failed.status).to.equal(500)
    expect(await failed.text()).to.include('the DHT stopped')
    const server = serverWith()
    const responding = server.fetch(get(`/routing/v1/peers/${stranger}`))
    await until(() => script.calls.length === 1)
    script.calls[0].results.end()
    expect(await (await responding).json()).to.deep.equal({ Peers: [] })
  })
})
