import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { compareDistance } from '../../src/keys.ts'
import { closestInRegion } from '../../src/providers/region-plan.ts'
import { exploreRegion, settleBatch } from '../../src/providers/region.ts'
import { TestClock } from '../utils/clock.ts'

const key = fc.uint8Array({ minLength: 32, maxLength: 32 })

interface Peer { key: Uint8Array, name: number }

/** The `n` peers of `all` closest to `target`, by brute force. */
function closest (all: Peer[], target: Uint8Array, n: number): Peer[] {
  return [...all].sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, n)
}

/** `anchor`'s first `bytes` bytes, then `rest`'s. */
function near (anchor: Uint8Array, rest: Uint8Array, bytes: number): Uint8Array {
  const out = rest.slice()
  out.set(anchor.subarray(0, bytes))
  return out
}

/** A key sharing the first `bits` bits with `prefix`, the rest drawn from `random`. */
function someKeyIn (prefix: Uint8Array, bits: number, random: () => number): Uint8Array {
  const out = prefix.slice()
  for (let bit = bits; bit < 256; bit++) {
    if (random() < 0.5) {
      out[bit >> 3] ^= 0x80 >> (bit & 7)
    }
  }
  return out
}

/** 2,000 peers and 500 keys, drawn from `seed`. */
function batchNetwork (seed: number): { network: Peer[], keys: Uint8Array[] } {
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  const bytes = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256))
  const network = Array.from({ length: 2_000 }, (_, name) => ({ key: bytes(), name }))
  return { network, keys: Array.from({ length: 500 }, bytes) }
}

describe('providers/region', () => {
  it('every key in the region it explores gets its true k closest peers of the whole network', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(key, { minLength: 1, maxLength: 300 }), key, fc.array(key, { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), fc.integer(),
      async (peerKeys, anchor, keys, k, seed) => {
        const network = peerKeys.map((key, name) => ({ key, name }))
        // each lookup is for a random key in the part of the keyspace asked for, as trial hashing gives
        let state = seed >>> 0
        const random = (): number => { state = (state * 1664525 + 1013904223) >>> 0; return state / 2 ** 32 }
        const { region, anchorPeers } = await exploreRegion(anchor, async (prefix, bits) => {
          const target = someKeyIn(prefix, bits, random)
          return { target, peers: closest(network, target, k) }
        }, k, 64)
        expect(anchorPeers.map(p => p.name)).to.deep.equal(closest(network, anchor, k).map(p => p.name))
        // random keys, and keys sharing 0 to 3 leading bytes with the anchor
        const candidates = [anchor, ...keys, ...keys.map((kk, i) => near(anchor, kk, i % 4))]
        let inside = 0
        for (const y of candidates) {
          const peers = region == null ? undefined : closestInRegion(region, y, k)
          if (peers != null) {
            inside++
            expect(peers.map(p => p.name)).to.deep.equal(closest(network, y, k).map(p => p.name))
          }
        }
        // the anchor is always in its own region (when it was seen whole within the bound)
        expect(inside).to.be.at.least(region == null ? 0 : 1)
      }), { numRuns: 200 })
  })

  it('in a network of 2,000 peers a region holds a few times k peers and takes a few lookups', async () => {
    let seed = 7
    const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    const bytes = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256))
    const network = Array.from({ length: 2_000 }, (_, name) => ({ key: bytes(), name }))
    const k = 20
    const sizes: number[] = []
    const lookups: number[] = []
    for (let i = 0; i < 50; i++) {
      const exploration = await exploreRegion(bytes(), async (target) => ({ target, peers: closest(network, target, k) }), k, 16)
      sizes.push(exploration.region?.peers.length ?? 0)
      lookups.push(exploration.lookups)
    }
    // every region was seen whole within the bound, holds at least k peers (the anchor's k
    // closest are in it), and took a handful of lookups
    expect(Math.min(...sizes)).to.be.at.least(k)
    expect(lookups.reduce((a, b) => a + b) / lookups.length).to.be.below(6)
  })

  it('gives up past maxLookups, keeping the anchor\'s own k closest', async () => {
    const network = Array.from({ length: 500 }, (_, name) => ({ key: Uint8Array.from({ length: 32 }, (_, i) => (name * 31 + i * 7 + name * i) & 0xff), name }))
    const anchor = new Uint8Array(32).fill(0x42)
    const { region, anchorPeers, lookups } = await exploreRegion(anchor, async (target) => ({ target, peers: closest(network, target, 20) }), 20, 1)
    expect(region).to.equal(undefined)
    expect(lookups).to.equal(1)
    expect(anchorPeers.map(p => p.name)).to.deep.equal(closest(network, anchor, 20).map(p => p.name))
  })

  it('a lookup that finds fewer than k peers saw the whole network: every key is in the region', async () => {
    const network = Array.from({ length: 12 }, (_, name) => ({ key: new Uint8Array(32).fill(name * 20), name }))
    const { region, lookups } = await exploreRegion(new Uint8Array(32).fill(1), async (target) => ({ target, peers: closest(network, target, 20) }), 20, 8)
    expect(lookups).to.equal(1)
    expect(closestInRegion(region as any, new Uint8Array(32).fill(200), 20)).to.have.length(12)
  })

  for (const regionsAtOnce of [1, 4]) {
    it(`settleBatch settles every key once, each with its true k closest, in far fewer lookups than keys (${regionsAtOnce} region${regionsAtOnce > 1 ? 's' : ''} at once)`, async () => {
      const { network, keys } = batchNetwork(11)
      // one anchor's lookups fail: that key is reported failed and the others go on
      const broken = keys[3]
      const findFor = (anchor: Uint8Array) => async (target: Uint8Array) => {
        if (anchor === broken) {
          throw new Error('the network is down')
        }
        return { target, peers: closest(network, target, 20) }
      }
      const settled = new Map<Uint8Array, number[]>()
      const failed: Uint8Array[] = []
      let lookups = 0
      for await (const step of settleBatch(keys, kk => kk, findFor, { k: 20, maxLookups: 8, minKeys: 1, regionsAtOnce })) {
        if ('failed' in step) {
          failed.push(step.failed)
          expect(step.error?.message).to.equal('the network is down')
          continue
        }
        lookups += step.lookups
        for (const { item, peers } of step.settled) {
          expect(settled.has(item), 'settled once').to.equal(false)
          settled.set(item, peers.map(p => p.name))
        }
      }
      expect(failed).to.deep.equal([broken])
      expect(settled.size + failed.length).to.equal(keys.length)
      for (const [item, names] of settled) {
        expect(names).to.deep.equal(closest(network, item, 20).map(p => p.name))
      }
      // 500 keys over 2,000 peers: regions of ~30 peers hold ~7 keys each, for 2–3 lookups
      expect(lookups).to.be.below(keys.length / 2)
    })
  }

  it('settleBatch with 4 regions at once keeps at most 4 explorations under way, spends the same lookups and is done in well under half the time of one at a time', async () => {
    const { network, keys } = batchNetwork(12)
    const run = async (regionsAtOnce: number): Promise<{ time: number, mostAtOnce: number, settled: number, lookups: number }> => {
      const clock = new TestClock()
      // each lookup takes 100 virtual ms; an exploration's lookups follow one another, so the
      // lookups under way are the explorations under way
      let looking = 0
      let mostAtOnce = 0
      let lookups = 0
      const findFor = () => async (target: Uint8Array) => {
        lookups++
        mostAtOnce = Math.max(mostAtOnce, ++looking)
        await new Promise<void>(resolve => clock.schedule(100, resolve))
        looking--
        return { target, peers: closest(network, target, 20) }
      }
      let settled = 0
      let over = false
      const consume = (async () => {
        for await (const step of settleBatch(keys, kk => kk, findFor, { k: 20, maxLookups: 8, minKeys: 3, regionsAtOnce })) {
          if ('settled' in step) {
            settled += step.settled.length
          }
          // the caller sends each step's records before it asks for the next (explorations end meanwhile)
          await new Promise<void>(resolve => clock.schedule(20, resolve))
        }
        over = true
      })()
      await clock.run(() => over)
      await consume
      return { time: clock.now(), mostAtOnce, settled, lookups }
    }
    const one = await run(1)
    const four = await run(4)
    expect(one.settled).to.equal(keys.length)
    expect(four.settled).to.equal(keys.length)
    expect(one.mostAtOnce).to.equal(1)
    expect(four.mostAtOnce).to.be.within(2, 4)
    expect(four.lookups).to.equal(one.lookups)
    expect(four.time).to.be.below(one.time / 2)
  })
})
