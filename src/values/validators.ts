/**
 * Namespaced record validation: the first segment of a key (`/ns/…`) picks the validator that
 * decides whether a value is valid and which of several values is best.
 */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { equals } from 'uint8arrays/equals'
import { MAX_RECORD_KEY_BYTES, MAX_RECORD_VALUE_BYTES } from '../constants.ts'
import { InvalidKeyError, InvalidRecordError, UnknownNamespaceError } from '../errors.ts'
import { selectIpnsRecord, validateIpnsRecord } from './ipns.ts'

/**
 * The rules of one namespace.
 *
 * @example
 * ```ts
 * // values under /greeting/… must be UTF-8 text; the longest wins
 * const greeting: Validator = {
 *   validate: (key, value) => { new TextDecoder('utf-8', { fatal: true }).decode(value) },
 *   select: (key, values) => values.reduce((best, v, i) => v.length > values[best].length ? i : best, 0)
 * }
 * kadDHT({ validators: { greeting } })
 * ```
 */
export interface Validator {
  /** Throws (or rejects) when `value` is not valid under `key`. */
  validate(key: Uint8Array, value: Uint8Array): void | Promise<void>
  /**
   * The index of the best of `values`, all valid under `key` (or a promise of it). Ties go to the
   * earliest.
   */
  select(key: Uint8Array, values: Uint8Array[]): number | Promise<number>
  /**
   * The largest value the namespace accepts, in bytes; values beyond it are refused before
   * `validate` is asked. Left out: 16 KiB (`constants.MAX_RECORD_VALUE_BYTES`, room for an
   * IPNS record's 10 KiB). A namespace of larger records (up to what one 4 MiB message holds)
   * raises it, and then bounds in `validate` whose records it takes: a node stores up to
   * 100,000 records.
   *
   * @example
   * ```ts
   * // manifests of up to 1 MiB, under keys of our own peers only
   * const manifest: Validator = { maxValueBytes: 1024 * 1024, validate: (key, value) => { checkOwner(key) }, select: () => 0 }
   * ```
   */
  maxValueBytes?: number
}

const SLASH = 0x2f
/** The key prefix of public-key records: `/pk/` then a peer id's multihash. */
export const PK_PREFIX = new TextEncoder().encode('/pk/')

/** The namespace of a key (`pk` for `/pk/…`); throws {@link InvalidKeyError} without one. */
export function namespaceOf (key: Uint8Array): string {
  if (key.length > MAX_RECORD_KEY_BYTES) {
    throw new InvalidKeyError(`record keys are at most ${MAX_RECORD_KEY_BYTES} bytes, got ${key.length}`)
  }
  const end = key.indexOf(SLASH, 1)
  if (key[0] !== SLASH || end < 2) {
    throw new InvalidKeyError('a record key must begin with /namespace/')
  }
  return new TextDecoder().decode(key.subarray(1, end))
}

/**
 * `/pk/`: the key is `/pk/` followed by the multihash of a public key (a peer id's bytes), the
 * value that public key in its protobuf form.
 */
export const pkValidator: Validator = {
  validate (key, value) {
    let expected: Uint8Array
    try {
      expected = peerIdFromPublicKey(publicKeyFromProtobuf(value)).toMultihash().bytes
    } catch (err: any) {
      throw new InvalidRecordError(`not a public key: ${err.message}`)
    }
    if (!equals(key.subarray(PK_PREFIX.length), expected)) {
      throw new InvalidRecordError('the public key does not match the key')
    }
  },
  // every valid value of a key is the same public key
  select: () => 0
}

/**
 * `/ipns/`: a signed IPNS record (signature V2, validity, key matching the name), checked as
 * `ipns.ts` says; the higher sequence number wins, then the later validity.
 */
export const ipnsRecordValidator: Validator = {
  validate: async (key, value) => { await validateIpnsRecord(key, value) },
  select: (_key, values) => selectIpnsRecord(values)
}

/** The namespaces every node accepts unless told otherwise. */
export const defaultValidators: Readonly<Record<string, Validator>> = {
  pk: pkValidator,
  ipns: ipnsRecordValidator
}

/** `record[key]` when it is the record's own (not inherited, like `toString`). */
function ownValue<T> (record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined
}

/**
 * Validates and selects records by namespace. The given validators are looked up at each use,
 * so a namespace added to the object later is accepted from then on.
 */
export class RecordValidator {
  private readonly validators: Record<string, Validator>

  constructor (validators: Record<string, Validator> = {}) {
    this.validators = validators
  }

  /**
   * Throws {@link InvalidKeyError}, {@link UnknownNamespaceError} or {@link InvalidRecordError}
   * unless `value` is valid under `key`.
   */
  async validate (key: Uint8Array, value: Uint8Array): Promise<void> {
    const validator = this.validatorFor(key)
    const max = validator.maxValueBytes ?? MAX_RECORD_VALUE_BYTES
    if (value.length > max) {
      throw new InvalidRecordError(`record values under this key are at most ${max} bytes, got ${value.length}`)
    }
    try {
      await validator.validate(key, value)
    } catch (err: any) {
      throw err instanceof InvalidRecordError ? err : new InvalidRecordError(`${err.name ?? 'Error'}: ${err.message}`)
    }
  }

  /** Throws {@link InvalidKeyError} or {@link UnknownNamespaceError} unless `key` can hold records. */
  check (key: Uint8Array): void {
    this.validatorFor(key)
  }

  /** The index of the best of `values` (all already valid); 0 for a single value. */
  async select (key: Uint8Array, values: Uint8Array[]): Promise<number> {
    if (values.length < 2) {
      return 0
    }
    const index = await this.validatorFor(key).select(key, values)
    if (!Number.isInteger(index) || index < 0 || index >= values.length) {
      throw new InvalidRecordError(`the selector returned ${index} for ${values.length} values`)
    }
    return index
  }

  private validatorFor (key: Uint8Array): Validator {
    const namespace = namespaceOf(key)
    const validator = ownValue(this.validators, namespace) ?? ownValue(defaultValidators, namespace)
    if (validator == null) {
      throw new UnknownNamespaceError(`no validator for the namespace /${namespace}/`)
    }
    return validator
  }
}
