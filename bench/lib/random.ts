/**
 * Seeded pseudo-random numbers, so that every run of a benchmark or a simulation can be
 * replayed: the same seed gives the same keys, topology and latencies.
 */

/** A 32-bit mixing function (a murmur3 finaliser): spreads the bits of an integer. */
export function mix32 (x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/** A seeded generator (mulberry32) of uniform numbers in [0, 1). */
export class Random {
  private state: number

  constructor (seed: number) {
    this.state = mix32(seed + 0x6d2b79f5) | 0
  }

  /** A 32-bit unsigned integer. */
  u32 (): number {
    this.state = (this.state + 0x6d2b79f5) | 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** A number in [0, 1). */
  next (): number {
    return this.u32() / 4294967296
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  /** `length` random bytes. */
  bytes (length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i += 4) {
      const x = this.u32()
      for (let j = 0; j < 4 && i + j < length; j++) {
        out[i + j] = (x >>> (8 * j)) & 0xff
      }
    }
    return out
  }

  /** A standard normal deviate (Box–Muller). */
  normal (): number {
    const u = 1 - this.next()
    const v = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** `count` distinct integers of [0, n), in random order (count ≤ n). */
  sample (n: number, count: number): number[] {
    const picked = new Set<number>()
    while (picked.size < Math.min(count, n)) {
      picked.add(this.int(n))
    }
    return [...picked]
  }
}

/**
 * The links of a random network of `n` nodes: each node links to `degree` others drawn with
 * `random` (node i's draws first, then node i + 1's), as index pairs [from, to].
 */
export function randomLinks (n: number, degree: number, random: Random): Array<[number, number]> {
  const links: Array<[number, number]> = []
  for (let i = 0; i < n; i++) {
    for (const j of random.sample(n - 1, Math.min(degree, n - 1))) {
      links.push([i, j >= i ? j + 1 : j])
    }
  }
  return links
}
