import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { MAX_LISTED_PEERS, MAX_PEER_ADDRESSES } from '../../src/defaults.ts'
import { ConnectionType, MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { kadmium as pb } from '../../src/wire/generated/dht.js'
import type { OutgoingMessage } from '../../src/wire/codec.ts'
import type { PeerId } from '@libp2p/interface'

const TYPED = new Set(['InvalidMessageError', 'UnsupportedMessageTypeError'])

/** Decodes and reads every part; returns the name of the error thrown, if any. */
function readWhole (bytes: Uint8Array): string | undefined {
  try {
    const message = decodeMessage(bytes)
    message.closer.all()
    message.providers.all()
    return undefined
  } catch (err: any) {
    return err.name
  }
}

describe('wire: fuzzing the decoder', () => {
  let peers: PeerId[]
  before(async () => {
    peers = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  })

  const arbitraryMessage = (): fc.Arbitrary<OutgoingMessage> => {
    const peer = fc.record({
      id: fc.constantFrom(...peers),
      multiaddrs: fc.array(fc.constantFrom(multiaddr('/ip4/1.2.3.4/tcp/1'), multiaddr('/ip6/::1/udp/2/quic-v1'), multiaddr('/dns4/a.example/tcp/443/wss')), { maxLength: 3 }),
      connection: fc.constantFrom(ConnectionType.CONNECTED, ConnectionType.CAN_CONNECT, undefined)
    }, { requiredKeys: ['id', 'multiaddrs'] })
    return fc.record({
      type: fc.constantFrom(MessageType.PUT_VALUE, MessageType.GET_VALUE, MessageType.ADD_PROVIDER, MessageType.GET_PROVIDERS, MessageType.FIND_NODE, MessageType.PING),
      key: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      record: fc.record({ key: fc.uint8Array({ maxLength: 20 }), value: fc.uint8Array({ maxLength: 60 }), timeReceived: fc.constantFrom(undefined, '2026-12-04T10:00:00.000Z') }, { requiredKeys: ['key', 'value'] }),
      closer: fc.array(peer, { maxLength: 4 }),
      providers: fc.array(peer, { maxLength: 4 }),
      clusterLevel: fc.integer({ min: 1, max: 1000 })
    }, { requiredKeys: ['type'] })
  }

  it('arbitrary bytes only ever decode or throw a typed error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const error = readWhole(bytes)
      expect(error == null || TYPED.has(error), `threw ${error}`).to.equal(true)
    }), { numRuns: 3_000 })
  })

  it('mutated valid messages (bytes changed, cut short) only ever decode or throw a typed error', () => {
    fc.assert(fc.property(arbitraryMessage(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), (message, flips, cut) => {
      const bytes = encodeMessage(message).slice()
      for (const [at, value] of flips) {
        if (bytes.length > 0) {
          bytes[at % bytes.length] = value
        }
      }
      for (const candidate of [bytes, bytes.subarray(0, cut % (bytes.length + 1))]) {
        const error = readWhole(candidate)
        expect(error == null || TYPED.has(error), `threw ${error}`).to.equal(true)
      }
    }), { numRuns: 2_000 })
  })

  it('round-trips: what is encoded is what is read, and agrees with the generated decoder', () => {
    fc.assert(fc.property(arbitraryMessage(), (message) => {
      const bytes = encodeMessage(message)
      const read = decodeMessage(bytes)
      expect(read.type).to.equal(message.type)
      expect(read.key).to.deep.equal(message.key)
      expect(read.clusterLevel).to.equal(message.clusterLevel)
      if (message.record == null) {
        expect(read.record).to.equal(undefined)
      } else {
        const { timeReceived, ...rest } = message.record
        expect(read.record).to.deep.equal(timeReceived == null ? rest : message.record)
      }
      for (const list of ['closer', 'providers'] as const) {
        const sent = (message[list] ?? []) as Array<{ id: PeerId, multiaddrs: any[], connection?: number }>
        // a repeated address is read once
        expect(read[list].all().map(p => [p.id.toString(), p.multiaddrs.map(String), p.connection])).to.deep.equal(
          sent.map(p => [p.id.toString(), [...new Set(p.multiaddrs.map(String))], p.connection]))
      }
      const generated = pb.Message.decode(bytes)
      expect(generated.closerPeers.length).to.equal(read.closer.listed)
      expect(generated.providerPeers.length).to.equal(read.providers.listed)
    }), { numRuns: 500 })
  })

  it(`reads at most ${MAX_LISTED_PEERS} entries of a list and ${MAX_PEER_ADDRESSES} addresses of an entry`, () => {
    const entry = { id: peers[0].toMultihash().bytes, addrs: Array.from({ length: MAX_PEER_ADDRESSES + 10 }, (_, i) => multiaddr(`/ip4/10.0.0.${i}/tcp/1`).bytes) }
    const bytes = pb.Message.encode({ type: MessageType.FIND_NODE, closerPeers: Array.from({ length: MAX_LISTED_PEERS + 500 }, () => entry) }).finish()
    const message = decodeMessage(bytes)
    expect(message.closer.listed).to.equal(MAX_LISTED_PEERS + 500)
    expect(message.closer.kept).to.equal(MAX_LISTED_PEERS)
    expect(message.closer.first(1)[0].multiaddrs).to.have.length(MAX_PEER_ADDRESSES)
  })

  it('reads only the entries asked for: garbage after them costs nothing and raises nothing', () => {
    const good = { id: peers[1].toMultihash().bytes, addrs: [multiaddr('/ip4/1.1.1.1/tcp/1').bytes] }
    const garbage = { id: new Uint8Array([1, 2, 3]), addrs: [new Uint8Array([0xff])] }
    const bytes = pb.Message.encode({ type: MessageType.FIND_NODE, closerPeers: [good, ...Array.from({ length: 1_000 }, () => garbage)] }).finish()
    const message = decodeMessage(bytes)
    expect(message.closer.first(1).map(p => p.id.toString())).to.deep.equal([peers[1].toString()])
    expect(message.closer.all()).to.have.length(1)
  })
})
