/**
 * IPNS records (the ipfs/specs "IPNS Record" specification), checked with what kadmium already
 * ships: protobufjs reads the `IpnsEntry`, a small reader its DAG-CBOR `data`, and
 * `@libp2p/crypto` checks the signature. This replaces the `ipns` package, which brings second
 * copies of multiformats, cborg, protons-runtime and uint8arrays into a browser bundle.
 *
 * A record is valid under `/ipns/<multihash>` when: it is at most 10 KiB; it has `signatureV2`
 * and `data`; its public key (the `pubKey` field, or else the name's identity multihash) is the
 * name's; `data` is a DAG-CBOR map whose `Value` and `Validity` are bytes, `ValidityType` 0
 * (EOL), `Sequence` and `TTL` unsigned integers; `signatureV2` signs `"ipns-signature:" + data`;
 * when a legacy V1 field is there (`value` or `signatureV1`), all five V1 copies are there and
 * equal their `data` fields; and `Validity` (RFC 3339) is still in the future. Of several valid
 * records the highest `Sequence` wins, then the latest `Validity`. A protobuf field with the
 * wrong wire type makes a record invalid (the `ipns` package reads it anyway).
 */
import { publicKeyFromMultihash, publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import * as Digest from 'multiformats/hashes/digest'
import $protobuf from 'protobufjs/minimal.js'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import { InvalidRecordError } from '../errors.ts'
import { decodeCbor } from './cbor.ts'
import { parseTime } from './record.ts'
import type { PublicKey } from '@libp2p/interface'

/** The largest IPNS record the spec asks implementations to accept. */
export const MAX_IPNS_RECORD_BYTES = 10 * 1024

const encoder = new TextEncoder()
const IPNS_PREFIX = encoder.encode('/ipns/')
const SIGNATURE_PREFIX = encoder.encode('ipns-signature:')
const IDENTITY = 0x00
const SHA2_256 = 0x12

/** The fields of the `IpnsEntry` protobuf (1–6 are the legacy V1 copies). */
interface IpnsEntry {
  value?: Uint8Array
  signatureV1?: Uint8Array
  validityType?: number
  validity?: Uint8Array
  sequence?: bigint
  ttl?: bigint
  pubKey?: Uint8Array
  signatureV2?: Uint8Array
  data?: Uint8Array
}

/** What a record's signed `data` says. */
interface IpnsData {
  value: Uint8Array
  validity: Uint8Array
  validityType: bigint
  sequence: bigint
  ttl: bigint
  /** `validity` in milliseconds since 1970. */
  expires: number
}

/** A parsed record: its protobuf fields, its signed data, and the signature over it. */
interface IpnsRecord {
  entry: IpnsEntry
  data: IpnsData
  signature: Uint8Array
  /** The bytes `signature` signs: `"ipns-signature:"` and the CBOR of `data`. */
  signed: Uint8Array
}

const LENGTH_DELIMITED = 2
const VARINT = 0
/** The wire type of each known field. */
const WIRE_TYPES = [undefined, LENGTH_DELIMITED, LENGTH_DELIMITED, VARINT, LENGTH_DELIMITED, VARINT, VARINT, LENGTH_DELIMITED, LENGTH_DELIMITED, LENGTH_DELIMITED]
const BYTES_FIELDS = { 1: 'value', 2: 'signatureV1', 4: 'validity', 7: 'pubKey', 8: 'signatureV2', 9: 'data' } as const

function readEntry (bytes: Uint8Array): IpnsEntry {
  const entry: IpnsEntry = {}
  const reader = $protobuf.Reader.create(bytes)
  while (reader.pos < reader.len) {
    const tag = reader.uint32()
    const field = tag >>> 3
    const expected = WIRE_TYPES[field]
    if (expected == null) {
      reader.skipType(tag & 7)
    } else if ((tag & 7) !== expected) {
      throw new Error(`field ${field} has wire type ${tag & 7}`)
    } else if (field === 3) {
      entry.validityType = reader.int32()
    } else if (field === 5) {
      entry.sequence = BigInt(String(reader.uint64()))
    } else if (field === 6) {
      entry.ttl = BigInt(String(reader.uint64()))
    } else {
      entry[BYTES_FIELDS[field as keyof typeof BYTES_FIELDS]] = reader.bytes()
    }
  }
  return entry
}

function readData (bytes: Uint8Array): IpnsData {
  const map = decodeCbor(bytes)
  if (!(map instanceof Map)) {
    throw new Error('data is not a CBOR map')
  }
  const field = <T>(name: string, check: (v: unknown) => v is T, what: string): T => {
    const value = map.get(name)
    if (!check(value)) {
      throw new Error(`data.${name} is not ${what}`)
    }
    return value
  }
  const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array
  const isUint = (v: unknown): v is bigint => typeof v === 'bigint' && v >= 0n
  const data = {
    value: field('Value', isBytes, 'bytes'),
    validity: field('Validity', isBytes, 'bytes'),
    validityType: field('ValidityType', isUint, 'an unsigned integer'),
    sequence: field('Sequence', isUint, 'an unsigned integer'),
    ttl: field('TTL', isUint, 'an unsigned integer')
  }
  if (data.validityType !== 0n) {
    throw new Error(`validity type ${data.validityType} is not supported`)
  }
  const expires = parseTime(new TextDecoder('utf-8', { fatal: true }).decode(data.validity))
  if (expires == null) {
    throw new Error('data.Validity is not an RFC 3339 time')
  }
  return { ...data, expires: expires.getTime() }
}

/**
 * Parses a record and checks what needs no key: size, the V2 fields, its data, and that legacy
 * V1 fields, when present, match the data. Throws {@link InvalidRecordError}.
 */
function parseIpnsRecord (bytes: Uint8Array): IpnsRecord {
  if (bytes.byteLength > MAX_IPNS_RECORD_BYTES) {
    throw new InvalidRecordError(`an IPNS record is at most ${MAX_IPNS_RECORD_BYTES} bytes, got ${bytes.byteLength}`)
  }
  let record: IpnsRecord
  try {
    const entry = readEntry(bytes)
    if (entry.signatureV2 == null || entry.signatureV2.length === 0 || entry.data == null || entry.data.length === 0) {
      throw new Error('signatureV2 or data is missing')
    }
    record = { entry, data: readData(entry.data), signature: entry.signatureV2, signed: concat([SIGNATURE_PREFIX, entry.data]) }
  } catch (err: any) {
    throw new InvalidRecordError(`not an IPNS record: ${err.message}`)
  }
  const { entry, data } = record
  if (entry.value != null || entry.signatureV1 != null) {
    // a V1+V2 record: its unsigned V1 copies must be there and say what the signed data says
    const same = entry.value != null && equals(entry.value, data.value) &&
      entry.validity != null && equals(entry.validity, data.validity) &&
      entry.validityType != null && BigInt(entry.validityType) === data.validityType &&
      entry.sequence === data.sequence &&
      entry.ttl === data.ttl
    if (!same) {
      throw new InvalidRecordError('the IPNS record\'s V1 fields differ from its signed data')
    }
  }
  return record
}

/** The public key a record under `key` must be signed with. */
function publicKeyFor (key: Uint8Array, entry: IpnsEntry): PublicKey {
  if (!equals(key.subarray(0, IPNS_PREFIX.length), IPNS_PREFIX)) {
    throw new InvalidRecordError('an IPNS key begins with /ipns/')
  }
  let publicKey: PublicKey
  try {
    const name = Digest.decode(key.subarray(IPNS_PREFIX.length))
    if (name.code !== IDENTITY && name.code !== SHA2_256) {
      throw new Error(`an IPNS name is an identity or sha2-256 multihash, not 0x${name.code.toString(16)}`)
    }
    if (entry.pubKey != null) {
      publicKey = publicKeyFromProtobuf(entry.pubKey)
    } else if (name.code === IDENTITY) {
      publicKey = publicKeyFromMultihash(name as Parameters<typeof publicKeyFromMultihash>[0])
    } else {
      throw new Error('the record has no public key and the name holds none')
    }
  } catch (err: any) {
    throw new InvalidRecordError(`no public key for the IPNS record: ${err.message}`)
  }
  if (!equals(concat([IPNS_PREFIX, publicKey.toMultihash().bytes]), key)) {
    throw new InvalidRecordError('the IPNS record\'s public key is not the name\'s')
  }
  return publicKey
}

/**
 * Throws {@link InvalidRecordError} unless `value` is a valid IPNS record under `key`
 * (`/ipns/` followed by the name's multihash bytes) at time `now` (ms since 1970).
 *
 * @example
 * ```ts
 * await validateIpnsRecord(key, marshalledRecord)   // resolves, or throws InvalidRecordError
 * ```
 */
export async function validateIpnsRecord (key: Uint8Array, value: Uint8Array, now = Date.now()): Promise<void> {
  const { entry, data, signature, signed } = parseIpnsRecord(value)
  const publicKey = publicKeyFor(key, entry)
  let verified = false
  try {
    verified = await publicKey.verify(signed, signature)
  } catch {
    // a signature that cannot be checked is no signature
  }
  if (!verified) {
    throw new InvalidRecordError('the IPNS record\'s signature does not verify')
  }
  if (data.expires <= now) {
    throw new InvalidRecordError('the IPNS record has expired')
  }
}

/**
 * The index of the best of several valid IPNS records: the highest sequence number, then the
 * latest validity; the earliest of equals.
 */
export function selectIpnsRecord (values: Uint8Array[]): number {
  let best = 0
  let bestData: IpnsData | undefined
  values.forEach((value, index) => {
    const data = parseIpnsRecord(value).data
    if (bestData == null || data.sequence > bestData.sequence || (data.sequence === bestData.sequence && data.expires > bestData.expires)) {
      best = index
      bestData = data
    }
  })
  return best
}

/**
 * How long a record may be cached and when it stops being valid: its `TTL` in ms and its
 * `Validity` in ms since 1970. Throws {@link InvalidRecordError} for bytes that are not a record.
 *
 * @example
 * ```ts
 * const { ttl, expires } = ipnsRecordTimes(marshalledRecord)
 * ```
 */
export function ipnsRecordTimes (value: Uint8Array): { ttl: number, expires: number } {
  const { data } = parseIpnsRecord(value)
  return { ttl: Number(data.ttl / 1_000_000n), expires: data.expires }
}
