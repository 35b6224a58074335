import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { MAX_PROVIDERS_PER_KEY } from '../../src/defaults.ts'
import { MessageType } from '../../src/wire/codec.ts'
import { stoppedAfterEach, persistentKadmiumNode, connect, eventually, kadmiumNode, plainNode } from '../utils/nodes.ts'
import { rawRequest, rawSend } from '../utils/wire.ts'
import type { KadmiumNode } from '../utils/nodes.ts'

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

describe('providers on the wire', function () {
  this.timeout(60_000)
  const track = stoppedAfterEach()

  it('an ADD_PROVIDER naming another peer stores nothing and is counted', async () => {
    const server = await track(kadmiumNode())
    const liar = await track(plainNode())
    const victim = await track(plainNode())
    const key = (await cidOf('spoofed')).multihash.bytes
    await rawSend(liar, server, { type: MessageType.ADD_PROVIDER, key, providers: [{ id: victim.peerId, multiaddrs: victim.getMultiaddrs() }] })
    await eventually(() => server.services.dht.stats().errors.ForeignProviderError === 1, 5_000, 'the spoof counted')
    const answer = await rawRequest(liar, server, { type: MessageType.GET_PROVIDERS, key })
    expect(answer.providers).to.deep.equal([])
  })

  it('an ADD_PROVIDER from the provider itself is stored and served with its addresses', async () => {
    const server = await track(kadmiumNode())
    const provider = await track(plainNode())
    const key = (await cidOf('honest')).multihash.bytes
    await rawSend(provider, server, { type: MessageType.ADD_PROVIDER, key, providers: [{ id: provider.peerId, multiaddrs: provider.getMultiaddrs() }] })
    await eventually(async () => (await rawRequest(provider, server, { type: MessageType.GET_PROVIDERS, key })).providers.length === 1, 5_000, 'stored')
    const answer = await rawRequest(provider, server, { type: MessageType.GET_PROVIDERS, key })
    expect(answer.providers[0].id.equals(provider.peerId)).to.equal(true)
    expect(answer.providers[0].multiaddrs.map(String)).to.include(provider.getMultiaddrs()[0].decapsulate('/p2p').toString())
  })

  it('a key over 80 bytes is refused with a reset stream', async () => {
    const server = await track(kadmiumNode())
    const client = await track(plainNode())
    await expect(rawRequest(client, server, { type: MessageType.GET_PROVIDERS, key: new Uint8Array(81) })).to.eventually.be.rejected()
    expect(server.services.dht.stats().errors.InvalidKeyError).to.equal(1)
  })

  it('a flood of ADD_PROVIDER for one key stays within the per-key bound', async () => {
    const server = await track(kadmiumNode())
    const key = (await cidOf('flooded')).multihash.bytes
    const flooders = await Promise.all(Array.from({ length: MAX_PROVIDERS_PER_KEY + 5 }, async () => track(plainNode())))
    for (const flooder of flooders) {
      // each announces itself, several times over
      for (let i = 0; i < 3; i++) {
        await rawSend(flooder, server, { type: MessageType.ADD_PROVIDER, key, providers: [{ id: flooder.peerId, multiaddrs: flooder.getMultiaddrs() }] })
      }
    }
    await eventually(() => (server.services.dht.stats().inbound.ADD_PROVIDER ?? 0) === flooders.length * 3, 10_000, 'all announcements read')
    const answer = await rawRequest(flooders[0], server, { type: MessageType.GET_PROVIDERS, key })
    expect(answer.providers).to.have.length(MAX_PROVIDERS_PER_KEY)
    // first come, first kept
    expect(answer.providers.map(p => p.id.toString()).sort()).to.deep.equal(flooders.slice(0, MAX_PROVIDERS_PER_KEY).map(f => f.peerId.toString()).sort())
  })

  it('provider records and the reprovide list survive a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kadmium-providers-'))
    try {
      const privateKey = await generateKeyPair('Ed25519')
      const start = async (): Promise<KadmiumNode> => persistentKadmiumNode(dir, privateKey, {})
      const first = await start()
      const peer = await track(kadmiumNode())
      await connect(first, peer)
      await eventually(() => first.services.dht.stats().routingTableSize === 1, 5_000, 'first table')
      const ours = await cidOf('ours')
      await first.services.dht.provide(ours)
      const theirs = (await cidOf('theirs')).multihash.bytes
      await rawSend(peer, first.peerId, { type: MessageType.ADD_PROVIDER, key: theirs, providers: [{ id: peer.peerId, multiaddrs: peer.getMultiaddrs() }] })
      await eventually(() => first.services.dht.stats().providers.records === 2, 5_000, 'two records')
      await first.stop()

      const second = await track(start())
      expect(second.services.dht.stats().providers.records).to.equal(2)
      expect(await second.services.dht.isReproviding(ours)).to.equal(true)
      const client = await track(plainNode())
      const answer = await rawRequest(client, second, { type: MessageType.GET_PROVIDERS, key: theirs })
      expect(answer.providers.map(p => p.id.toString())).to.deep.equal([peer.peerId.toString()])
      await second.services.dht.cancelReprovide(ours)
      expect(await second.services.dht.isReproviding(ours)).to.equal(false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
