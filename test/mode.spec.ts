import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import { TypedEventEmitter } from 'main-event'
import protobuf from 'protobufjs/minimal.js'
import { kadDHT } from '../src/index.ts'
import { ModeController } from '../src/mode.ts'
import { TEST_PROTOCOL, connect, eventually, plainNode, stoppedAfterEach } from './utils/nodes.ts'
import type { ActiveMode, Mode, ModeInit } from '../src/mode.ts'
import type { AddressScope } from '../src/network/addresses.ts'
import type { Libp2p, Libp2pEvents, StreamHandler } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/test/kad/1.0.0'
const handler: StreamHandler = () => {}

/** An address as the address manager lists it: confirmed unless told otherwise. */
interface Listed { multiaddr: Multiaddr, verified: boolean, type: 'transport' | 'announce' | 'observed' }

function listed (address: string, verified = true, type: Listed['type'] = 'transport'): Listed {
  return { multiaddr: multiaddr(address), verified, type }
}

/** A mode controller over a fake registrar and address manager. */
function setup (requested: Mode, scope: AddressScope = 'public'): { modes: ModeController, handled: Set<string>, addresses: Listed[], events: TypedEventEmitter<Libp2pEvents>, changes: ActiveMode[] } {
  const handled = new Set<string>()
  const addresses: Listed[] = []
  const events = new TypedEventEmitter<Libp2pEvents>()
  const changes: ActiveMode[] = []
  const init: ModeInit = {
    registrar: {
      handle: async (protocol: string, h: StreamHandler) => {
        expect(h).to.equal(handler)
        handled.add(protocol)
      },
      unhandle: async (protocol: string) => { handled.delete(protocol) }
    } as any,
    addressManager: { getAddressesWithMetadata: () => addresses } as any,
    events,
    protocol: PROTOCOL,
    handler,
    handlerOptions: { maxInboundStreams: 32 },
    addresses: scope,
    log: Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {} }) as any,
    channel: { emit: (_type, mode) => { changes.push(mode) } }
  }
  return { modes: new ModeController(init, requested), handled, addresses, events, changes }
}

/** Lets the controller see an address event (it looks once the event's other listeners ran). */
async function addressesChanged (events: TypedEventEmitter<Libp2pEvents>): Promise<void> {
  events.safeDispatchEvent('self:peer:update', { detail: {} as any })
  await new Promise(resolve => setTimeout(resolve, 10))
}

describe('mode controller', () => {
  it('server registers the protocol handler at start and client registers nothing', async () => {
    const server = setup('server')
    await server.modes.start()
    expect([server.modes.mode, [...server.handled]]).to.deep.equal(['server', [PROTOCOL]])
    const client = setup('client')
    await client.modes.start()
    expect([client.modes.mode, [...client.handled]]).to.deep.equal(['client', []])
  })

  it('auto is a server only while the node has an address the scope counts as reachable', async () => {
    const { modes, handled, addresses, events, changes } = setup('auto')
    addresses.push(listed('/ip4/192.168.1.5/tcp/4001'))
    await modes.start()
    expect(modes.mode).to.equal('client')
    // neither a relayed address, nor a public one nobody confirmed or that is only announced,
    // makes the node reachable
    addresses.push(listed('/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit'))
    addresses.push(listed('/ip4/8.8.4.4/tcp/4001', false, 'observed'))
    addresses.push(listed('/ip4/1.1.1.1/tcp/4001', true, 'announce'))
    await addressesChanged(events)
    expect(modes.mode).to.equal('client')
    addresses.push(listed('/ip4/8.8.8.8/tcp/4001'))
    await addressesChanged(events)
    expect([modes.mode, [...handled]]).to.deep.equal(['server', [PROTOCOL]])
    addresses.splice(4)
    await addressesChanged(events)
    expect([modes.mode, [...handled]]).to.deep.equal(['client', []])
    expect(changes).to.deep.equal(['server', 'client'])
    await modes.stop()
  })

  it("auto counts loopback and private addresses in the 'all' scope", async () => {
    const { modes, addresses } = setup('auto', 'all')
    addresses.push(listed('/ip4/127.0.0.1/tcp/4001'))
    await modes.start()
    expect(modes.mode).to.equal('server')
    await modes.stop()
  })

  it('set pins the mode whatever the addresses, and stop unregisters', async () => {
    const { modes, handled, addresses, events } = setup('auto')
    await modes.start()
    await modes.set('server')
    expect([modes.mode, modes.request]).to.deep.equal(['server', 'server'])
    // address events no longer move a pinned mode
    addresses.splice(0)
    await addressesChanged(events)
    expect(modes.mode).to.equal('server')
    await modes.stop()
    expect([modes.mode, [...handled]]).to.deep.equal(['client', []])
  })
})

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
