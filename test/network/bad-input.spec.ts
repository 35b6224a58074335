import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import * as varint from 'uint8-varint'
import { MAX_MESSAGE_SIZE } from '../../src/constants.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { kadmium as pb } from '../../src/wire/generated/dht.js'
import { TEST_PROTOCOL, connect, eventually, kadmiumNode, plainNode, stopAll } from '../utils/nodes.ts'
import { newKey, pkRecord } from '../utils/records.ts'
import type { KadmiumNode } from '../utils/nodes.ts'
import type { Libp2p, Stream } from '@libp2p/interface'

const encoder = new TextEncoder()

/** Reads a stream to its end; resolves to the frames read and how it ended. */
async function drain (stream: Stream): Promise<{ frames: Uint8Array[], error?: Error }> {
  const frames: Uint8Array[] = []
  try {
    for await (const frame of lp.decode(stream)) {
      frames.push(frame.subarray())
    }
    return { frames }
  } catch (error: any) {
    return { frames, error }
  }
}

describe('network: bad input on the wire', function () {
  this.timeout(30_000)
  let server: KadmiumNode
  let other: KadmiumNode
  let client: Libp2p

  before(async () => {
    server = await kadmiumNode()
    other = await kadmiumNode()
    client = await plainNode()
    // the server knows one peer, so a good FIND_NODE has something to answer with
    await connect(other, server)
    await eventually(() => server.services.dht.stats().routingTableSize === 1, 5_000, 'server table')
    await connect(client, server)
  })

  after(async () => {
    await stopAll([server, other, client])
  })

  async function open (): Promise<Stream> {
    return client.dialProtocol(server.peerId, TEST_PROTOCOL)
  }

  async function findNode (stream?: Stream): Promise<Uint8Array[]> {
    const s = stream ?? await open()
    s.send(lp.encode.single(encodeMessage({ type: MessageType.FIND_NODE, key: other.peerId.toMultihash().bytes })))
    await s.close()
    const { frames, error } = await drain(s)
    expect(error).to.equal(undefined)
    return frames
  }

  async function expectReset (bytes: Uint8Array, errorName: string): Promise<void> {
    const before = server.services.dht.stats().errors[errorName] ?? 0
    const stream = await open()
    stream.send(bytes)
    const { frames, error } = await drain(stream)
    expect(frames).to.have.length(0)
    expect(error, 'the stream is reset').to.not.equal(undefined)
    expect(error?.name).to.match(/Reset|Abort/)
    await eventually(() => (server.services.dht.stats().errors[errorName] ?? 0) === before + 1, 5_000, `${errorName} counted`)
    // and the server answers the next well-formed request
    const answer = decodeMessage((await findNode())[0])
    expect(answer.type).to.equal(MessageType.FIND_NODE)
    expect(answer.closer.all().map(p => p.id.toString())).to.deep.equal([other.peerId.toString()])
  }

  it('answers several requests on one stream', async () => {
    const stream = await open()
    for (let i = 0; i < 3; i++) {
      stream.send(lp.encode.single(encodeMessage({ type: MessageType.FIND_NODE, key: other.peerId.toMultihash().bytes })))
    }
    stream.send(lp.encode.single(encodeMessage({ type: MessageType.PING })))
    await stream.close()
    const { frames, error } = await drain(stream)
    expect(error).to.equal(undefined)
    expect(frames.map(f => decodeMessage(f).type)).to.deep.equal([MessageType.FIND_NODE, MessageType.FIND_NODE, MessageType.FIND_NODE, MessageType.PING])
  })

  it('garbage bytes reset the stream', async () => {
    await expectReset(lp.encode.single(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x07])).subarray(), 'InvalidMessageError')
  })

  it('a length prefix over 4 MiB resets the stream before the body is read', async () => {
    await expectReset(varint.encode(MAX_MESSAGE_SIZE + 1), 'MessageTooLargeError')
  })

  it('a truncated protobuf resets the stream', async () => {
    const full = encodeMessage({ type: MessageType.FIND_NODE, key: new Uint8Array(40).fill(1) })
    await expectReset(lp.encode.single(full.subarray(0, full.length - 10)).subarray(), 'InvalidMessageError')
  })

  it('an unknown message type resets the stream', async () => {
    await expectReset(lp.encode.single(pb.Message.encode({ type: 9 as any, key: new Uint8Array([1]) }).finish()).subarray(), 'UnsupportedMessageTypeError')
  })

  it('a FIND_NODE without a key resets the stream', async () => {
    await expectReset(lp.encode.single(encodeMessage({ type: MessageType.FIND_NODE })).subarray(), 'InvalidMessageError')
  })

  it('provider messages without a key, or with one over 80 bytes, reset the stream', async () => {
    for (const type of [MessageType.ADD_PROVIDER, MessageType.GET_PROVIDERS]) {
      await expectReset(lp.encode.single(encodeMessage({ type })).subarray(), 'InvalidMessageError')
      await expectReset(lp.encode.single(encodeMessage({ type, key: new Uint8Array(81) })).subarray(), 'InvalidKeyError')
    }
  })

  it('a PUT_VALUE in an unknown namespace, with no namespace, or a refused value resets the stream', async () => {
    const put = (key: Uint8Array, value: Uint8Array, recordKey = key): Uint8Array =>
      lp.encode.single(encodeMessage({ type: MessageType.PUT_VALUE, key, record: { key: recordKey, value } })).subarray()
    await expectReset(put(encoder.encode('/unknown/x'), new Uint8Array([1])), 'UnknownNamespaceError')
    await expectReset(put(encoder.encode('no-namespace'), new Uint8Array([1])), 'InvalidKeyError')
    const pk = pkRecord(await newKey())
    await expectReset(put(pk.key, pkRecord(await newKey()).value), 'InvalidRecordError')
    await expectReset(put(pk.key, pk.value, encoder.encode('/pk/other')), 'InvalidMessageError')
    await expectReset(lp.encode.single(encodeMessage({ type: MessageType.PUT_VALUE, key: pk.key })).subarray(), 'InvalidMessageError')
    expect(server.services.dht.stats().records).to.equal(0)
  })
})
