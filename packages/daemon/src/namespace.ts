/**
 * `/kadmium/`: the namespace the daemon registers so that people can try values without making
 * IPNS records. Every daemon registers it, so any two daemons agree on it.
 *
 * - Valid: any bytes, up to kadmium's record size limit (16 KiB), under any key `/kadmium/…`.
 * - Best: the value that sorts last, compared byte by byte (a longer value beats its own
 * prefix). Every node applies the same rule, so the network settles on one value, and a node
 * never replaces a value with one that sorts before it. To update a value, put one that sorts
 * after it: begin values with an increasing version or an ISO date (`2025-06-01 …`).
 */
import type { Validator } from 'kadmium'

/** The namespace's name: keys begin with `/kadmium/`. */
export const KADMIUM_NAMESPACE = 'kadmium'

/** Compares two byte strings: negative when `a` sorts first, 0 when equal, positive otherwise. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return a[i] - b[i]
    }
  }
  return a.length - b.length
}

/** The validator of `/kadmium/`: every value is valid; the one that sorts last is best. */
export const kadmiumValidator: Validator = {
  // the size limit is enforced by kadmium itself, before any validator runs
  validate: () => {},
  select: (key, values) => {
    let best = 0
    for (let i = 1; i < values.length; i++) {
      if (compareBytes(values[i], values[best]) > 0) {
        best = i
      }
    }
    return best
  }
}
