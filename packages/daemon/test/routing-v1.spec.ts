/**
 * The daemon's Delegated Routing V1 HTTP API as Helia uses it: three daemons (child processes)
 * in a line, each asked through `@helia/delegated-routing-v1-http-api-client` and raw HTTP. And
 * QUIC: two daemons that listen on quic-v1 alone find each other and route over it.
 */
import { get as httpGet } from 'node:http'
import { connect as tcpConnect } from 'node:net'
import { delegatedRoutingV1HttpApiClient } from '@helia/delegated-routing-v1-http-api-client'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { cleanUp, cliJson, rpc, startDaemon, tempDir, until } from './processes.ts'
import { cidOf, closestFirst, ipnsRecord, newKey } from './records.ts'
import type { DaemonProcess } from './processes.ts'
import type { DelegatedRoutingV1HttpApiClient } from '@helia/delegated-routing-v1-http-api-client'
import type { CID } from 'multiformats/cid'
import type { Socket } from 'node:net'

/** The client pointed at a daemon's API (it takes the origin, and appends /routing/v1 itself). */
async function clientOf (daemon: DaemonProcess, init: { filterAddrs?: string[], filterProtocols?: string[] } = {}): Promise<DelegatedRoutingV1HttpApiClient> {
  const client = delegatedRoutingV1HttpApiClient({ url: new URL(daemon.routingV1).origin, cacheTTL: 0, ...init })({ logger: defaultLogger() })
  await (client as any).start()
  return client
}

async function tableIds (daemon: DaemonProcess): Promise<string[]> {
  const table = await rpc(daemon.url, daemon.token, 'routingTable')
  return table.result.buckets.flatMap((b: any) => b.peers.map((p: any) => p.id))
}

/** Everything an async iterable yields. */
async function all<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) {
    out.push(item)
  }
  return out
}

/** A peer id as the client takes it: a libp2p-key CID. */
const peerCid = (id: string): CID => peerIdFromString(id).toCID()

describe('daemon: the Delegated Routing V1 HTTP API through @helia/delegated-routing-v1-http-api-client', function () {
  this.timeout(60_000)
  let a: DaemonProcess
  let b: DaemonProcess
  let c: DaemonProcess
  let client: DelegatedRoutingV1HttpApiClient

  before(async () => {
    a = await startDaemon(await tempDir())
    b = await startDaemon(await tempDir(), ['--bootstrap', a.address])
    c = await startDaemon(await tempDir(), ['--bootstrap', b.address])
    await until(async () => (await tableIds(b)).length === 2 ? true : undefined, 15_000, 'b to know a and c')
    // a learns of c through a lookup of its own id
    await rpc(a.url, a.token, 'closestPeers', { key: a.peerId, keyEncoding: 'peer' })
    client = await clientOf(a)
  })

  after(async () => {
    await cleanUp()
  })

  it('prints where it serves the API, and `info --json` gives it as routingV1', async () => {
    expect(a.routingV1).to.match(/^http:\/\/127\.0\.0\.1:\d+\/routing\/v1$/)
    expect(a.output()).to.include(`routing:   ${a.routingV1}`)
    expect((await cliJson(a.dir, ['info'])).routingV1).to.equal(a.routingV1)
  })

  it('finds a provider announced at another daemon, streamed, with its addresses', async () => {
    const cid = await cidOf('provided at c, found through a')
    await rpc(c.url, c.token, 'provide', { cid: cid.toString() })
    const found = await all(client.getProviders(cid))
    const record = found.find(p => p.ID.equals(peerCid(c.peerId)))
    expect(record, JSON.stringify(found)).to.not.equal(undefined)
    expect(record?.Addrs.map(String)).to.include(c.address.replace(/\/p2p\/.*$/, ''))
    // the client asked for NDJSON; plain JSON says the same
    const json = await (await fetch(`${a.routingV1}/providers/${cid}`)).json()
    expect(json.Providers.map((p: any) => p.ID)).to.include(c.peerId)
  })

  it('applies the address and protocol filters', async () => {
    const cid = await cidOf('filtered provider')
    await rpc(c.url, c.token, 'provide', { cid: cid.toString() })
    const ids = async (filterAddrs: string[], filterProtocols?: string[]): Promise<string[]> =>
      (await all(client.getProviders(cid, { filterAddrs, filterProtocols }))).map(p => p.ID.toString())
    const cId = peerCid(c.peerId).toString()
    expect(await ids(['tcp'])).to.include(cId)
    // the daemons listen on TCP alone
    expect(await ids(['ws', 'webtransport'])).to.deep.equal([])
    expect(await ids(['!tcp'])).to.deep.equal([])
    // a DHT knows no transfer protocols: "unknown" keeps its providers, a named one alone does not
    expect(await ids(['tcp'], ['unknown', 'transport-bitswap'])).to.include(cId)
    expect(await ids(['tcp'], ['transport-bitswap'])).to.deep.equal([])
  })

  it('finds a peer\'s addresses, and the closest peers of a key in XOR order', async () => {
    const peers = await all(client.getPeers(peerCid(c.peerId)))
    expect(peers).to.have.length(1)
    expect(peers[0].Addrs.map(String)).to.include(c.address.replace(/\/p2p\/.*$/, ''))
    const cid = await cidOf('closest through the API')
    const closest = await all(client.getClosestPeers(cid))
    const expected = await closestFirst([b, c].map(d => peerIdFromString(d.peerId)), cid.multihash.bytes)
    expect(closest.map(p => peerIdFromString(p.ID.toString()).toString())).to.deep.equal(expected)
  })

  it('publishes an IPNS record at one daemon and resolves it at another', async () => {
    const key = await newKey()
    const name = peerIdFromPrivateKey(key).toCID()
    const record = await ipnsRecord(key, 7)
    await client.putIPNS(name, record)
    const fromC = await clientOf(c)
    expect(await fromC.getIPNS(name)).to.deep.equal(record)
    // an older record is refused, and the newer one still served
    await expect(client.putIPNS(name, await ipnsRecord(key, 6))).to.eventually.be.rejected()
    expect(await fromC.getIPNS(name)).to.deep.equal(record)
  })

  it('answers empty results as empty, and a missing IPNS name as not found', async () => {
    const cid = await cidOf('provided by nobody at all')
    expect(await all(client.getProviders(cid))).to.deep.equal([])
    const response = await fetch(`${a.routingV1}/providers/${cid}`, { headers: { accept: 'application/x-ndjson' } })
    expect(response.status).to.equal(200)
    expect(response.headers.get('content-type')).to.equal('application/x-ndjson')
    expect(await response.text()).to.equal('')
    const stranger = peerIdFromPrivateKey(await newKey())
    expect(await all(client.getPeers(stranger.toCID()))).to.deep.equal([])
    await expect(client.getIPNS(stranger.toCID())).to.eventually.be.rejected.with.property('name', 'NotFoundError')
  })

  it('lets any origin read it: CORS on answers and preflights', async () => {
    const origin = { origin: 'https://app.example' }
    const answer = await fetch(`${a.routingV1}/providers/${await cidOf('cors')}`, { headers: origin })
    expect(answer.headers.get('access-control-allow-origin')).to.equal('*')
    const preflight = await fetch(`${a.routingV1}/ipns/${peerCid(a.peerId)}`, {
      method: 'OPTIONS',
      headers: { ...origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' }
    })
    expect(preflight.status).to.equal(204)
    expect(preflight.headers.get('access-control-allow-methods')).to.include('PUT')
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).to.include('content-type')
  })

  it('answers bad paths and requests 4xx, and serves on', async () => {
    const cid = await cidOf('still served')
    const status = async (path: string, init?: RequestInit): Promise<number> => (await fetch(`${new URL(a.routingV1).origin}${path}`, init)).status
    expect(await status('/')).to.equal(400)
    expect(await status('/routing/v1/nothing')).to.equal(400)
    expect(await status('/routing/v1/providers/not-a-cid')).to.equal(400)
    expect(await status(`/routing/v1/providers/${cid}`, { method: 'PUT', body: '{}' })).to.equal(501)
    expect(await status(`/routing/v1/ipns/${peerCid(a.peerId)}`, { headers: { accept: 'application/json' } })).to.equal(406)
    expect(await status(`/routing/v1/providers/${cid}`, { headers: { 'x-filler': 'x'.repeat(10_000) } })).to.equal(431)
    expect(await status(`/routing/v1/ipns/${peerCid(a.peerId)}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.ipfs.ipns-record' }, body: new Uint8Array(20_000) })).to.equal(413)
    expect(await status(`/routing/v1/providers/${cid}`)).to.equal(200)
    expect(a.child.exitCode).to.equal(null)
  })

  it('answers 429 on connections past one address\'s bound, then serves it again', async () => {
    const { port } = new URL(a.routingV1)
    const sockets: Socket[] = []
    try {
      // the bound is 32 connections an address: hold them open
      for (let i = 0; i < 32; i++) {
        const socket = tcpConnect(Number(port), '127.0.0.1')
        await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
        sockets.push(socket)
      }
      // a new connection (fetch would reuse one it keeps alive)
      const url = `${a.routingV1}/providers/${await cidOf('over the bound')}`
      const refused = await new Promise<{ status?: number, retryAfter?: string | string[] }>((resolve, reject) => {
        httpGet(url, { agent: false }, (res) => {
          res.resume()
          resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] })
        }).once('error', reject)
      })
      expect(refused).to.deep.equal({ status: 429, retryAfter: '1' })
    } finally {
      sockets.forEach(socket => socket.destroy())
    }
    // once they close, the address is served again
    await until(async () => (await fetch(`${a.routingV1}/providers/${await cidOf('after the bound')}`)).status === 200 ? true : undefined, 5_000, 'a to serve again')
  })

  it('encodes peer ids in base58btc, which the client needs', async () => {
    const body = await (await fetch(`${a.routingV1}/peers/${peerCid(c.peerId)}`)).json()
    expect(body.Peers[0].ID).to.equal(c.peerId)
    expect(uint8ArrayToString(peerIdFromString(body.Peers[0].ID).toMultihash().bytes, 'base58btc')).to.equal(c.peerId)
  })
})

describe('daemon: QUIC', function () {
  this.timeout(60_000)

  after(async () => {
    await cleanUp()
  })

  it('two daemons that listen on quic-v1 alone connect and route over it', async () => {
    const quicOnly = ['--listen', '/ip4/127.0.0.1/udp/0/quic-v1']
    const a = await startDaemon(await tempDir(), quicOnly)
    expect(a.address).to.match(/\/udp\/\d+\/quic-v1\/p2p\//)
    const b = await startDaemon(await tempDir(), [...quicOnly, '--bootstrap', a.address])
    await until(async () => (await tableIds(a)).includes(b.peerId) ? true : undefined, 15_000, 'a to add b over QUIC')
    // b's put looks up its own table: b must hold a too (each adds the other once identify told
    // it the other serves the DHT; a's side may come first)
    await until(async () => (await tableIds(b)).includes(a.peerId) ? true : undefined, 15_000, 'b to add a over QUIC')
    const put = await rpc(b.url, b.token, 'put', { key: '/kadmium/over-quic', value: 'hello over quic' })
    expect(put.result.stored).to.equal(1)
    const got = await rpc(a.url, a.token, 'get', { key: '/kadmium/over-quic' })
    expect(got.result.value).to.equal('hello over quic')
  })
})
