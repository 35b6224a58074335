/**
 * The reprovide schedule's arithmetic, pure: which keyspace region a key belongs to, when each
 * region is due, and where a schedule stands after time has passed.
 *
 * The keyspace is cut into 2^bits regions by the first `bits` bits of a position, with `bits`
 * chosen from the network size so that a region holds about k to 2k peers: the regions that
 * `publishMany` settles with a few lookups. Over each interval (a *cycle*, 22 h) the regions are
 * due one after another at even offsets, region r (its *rank*) at r / 2^bits of the cycle, so
 * the keys provided, and the messages sent for them, are spread evenly over the cycle whatever
 * their number. Ranks count from our own region (a region's rank is its prefix XOR ours), so
 * nodes that started together still do not sweep the same region at the same time.
 *
 * The offsets nest: a region at depth b + 1 is due at its parent's offset, or half a region
 * later. So a cycle with one more or one less bit than the last keeps every key within one
 * region's time of where it was.
 */
import { leadingBits } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** The deepest schedule: 2^24 regions (a network of some 300 million peers). */
export const MAX_REGION_BITS = 24

/** Where a reprovide schedule stands; what the datastore keeps of it. */
export interface ScheduleState {
  /** When cycle 0 began, in ms since the epoch. */
  start: number
  /** The cycle under way: it began at `start + cycle × interval`. */
  cycle: number
  /** The cycle has 2^bits regions. */
  bits: number
  /** The rank of the next region to reprovide in this cycle; 2^bits when none is left. */
  next: number
}

/**
 * How many bits of a position name its region in a network of `networkSize` peers: the most
 * that still leave k peers per region on average, at most {@link MAX_REGION_BITS}.
 */
export function regionBits (networkSize: number, k: number): number {
  if (!(networkSize > k)) {
    return 0
  }
  return Math.min(MAX_REGION_BITS, Math.floor(Math.log2(networkSize / k)))
}

/** The rank of the region holding `position`: its place in each cycle. */
export function rankOf (position: KadId, self: KadId, bits: number): number {
  return (leadingBits(position, bits) ^ leadingBits(self, bits)) >>> 0
}

/** The prefix of the region of rank `rank`, as an integer of `bits` bits. */
export function regionOf (rank: number, self: KadId, bits: number): number {
  return (rank ^ leadingBits(self, bits)) >>> 0
}

/** A region's prefix as a string of bits, `''` for the whole keyspace: how it is shown. */
export function regionName (prefix: number, bits: number): string {
  return bits === 0 ? '' : prefix.toString(2).padStart(bits, '0')
}

/** When the region of rank `rank` is due in the cycle under way (ms since the epoch). */
export function dueTime (state: ScheduleState, rank: number, interval: number): number {
  return state.start + state.cycle * interval + Math.floor(rank * interval / 2 ** state.bits)
}

/**
 * The schedule at `now` if it lags more than a whole cycle behind (the node was stopped or
 * offline that long): whole cycles are passed over, keeping the next region, so that it is due
 * less than one interval ago and every region is reprovided once, not once per cycle missed.
 * Unchanged otherwise.
 */
export function catchUp (state: ScheduleState, now: number, interval: number): ScheduleState {
  if (state.next >= 2 ** state.bits) {
    return state
  }
  const late = now - dueTime(state, state.next, interval)
  if (late < interval) {
    return state
  }
  return { ...state, cycle: state.cycle + Math.floor(late / interval) }
}

/**
 * The hexadecimal prefixes of the positions in region `prefix` (an integer of `bits` bits), for
 * a datastore that keeps each key under its position in hexadecimal: one when `bits` is a
 * multiple of 4, else each value of the hex digit that holds the region's last bits.
 */
export function hexPrefixes (prefix: number, bits: number): string[] {
  const whole = bits >> 2
  const rest = bits & 3
  if (rest === 0) {
    return [bits === 0 ? '' : prefix.toString(16).padStart(whole, '0')]
  }
  const free = 4 - rest
  const out: string[] = []
  for (let low = 0; low < 2 ** free; low++) {
    out.push((prefix * 2 ** free + low).toString(16).padStart(whole + 1, '0'))
  }
  return out
}
