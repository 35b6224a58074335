import { expect } from 'aegir/chai'
import drain from 'it-drain'
import * as lp from 'it-length-prefixed'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DHTMetrics } from '../src/metrics.ts'
import { MessageType, encodeMessage } from '../src/wire/codec.ts'
import { MemoryMetrics } from './utils/metrics.ts'
import { TEST_PROTOCOL, connect, eventually, kadmiumNode, plainNode, stoppedAfterEach } from './utils/nodes.ts'
import { vKey, vValidator, vValue } from './utils/records.ts'
import type { MetricsSources } from '../src/metrics.ts'
import type { DHTPeer } from '../src/network/dht-peer.ts'

const P = 'libp2p_kadmium'

/** Sources for a {@link DHTMetrics} made alone: an empty node. */
const empty: MetricsSources = {
  counters: () => ({ inbound: {}, outbound: {}, errors: {}, throttled: 0, inboundFailed: {}, outboundFailed: {} }),
  tableSize: () => 0,
  bucketSizes: () => new Map(),
  records: () => 0,
  providers: () => ({ keys: 0, records: 0 }),
  mode: () => 'client'
}

describe('metrics', function () {
  this.timeout(30_000)
  const track = stoppedAfterEach()

  it('move when the node serves and sends requests, runs lookups and stores records', async () => {
    const metrics = new MemoryMetrics()
    const server = await track(kadmiumNode({ mode: 'server', validators: { v: vValidator } }, { metrics: () => metrics }))
    const b = await track(kadmiumNode({ validators: { v: vValidator } }))
    const c = await track(kadmiumNode())
    await connect(b, server)
    await connect(server, c)
    await eventually(() => server.services.dht.stats().routingTableSize === 2, 5_000, 'server table')

    const before = await metrics.collect()
    expect(before[`${P}_server_mode`]).to.deep.equal({ '': 1 })
    expect(before[`${P}_routing_table_size`]).to.deep.equal({ '': 2 })
    const buckets = Object.values(before[`${P}_routing_table_bucket_peers`] as Record<string, number>)
    expect(buckets.reduce((a, n) => a + n, 0)).to.equal(2)

    // b stores a value and a provider record on the server: it serves PUT_VALUE and ADD_PROVIDER
    await b.services.dht.put(vKey('metrics'), vValue(1))
    const cid = CID.createV1(0x55, await sha256.digest(new Uint8Array([1, 2, 3])))
    await b.services.dht.provide(cid)
    await eventually(() => server.services.dht.stats().providers.records === 1, 5_000, 'provider record')
    // the server runs a lookup of its own
    await drain(server.services.dht.getClosestPeers(new Uint8Array([7, 7, 7])))
    // and refuses a FIND_NODE without a key
    const raw = await track(plainNode())
    await connect(raw, server)
    const stream = await raw.dialProtocol(server.peerId, TEST_PROTOCOL)
    stream.send(lp.encode.single(encodeMessage({ type: MessageType.FIND_NODE, key: new Uint8Array() })))
    await eventually(() => (server.services.dht.stats().inboundFailed.FIND_NODE ?? 0) === 1, 5_000, 'the refusal')

    const after = await metrics.collect()
    const inbound = after[`${P}_inbound_requests_total`] as Record<string, number>
    const expected = server.services.dht.stats().inbound
    expect(inbound.PUT_VALUE).to.equal(expected.PUT_VALUE).and.be.at.least(1)
    expect(inbound.ADD_PROVIDER).to.equal(expected.ADD_PROVIDER).and.be.at.least(1)
    expect(inbound.FIND_NODE).to.equal(expected.FIND_NODE).and.be.at.least(1)
    expect((after[`${P}_outbound_requests_total`] as Record<string, number>).FIND_NODE).to.be.at.least(2)
    expect(after[`${P}_inbound_request_errors_total`]).to.deep.equal({ FIND_NODE: 1 })
    expect((after[`${P}_errors_total`] as Record<string, number>).InvalidMessageError).to.equal(1)
    expect(after[`${P}_records`]).to.deep.equal({ '': 1 })
    expect(after[`${P}_provider_records`]).to.deep.equal({ '': 1 })
    expect(after[`${P}_provider_keys`]).to.deep.equal({ '': 1 })
    const durations = after[`${P}_query_duration_seconds`] as Record<string, number[]>
    expect(durations.FIND_NODE.length).to.be.at.least(1)
    expect(durations.FIND_NODE.every(s => s >= 0 && s < 30)).to.equal(true)
    expect((after[`${P}_query_hops`] as Record<string, number[]>).FIND_NODE.every(h => h >= 1 && h <= 2)).to.equal(true)

    // a counter reads as a running total: collecting again with nothing served changes nothing
    const again = await metrics.collect()
    expect(again[`${P}_inbound_requests_total`]).to.deep.equal(server.services.dht.stats().inbound)
  })

  it('count a lookup\'s hops from the routing table to the farthest of its closest peers', () => {
    const metrics = new MemoryMetrics()
    const dht = new DHTMetrics(metrics, P, empty)
    const peer = (id: string): DHTPeer => ({ id } as unknown as DHTPeer)
    const [seed, x, y, z] = ['seed', 'x', 'y', 'z'].map(peer)
    const observer = dht.lookup(MessageType.GET_VALUE)
    observer.event({ type: 'ask', peer: seed })
    observer.event({ type: 'answer', peer: seed, closer: [x, z], added: [x, z], elapsed: 1 })
    observer.event({ type: 'answer', peer: x, closer: [y, z], added: [y], elapsed: 1 })
    observer.event({ type: 'answer', peer: y, closer: [], added: [], elapsed: 1 })
    observer.end({ closest: [y, z, x], stopped: false, unanswered: [], stats: { asked: 3, answered: 3, failed: 0, stalled: 0, known: 4 } })
    dht.lookup(MessageType.GET_VALUE).end()
    return metrics.collect().then(values => {
      // seed: 1 hop; x and z, named by the seed: 2; y, named by x: 3
      expect(values[`${P}_query_hops`]).to.deep.equal({ GET_VALUE: [3] })
      expect(values[`${P}_query_duration_seconds`]).to.have.property('GET_VALUE').with.length(1)
      expect(values[`${P}_query_errors_total`]).to.deep.equal({ GET_VALUE: 1 })
    })
  })

  it('follow a reprovide sweep', async () => {
    const metrics = new MemoryMetrics()
    const dht = new DHTMetrics(metrics, P, empty)
    async function * results (): AsyncGenerator<{ key: Uint8Array, error?: Error }> {
      yield { key: new Uint8Array([1]) }
      yield { key: new Uint8Array([2]), error: new Error('no peers') }
      yield { key: new Uint8Array([3]) }
    }
    const seen = []
    for await (const result of dht.reprovide(3, results())) {
      seen.push(result)
    }
    expect(seen).to.have.length(3)
    const values = await metrics.collect()
    expect(values[`${P}_reprovide_sweep_keys`]).to.deep.equal({ due: 3, done: 2, failed: 1 })
    expect(values[`${P}_reprovided_keys_total`]).to.deep.equal({ '': 2 })
    expect(values[`${P}_reprovide_failures_total`]).to.deep.equal({ '': 1 })
  })
})
