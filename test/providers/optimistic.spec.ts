import { expect } from 'aegir/chai'
import { commonPrefixLength, compareDistance, kadId } from '../../src/keys.ts'
import { OptimisticPlan, gammaCdf, gammaQuantile, peerThreshold, setThreshold } from '../../src/providers/optimistic.ts'
import { runLookup } from '../../src/query/run-lookup.ts'
import type { LookupPeer } from '../../src/query/lookup.ts'

/** A seeded uniform generator in [0, 1). */
function uniform (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

interface Peer extends LookupPeer { table: Peer[] }

/**
 * `n` peers, each with a Kademlia table: for each common prefix length with it, the first k
 * peers of the network at that length.
 */
function network (n: number, k: number): Peer[] {
  const peers: Peer[] = Array.from({ length: n }, (_, i) => ({ id: `p${i}`, key: kadId(new TextEncoder().encode(`peer ${i}`)), table: [] }))
  for (const peer of peers) {
    const buckets = new Map<number, Peer[]>()
    for (const other of peers) {
      if (other === peer) {
        continue
      }
      const cpl = commonPrefixLength(peer.key, other.key)
      const bucket = buckets.get(cpl) ?? []
      if (bucket.length < k) {
        bucket.push(other)
        buckets.set(cpl, bucket)
      }
    }
    peer.table = [...buckets.values()].flat()
  }
  return peers
}

function closest (peers: Peer[], target: Uint8Array, k: number): Peer[] {
  return [...peers].sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, k)
}

describe('providers/optimistic', () => {
  it('the Gamma law: its distribution function and quantiles', () => {
    expect(gammaCdf(1, 1)).to.be.closeTo(1 - Math.exp(-1), 1e-12)
    // Gamma(1/2) is a half χ²(1): P(x ≤ 2) = erf(√2)
    expect(gammaCdf(0.5, 2)).to.be.closeTo(0.9544997361, 1e-9)
    for (const shape of [1, 3.5, 20]) {
      for (const p of [0.1, 0.5, 0.9]) {
        expect(gammaCdf(shape, gammaQuantile(shape, p))).to.be.closeTo(p, 1e-9)
      }
    }
  })

  it('a peer below the threshold is among the k closest 90 % of the time, and the true k closest are farther on average than the set threshold 10 % of the time', () => {
    const n = 1_000
    const k = 20
    const random = uniform(11)
    const peerLimit = peerThreshold(k, n, 0.9)
    const setLimit = setThreshold(k, n, 0.1)
    const runs = 3_000
    let kthBelow = 0
    let meanAbove = 0
    for (let run = 0; run < runs; run++) {
      const distances = Array.from({ length: n }, random).sort((a, b) => a - b)
      kthBelow += distances[k - 1] < peerLimit ? 1 : 0
      meanAbove += distances.slice(0, k).reduce((a, b) => a + b) / k > setLimit ? 1 : 0
    }
    // a peer at the threshold is among the k closest unless the k-th closest is nearer still
    expect(kthBelow / runs).to.be.closeTo(0.1, 0.03)
    expect(meanAbove / runs).to.be.closeTo(0.1, 0.03)
  })

  it('over a 1,000-peer network, asks fewer peers than a full lookup and sends at least 90 % of its records to the true k closest', async () => {
    const k = 20
    const peers = network(1_000, k)
    const asker = peers[0]
    const random = uniform(5)
    let asked = { full: 0, optimistic: 0 }
    let chosen = 0
    let onTrue = 0
    let reached = 0
    const keys = 50
    for (let i = 0; i < keys; i++) {
      const target = kadId(Uint8Array.from({ length: 8 }, () => Math.floor(random() * 256)))
      const base = {
        target,
        alpha: 10,
        resultSize: k,
        requestTimeout: 10_000,
        now: () => 0,
        seeds: closest(asker.table, target, k),
        ask: async (peer: Peer) => closest(peer.table, target, k).filter(p => p !== asker)
      }
      const full = await runLookup<Peer>(base)
      asked = { ...asked, full: asked.full + full.stats.asked }
      const plan = new OptimisticPlan<Peer>(target, { k, networkSize: peers.length - 1, certainty: 0.9, strictness: 0.1, closestAnswered: 3 })
      const sent: Peer[] = []
      const outcome = await runLookup<Peer>({
        ...base,
        stopWhen: (peer, closer) => {
          sent.push(...plan.heard(peer, closer))
          return plan.enough
        }
      })
      sent.push(...(outcome.stopped ? plan.rest() : plan.choose(outcome.closest)))
      asked = { ...asked, optimistic: asked.optimistic + outcome.stats.asked }
      const truth = new Set(closest(peers.filter(p => p !== asker), target, k).map(p => p.id))
      expect(new Set(sent.map(p => p.id)).size, 'each peer once').to.equal(sent.length)
      chosen += sent.length
      onTrue += sent.filter(p => truth.has(p.id)).length
      reached += truth.size
    }
    expect(onTrue / chosen, 'records on the true k closest').to.be.at.least(0.9)
    expect(onTrue / reached, 'true k closest reached').to.be.at.least(0.85)
    expect(asked.optimistic).to.be.below(asked.full)
  })
})
