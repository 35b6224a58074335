import { expect } from 'aegir/chai'
import { compareDistance, kadId } from '../../src/keys.ts'
import { NetworkSizeEstimator, normalizedDistance } from '../../src/providers/network-size.ts'

const HOUR = 60 * 60_000

/** `n` positions drawn from a seeded hash, and the `k` of them closest to a target. */
function network (n: number, seed: string): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => kadId(new TextEncoder().encode(`${seed} ${i}`)))
}

function closest (all: Uint8Array[], target: Uint8Array, k: number): Uint8Array[] {
  return [...all].sort((a, b) => compareDistance(a, b, target)).slice(0, k)
}

describe('providers/network-size', () => {
  it('normalizedDistance is the XOR distance as a share of the keyspace', () => {
    const zero = new Uint8Array(32)
    const half = zero.slice()
    half[0] = 0x80
    const quarter = zero.slice()
    quarter[0] = 0x40
    expect(normalizedDistance(zero, zero)).to.equal(0)
    expect(normalizedDistance(zero, half)).to.equal(0.5)
    expect(normalizedDistance(half, quarter)).to.equal(0.75)
    expect(normalizedDistance(zero, new Uint8Array(32).fill(0xff))).to.be.below(1)
  })

  it('estimates a 5,000-peer network within 10 % from 20 lookups, and 20 % from 5', () => {
    const peers = network(5_000, 'netsize')
    const targets = network(20, 'target')
    const estimator = new NetworkSizeEstimator({ k: 20, maxSamples: 100, maxAge: 2 * HOUR })
    targets.forEach((target, i) => {
      estimator.add(target, closest(peers, target, 20), i)
      if (i === 4) {
        expect(estimator.estimate(i, 5)?.size).to.be.within(4_000, 6_000)
      }
    })
    const estimate = estimator.estimate(20, 5)
    expect(estimate?.samples).to.equal(20)
    expect(estimate?.size).to.be.within(4_500, 5_500)
  })

  it('needs its minimum of lookups, forgets old ones, and keeps the newest few', () => {
    const peers = network(1_000, 'small')
    const estimator = new NetworkSizeEstimator({ k: 20, maxSamples: 3, maxAge: HOUR })
    const target = kadId(new Uint8Array([1]))
    estimator.add(target, closest(peers, target, 20), 0)
    expect(estimator.estimate(0, 2)).to.equal(undefined)
    for (let i = 1; i <= 4; i++) {
      estimator.add(target, closest(peers, target, 20), i)
    }
    expect(estimator.estimate(4, 1)?.samples).to.equal(3)
    expect(estimator.estimate(HOUR + 5, 1)).to.equal(undefined)
  })

  it('a lookup that found fewer than k peers saw the whole network', () => {
    const peers = network(12, 'tiny')
    const estimator = new NetworkSizeEstimator({ k: 20, maxSamples: 10, maxAge: HOUR })
    const target = kadId(new Uint8Array([2]))
    estimator.add(target, closest(peers, target, 20), 0)
    expect(estimator.estimate(0, 1)).to.deep.equal({ size: 12, samples: 1 })
  })

  it('counts the routing table\'s view only when it holds k peers', () => {
    const peers = network(3_000, 'view')
    const self = kadId(new Uint8Array([3]))
    const estimator = new NetworkSizeEstimator({ k: 20, maxSamples: 10, maxAge: HOUR })
    expect(estimator.estimate(0, 1, { target: self, closest: closest(peers, self, 5) })).to.equal(undefined)
    const estimate = estimator.estimate(0, 1, { target: self, closest: closest(peers, self, 20) })
    expect(estimate?.samples).to.equal(1)
    // one view of k peers: within a factor of two
    expect(estimate?.size).to.be.within(1_500, 6_000)
  })
})
