import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { compareDistance } from '../../src/kademlia/keys.ts'
import { settleKeys } from '../../src/kademlia/region.ts'

const key = fc.uint8Array({ minLength: 32, maxLength: 32 })

interface Peer { key: Uint8Array, name: number }

/** The `n` peers of `all` closest to `target`, by brute force. */
function closest (all: Peer[], target: Uint8Array, n: number): Peer[] {
  return [...all].sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, n)
}

describe('kademlia/region', () => {
  it('every key it settles gets its true k closest peers of the whole network', () => {
    fc.assert(fc.property(fc.array(key, { minLength: 1, maxLength: 400 }), key, fc.array(key, { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4 }), (peerKeys, anchor, keys, k, factor) => {
      const network = peerKeys.map((key, name) => ({ key, name }))
      // what an exact lookup for `anchor` asking for factor·k peers returns
      const found = closest(network, anchor, factor * k)
      // random keys, and keys near the anchor (its first 20 bytes, their own last 12)
      const near = keys.map(kk => { const out = anchor.slice(); out.set(kk.subarray(20), 20); return out })
      const settled = settleKeys({ anchor, peers: found, complete: found.length < factor * k }, [anchor, ...keys, ...near], k, kk => kk)
      // the anchor itself is always settled
      expect(settled[0]?.item).to.equal(anchor)
      for (const { item, peers } of settled) {
        expect(peers.map(p => p.name)).to.deep.equal(closest(network, item, k).map(p => p.name))
      }
    }))
  })

  it('settles the anchor itself, and keys near it when the lookup asked for more than k', () => {
    // 2,000 peers spread over the keyspace; keys that differ from the anchor only in their low bits
    const network = Array.from({ length: 2_000 }, (_, name) => {
      const key = new Uint8Array(32)
      new DataView(key.buffer).setUint32(0, Math.floor((name + 0.5) * (2 ** 32 / 2_000)))
      key[31] = name & 0xff
      return { key, name }
    })
    const anchor = new Uint8Array(32).fill(0x77)
    const near = Array.from({ length: 10 }, (_, i) => { const kk = anchor.slice(); kk[20] ^= i + 1; return kk })
    const far = new Uint8Array(32).fill(0x10)
    const k = 20
    const found = closest(network, anchor, 3 * k)
    const settled = settleKeys({ anchor, peers: found, complete: false }, [anchor, ...near, far], k, kk => kk)
    expect(settled.map(s => s.item)).to.deep.equal([anchor, ...near])
    // a lookup for exactly k peers settles only keys whose k closest are those same k, at no margin
    const tight = settleKeys({ anchor, peers: closest(network, anchor, k), complete: false }, [anchor], k, kk => kk)
    expect(tight.map(s => s.item)).to.deep.equal([anchor])
  })

  it('a lookup that saw the whole network settles every key', () => {
    const network = Array.from({ length: 12 }, (_, name) => ({ key: new Uint8Array(32).fill(name * 20), name }))
    const keys = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(200)]
    const settled = settleKeys({ anchor: keys[0], peers: network, complete: true }, keys, 20, kk => kk)
    expect(settled.map(s => s.peers.length)).to.deep.equal([12, 12])
  })
})
