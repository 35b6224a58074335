import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { ConnectionType, MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { kadmium } from '../../src/wire/generated/dht.js'
import type { OutgoingMessage } from '../../src/wire/codec.ts'
import type { PeerId } from '@libp2p/interface'

/** `@libp2p/kad-dht`'s own generated codec (not exported by the package, so loaded by path). */
async function jsCodec (): Promise<any> {
  const index = import.meta.resolve('@libp2p/kad-dht')
  return import(new URL('./message/dht.js', index).href)
}

async function newPeerId (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('wire/codec', () => {
  let a: PeerId
  let b: PeerId

  before(async () => {
    a = await newPeerId()
    b = await newPeerId()
  })

  it('round-trips every message type with peers, record and key', () => {
    for (const type of [MessageType.PUT_VALUE, MessageType.GET_VALUE, MessageType.ADD_PROVIDER, MessageType.GET_PROVIDERS, MessageType.FIND_NODE, MessageType.PING]) {
      const message: OutgoingMessage = {
        type,
        key: new Uint8Array([1, 2, 3]),
        record: { key: new Uint8Array([4]), value: new Uint8Array([5, 6]), timeReceived: '2026-11-21T05:00:00.000Z' },
        closer: [{ id: a, multiaddrs: [multiaddr('/ip4/1.2.3.4/tcp/4001'), multiaddr('/dns4/example.com/tcp/443/wss')], connection: ConnectionType.CONNECTED }],
        providers: [{ id: b, multiaddrs: [] }],
        clusterLevel: 3
      }
      const read = decodeMessage(encodeMessage(message))
      const decoded = { ...read, closer: read.closer.all(), providers: read.providers.all() }
      expect(decoded.type).to.equal(type)
      expect(decoded.key).to.deep.equal(message.key)
      expect(decoded.record).to.deep.equal(message.record)
      expect(decoded.clusterLevel).to.equal(3)
      expect(decoded.closer).to.have.length(1)
      expect(decoded.closer[0].id.equals(a)).to.equal(true)
      expect(decoded.closer[0].multiaddrs.map(String)).to.deep.equal(['/ip4/1.2.3.4/tcp/4001', '/dns4/example.com/tcp/443/wss'])
      expect(decoded.closer[0].connection).to.equal(ConnectionType.CONNECTED)
      expect(decoded.providers[0].id.equals(b)).to.equal(true)
    }
  })

  it('a decoded peer holds a copy of its id, not the message it came in', () => {
    // a response inside a larger buffer, as a frame read from a stream is
    const bytes = encodeMessage({ type: MessageType.FIND_NODE, closer: [{ id: a, multiaddrs: [multiaddr('/ip4/1.2.3.4/tcp/4001')] }] })
    const chunk = new Uint8Array(65_536)
    chunk.set(bytes, 100)
    const [peer] = decodeMessage(chunk.subarray(100, 100 + bytes.byteLength)).closer.all()
    expect(peer.id.equals(a)).to.equal(true)
    const id = peer.id.toMultihash().bytes
    expect(id.buffer.byteLength).to.equal(id.byteLength)
  })

  it('a message with no type field is a PUT_VALUE', () => {
    const bytes = kadmium.Message.encode({ key: new Uint8Array([9]) }).finish()
    expect(bytes[0]).to.not.equal(0x08) // no field 1 on the wire
    expect(decodeMessage(bytes).type).to.equal(MessageType.PUT_VALUE)
  })

  it('refuses an unknown message type with a typed error', () => {
    const bytes = kadmium.Message.encode({ type: 42 as any }).finish()
    expect(() => decodeMessage(bytes)).to.throw().with.property('name', 'UnsupportedMessageTypeError')
  })

  it('refuses truncated and garbage bytes with a typed error', () => {
    const full = encodeMessage({ type: MessageType.FIND_NODE, key: new Uint8Array(34).fill(7) })
    expect(() => decodeMessage(full.subarray(0, full.length - 5))).to.throw().with.property('name', 'InvalidMessageError')
    expect(() => decodeMessage(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).to.throw().with.property('name', 'InvalidMessageError')
  })

  it('drops a peer with an unparsable id and skips an unparsable address', () => {
    const bytes = kadmium.Message.encode({
      type: MessageType.FIND_NODE,
      closerPeers: [
        { id: new Uint8Array([1, 2, 3]), addrs: [multiaddr('/ip4/1.1.1.1/tcp/1').bytes] },
        { id: a.toMultihash().bytes, addrs: [new Uint8Array([0xff, 0xff]), multiaddr('/ip4/2.2.2.2/tcp/2').bytes] }
      ]
    }).finish()
    const decoded = decodeMessage(bytes)
    expect(decoded.closer.all()).to.have.length(1)
    expect(decoded.closer.all()[0].id.equals(a)).to.equal(true)
    expect(decoded.closer.all()[0].multiaddrs.map(String)).to.deep.equal(['/ip4/2.2.2.2/tcp/2'])
  })

  it('decodes what @libp2p/kad-dht encodes', async () => {
    const { Message: JsMessage } = await jsCodec()
    const bytes: Uint8Array = JsMessage.encode({
      type: 'GET_PROVIDERS',
      key: new Uint8Array([7, 7]),
      clusterLevel: 0,
      closer: [{ id: a.toMultihash().bytes, multiaddrs: [multiaddr('/ip4/5.6.7.8/tcp/1').bytes] }],
      providers: [{ id: b.toMultihash().bytes, multiaddrs: [multiaddr('/ip6/::1/tcp/2').bytes], connection: 'CAN_CONNECT' }]
    })
    const decoded = decodeMessage(bytes)
    expect(decoded.type).to.equal(MessageType.GET_PROVIDERS)
    expect(decoded.key).to.deep.equal(new Uint8Array([7, 7]))
    expect(decoded.closer.all()[0].id.equals(a)).to.equal(true)
    expect(decoded.closer.all()[0].multiaddrs.map(String)).to.deep.equal(['/ip4/5.6.7.8/tcp/1'])
    expect(decoded.providers.all()[0].id.equals(b)).to.equal(true)
    expect(decoded.providers.all()[0].connection).to.equal(ConnectionType.CAN_CONNECT)

    const put: Uint8Array = JsMessage.encode({ type: 'PUT_VALUE', key: new Uint8Array([1]), closer: [], providers: [] })
    expect(decodeMessage(put).type).to.equal(MessageType.PUT_VALUE)
  })

  it('what kadmium encodes, @libp2p/kad-dht decodes', async () => {
    const { Message: JsMessage } = await jsCodec()
    const bytes = encodeMessage({
      type: MessageType.FIND_NODE,
      key: a.toMultihash().bytes,
      closer: [{ id: b, multiaddrs: [multiaddr('/ip4/9.9.9.9/udp/4001/quic-v1')] }]
    })
    const decoded = JsMessage.decode(bytes)
    expect(decoded.type).to.equal('FIND_NODE')
    expect(decoded.key).to.deep.equal(a.toMultihash().bytes)
    expect(decoded.closer[0].id).to.deep.equal(b.toMultihash().bytes)
    expect(multiaddr(decoded.closer[0].multiaddrs[0]).toString()).to.equal('/ip4/9.9.9.9/udp/4001/quic-v1')
  })
})
