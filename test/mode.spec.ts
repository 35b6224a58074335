import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import protobuf from 'protobufjs/minimal.js'
import { kadDHT } from '../src/index.ts'
import { TEST_PROTOCOL, connect, eventually, plainNode, stoppedAfterEach } from './utils/nodes.ts'
import type { Libp2p } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'

/** AutoNAT v1's protocol. */
const AUTONAT = '/libp2p/autonat/1.0.0'

/** AutoNAT v1's answer statuses: the address was dialled, or the dial failed. */
const OK = 0
const E_DIAL_ERROR = 100

/**
 * The public address the node under test maps its loopback listener to. Nothing dials it: the
 * AutoNAT peers here answer without dialling, as an AutoNAT server on loopback may not dial back
 * (it refuses private addresses and addresses on its own host).
 */
const MAPPED_IP = '93.184.216.34'

/** An AutoNAT v1 DIAL_RESPONSE with `status`. */
function dialResponse (status: number): Uint8Array {
  const inner = protobuf.Writer.create().uint32(8).uint32(status).finish()
  return protobuf.Writer.create().uint32(8).uint32(1).uint32(26).bytes(inner).finish()
}

/**
 * A peer that runs the AutoNAT v1 protocol and answers every dial request with `status`; resolves
 * to a count of the requests it answered.
 */
async function autoNATPeer (node: Libp2p, status: number): Promise<{ asked: number }> {
  const seen = { asked: 0 }
  await node.handle(AUTONAT, async (stream) => {
    await lp.decode(stream)[Symbol.asyncIterator]().next()
    seen.asked++
    stream.send(lp.encode.single(dialResponse(status)))
    await stream.close()
  })
  return seen
}

/** A kadmium node in auto mode for the public scope, with AutoNAT, on loopback. */
async function autoNode (announce: string[] = []): Promise<Libp2p<{ dht: ReturnType<ReturnType<typeof kadDHT>>, addresses: AddressManager }>> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'], announce },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      autoNAT: autoNAT(),
      dht: kadDHT({ protocol: TEST_PROTOCOL, mode: 'auto', addresses: 'public' }),
      addresses: (components: { addressManager: AddressManager }) => components.addressManager
    }
  })
}

/** Maps the node's loopback listener to {@link MAPPED_IP}, as a UPnP gateway would. */
function mapPublicAddress (node: Libp2p<{ addresses: AddressManager }>): void {
  const port = Number(node.getMultiaddrs()[0].getComponents().find(c => c.name === 'tcp')?.value)
  node.services.addresses.addPublicAddressMapping('127.0.0.1', port, MAPPED_IP, port, 'tcp')
}

describe('auto mode by confirmed reachability', function () {
  this.timeout(30_000)
  const track = stoppedAfterEach()

  it('becomes a server once an AutoNAT peer confirms its public address', async () => {
    const node = await track(autoNode())
    mapPublicAddress(node)
    const peer = await track(plainNode())
    const confirming = await autoNATPeer(peer, OK)
    expect(node.services.dht.getMode()).to.equal('client')
    await connect(node, peer)
    await eventually(() => node.services.dht.getMode() === 'server', 10_000, 'server mode')
    expect(confirming.asked).to.equal(1)
    expect(node.getProtocols()).to.include(TEST_PROTOCOL)
  })

  it('stays a client when its AutoNAT peer cannot dial its address back', async () => {
    const node = await track(autoNode())
    mapPublicAddress(node)
    const peer = await track(plainNode())
    const failing = await autoNATPeer(peer, E_DIAL_ERROR)
    await connect(node, peer)
    await eventually(() => failing.asked === 1, 10_000, 'the AutoNAT request')
    // past the address manager's 1 s debounce of address changes
    await new Promise(resolve => setTimeout(resolve, 1_500))
    expect(node.services.dht.getMode()).to.equal('client')
    expect(node.getProtocols()).to.not.include(TEST_PROTOCOL)
  })

  it('stays a client with an announced public address nobody confirmed', async () => {
    const node = await track(autoNode([`/ip4/${MAPPED_IP}/tcp/4001`]))
    // libp2p lists an announced address as the node's own, but nothing vouched for it
    expect(node.getMultiaddrs().map(ma => ma.toString())).to.include(`/ip4/${MAPPED_IP}/tcp/4001/p2p/${node.peerId}`)
    const peer = await track(plainNode())
    await autoNATPeer(peer, OK)
    await connect(node, peer)
    await new Promise(resolve => setTimeout(resolve, 1_500))
    expect(node.services.dht.getMode()).to.equal('client')
  })
})
