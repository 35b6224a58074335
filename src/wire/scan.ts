/**
 * A protobuf reader that only walks: it finds where each field of a message lies without
 * decoding what it does not need. A length-delimited field costs the same to pass over whatever
 * it holds, so a message's cost to read is its number of top-level fields, not its size; the
 * typed codec (codec.ts) decodes an entry only when something asks for it.
 */
import { InvalidMessageError } from '../errors.ts'

/** Protobuf wire types. */
const VARINT = 0
const FIXED64 = 1
const LENGTH_DELIMITED = 2
const FIXED32 = 5

function malformed (why: string): InvalidMessageError {
  return new InvalidMessageError(`malformed message: ${why}`)
}

/**
 * Calls `visit` for each field of `bytes`, one after the other, with where its value lies
 * (`start` to `end` for a length-delimited field; the varint in `value` for wire type 0). Nothing
 * is allocated per field: a caller takes a view of the bytes only for the fields it keeps. Throws
 * {@link InvalidMessageError} for bytes that are not a protobuf message (a truncated field, a
 * varint of more than 10 bytes, a group or an unknown wire type).
 *
 * @example
 * ```ts
 * walk(bytes, (number, wireType, value, start, end) => {
 *   if (number === 2 && wireType === 2) key = bytes.subarray(start, end)
 * })
 * ```
 */
export function walk (bytes: Uint8Array, visit: (number: number, wireType: number, value: number, start: number, end: number) => void): void {
  let pos = 0
  const end = bytes.length
  const varint = (): number => {
    let value = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (pos >= end) {
        throw malformed('a varint runs past the end')
      }
      const byte = bytes[pos++]
      value += (byte & 0x7f) * scale
      if (byte < 0x80) {
        return value
      }
      scale *= 128
    }
    throw malformed('a varint is longer than 10 bytes')
  }
  while (pos < end) {
    const tag = varint()
    const number = Math.floor(tag / 8)
    const wireType = tag % 8
    if (number === 0) {
      throw malformed('field number 0')
    }
    let value = 0
    let start = pos
    switch (wireType) {
      case VARINT:
        value = varint()
        break
      case FIXED64:
        pos += 8
        break
      case LENGTH_DELIMITED: {
        const length = varint()
        start = pos
        pos += length
        break
      }
      case FIXED32:
        pos += 4
        break
      default:
        throw malformed(`wire type ${wireType}`)
    }
    if (pos > end) {
      throw malformed('a field runs past the end')
    }
    visit(number, wireType, value, start, pos)
  }
}
