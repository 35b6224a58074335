import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { addressGroup } from '../../src/table/diversity.ts'

describe('network/diversity', () => {
  it('groups IPv4 addresses by /16 and IPv6 addresses by /32', () => {
    expect(addressGroup(multiaddr('/ip4/1.2.3.4/tcp/4001'))).to.equal('ip4/1.2')
    expect(addressGroup(multiaddr('/ip4/1.2.200.9/udp/4001/quic-v1'))).to.equal('ip4/1.2')
    expect(addressGroup(multiaddr('/ip4/1.3.3.4/tcp/4001'))).to.equal('ip4/1.3')
    expect(addressGroup(multiaddr('/ip6/2001:db8:1::1/tcp/4001'))).to.equal('ip6/2001:db8')
    expect(addressGroup(multiaddr('/ip6/2001:0db8:ffff::1/tcp/4001'))).to.equal('ip6/2001:db8')
    expect(addressGroup(multiaddr('/ip6/::1/tcp/4001'))).to.equal('ip6/0:0')
    expect(addressGroup(multiaddr('/dns4/example.com/tcp/443/wss'))).to.equal(undefined)
  })
})
