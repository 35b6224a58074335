import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { Counters } from '../../src/network/counters.ts'
import { addProviderHandler } from '../../src/providers/handlers.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import type { ProviderHandlersInit } from '../../src/providers/handlers.ts'
import type { PeerId } from '@libp2p/interface'

describe('network/handlers: ADD_PROVIDER', () => {
  let sender: PeerId
  let other: PeerId
  before(async () => {
    [sender, other] = await Promise.all([1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
  })

  it('takes the sender\'s own entry once however often it is listed, and counts the foreign ones', async () => {
    const adds: string[] = []
    const merges: string[] = []
    const counters = new Counters()
    const handler = addProviderHandler({
      store: { add: async (_key: Uint8Array, provider: PeerId) => { adds.push(provider.toString()); return 'added' } },
      peerStore: { merge: async (peer: PeerId) => { merges.push(peer.toString()) } },
      counters,
      addresses: 'all',
      maxKeyBytes: 80,
      addressTtl: 60_000,
      maxAddresses: 16,
      now: Date.now,
      closer: async () => [],
      self: other,
      selfAddresses: () => []
    } as unknown as ProviderHandlersInit)
    const mine = { id: sender, multiaddrs: [multiaddr('/ip4/1.2.3.4/tcp/1')] }
    const theirs = { id: other, multiaddrs: [] }
    const request = decodeMessage(encodeMessage({
      type: MessageType.ADD_PROVIDER,
      key: new Uint8Array(34).fill(1),
      providers: [theirs, ...Array.from({ length: 1_000 }, () => mine), theirs]
    }))
    expect(await handler(sender, request)).to.equal(undefined)
    expect(adds).to.deep.equal([sender.toString()])
    expect(merges).to.deep.equal([sender.toString()])
    expect(counters.snapshot().errors).to.deep.equal({ ForeignProviderError: 2 })
  })
})
