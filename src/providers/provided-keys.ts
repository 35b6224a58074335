/**
 * The keys this node provides, with when each was last provided, in the datastore so that a
 * restarted node knows them: each key under its position in the keyspace,
 * `<prefix>/<first 64 bits of its position, hex>/<key, base32>`, so that the keys of one region
 * are read with a prefix query (see schedule.ts's `hexPrefixes`).
 */
import { Key } from 'interface-datastore'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { kadId } from '../keys.ts'
import { checkPrefix, datastoreKey, keyOf } from '../storage/datastore-key.ts'
import { KeyedLock } from '../storage/keyed-lock.ts'
import { decodeTime, encodeTime } from '../storage/time.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** Hex digits of a key's position kept in its datastore key: 64 bits, for 2^24 regions and more. */
const POSITION_DIGITS = 16

/** A key provided, with when it was last provided. */
export interface ProvidedKey {
  key: Uint8Array
  /** When it was last provided (clock ms; 0 when unreadable: due at once). */
  provided: number
}

/** What {@link ProvidedKeys} needs. */
export interface ProvidedKeysInit {
  datastore: Datastore
  /** Where the keys live in the datastore, a clean key like `/a/b`. */
  prefix: string
  /** The clock, in ms. */
  now(): number
}

/**
 * The persistent list of provided keys. Changes to one key are serialised, so a cancel that
 * races a reprovide of the same key wins.
 *
 * @example
 * ```ts
 * const provided = new ProvidedKeys({ datastore, prefix: '/kadmium/provided', now: Date.now })
 * await provided.track(key)
 * for await (const { key, provided: at } of provided.inRegion('3f')) { ... }
 * ```
 */
export class ProvidedKeys {
  private readonly init: ProvidedKeysInit
  private readonly locks: KeyedLock
  private keys?: number
  private counted?: Promise<void>

  constructor (init: ProvidedKeysInit) {
    checkPrefix(init.prefix)
    this.init = init
    this.locks = new KeyedLock()
  }

  /** How many keys are provided, once they were counted (undefined until then). */
  get known (): number | undefined {
    return this.keys
  }

  /** How many keys are provided (counted once, the first time). */
  async size (): Promise<number> {
    await this.count()
    return this.keys ?? 0
  }

  /** Records that `key` was provided now. */
  async track (key: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.count()
    const dsKey = this.dsKey(key)
    await this.locks.run(dsKey.toString(), async () => {
      const known = await this.init.datastore.has(dsKey, options)
      await this.init.datastore.put(dsKey, encodeTime(this.init.now()), options)
      if (!known && this.keys != null) {
        this.keys++
      }
    })
  }

  /** Records that `key` was provided again now, unless it was forgotten meanwhile (a cancel wins). */
  async touch (key: Uint8Array, options?: AbortOptions): Promise<void> {
    const dsKey = this.dsKey(key)
    await this.locks.run(dsKey.toString(), async () => {
      if (await this.init.datastore.has(dsKey, options)) {
        await this.init.datastore.put(dsKey, encodeTime(this.init.now()), options)
      }
    })
  }

  /** Forgets `key`: it is no longer provided again. Returns whether it was provided. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    await this.count()
    const dsKey = this.dsKey(key)
    return this.locks.run(dsKey.toString(), async () => {
      if (!await this.init.datastore.has(dsKey, options)) {
        return false
      }
      await this.init.datastore.delete(dsKey, options)
      if (this.keys != null) {
        this.keys--
      }
      return true
    })
  }

  /** Whether `key` is provided. */
  async has (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return this.init.datastore.has(this.dsKey(key), options)
  }

  /** Every key, in keyspace order where the datastore sorts. */
  async * list (options?: AbortOptions): AsyncGenerator<ProvidedKey> {
    yield * this.read(`${this.init.prefix}/`, options)
  }

  /** The keys whose position begins with the hex digits `hex`. */
  async * inRegion (hex: string, options?: AbortOptions): AsyncGenerator<ProvidedKey> {
    yield * this.read(`${this.init.prefix}/${hex}`, options)
  }

  /**
   * Counts the keys once, moving any kept as earlier versions kept them (`<prefix>/<key,
   * base32>`, with no position) to their place in the keyspace. A failure is thrown to the
   * caller, and the next call counts again.
   */
  private async count (): Promise<void> {
    this.counted ??= this.countAndMove().catch((err) => {
      this.counted = undefined
      throw err
    })
    await this.counted
  }

  private async countAndMove (): Promise<void> {
    const { datastore, prefix } = this.init
    const depth = new Key(prefix).list().length + 2
    let keys = 0
    const unplaced: Key[] = []
    for await (const key of datastore.queryKeys({ prefix: `${prefix}/` })) {
      keys++
      if (key.list().length < depth) {
        unplaced.push(key)
      }
    }
    for (const old of unplaced) {
      try {
        await datastore.put(this.dsKey(keyOf(old)), await datastore.get(old))
      } catch {
        keys-- // not a key of ours
      }
      await datastore.delete(old)
    }
    this.keys = keys
  }

  private async * read (prefix: string, options?: AbortOptions): AsyncGenerator<ProvidedKey> {
    for await (const { key, value } of this.init.datastore.query({ prefix }, options)) {
      let bytes: Uint8Array
      try {
        bytes = keyOf(key)
      } catch {
        continue
      }
      // an unreadable time is due at once
      yield { key: bytes, provided: decodeTime(value) ?? 0 }
    }
  }

  private dsKey (key: Uint8Array): Key {
    const position = uint8ArrayToString(kadId(key).subarray(0, POSITION_DIGITS / 2), 'base16')
    return datastoreKey(`${this.init.prefix}/${position}`, key)
  }
}
