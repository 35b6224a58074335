import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { streamPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import * as varint from 'uint8-varint'
import { InvalidMessageError } from '../../src/errors.ts'
import { Counters } from '../../src/network/counters.ts'
import { Server } from '../../src/network/server.ts'
import { streamSource } from '../../src/network/stream-source.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { frame, readFrames } from '../../src/wire/framing.ts'
import type { Handlers } from '../../src/network/server.ts'
import type { Message } from '../../src/wire/codec.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

const MAX = 1024

/** A server on one end of an in-memory stream pair; the test writes and reads the other end. */
async function serve (handlers: Handlers, onRequest?: (from: PeerId, request: Message) => void): Promise<{ server: Server, counters: Counters, local: Stream, remote: Stream, served: Promise<void>, from: PeerId }> {
  const from = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const counters = new Counters()
  const server = new Server({ logger: defaultLogger() }, { maxMessageSize: MAX, messageTimeout: 1_000, idleTimeout: 5_000, bytesPerRequest: 16 * 1024, counters, logPrefix: 'test', onRequest }, handlers)
  const [local, remote] = await streamPair()
  const served = server.handle(remote, { remotePeer: from } as unknown as Connection)
  return { server, counters, local, remote, served, from }
}

const ping: Handlers = {
  [MessageType.PING]: () => ({ type: MessageType.PING }),
  [MessageType.FIND_NODE]: (_from, request) => ({ type: MessageType.FIND_NODE, key: request.key }),
  [MessageType.ADD_PROVIDER]: () => undefined
}

describe('network/server', () => {
  it('answers several requests on one stream, in order, and tells onRequest of each first', async () => {
    const seen: string[] = []
    const { local, served, from } = await serve(ping, (peer, request) => { seen.push(`${peer.equals(from)} ${MessageType[request.type]}`) })
    const answers = readFrames(streamSource(local), { maxMessageSize: MAX })
    for (const key of [1, 2, 3]) {
      local.send(frame(encodeMessage({ type: MessageType.FIND_NODE, key: new Uint8Array([key]) })))
      const answer = decodeMessage((await answers.next()).value)
      expect([answer.type, answer.key]).to.deep.equal([MessageType.FIND_NODE, new Uint8Array([key])])
    }
    await local.close()
    await served
    expect(seen).to.deep.equal(['true FIND_NODE', 'true FIND_NODE', 'true FIND_NODE'])
  })

  it('sends nothing for a handler that gives no answer, and serves the next request on the stream', async () => {
    const { local, counters, served } = await serve(ping)
    const answers = readFrames(streamSource(local), { maxMessageSize: MAX })
    local.send(frame(encodeMessage({ type: MessageType.ADD_PROVIDER, key: new Uint8Array([1]) })))
    local.send(frame(encodeMessage({ type: MessageType.PING })))
    expect(decodeMessage((await answers.next()).value).type).to.equal(MessageType.PING)
    await local.close()
    await served
    expect(counters.snapshot().inbound).to.deep.equal({ ADD_PROVIDER: 1, PING: 1 })
  })

  for (const [what, bytes, error] of [
    ['an unserved message type', frame(encodeMessage({ type: MessageType.GET_VALUE, key: new Uint8Array([1]) })), 'UnsupportedMessageTypeError'],
    ['a malformed message', frame(new Uint8Array([0xff, 0xff, 0xff])), 'InvalidMessageError'],
    ['a frame over the size limit', varint.encode(MAX + 1), 'MessageTooLargeError']
  ] as const) {
    it(`resets the stream on ${what} and counts ${error}`, async () => {
      const { local, remote, counters, served } = await serve(ping)
      local.send(bytes)
      await served
      expect(remote.status).to.equal('aborted')
      expect(counters.snapshot().errors).to.deep.equal({ [error]: 1 })
    })
  }

  it('resets the stream when a handler throws, and counts the error by its name', async () => {
    const { local, remote, counters, served } = await serve({ [MessageType.PING]: () => { throw new InvalidMessageError('no') } })
    local.send(frame(encodeMessage({ type: MessageType.PING })))
    await served
    expect(remote.status).to.equal('aborted')
    expect(counters.snapshot().errors).to.deep.equal({ InvalidMessageError: 1 })
  })

  it('closeAll aborts the streams being served', async () => {
    const { server, local, remote, served } = await serve(ping)
    const answers = readFrames(streamSource(local), { maxMessageSize: MAX })
    local.send(frame(encodeMessage({ type: MessageType.PING })))
    await answers.next()
    server.closeAll()
    await served
    expect(remote.status).to.equal('aborted')
  })
})
