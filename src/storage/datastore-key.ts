/**
 * How kadmium lays its keys out in the datastore: `<prefix>/<base32(key)>`, one entry per key,
 * for records, provider lists and the list of keys we provide. `base32` is multiformats'
 * lowercase RFC 4648 base32 without padding or multibase prefix, so a key never holds a `/`.
 */
import { Key } from 'interface-datastore'
import { base32 } from 'multiformats/bases/base32'
import { InvalidParametersError } from '../errors.ts'

/**
 * Throws {@link InvalidParametersError} unless `prefix` is a clean datastore key like `/a/b`
 * (what {@link datastoreKey} needs to build keys without cleaning them).
 */
export function checkPrefix (prefix: string): string {
  if (!prefix.startsWith('/') || prefix.length < 2 || new Key(prefix).toString() !== prefix) {
    throw new InvalidParametersError(`a datastore prefix must be a clean key like /a/b, not "${prefix}"`)
  }
  return prefix
}

/**
 * The datastore key of `key` under `prefix` (a clean key, see {@link checkPrefix}).
 *
 * @example
 * ```ts
 * datastoreKey('/kadmium/records', key).toString()   // '/kadmium/records/mfzwizltoq…'
 * ```
 */
export function datastoreKey (prefix: string, key: Uint8Array): Key {
  return new Key(`${prefix}/${base32.baseEncode(key)}`, false)
}

/** The key that {@link datastoreKey} stored under `dsKey`; throws when it is not one of ours. */
export function keyOf (dsKey: Key): Uint8Array {
  return base32.baseDecode(dsKey.baseNamespace())
}
