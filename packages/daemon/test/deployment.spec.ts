/**
 * The daemon as deployed: a WebSocket listener that a browser-shaped client (WebSocket transport
 * only, from Node) uses, and the Prometheus metrics it serves, scraped and parsed.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { kadDHT } from 'kadmium'
import { createLibp2p } from 'libp2p'
import { KADMIUM_NAMESPACE, kadmiumValidator } from '../src/namespace.ts'
import { TEST_PROTOCOL, cleanUp, cliJson, startDaemon, tempDir, until } from './processes.ts'
import type { DaemonProcess } from './processes.ts'
import type { Libp2p } from '@libp2p/interface'

/** One sample of a Prometheus text exposition. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text format (version 0.0.4): samples, and each metric's type. */
function parsePrometheus (text: string): { samples: Sample[], types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type != null) {
      types.set(type[1], type[2])
      continue
    }
    if (line === '' || line.startsWith('#')) {
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (sample == null) {
      throw new Error(`not a Prometheus sample: ${line}`)
    }
    const labels: Record<string, string> = {}
    for (const [, name, value] of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name] = value
    }
    samples.push({ name: sample[1], labels, value: Number(sample[3]) })
  }
  return { samples, types }
}

/** The value of the sample named `name` whose labels include `labels`. */
function value (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(s => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

async function scrape (daemon: DaemonProcess): Promise<Response> {
  return fetch(new URL('/metrics', daemon.url), { signal: AbortSignal.timeout(10_000) })
}

describe('the daemon deployed: WebSocket clients and metrics', function () {
  this.timeout(40_000)
  let daemon: DaemonProcess
  let client: Libp2p<{ dht: ReturnType<ReturnType<typeof kadDHT>> }> | undefined

  before(async () => {
    daemon = await startDaemon(await tempDir(), ['--listen', '/ip4/127.0.0.1/tcp/0/ws', '--metrics'])
  })

  after(async () => {
    await client?.stop()
    await cleanUp()
  })

  it('serves a WebSocket-only client as its DHT server', async () => {
    const info = await cliJson(daemon.dir, ['info'])
    const ws = info.addresses.find((a: string) => a.includes('/ws/'))
    expect(ws, 'a WebSocket address').to.be.a('string')
    client = await createLibp2p({
      transports: [webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        dht: kadDHT({ protocol: TEST_PROTOCOL, mode: 'client', addresses: 'all', validators: { [KADMIUM_NAMESPACE]: kadmiumValidator } })
      }
    })
    const connection = await client.dial(multiaddr(ws))
    expect(connection.remoteAddr.toString()).to.include('/ws')
    const dht = client.services.dht
    await until(() => dht.routingTable.size === 1 ? true : undefined, 10_000, 'the daemon in the client\'s table')
    const key = new TextEncoder().encode('/kadmium/over-websockets')
    const stored = await dht.put(key, new TextEncoder().encode('hello from a browser-shaped client'))
    expect(stored).to.equal(1)
    const got = await cliJson(daemon.dir, ['get', '/kadmium/over-websockets'])
    expect(got.value).to.equal('hello from a browser-shaped client')
    const closest = []
    for await (const peer of dht.getClosestPeers(key)) {
      closest.push(peer.id.toString())
    }
    expect(closest).to.deep.equal([daemon.peerId])
  })

  it('serves Prometheus metrics at GET /metrics without the token, and they count what it served', async () => {
    expect(daemon.output()).to.include(`metrics:   ${new URL('/metrics', daemon.url).toString()}`)
    const res = await scrape(daemon)
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.match(/^text\/plain/)
    const text = await res.text()
    // the path needs no token: what it shows must hold no peer id
    expect(text).to.not.include(daemon.peerId)
    expect(text).to.not.include(client?.peerId.toString())
    const { samples, types } = parsePrometheus(text)
    const { counters } = await cliJson(daemon.dir, ['stats'])
    expect(types.get('libp2p_kadmium_inbound_requests_total')).to.equal('counter')
    expect(value(samples, 'libp2p_kadmium_inbound_requests_total', { type: 'PUT_VALUE' })).to.equal(counters.inbound.PUT_VALUE).and.be.at.least(1)
    expect(value(samples, 'libp2p_kadmium_inbound_requests_total', { type: 'FIND_NODE' })).to.be.at.least(1)
    expect(value(samples, 'libp2p_kadmium_records')).to.equal(1)
    expect(value(samples, 'libp2p_kadmium_server_mode')).to.equal(1)
    expect(value(samples, 'libp2p_kadmium_routing_table_size')).to.equal(0)
    // the daemon's get ran a lookup: one observation of its duration
    expect(types.get('libp2p_kadmium_query_duration_seconds')).to.equal('histogram')
    expect(value(samples, 'libp2p_kadmium_query_duration_seconds_count', { type: 'GET_VALUE' })).to.be.at.least(1)
    // libp2p's own metrics come along
    expect(value(samples, 'libp2p_connection_manager_connections', { libp2p_connection_manager_connections: 'inbound' })).to.be.at.least(1)
  })

  it('serves no /metrics unless asked to', async () => {
    const plain = await startDaemon(await tempDir())
    const res = await scrape(plain)
    expect(res.status).to.equal(404)
  })
})
