/**
 * The Peer Schema records and the IPIP-484 filters, case by case as the spec states them.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { filterRecord, peerRecord } from '../../src/routing-v1/records.ts'
import type { FoundPeer } from '../../src/routing-v1/records.ts'

const TCP = '/ip4/1.2.3.4/tcp/4001'
const WS = '/ip4/1.2.3.4/tcp/4002/ws'
const QUIC6 = '/ip6/::1/udp/4001/quic-v1'
const WEBTRANSPORT = '/ip4/1.2.3.4/udp/4001/quic-v1/webtransport'

describe('routing v1: peer records and IPIP-484 filters', () => {
  let peer: FoundPeer

  before(async () => {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    peer = { id, multiaddrs: [TCP, WS, QUIC6, WEBTRANSPORT].map(a => multiaddr(a)) }
  })

  const addrs = (filter: string[]): string[] | undefined => filterRecord(peer, { addrs: filter })?.Addrs

  it('writes the Peer Schema with a base58btc ID, as the npm client needs', () => {
    const record = peerRecord(peer)
    expect(record).to.deep.equal({ Schema: 'peer', ID: peer.id.toString(), Addrs: [TCP, WS, QUIC6, WEBTRANSPORT], Protocols: [] })
    expect(record.ID).to.match(/^12D3Koo/)
  })

  it('returns every address without a filter, and with an empty one', () => {
    expect(addrs([])).to.deep.equal([TCP, WS, QUIC6, WEBTRANSPORT])
    expect(filterRecord(peer, {})?.Addrs).to.deep.equal([TCP, WS, QUIC6, WEBTRANSPORT])
  })

  it('keeps the addresses holding any positive name (logical OR)', () => {
    expect(addrs(['ws', 'webtransport'])).to.deep.equal([WS, WEBTRANSPORT])
    expect(addrs(['quic-v1'])).to.deep.equal([QUIC6, WEBTRANSPORT])
  })

  it('drops the addresses holding any negative name (logical AND of the negations)', () => {
    expect(addrs(['!ip6', '!quic-v1'])).to.deep.equal([TCP, WS])
  })

  it('with both, keeps an address that passes every negative and one positive', () => {
    expect(addrs(['quic-v1', '!webtransport'])).to.deep.equal([QUIC6])
  })

  it('leaves a peer out when none of its addresses pass', () => {
    expect(filterRecord(peer, { addrs: ['webrtc-direct'] })).to.equal(undefined)
  })

  it('keeps a peer with no known address only when `unknown` is asked', () => {
    const bare: FoundPeer = { id: peer.id, multiaddrs: [] }
    expect(filterRecord(bare, { addrs: ['ws'] })).to.equal(undefined)
    expect(filterRecord(bare, { addrs: ['!ip6'] })).to.equal(undefined)
    expect(filterRecord(bare, { addrs: ['ws', 'unknown'] })?.Addrs).to.deep.equal([])
    // `unknown` names no transport: a peer with addresses is kept for its other names only
    expect(filterRecord(peer, { addrs: ['unknown'] })).to.equal(undefined)
    expect(addrs(['unknown', 'tcp', '!ws'])).to.deep.equal([TCP])
  })

  it('filters case-insensitively', () => {
    expect(addrs(['WS'])).to.deep.equal([WS])
  })

  it('keeps a DHT peer (no protocols known) for `unknown` protocols, and leaves it out for named ones alone', () => {
    expect(filterRecord(peer, { protocols: ['unknown', 'transport-bitswap'] })).to.not.equal(undefined)
    expect(filterRecord(peer, { protocols: ['transport-bitswap'] })).to.equal(undefined)
  })

  it('applies both filters together (AND)', () => {
    expect(filterRecord(peer, { addrs: ['ws'], protocols: ['unknown'] })?.Addrs).to.deep.equal([WS])
    expect(filterRecord(peer, { addrs: ['ws'], protocols: ['transport-ipfs-gateway-http'] })).to.equal(undefined)
  })
})
