/**
 * Bytes that are kept: copies that hold only themselves.
 */

/**
 * `bytes` if they fill their whole buffer, else a copy that does. A view keeps its whole buffer
 * alive: a peer id read from a message would keep the message, and on Node 24 every small
 * `Buffer.allocUnsafe` (what protobufjs and the peer store encode into) is a view into a
 * 64 KiB pool. Whatever outlives the call that made it (a stored record, a peer id in the
 * routing table, an address) goes through this.
 *
 * @example
 * ```ts
 * const id = compact(message.subarray(10, 48))   // 38 bytes, not the message
 * ```
 */
export function compact (bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
}
