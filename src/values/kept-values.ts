/**
 * The values this node keeps alive on the network (`put(key, value, { keep: true })`), in the
 * datastore so that a restarted node knows them: each under `<prefix>/<key, base32>` as a
 * record in its protobuf form, the value as the owner gave it, byte for byte, and the record's
 * `timeReceived` when it was last put (absent: never put yet).
 */
import { equals } from 'uint8arrays/equals'
import { checkPrefix, datastoreKey } from '../storage/datastore-key.ts'
import { KeyedLock } from '../storage/keyed-lock.ts'
import { decodeRecord, encodeRecord } from './record.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'

/** A value kept, with when it was last put. */
export interface KeptValue {
  key: Uint8Array
  /** The value as it was given, put again byte for byte. */
  value: Uint8Array
  /** When it was last put (clock ms); undefined when no put of it reached a peer yet. */
  put?: number
}

/** What {@link KeptValues} needs. */
export interface KeptValuesInit {
  datastore: Datastore
  /** Where the values live in the datastore, a clean key like `/a/b`. */
  prefix: string
}

/**
 * The persistent list of kept values. Changes to one key are serialised, so a `forget` that
 * races a republish of the same key wins.
 *
 * @example
 * ```ts
 * const kept = new KeptValues({ datastore, prefix: '/kadmium/kept' })
 * await kept.keep({ key, value, put: Date.now() })
 * for await (const { key, value, put } of kept.list()) { ... }
 * ```
 */
export class KeptValues {
  private readonly init: KeptValuesInit
  private readonly locks: KeyedLock

  constructor (init: KeptValuesInit) {
    checkPrefix(init.prefix)
    this.init = init
    this.locks = new KeyedLock()
  }

  /** Keeps `kept.value` under `kept.key`, in place of any value kept there before; resolves whether the key is new. */
  async keep (kept: KeptValue, options?: AbortOptions): Promise<boolean> {
    const dsKey = this.dsKey(kept.key)
    return this.locks.run(dsKey.toString(), async () => {
      const known = await this.init.datastore.has(dsKey, options)
      await this.write(dsKey, kept, options)
      return !known
    })
  }

  /**
   * Records that `value` was put under `key` at `at`, unless the key was forgotten or given
   * another value meanwhile (those win); resolves whether it was recorded.
   */
  async touch (key: Uint8Array, value: Uint8Array, at: number, options?: AbortOptions): Promise<boolean> {
    const dsKey = this.dsKey(key)
    return this.locks.run(dsKey.toString(), async () => {
      const kept = await this.read(dsKey, options)
      if (kept == null || !equals(kept.value, value)) {
        return false
      }
      await this.write(dsKey, { key, value, put: at }, options)
      return true
    })
  }

  /** Forgets `key`; resolves whether it was kept. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    const dsKey = this.dsKey(key)
    return this.locks.run(dsKey.toString(), async () => {
      if (!await this.init.datastore.has(dsKey, options)) {
        return false
      }
      await this.init.datastore.delete(dsKey, options)
      return true
    })
  }

  /** The value kept under `key`, if any. */
  async get (key: Uint8Array, options?: AbortOptions): Promise<KeptValue | undefined> {
    return this.read(this.dsKey(key), options)
  }

  /** Every kept value, in datastore order (an unreadable entry is left out). */
  async * list (options?: AbortOptions): AsyncGenerator<KeptValue> {
    for await (const { value } of this.init.datastore.query({ prefix: `${this.init.prefix}/` }, options)) {
      const kept = parse(value)
      if (kept != null) {
        yield kept
      }
    }
  }

  private async read (dsKey: Key, options?: AbortOptions): Promise<KeptValue | undefined> {
    try {
      return parse(await this.init.datastore.get(dsKey, options))
    } catch (err: any) {
      if (err.name === 'NotFoundError') {
        return undefined
      }
      throw err
    }
  }

  private async write (dsKey: Key, kept: KeptValue, options?: AbortOptions): Promise<void> {
    await this.init.datastore.put(dsKey, encodeRecord({ key: kept.key, value: kept.value, timeReceived: kept.put == null ? undefined : new Date(kept.put) }), options)
  }

  private dsKey (key: Uint8Array): Key {
    return datastoreKey(this.init.prefix, key)
  }
}

/** A kept value from its bytes, or undefined when they are not a record. */
function parse (bytes: Uint8Array): KeptValue | undefined {
  try {
    const record = decodeRecord(bytes)
    return { key: record.key, value: record.value, put: record.timeReceived?.getTime() }
  } catch {
    return undefined
  }
}
