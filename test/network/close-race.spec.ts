import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import { kadDHT } from '../../src/index.ts'
import { MessageType, encodeMessage } from '../../src/wire/codec.ts'
import { TEST_PROTOCOL, eventually, stoppedAfterEach } from '../utils/nodes.ts'

describe('network: messages sent and closed at once', function () {
  this.timeout(30_000)
  const track = stoppedAfterEach()

  it('is read: every ADD_PROVIDER sent and closed at once over the memory transport is stored', async () => {
    const base = { transports: [memory()], connectionEncrypters: [noise()], streamMuxers: [yamux()] }
    const server = await track(createLibp2p({
      ...base,
      addresses: { listen: [`/memory/kadmium-race-${Math.random()}`] },
      services: { identify: identify(), dht: kadDHT({ protocol: TEST_PROTOCOL, addresses: 'all' }) }
    }))
    const sender = await track(createLibp2p({ ...base, services: { identify: identify() } }))
    await sender.dial(server.getMultiaddrs())
    // under the 32 inbound streams a connection may have open at once
    const sent = 30
    // all at once, as a provide sends them: the frame and the close arrive in the same tick
    await Promise.all(Array.from({ length: sent }, async (_, i) => {
      const stream = await sender.dialProtocol(server.peerId, TEST_PROTOCOL)
      const key = new Uint8Array(34).fill(i)
      stream.send(lp.encode.single(encodeMessage({ type: MessageType.ADD_PROVIDER, key, providers: [{ id: sender.peerId, multiaddrs: [] }] })))
      await stream.close()
    }))
    await eventually(() => (server.services.dht.stats().inbound.ADD_PROVIDER ?? 0) === sent, 10_000, `all ${sent} ADD_PROVIDERs read`)
    expect(server.services.dht.stats().providers.keys).to.equal(sent)
  })
})
