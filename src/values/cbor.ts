/**
 * A small, strict CBOR reader (RFC 8949) for the DAG-CBOR documents that IPNS records sign: it
 * reads every item DAG-CBOR allows and refuses indefinite lengths, undefined, floats other than
 * 64-bit ones, map keys that are not strings, duplicate keys and trailing bytes. It writes
 * nothing: kadmium only checks such documents.
 */

/**
 * A decoded item: integers are bigints, floats numbers, byte strings Uint8Arrays, maps Maps
 * (whose keys DAG-CBOR makes strings).
 */
export type CborValue = bigint | number | boolean | null | string | Uint8Array | CborValue[] | Map<string, CborValue> | CborTagged

/** A tagged item (DAG-CBOR uses tag 42 for CIDs). */
export interface CborTagged {
  tag: bigint
  value: CborValue
}

/** How deep arrays and maps may nest. */
export const MAX_CBOR_DEPTH = 64

const utf8 = new TextDecoder('utf-8', { fatal: true })

class CborReader {
  private readonly bytes: Uint8Array
  private pos = 0

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
  }

  done (): boolean {
    return this.pos === this.bytes.length
  }

  private take (n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) {
      throw new Error('CBOR ends early')
    }
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** The argument of a head with additional information `info`. */
  private argument (info: number): bigint {
    if (info < 24) {
      return BigInt(info)
    }
    if (info > 27) {
      throw new Error(info === 31 ? 'indefinite-length CBOR is not DAG-CBOR' : `reserved CBOR additional information ${info}`)
    }
    let value = 0n
    for (const byte of this.take(1 << (info - 24))) {
      value = (value << 8n) | BigInt(byte)
    }
    return value
  }

  private length (info: number): number {
    const n = this.argument(info)
    if (n > BigInt(this.bytes.length - this.pos)) {
      throw new Error('CBOR length past the end')
    }
    return Number(n)
  }

  item (depth = 0): CborValue {
    if (depth > MAX_CBOR_DEPTH) {
      throw new Error('CBOR nested too deep')
    }
    const head = this.take(1)[0]
    const major = head >> 5
    const info = head & 0x1f
    switch (major) {
      case 0: return this.argument(info)
      case 1: return -1n - this.argument(info)
      case 2: return this.take(this.length(info)).slice()
      case 3: return utf8.decode(this.take(this.length(info)))
      case 4: {
        const n = this.length(info)
        const list: CborValue[] = []
        for (let i = 0; i < n; i++) {
          list.push(this.item(depth + 1))
        }
        return list
      }
      case 5: {
        const n = this.length(info)
        const map = new Map<string, CborValue>()
        for (let i = 0; i < n; i++) {
          const key = this.item(depth + 1)
          if (typeof key !== 'string') {
            throw new Error('a DAG-CBOR map key is a string')
          }
          if (map.has(key)) {
            throw new Error(`duplicate CBOR map key ${key}`)
          }
          map.set(key, this.item(depth + 1))
        }
        return map
      }
      case 6: return { tag: this.argument(info), value: this.item(depth + 1) }
      default: return this.simple(info)
    }
  }

  /** Major type 7: false, true, null and 64-bit floats (DAG-CBOR has no other). */
  private simple (info: number): CborValue {
    switch (info) {
      case 20: return false
      case 21: return true
      case 22: return null
      case 27: {
        const bytes = this.take(8)
        return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0)
      }
      default: throw new Error(`CBOR simple value or float ${info} is not DAG-CBOR`)
    }
  }
}

/**
 * Decodes one CBOR item that fills `bytes` exactly; throws on malformed or trailing bytes.
 *
 * @example
 * ```ts
 * decodeCbor(Uint8Array.of(0xa1, 0x61, 0x61, 0x01)) // Map { 'a' => 1n }
 * ```
 */
export function decodeCbor (bytes: Uint8Array): CborValue {
  const reader = new CborReader(bytes)
  const value = reader.item()
  if (!reader.done()) {
    throw new Error('trailing bytes after the CBOR item')
  }
  return value
}
