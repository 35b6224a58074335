/**
 * The latency model of the emulated WAN: every node draws one number, and the round-trip time
 * between two nodes follows from their two numbers, so that over pairs of nodes it is
 * log-normal with a given median and 99th percentile.
 *
 * Node i draws z_i from a standard normal distribution. The RTT of the pair (i, j) is
 *
 * ```
 * RTT(i, j) = median · exp(σ · (z_i + z_j) / √2),   σ = ln(p99 / median) / 2.326
 * ```
 *
 * z_i + z_j is normal with variance 2 for i ≠ j, so ln RTT is normal with mean ln(median) and
 * standard deviation σ: pair RTTs are exactly log-normal, with the median and p99 asked for
 * (2.326 is the standard normal's 99th percentile). The model is symmetric, and a node with a
 * large z is far from everyone (a slow access link, another continent), which is what makes
 * the tail of a real network's RTTs: a lookup that asks a distant node pays for it on every
 * hop through it.
 */
import { quantile } from '../lib/stats.ts'
import type { Random } from '../lib/random.ts'

/** The target distribution of pair round-trip times, in ms. */
export interface LatencyModel {
  medianRtt: number
  p99Rtt: number
}

/** The standard normal distribution's 99th percentile. */
const Z99 = 2.3263478740408408

/**
 * Round-trip times between peers of the Amino DHT: a median around 80 ms with a long tail
 * (the p99 of 400 ms is this benchmark's assumption; see docs/benchmarks.md for the sources).
 */
export const AMINO_RTT: LatencyModel = { medianRtt: 80, p99Rtt: 400 }

/** σ of ln RTT for a model. */
export function sigmaOf (model: LatencyModel): number {
  return Math.log(model.p99Rtt / model.medianRtt) / Z99
}

/**
 * Draws `n` node factors: standard normal deviates, shifted and scaled to mean 0 and standard
 * deviation 1 exactly, so that a network of a few hundred nodes realises the model's median
 * and tail rather than its sample's (200 raw draws move the median RTT by ±7 %).
 */
export function drawFactors (random: Random, n: number): number[] {
  const z = Array.from({ length: n }, () => random.normal())
  if (n < 2) {
    return z
  }
  const m = z.reduce((a, b) => a + b, 0) / n
  const sd = Math.sqrt(z.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1))
  return z.map(v => (v - m) / sd)
}

/** The pair RTT function of a model: RTT in ms from two node factors. */
export function pairRtt (model: LatencyModel): (a: number, b: number) => number {
  const s = sigmaOf(model) / Math.SQRT2
  return (a, b) => model.medianRtt * Math.exp(s * (a + b))
}

/** Percentiles of the RTTs of every pair among `factors` (the realised distribution). */
export function pairRttPercentiles (factors: number[], rtt: (a: number, b: number) => number, qs: number[]): number[] {
  const all: number[] = []
  for (let i = 0; i < factors.length; i++) {
    for (let j = i + 1; j < factors.length; j++) {
      all.push(rtt(factors[i], factors[j]))
    }
  }
  return qs.map(q => quantile(all, q))
}
