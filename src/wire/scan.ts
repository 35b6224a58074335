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

/** One field of a message: its number, its wire type, and where its value lies. */
export interface Field {
  /** The field number. */
  number: number
  /** The wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
  wireType: number
  /** The varint value (wire type 0), at most 53 bits. */
  value: number
  /** The bytes of a length-delimited field (a view, not a copy); empty for the others. */
  bytes: Uint8Array
}

const EMPTY = new Uint8Array(0)

function malformed (why: string): InvalidMessageError {
  return new InvalidMessageError(`malformed message: ${why}`)
}

/**
 * The fields of `bytes`, one after the other. Throws {@link InvalidMessageError} for bytes that
 * are not a protobuf message (a truncated field, a varint of more than 10 bytes, a group or an
 * unknown wire type).
 *
 * @example
 * ```ts
 * for (const field of fields(bytes)) {
 *   if (field.number === 2 && field.wireType === 2) key = field.bytes
 * }
 * ```
 */
export function * fields (bytes: Uint8Array): Generator<Field> {
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
    let field: Uint8Array = EMPTY
    switch (wireType) {
      case VARINT:
        value = varint()
        break
      case FIXED64:
        pos += 8
        break
      case LENGTH_DELIMITED: {
        const length = varint()
        if (length > end - pos) {
          throw malformed('a field runs past the end')
        }
        field = bytes.subarray(pos, pos + length)
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
    yield { number, wireType, value, bytes: field }
  }
}
