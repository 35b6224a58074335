/**
 * The type test of `kadmium/kad-dht`: the build (tsc strict, part of `npm test` and
 * `npm run lint`) fails when the compat entry's types and `@libp2p/kad-dht`'s drift apart, in
 * either direction, including an option or event field added on one side only.
 */
import * as js from '@libp2p/kad-dht'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import * as compat from '../../src/compat/index.ts'
import type { DHTNode } from './program.ts'
import type { CompatNode } from '../utils/nodes.ts'
import type { PeerInfo } from '@libp2p/interface'

/** True when A is assignable to B. */
type Fits<A, B> = [A] extends [B] ? true : false
/** True when A and B are assignable both ways. */
type Same<A, B> = Fits<A, B> extends true ? Fits<B, A> : false
/** True when A and B have the same property names. */
type SameKeys<A, B> = Same<keyof A, keyof B>
/** Compiles only for `true`. */
function holds<T extends true> (): T | undefined {
  return undefined
}

// the events: each one's fields, and the union. `@libp2p/kad-dht`'s message names include
// 'codec' (its enum shares a name with its protobuf codec): kadmium's events never carry it, so
// they fit where that package's are expected, and match them but for 'codec'
holds<Fits<compat.QueryEvent, js.QueryEvent>>()
holds<Same<compat.MessageName, Exclude<js.MessageName, 'codec'>>>()
holds<SameKeys<compat.SendQueryEvent, js.SendQueryEvent>>()
holds<SameKeys<compat.PeerResponseEvent, js.PeerResponseEvent>>()
holds<SameKeys<compat.FinalPeerEvent, js.FinalPeerEvent>>()
holds<SameKeys<compat.QueryErrorEvent, js.QueryErrorEvent>>()
holds<SameKeys<compat.ProviderEvent, js.ProviderEvent>>()
holds<SameKeys<compat.ValueEvent, js.ValueEvent>>()
holds<SameKeys<compat.AddPeerEvent, js.AddPeerEvent>>()
holds<SameKeys<compat.DialPeerEvent, js.DialPeerEvent>>()
holds<SameKeys<compat.PathEndedEvent, js.PathEndedEvent>>()
holds<Fits<compat.DHTProgressEvents, js.DHTProgressEvents>>()
holds<Same<compat.EventTypes, js.EventTypes>>()
holds<Same<compat.MessageType, js.MessageType>>()
holds<Same<compat.DHTRecord, js.DHTRecord>>()
holds<Same<compat.DisjointPath, js.DisjointPath>>()

// the service: its members, and that it fits where a KadDHT is expected
holds<SameKeys<compat.KadDHT, js.KadDHT>>()
holds<Fits<compat.KadDHT, js.KadDHT>>()
holds<compat.CompatKadDHT extends js.SingleKadDHT ? true : false>()
holds<Same<compat.ValidateFn, js.ValidateFn>>()
holds<Same<compat.SelectFn, js.SelectFn>>()
holds<Same<compat.SetModeOptions, js.SetModeOptions>>()

// the options: every one of `@libp2p/kad-dht`'s, typed alike (`kadmium` is ours alone)
holds<SameKeys<Omit<compat.KadDHTInit, 'kadmium'>, js.KadDHTInit>>()
holds<Same<Omit<compat.KadDHTInit, 'kadmium'>, js.KadDHTInit>>()
holds<Same<compat.ProvidersInit, js.ProvidersInit>>()
holds<Same<compat.ReProvideInit, js.ReProvideInit>>()

// the factory and the mappers stand in for `@libp2p/kad-dht`'s
export const factory: typeof js.kadDHT = compat.kadDHT
export const mappers: Array<typeof js.passthroughMapper> = [compat.passthroughMapper, compat.removePrivateAddressesMapper, compat.removePublicAddressesMapper]

// a node built with the compat service is a node with a `@libp2p/kad-dht` service, no cast
export function asKadDHTNode (node: CompatNode): DHTNode {
  return node
}

// and the checks above can fail: a real difference does not pass
// @ts-expect-error a FINAL_PEER is not a VALUE
holds<Same<compat.FinalPeerEvent, js.ValueEvent>>()
// @ts-expect-error kadmium's own options are no part of `@libp2p/kad-dht`'s
holds<SameKeys<compat.KadDHTInit, js.KadDHTInit>>()

export async function misuse (dht: js.KadDHT, key: Uint8Array): Promise<void> {
  // @ts-expect-error a query is an iterable of events, not the value
  const value: Uint8Array = dht.get(key)
  // @ts-expect-error kadmium's 'auto' is not a mode of the interface
  await dht.setMode('auto')
  void value
}

describe('kad-dht/types', () => {
  it('is the package\'s `kadmium/kad-dht` export', async () => {
    // a specifier in a variable: resolved by node through package.json, not by the compiler
    const specifier = 'kadmium/kad-dht'
    const entry = await import(specifier)
    expect(entry.kadDHT).to.be.a('function')
    expect(entry.removePrivateAddressesMapper).to.be.a('function')
    expect(entry.EventTypes.FINAL_PEER).to.equal(js.EventTypes.FINAL_PEER)
  })

  it('the enums hold the same values at run time as `@libp2p/kad-dht`\'s', () => {
    expect({ ...compat.EventTypes }).to.deep.equal({ ...js.EventTypes })
    // `@libp2p/kad-dht`'s MessageType also holds its protobuf codec
    expect({ ...compat.MessageType }).to.deep.equal(Object.fromEntries(Object.entries(js.MessageType).filter(([name]) => name !== 'codec')))
  })

  it('the mappers treat internet, private and loopback addresses as `@libp2p/kad-dht`\'s do', () => {
    const info = (addrs: string[]): PeerInfo => ({ id: undefined as any, multiaddrs: addrs.map(a => multiaddr(a)) })
    const addrs = ['/ip4/1.2.3.4/tcp/4001', '/ip4/10.0.0.1/tcp/4001', '/ip4/192.168.1.2/udp/4001/quic-v1', '/ip4/127.0.0.1/tcp/1',
      '/ip6/::1/tcp/1', '/ip6/2001:db8::1/tcp/1', '/ip4/169.254.1.1/tcp/1', '/dns4/example.com/tcp/443/wss', '/ip4/100.64.0.1/tcp/1']
    const pairs = [
      [compat.passthroughMapper, js.passthroughMapper],
      [compat.removePrivateAddressesMapper, js.removePrivateAddressesMapper],
      [compat.removePublicAddressesMapper, js.removePublicAddressesMapper]
    ] as const
    for (const [ours, theirs] of pairs) {
      expect(ours(info(addrs)).multiaddrs.map(String), ours.name).to.deep.equal(theirs(info(addrs)).multiaddrs.map(String))
    }
    // kadmium counts in-memory and unix addresses as not reachable across the internet
    expect(compat.removePrivateAddressesMapper(info(['/memory/x'])).multiaddrs).to.deep.equal([])
  })
})
