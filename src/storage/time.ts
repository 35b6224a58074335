/**
 * A moment in the datastore or the peer store's metadata: milliseconds since the epoch, as
 * decimal text.
 */

/** The bytes of `ms`. */
export function encodeTime (ms: number): Uint8Array {
  return new TextEncoder().encode(String(ms))
}

/** The moment `bytes` hold, or undefined when there are none or they are not a number. */
export function decodeTime (bytes: Uint8Array | undefined): number | undefined {
  if (bytes == null) {
    return undefined
  }
  const ms = Number(new TextDecoder().decode(bytes))
  return Number.isFinite(ms) ? ms : undefined
}
