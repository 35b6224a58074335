import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { TypedEventEmitter } from 'main-event'
import { ModeController } from '../src/mode.ts'
import type { ActiveMode, Mode, ModeInit } from '../src/mode.ts'
import type { AddressScope } from '../src/network/addresses.ts'
import type { Libp2pEvents, StreamHandler } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const PROTOCOL = '/test/kad/1.0.0'
const handler: StreamHandler = () => {}

/** A mode controller over a fake registrar and address manager. */
function setup (requested: Mode, scope: AddressScope = 'public'): { modes: ModeController, handled: Set<string>, addresses: Multiaddr[], events: TypedEventEmitter<Libp2pEvents>, changes: ActiveMode[] } {
  const handled = new Set<string>()
  const addresses: Multiaddr[] = []
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
    addressManager: { getAddresses: () => addresses } as any,
    events,
    protocol: PROTOCOL,
    handler,
    handlerOptions: { maxInboundStreams: 32 },
    addresses: scope,
    log: Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {} }) as any,
    onChange: (mode) => { changes.push(mode) }
  }
  return { modes: new ModeController(init, requested), handled, addresses, events, changes }
}

/** Lets the controller see an address event (it looks once the event's other listeners ran). */
async function addressesChanged (events: TypedEventEmitter<Libp2pEvents>): Promise<void> {
  events.safeDispatchEvent('self:peer:update', { detail: {} as any })
  await new Promise(resolve => setTimeout(resolve, 10))
}

describe('mode', () => {
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
    addresses.push(multiaddr('/ip4/192.168.1.5/tcp/4001'))
    await modes.start()
    expect(modes.mode).to.equal('client')
    // a relayed address does not make the node reachable
    addresses.push(multiaddr('/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit'))
    await addressesChanged(events)
    expect(modes.mode).to.equal('client')
    addresses.push(multiaddr('/ip4/8.8.8.8/tcp/4001'))
    await addressesChanged(events)
    expect([modes.mode, [...handled]]).to.deep.equal(['server', [PROTOCOL]])
    addresses.splice(1)
    await addressesChanged(events)
    expect([modes.mode, [...handled]]).to.deep.equal(['client', []])
    expect(changes).to.deep.equal(['server', 'client'])
    await modes.stop()
  })

  it("auto counts loopback and private addresses in the 'all' scope", async () => {
    const { modes, addresses } = setup('auto', 'all')
    addresses.push(multiaddr('/ip4/127.0.0.1/tcp/4001'))
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
