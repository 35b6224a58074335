/**
 * When a kept value is put again, pure: each key has a fixed *phase* in the republish interval,
 * taken from its position in the keyspace (XOR ours, so that nodes keeping the same keys do not
 * put them at the same moments), and is due at the first moment of its phase at least half an
 * interval after it was last put. So the puts of many keys are spread evenly over the interval
 * whenever the keys were put (a thousand values put at once are not put again at once), and the
 * gap between two puts of one key is between half an interval and one and a half.
 *
 * The schedule is a function of the time of the last put alone: a node that restarts computes
 * the same due times from what its datastore holds, so nothing is put twice and nothing is
 * passed over.
 */
import { leadingBits } from '../keys.ts'
import type { KadId } from '../keys.ts'

/** Bits of a position that set its phase: 2^32 phases, finer than a millisecond of any interval. */
const PHASE_BITS = 32

/** Where in each interval the key at `position` is due, in ms from the interval's start: [0, interval). */
export function phaseOf (position: KadId, self: KadId, interval: number): number {
  const rank = (leadingBits(position, PHASE_BITS) ^ leadingBits(self, PHASE_BITS)) >>> 0
  return Math.floor(rank / 2 ** PHASE_BITS * interval)
}

/**
 * When a key of phase `phase` last put at `lastPut` is next due: the first moment `t` with
 * `t ≡ phase (mod interval)` (in ms since the epoch) and `t ≥ lastPut + interval / 2`, so
 * `lastPut + interval / 2 ≤ t < lastPut + 3 × interval / 2`.
 */
export function nextDue (lastPut: number, phase: number, interval: number): number {
  const earliest = lastPut + Math.floor(interval / 2)
  const offset = ((phase - earliest) % interval + interval) % interval
  return earliest + offset
}
