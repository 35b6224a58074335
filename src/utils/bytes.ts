/**
 * Bytes that are kept: copies that hold only themselves.
 */

/**
 * `bytes` if they fill their whole buffer, else a copy that does. A view keeps its whole buffer
 * alive: a peer id read from a message would keep the message, and on Node 24 every small
 * `Buffer.allocUnsafe` (what protobufjs and the peer store encode into) is a view into a
 * 64 KiB pool. What kadmium keeps from such bytes (a stored record, a peer id in the routing
 * table) goes through this. (A `Multiaddr` encodes its own bytes into the pool whatever it was
 * made from: copying its input would not help.)
 *
 * @example
 * ```ts
 * const id = compact(message.subarray(10, 48))   // 38 bytes, not the message
 * ```
 */
export function compact (bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
}
