import { expect } from 'aegir/chai'
import fc from 'fast-check'
import drain from 'it-drain'
import * as lp from 'it-length-prefixed'
import { MAX_INBOUND_STREAMS } from '../../src/defaults.ts'
import { kadId } from '../../src/keys.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { TEST_PROTOCOL, connect, eventually, kadmiumNode, plainNode, stoppedAfterEach } from '../utils/nodes.ts'
import type { Message } from '../../src/wire/codec.ts'
import type { KadmiumNode } from '../utils/nodes.ts'
import type { Libp2p, Stream } from '@libp2p/interface'

/** The first message that comes back on `stream`. */
async function firstAnswer (stream: Stream): Promise<Message> {
  const first = await lp.decode(stream).next()
  if (first.done === true) {
    throw new Error('no answer')
  }
  return decodeMessage(first.value)
}

/** Sends a PING on `stream` and resolves to whether a PING came back. */
async function pinged (stream: Stream): Promise<boolean> {
  stream.send(lp.encode.single(encodeMessage({ type: MessageType.PING })))
  return (await firstAnswer(stream)).type === MessageType.PING
}

describe('network: hardening', function () {
  this.timeout(60_000)
  const track = stoppedAfterEach()

  it(`an idle stream gives its slot back: after ${MAX_INBOUND_STREAMS} idle streams on one connection, another is answered`, async () => {
    const server = await track(kadmiumNode({ streamIdleTimeout: 300 }))
    const client = await track(plainNode())
    await connect(client, server)
    // streams opened and kept open, as a peer that reuses streams keeps them
    const idle = await Promise.all(Array.from({ length: MAX_INBOUND_STREAMS }, async () => {
      const stream = await client.dialProtocol(server.peerId, TEST_PROTOCOL)
      expect(await pinged(stream)).to.equal(true)
      return stream
    }))
    await eventually(() => idle.every(stream => stream.status !== 'open'), 10_000, 'idle streams reset')
    const next = await client.dialProtocol(server.peerId, TEST_PROTOCOL)
    expect(await pinged(next)).to.equal(true)
    expect(client.getConnections(server.peerId)).to.have.length(1)
  })

  it('a large request is charged to the rate limit by its size: a lone one is answered at once, a second in a row refused', async () => {
    // 1 MiB costs 65 requests: the first goes at once on a full bucket of 60 and leaves a debt of
    // 5; a second one within 2.75 s would wait past maxDelay for 65 tokens at 20/s and is refused
    // (the margin for a slow machine); a small request waits off the debt, 300 ms at most
    const server = await track(kadmiumNode({ rateLimit: { perSecond: 20, burst: 60, maxDelay: 500 } }))
    const client = await track(plainNode())
    await connect(client, server)
    const big = encodeMessage({ type: MessageType.PING, key: new Uint8Array(1024 * 1024 - 16) })
    const first = await client.dialProtocol(server.peerId, TEST_PROTOCOL)
    first.send(lp.encode.single(big))
    expect((await firstAnswer(first)).type).to.equal(MessageType.PING)
    const second = await client.dialProtocol(server.peerId, TEST_PROTOCOL)
    second.send(lp.encode.single(big))
    await expect(firstAnswer(second)).to.eventually.be.rejected()
    const stats = server.services.dht.stats()
    expect(stats.errors.RateLimitedError).to.equal(1)
    // the lone large request was not held back
    expect(stats.throttled).to.equal(0)
    // small requests are still served
    expect(await pinged(await client.dialProtocol(server.peerId, TEST_PROTOCOL))).to.equal(true)
  })

  it('a record whose timeReceived is not UTF-8 is read without it, and the message is served', async () => {
    const server = await track(kadmiumNode())
    const client = await track(plainNode())
    await connect(client, server)
    // PING (field 1 = 5) with a record (field 3): key [1], value [2], timeReceived 0xff 0xfe
    const bytes = new Uint8Array([0x08, 0x05, 0x1a, 10, 0x0a, 1, 1, 0x12, 1, 2, 0x2a, 2, 0xff, 0xfe])
    expect(decodeMessage(bytes).record).to.deep.equal({ key: new Uint8Array([1]), value: new Uint8Array([2]) })
    const stream = await client.dialProtocol(server.peerId, TEST_PROTOCOL)
    stream.send(lp.encode.single(bytes))
    expect((await firstAnswer(stream)).type).to.equal(MessageType.PING)
  })

  it('a flood of random frames only ever resets streams: the node still answers after it', async () => {
    const server = await track(kadmiumNode({ rateLimit: false }))
    const client = await track(plainNode())
    await connect(client, server)
    const frames = fc.sample(fc.uint8Array({ maxLength: 200 }), { numRuns: 3_000, seed: 42 })
    // a few frames a stream: most streams are reset at their first bad frame
    for (let i = 0; i < frames.length; i += 100) {
      await Promise.all(frames.slice(i, i + 100).map(async (bytes, j) => {
        if (j % 3 !== 0) {
          return
        }
        const stream = await client.dialProtocol(server.peerId, TEST_PROTOCOL).catch(() => undefined)
        if (stream == null) {
          return
        }
        for (const b of [bytes, frames[i + j + 1], frames[i + j + 2]]) {
          if (b != null) {
            stream.send(lp.encode.single(b))
          }
        }
        await stream.close().catch(() => {})
        // read the answers to frames that happened to be valid, until the stream ends or resets
        await drain(lp.decode(stream))
      }).map(async p => p.catch(() => {})))
    }
    expect(await pinged(await client.dialProtocol(server.peerId, TEST_PROTOCOL))).to.equal(true)
    const errors = Object.values(server.services.dht.stats().errors).reduce((a, b) => a + b, 0)
    expect(errors).to.be.greaterThan(500)
  })
})

describe('network: the diversity filter, from many addresses', function () {
  this.timeout(90_000)
  const track = stoppedAfterEach()

  /** A DHT server stand-in: it advertises the protocol through identify and listens on `ip`. */
  async function serverAt (ip: string): Promise<Libp2p> {
    const node = await track(plainNode({ addresses: { listen: [`/ip4/${ip}/tcp/0`] } }))
    await node.handle(TEST_PROTOCOL, () => {})
    return node
  }

  it('groups peers by the address they connect from: sybils of one /16 announcing others are capped, honest peers still enter', async () => {
    const maxPerBucket = 2
    const maxPerTable = 5
    const node = await track(kadmiumNode({ kBucketSize: 6, diversity: { maxPerBucket, maxPerTable }, refresh: { enabled: false } }))
    // 24 sybils, each listening in a /16 of its own, all dialling in from 127.0.0.1 (one /16)
    const sybils = await Promise.all(Array.from({ length: 24 }, async (_, i) => serverAt(`127.${100 + i}.0.1`)))
    for (const sybil of sybils) {
      await connect(sybil, node)
    }
    // 10 honest peers, each in its own /16, dialled by the node
    const honest = await Promise.all(Array.from({ length: 10 }, async (_, i) => serverAt(`127.${10 + i}.0.1`)))
    for (const peer of honest) {
      await connect(node, peer)
    }
    await eventually(() => honest.every(peer => node.services.dht.routingTable.has(peer.peerId.toString()) ||
      bucketOf(node, peer).regular >= 6), 20_000, 'honest peers placed')
    const sybilIds = new Set(sybils.map(s => s.peerId.toString()))
    const buckets = node.services.dht.routingTableInfo()
    for (const bucket of buckets) {
      expect(bucket.peers.filter(p => sybilIds.has(p.id)).length).to.be.at.most(maxPerBucket)
    }
    expect(buckets.flatMap(b => b.peers).filter(p => sybilIds.has(p.id)).length).to.be.at.most(maxPerTable)
    // an honest peer is left out only where its bucket is full
    for (const peer of honest) {
      if (!node.services.dht.routingTable.has(peer.peerId.toString())) {
        expect(bucketOf(node, peer).regular).to.equal(6)
      }
    }
  })
})

/** The bucket a peer falls in, in `node`'s table: its regular (not overflow) peers. */
function bucketOf (node: KadmiumNode, peer: Libp2p): { regular: number } {
  const table = node.services.dht.routingTable
  const index = table.bucketIndex(kadIdOf(peer))
  const bucket = node.services.dht.routingTableInfo().find(b => b.index === index)
  return { regular: bucket?.peers.filter(p => !p.overflow).length ?? 0 }
}

function kadIdOf (peer: Libp2p): Uint8Array {
  return kadId(peer.peerId.toMultihash().bytes)
}
