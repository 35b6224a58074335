import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { Client } from '../../src/network/client.ts'
import { Counters } from '../../src/network/counters.ts'
import { streamSource } from '../../src/network/stream-source.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { frame, readFrames } from '../../src/wire/framing.ts'
import type { ClientInit } from '../../src/network/client.ts'
import type { Message } from '../../src/wire/codec.ts'
import type { PeerId, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

const PROTOCOL = '/test/kad/1.0.0'

/**
 * A client whose every stream is one end of an in-memory pair; `remote` plays the peer on the
 * other end with what the test gives it.
 */
async function setup (remote: (stream: Stream, index: number) => Promise<void>, init: Partial<ClientInit> = {}): Promise<{ client: Client, counters: Counters, opened: string[], streams: Stream[], remotesDone(): Promise<void[]> }> {
  const counters = new Counters()
  const opened: string[] = []
  const streams: Stream[] = []
  const served: Array<Promise<void>> = []
  const connectionManager = {
    openStream: async (_target: unknown, protocol: string) => {
      opened.push(protocol)
      const [local, far] = await streamPair()
      streams.push(local)
      served.push(remote(far, streams.length - 1).catch(() => {}))
      return local
    }
  } as unknown as ConnectionManager
  const client = new Client({ connectionManager, logger: defaultLogger() }, { protocol: PROTOCOL, maxMessageSize: 1024, counters, logPrefix: 'test', readTimeout: 5_000, idleTimeout: 0, maxKept: 256, ...init })
  return { client, counters, opened, streams, remotesDone: async () => Promise.all(served) }
}

/** Reads one request and answers it with `answer(request)` (raw bytes, or nothing). */
function answering (answer: (request: Message) => Uint8Array | undefined) {
  return async (stream: Stream): Promise<void> => {
    const request = await readFrames(streamSource(stream), { maxMessageSize: 1024 }).next()
    const bytes = answer(decodeMessage(request.value))
    if (bytes != null) {
      stream.send(frame(bytes))
    }
    await stream.close()
  }
}

/** Answers every request on the stream with `answer(request, n)` (n: the stream's request count), until it ends. */
function serving (answer: (request: Message, n: number) => Uint8Array | 'reset' | 'silent' = request => encodeMessage({ type: request.type, key: request.key })) {
  return async (stream: Stream): Promise<void> => {
    let n = 0
    for await (const bytes of readFrames(streamSource(stream), { maxMessageSize: 1024 })) {
      const reply = answer(decodeMessage(bytes), n++)
      if (reply === 'reset') {
        stream.abort(new Error('reset by the peer'))
        return
      }
      if (reply !== 'silent') {
        stream.send(frame(reply))
      }
    }
    await stream.close()
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * A protocol-first client whose every connection's muxer hands out one end of an in-memory
 * pair; `remote` plays the peer's listener on the other end.
 */
async function setupProtocolFirst (remote: (stream: Stream) => Promise<void>): Promise<{ client: Client, counters: Counters, opened: string[] }> {
  const counters = new Counters()
  const opened: string[] = []
  const muxer = {
    status: 'open',
    createStream: async () => {
      const [local, far] = await streamPair()
      remote(far).catch(() => {})
      return local
    }
  }
  const connection = { status: 'open', streams: [], muxer, newStream: async (protocol: string) => { opened.push(protocol) } }
  const connectionManager = {
    openConnection: async () => connection,
    openStream: async (_target: unknown, protocol: string) => { opened.push(protocol) }
  } as unknown as ConnectionManager
  const client = new Client({ connectionManager, logger: defaultLogger() }, { protocol: PROTOCOL, maxMessageSize: 1024, counters, logPrefix: 'test', readTimeout: 5_000, idleTimeout: 0, maxKept: 256, protocolFirst: true })
  return { client, counters, opened }
}

/**
 * A multistream-select listener that confirms PROTOCOL (or declines it) and answers each request
 * after it; `first` gets the frames of the first chunk that arrived.
 */
function listener (first: (frames: string[]) => void, declines = false) {
  return async (stream: Stream): Promise<void> => {
    const chunks = streamSource(stream)
    const chunk = await chunks.next()
    const frames: Uint8Array[] = []
    for await (const bytes of readFrames((async function * () { yield chunk.value as Uint8ArrayList })(), { maxMessageSize: 1024 })) {
      frames.push(bytes.subarray())
    }
    first(frames.map(f => new TextDecoder().decode(f)))
    stream.send(new Uint8ArrayList(frame(new TextEncoder().encode('/multistream/1.0.0\n')), frame(new TextEncoder().encode(declines ? 'na\n' : `${PROTOCOL}\n`))))
    if (!declines) {
      const request = decodeMessage(frames[2])
      stream.send(frame(encodeMessage({ type: request.type, key: request.key })))
    }
    await stream.close()
  }
}

describe('network/client', () => {
  let peer: PeerId
  before(async () => {
    peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  })

  it('sends a request on the protocol and resolves to the decoded answer', async () => {
    const { client, counters, opened } = await setup(answering(request => encodeMessage({ type: request.type, key: request.key, closer: [{ id: peer, multiaddrs: [] }] })))
    const answer = await client.request(peer, { type: MessageType.FIND_NODE, key: new Uint8Array([7]) })
    expect(answer.type).to.equal(MessageType.FIND_NODE)
    expect(answer.key).to.deep.equal(new Uint8Array([7]))
    expect(answer.closer.all().map(p => p.id.toString())).to.deep.equal([peer.toString()])
    expect(opened).to.deep.equal([PROTOCOL])
    expect(counters.snapshot().outbound).to.deep.equal({ FIND_NODE: 1 })
  })

  it('rejects with UnexpectedEndError when the stream ends without an answer, and counts it', async () => {
    const { client, counters } = await setup(answering(() => undefined))
    await expect(client.request(peer, { type: MessageType.PING })).to.eventually.be.rejected().with.property('name', 'UnexpectedEndError')
    expect(counters.snapshot().errors).to.deep.equal({ UnexpectedEndError: 1 })
  })

  it('rejects with InvalidMessageError on a malformed answer', async () => {
    const { client } = await setup(answering(() => new Uint8Array([0xff, 0xff, 0xff])))
    await expect(client.request(peer, { type: MessageType.PING })).to.eventually.be.rejected().with.property('name', 'InvalidMessageError')
  })

  it('an abort rejects with its reason, resets the stream and is not counted as an error', async () => {
    // a peer that never answers
    const { client, counters, streams } = await setup(async () => new Promise(() => {}))
    const controller = new AbortController()
    const asked = client.request(peer, { type: MessageType.PING }, { signal: controller.signal })
    await new Promise(resolve => setTimeout(resolve, 20))
    const reason = new Error('caller gave up')
    controller.abort(reason)
    await expect(asked).to.eventually.be.rejected().and.equal(reason)
    expect(streams[0].status).to.not.equal('open')
    expect(counters.snapshot().errors).to.deep.equal({})
  })

  it('send delivers a message that gets no answer and closes its stream', async () => {
    const received: Message[] = []
    const { client, streams, remotesDone } = await setup(async (stream) => {
      for await (const bytes of readFrames(streamSource(stream), { maxMessageSize: 1024 })) {
        received.push(decodeMessage(bytes))
      }
    })
    await client.send(peer, { type: MessageType.ADD_PROVIDER, key: new Uint8Array([1]), providers: [{ id: peer, multiaddrs: [] }] })
    await remotesDone()
    expect(received.map(m => m.type)).to.deep.equal([MessageType.ADD_PROVIDER])
    expect(streams[0].writeStatus).to.not.equal('writable')
  })

  describe('protocol-first streams', () => {
    it('sends the multistream header, the protocol and the request in one write, and reads the answer after the confirmation', async () => {
      let first: string[] = []
      const { client, opened } = await setupProtocolFirst(listener(frames => { first = frames }))
      const answer = await client.request(peer, { type: MessageType.FIND_NODE, key: new Uint8Array([7]) })
      expect(answer.key).to.deep.equal(new Uint8Array([7]))
      expect(first.slice(0, 2)).to.deep.equal(['/multistream/1.0.0\n', `${PROTOCOL}\n`])
      expect(first).to.have.lengthOf(3)
      // no stream was negotiated first
      expect(opened).to.deep.equal([])
    })

    it('rejects with libp2p\'s UnsupportedProtocolError when the listener declines the protocol, and counts it', async () => {
      const { client, counters } = await setupProtocolFirst(listener(() => {}, true))
      await expect(client.request(peer, { type: MessageType.FIND_NODE, key: new Uint8Array([7]) })).to.eventually.be.rejected().with.property('name', 'UnsupportedProtocolError')
      expect(counters.snapshot().errors).to.deep.equal({ UnsupportedProtocolError: 1 })
    })
  })

  describe('stream reuse', () => {
    const ask = async (client: Client, key: number): Promise<Message> => client.request(peer, { type: MessageType.FIND_NODE, key: new Uint8Array([key]) })

    it('sends requests in sequence on one stream, and closes it once idle', async () => {
      const { client, opened, streams } = await setup(serving(), { idleTimeout: 100 })
      expect((await ask(client, 1)).key).to.deep.equal(new Uint8Array([1]))
      expect((await ask(client, 2)).key).to.deep.equal(new Uint8Array([2]))
      expect((await ask(client, 3)).key).to.deep.equal(new Uint8Array([3]))
      expect(opened).to.have.length(1)
      expect(streams[0].status).to.equal('open')
      await sleep(250)
      expect(streams[0].writeStatus).to.not.equal('writable')
      // the next request opens a new stream
      await ask(client, 4)
      expect(opened).to.have.length(2)
    })

    it('keeps at most maxKept streams: past it a stream is closed after its answer', async () => {
      const { client, opened, streams } = await setup(serving(), { idleTimeout: 1_000, maxKept: 1 })
      const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      await ask(client, 1)
      await client.request(other, { type: MessageType.FIND_NODE, key: new Uint8Array([2]) })
      expect(opened).to.have.length(2)
      expect(streams[0].status).to.equal('open')
      expect(streams[1].writeStatus).to.not.equal('writable')
      // the first peer's stream is still kept and reused
      await ask(client, 3)
      expect(opened).to.have.length(2)
      client.closeAll()
    })

    it('opens a stream for every request when idleTimeout is 0', async () => {
      const { client, opened } = await setup(serving())
      await ask(client, 1)
      await ask(client, 2)
      expect(opened).to.have.length(2)
    })

    it('sends the request again on a new stream when the peer resets the kept one, and counts no error', async () => {
      // the first stream answers once, then resets when asked again
      const { client, opened, counters } = await setup((stream, index) => serving((request, n) => index === 0 && n > 0 ? 'reset' : encodeMessage({ type: request.type, key: request.key }))(stream), { idleTimeout: 1_000 })
      await ask(client, 1)
      expect((await ask(client, 2)).key).to.deep.equal(new Uint8Array([2]))
      expect(opened).to.have.length(2)
      expect(counters.snapshot().errors).to.deep.equal({})
      expect(counters.snapshot().outbound).to.deep.equal({ FIND_NODE: 2 })
      // the new stream is kept in turn
      await ask(client, 3)
      expect(opened).to.have.length(2)
    })

    it('does not keep a stream the peer closed, nor send on it', async () => {
      // the peer closes its side after each answer, as a one-request server does
      const { client, opened } = await setup(answering(request => encodeMessage({ type: request.type, key: request.key })), { idleTimeout: 1_000 })
      await ask(client, 1)
      await sleep(20)
      expect((await ask(client, 2)).key).to.deep.equal(new Uint8Array([2]))
      expect(opened).to.have.length(2)
    })

    it('a request with no answer on a kept stream fails at the read timeout, not twice', async () => {
      const { client, opened, counters } = await setup(serving((request, n) => n > 0 ? 'silent' : encodeMessage({ type: request.type })), { idleTimeout: 1_000, readTimeout: 100 })
      await ask(client, 1)
      await expect(ask(client, 2)).to.eventually.be.rejected().with.property('name', 'TimeoutError')
      expect(opened).to.have.length(1)
      expect(counters.snapshot().errors).to.deep.equal({ TimeoutError: 1 })
    })

    it('requests to one peer at the same time each get a stream, and one is kept', async () => {
      const { client, opened } = await setup(serving(), { idleTimeout: 1_000 })
      const answers = await Promise.all([ask(client, 1), ask(client, 2), ask(client, 3)])
      expect(answers.map(a => a.key?.[0])).to.deep.equal([1, 2, 3])
      expect(opened).to.have.length(3)
      await ask(client, 4)
      await ask(client, 5)
      expect(opened).to.have.length(3)
    })

    it('closeAll closes the kept streams', async () => {
      const { client, streams } = await setup(serving(), { idleTimeout: 60_000 })
      await ask(client, 1)
      client.closeAll()
      await sleep(20)
      expect(streams[0].writeStatus).to.not.equal('writable')
    })
  })
})
