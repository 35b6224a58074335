/**
 * The counting behind the routing table's IP-diversity filter: how many peers of each address
 * group (an IPv4 /16, an IPv6 /32…) sit in each bucket and in the whole table, against a limit
 * for each. Pure bookkeeping: what a peer's groups are is the caller's to say.
 */

/**
 * Counts peers by address group, per bucket and in all.
 *
 * @example
 * ```ts
 * const limits = new GroupLimits(2, 10)
 * if (limits.admits(3, ['ip4/1.2'])) {
 *   limits.add(3, ['ip4/1.2'])
 * }
 * ```
 */
export class GroupLimits {
  /** Peers of one group per bucket. */
  readonly perBucket: number
  /** Peers of one group in the whole table. */
  readonly perTable: number
  private readonly byBucket: Map<number, Map<string, number>>
  private readonly inTable: Map<string, number>

  constructor (perBucket: number, perTable: number) {
    this.perBucket = perBucket
    this.perTable = perTable
    this.byBucket = new Map()
    this.inTable = new Map()
  }

  /** Whether a peer of these groups may enter bucket `bucket`. */
  admits (bucket: number, groups: readonly string[]): boolean {
    const counts = this.byBucket.get(bucket)
    return groups.every(group => (counts?.get(group) ?? 0) < this.perBucket && (this.inTable.get(group) ?? 0) < this.perTable)
  }

  /** Counts a peer of these groups into bucket `bucket`. */
  add (bucket: number, groups: readonly string[]): void {
    let counts = this.byBucket.get(bucket)
    if (counts == null) {
      counts = new Map()
      this.byBucket.set(bucket, counts)
    }
    for (const group of groups) {
      counts.set(group, (counts.get(group) ?? 0) + 1)
      this.inTable.set(group, (this.inTable.get(group) ?? 0) + 1)
    }
  }

  /** Counts a peer of these groups out of bucket `bucket`. */
  remove (bucket: number, groups: readonly string[]): void {
    const counts = this.byBucket.get(bucket)
    for (const group of groups) {
      if (counts != null) {
        decrement(counts, group)
      }
      decrement(this.inTable, group)
    }
    if (counts?.size === 0) {
      this.byBucket.delete(bucket)
    }
  }
}

function decrement (counts: Map<string, number>, group: string): void {
  const n = (counts.get(group) ?? 0) - 1
  if (n > 0) {
    counts.set(group, n)
  } else {
    counts.delete(group)
  }
}
