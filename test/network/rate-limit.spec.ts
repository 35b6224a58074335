import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { MAX_MESSAGE_SIZE } from '../../src/constants.ts'
import { RateLimiter } from '../../src/network/rate-limit.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { TEST_PROTOCOL, connect, kadmiumNode, plainNode, stoppedAfterEach } from '../utils/nodes.ts'
import { rawRequest } from '../utils/wire.ts'
import type { Validator } from '../../src/index.ts'
import type { OutgoingMessage } from '../../src/wire/codec.ts'
import type { Stream } from '@libp2p/interface'

describe('network: the per-peer rate limit', function () {
  this.timeout(30_000)

  function limiter (init: { perSecond: number, burst: number, maxDelay: number, maxPeers?: number }): { limiter: RateLimiter, clock: { now: number } } {
    const clock = { now: 0 }
    return { limiter: new RateLimiter({ maxPeers: 100, ...init, now: () => clock.now }), clock }
  }

  it('lets a burst through at once, then spaces requests at the rate, each peer on its own', () => {
    const { limiter: l, clock } = limiter({ perSecond: 10, burst: 3, maxDelay: 1_000 })
    expect([l.reserve('a'), l.reserve('a'), l.reserve('a')]).to.deep.equal([0, 0, 0])
    // 10/s: the next ones wait 100 ms, 200 ms, … for their turn
    expect(l.reserve('a')).to.be.closeTo(100, 1e-9)
    expect(l.reserve('a')).to.be.closeTo(200, 1e-9)
    expect(l.reserve('b')).to.equal(0)
    // time refills the bucket: after 1 s, 10 tokens came back, capped at the burst of 3
    clock.now += 1_000
    expect([l.reserve('a'), l.reserve('a'), l.reserve('a')]).to.deep.equal([0, 0, 0])
    expect(l.reserve('a')).to.be.greaterThan(0)
  })

  it('refuses a request that would wait longer than maxDelay, and reserves nothing for it', () => {
    const { limiter: l, clock } = limiter({ perSecond: 10, burst: 1, maxDelay: 250 })
    expect(l.reserve('a')).to.equal(0)
    expect(l.reserve('a')).to.be.closeTo(100, 1e-9)
    expect(l.reserve('a')).to.be.closeTo(200, 1e-9)
    expect(() => l.reserve('a')).to.throw().with.property('name', 'RateLimitedError')
    expect(() => l.reserve('a')).to.throw().with.property('name', 'RateLimitedError')
    // the refusals queued nothing: 300 ms later the queue has drained and one token is back
    clock.now += 300
    expect(l.reserve('a')).to.equal(0)
  })

  it('lets a request larger than the burst go at once on a full bucket, and makes the next ones wait off its debt', () => {
    // kadmium's defaults: a 4 MiB message costs 257 requests against a burst of 200 at 50/s
    const { limiter: l, clock } = limiter({ perSecond: 50, burst: 200, maxDelay: 5_000 })
    expect(l.reserve('a', 257)).to.equal(0)
    // 57 in debt: a small request waits for 58 tokens
    expect(l.reserve('a')).to.be.closeTo(58 * 20, 1e-9)
    // another large one needs a full bucket again: 258 tokens away, past maxDelay
    expect(() => l.reserve('a', 257)).to.throw().with.property('name', 'RateLimitedError')
    // so a stream of large messages gets the sustained rate, no more: one each 257 / 50 s
    clock.now += 258 * 20
    expect(l.reserve('a', 257)).to.equal(0)
    // another peer's bucket is its own
    expect(l.reserve('b', 257)).to.equal(0)
  })

  it('tracks at most maxPeers peers, forgetting the least recently active', () => {
    const { limiter: l } = limiter({ perSecond: 1, burst: 1, maxDelay: 10_000, maxPeers: 3 })
    for (const peer of ['a', 'b', 'c']) {
      l.reserve(peer)
    }
    l.reserve('a') // a is active again: b is now the least recent
    l.reserve('d')
    expect(l.size).to.equal(3)
    // b was forgotten: it starts afresh with a full burst; a, still tracked, has to wait
    expect(l.reserve('b')).to.equal(0)
    expect(l.reserve('a')).to.be.greaterThan(0)
  })

  describe('on the wire', () => {
    const track = stoppedAfterEach()

    /** Sends `n` FIND_NODEs on one stream; resolves to the answers read and how the stream ended. */
    async function flood (stream: Stream, n: number): Promise<{ answers: number, error?: Error }> {
      for (let i = 0; i < n; i++) {
        stream.send(lp.encode.single(encodeMessage({ type: MessageType.FIND_NODE, key: new Uint8Array([i]) })))
      }
      await stream.close()
      let answers = 0
      try {
        for await (const frame of lp.decode(stream)) {
          expect(decodeMessage(frame.subarray()).type).to.equal(MessageType.FIND_NODE)
          answers++
        }
        return { answers }
      } catch (error: any) {
        return { answers, error }
      }
    }

    it('slows a peer that sends one request after another on a stream down to the rate, and cuts nothing', async () => {
      const server = await track(kadmiumNode({ rateLimit: { perSecond: 10, burst: 3, maxDelay: 300 } }))
      const client = await track(plainNode())
      await connect(client, server)
      // each request waits for the one before it: the queue never grows past one
      expect(await flood(await client.dialProtocol(server.peerId, TEST_PROTOCOL), 8)).to.deep.equal({ answers: 8 })
      const stats = server.services.dht.stats()
      // the 5 past the burst wait their turn (fewer if the machine is so slow a token came back)
      expect(stats.throttled).to.be.within(1, 5)
      expect(stats.errors.RateLimitedError).to.equal(undefined)
    })

    it('resets the streams of a peer whose parallel requests queue up past maxDelay, counts them, and serves on', async () => {
      // 10/s, 3 at once, at most 300 ms (3 requests) queued
      const server = await track(kadmiumNode({ rateLimit: { perSecond: 10, burst: 3, maxDelay: 300 } }))
      const greedy = await track(plainNode())
      const polite = await track(plainNode())
      await connect(greedy, server)
      await connect(polite, server)

      const streams = await Promise.all(Array.from({ length: 10 }, async () => greedy.dialProtocol(server.peerId, TEST_PROTOCOL)))
      const outcomes = await Promise.all(streams.map(async stream => flood(stream, 2)))
      const reset = outcomes.filter(o => o.error != null).length
      const answers = outcomes.reduce((sum, o) => sum + o.answers, 0)
      expect(reset).to.be.greaterThan(0)
      expect(answers).to.be.lessThan(20)
      const stats = server.services.dht.stats()
      expect(stats.errors.RateLimitedError).to.equal(reset)
      expect(stats.throttled).to.be.greaterThan(0)

      // another peer is served in full meanwhile
      expect(await flood(await polite.dialProtocol(server.peerId, TEST_PROTOCOL), 3)).to.deep.equal({ answers: 3 })
      // and the greedy one again once its queue has drained
      await new Promise(resolve => setTimeout(resolve, 600))
      expect(await flood(await greedy.dialProtocol(server.peerId, TEST_PROTOCOL), 1)).to.deep.equal({ answers: 1 })
    })

    it('answers a lone 4 MiB PUT_VALUE at once, and still holds back a flood of them', async () => {
      // the default rate and burst (200 at once, 50/s, 16 KiB a request: a 4 MiB message costs
      // 257); a second at most of waiting, so that the flood is refused quickly
      const big: Validator = { maxValueBytes: MAX_MESSAGE_SIZE, validate: () => {}, select: () => 0 }
      const server = await track(kadmiumNode({ validators: { big }, rateLimit: { perSecond: 50, burst: 200, maxDelay: 1_000 } }))
      const client = await track(plainNode())
      await connect(client, server)
      const put = (name: string): OutgoingMessage => {
        const key = new TextEncoder().encode(`/big/${name}`)
        // the value fills the frame beside the message's own fields
        return { type: MessageType.PUT_VALUE, key, record: { key, value: new Uint8Array(MAX_MESSAGE_SIZE - 200).fill(7) } }
      }
      const answer = await rawRequest(client, server, put('lone'))
      expect(answer.record?.value.length).to.equal(MAX_MESSAGE_SIZE - 200)
      // not held back
      expect(server.services.dht.stats().throttled).to.equal(0)

      // four more at once, each on a stream of its own: each needs a full bucket, 5 s away while
      // the first one's debt is not paid; every one is refused (or held back, on a machine so
      // slow that the debt was paid meanwhile)
      const outcomes = await Promise.allSettled(Array.from({ length: 4 }, async (_, i) => rawRequest(client, server, put(`flood-${i}`))))
      const refused = outcomes.filter(o => o.status === 'rejected').length
      const stats = server.services.dht.stats()
      expect(refused).to.be.at.least(2)
      expect(stats.errors.RateLimitedError).to.equal(refused)
      expect(refused + stats.throttled).to.be.at.least(4)
    })

    it('a peer within the burst is never held back', async () => {
      const server = await track(kadmiumNode({ rateLimit: { perSecond: 1, burst: 10, maxDelay: 100 } }))
      const client = await track(plainNode())
      await connect(client, server)
      expect(await flood(await client.dialProtocol(server.peerId, TEST_PROTOCOL), 10)).to.deep.equal({ answers: 10 })
      expect(server.services.dht.stats().throttled).to.equal(0)
    })
  })
})
