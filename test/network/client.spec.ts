import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { Client } from '../../src/network/client.ts'
import { Counters } from '../../src/network/counters.ts'
import { streamSource } from '../../src/network/stream-source.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { frame, readFrames } from '../../src/wire/framing.ts'
import type { Message } from '../../src/wire/codec.ts'
import type { PeerId, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

const PROTOCOL = '/test/kad/1.0.0'

/**
 * A client whose every stream is one end of an in-memory pair; `remote` plays the peer on the
 * other end with what the test gives it.
 */
async function setup (remote: (stream: Stream) => Promise<void>): Promise<{ client: Client, counters: Counters, opened: string[], streams: Stream[], remotesDone(): Promise<void[]> }> {
  const counters = new Counters()
  const opened: string[] = []
  const streams: Stream[] = []
  const served: Array<Promise<void>> = []
  const connectionManager = {
    openStream: async (_target: unknown, protocol: string) => {
      opened.push(protocol)
      const [local, far] = await streamPair()
      streams.push(local)
      served.push(remote(far).catch(() => {}))
      return local
    }
  } as unknown as ConnectionManager
  const client = new Client({ connectionManager, logger: defaultLogger() }, { protocol: PROTOCOL, maxMessageSize: 1024, counters, logPrefix: 'test' })
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
})
