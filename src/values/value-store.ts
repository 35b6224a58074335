/**
 * The records this node stores for others, in the libp2p datastore under a prefix, so they
 * persist wherever the user's datastore persists.
 *
 * A record is validated before it is stored, and again before it is served once
 * `revalidateInterval` has passed since it last passed (and after a restart): answering GET_VALUE
 * does not verify a signature every time. It is served for `maxAge` after it was received and
 * never after; a stored record is only replaced by one its
 * namespace's selector ranks at least as high; and at most `maxRecords` keys are held.
 */
import { equals } from 'uint8arrays/equals'
import { Repeat, clockOf } from '../clock.ts'
import { RECORD_MAX_AGE } from '../constants.ts'
import { MAX_RECORDS, RECORD_REVALIDATE_INTERVAL, RECORDS_PREFIX, RECORDS_SWEEP_INTERVAL } from '../defaults.ts'
import { StaleRecordError, StoreFullError } from '../errors.ts'
import { checkPrefix, datastoreKey } from '../storage/datastore-key.ts'
import { KeyedLock } from '../storage/keyed-lock.ts'
import { decodeRecord, encodeRecord } from './record.ts'
import type { DHTRecord } from './record.ts'
import type { RecordValidator } from './validators.ts'
import type { Clock } from '../clock.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'

/** What a {@link ValueStore} needs; its clock is the real one unless `now` and `schedule` are given. */
export interface ValueStoreInit extends Partial<Clock> {
  datastore: Datastore
  validator: RecordValidator
  /** How long a record is served after it was received, in ms. */
  maxAge?: number
  /** The most keys held. */
  maxRecords?: number
  /** Where in the datastore records live. */
  prefix?: string
  /** How often expired records are swept while the store runs, in ms. */
  sweepInterval?: number
  /** How long a record that passed validation is served without validating it again, in ms. */
  revalidateInterval?: number
  /** Told about a sweep that failed. */
  onSweepError?(error: Error): void
}

/**
 * Stores records by key.
 *
 * @example
 * ```ts
 * const store = new ValueStore({ datastore, validator: new RecordValidator() })
 * await store.start()                  // counts what is stored, sweeps expired records hourly
 * await store.put(key, value)           // throws if invalid or worse than what is stored
 * const record = await store.get(key)   // undefined if absent, expired or no longer valid
 * ```
 */
export class ValueStore {
  private readonly datastore: Datastore
  private readonly validator: RecordValidator
  private readonly now: () => number
  private readonly maxAge: number
  private readonly maxRecords: number
  private readonly prefix: string
  private readonly locks: KeyedLock
  private readonly sweeps: Repeat
  private readonly revalidateInterval: number
  /** Until when each record (by datastore key) is served without validating it again. */
  private readonly trusted: Map<string, number>
  private count: number

  constructor (init: ValueStoreInit) {
    this.datastore = init.datastore
    this.validator = init.validator
    const clock = clockOf(init)
    this.now = clock.now
    this.maxAge = init.maxAge ?? RECORD_MAX_AGE
    this.maxRecords = init.maxRecords ?? MAX_RECORDS
    this.prefix = checkPrefix(init.prefix ?? RECORDS_PREFIX)
    this.locks = new KeyedLock()
    this.revalidateInterval = init.revalidateInterval ?? RECORD_REVALIDATE_INTERVAL
    this.trusted = new Map()
    this.sweeps = new Repeat({ clock, task: async (options) => this.sweep(options), delay: init.sweepInterval ?? RECORDS_SWEEP_INTERVAL, onError: init.onSweepError ?? (() => {}) })
    this.count = 0
  }

  /** How many records are held (expired ones included until they are swept). */
  get size (): number {
    return this.count
  }

  /** Counts what the datastore holds and sweeps expired records every `sweepInterval`. */
  async start (options?: AbortOptions): Promise<void> {
    await this.load(options)
    this.sweeps.start()
  }

  /** Stops the sweeps (waiting for one under way). */
  async stop (): Promise<void> {
    await this.sweeps.stop()
  }

  /** Counts the records already in the datastore (start does it). */
  async load (options?: AbortOptions): Promise<void> {
    let count = 0
    for await (const _ of this.datastore.queryKeys({ prefix: this.prefix }, options)) { // eslint-disable-line @typescript-eslint/no-unused-vars
      count++
    }
    this.count = count
  }

  /**
   * Validates and stores a record, stamped with the time now. Throws an error named
   * `InvalidKeyError`, `UnknownNamespaceError` or `InvalidRecordError` for an invalid record,
   * `StaleRecordError` when the stored record is better and `StoreFullError` for a new key
   * when the store is full.
   */
  async put (key: Uint8Array, value: Uint8Array, options?: AbortOptions): Promise<DHTRecord> {
    await this.validator.validate(key, value)
    const dsKey = this.dsKey(key)
    return this.locks.run(dsKey.toString(), async () => {
      const existing = await this.get(key, options)
      if (existing != null && !equals(existing.value, value) && await this.validator.select(key, [value, existing.value]) !== 0) {
        throw new StaleRecordError('a better record is stored under this key')
      }
      const stored = existing != null || await this.datastore.has(dsKey, options)
      if (!stored && this.count >= this.maxRecords) {
        throw new StoreFullError(`the value store holds its maximum of ${this.maxRecords} records`)
      }
      const record: DHTRecord = { key, value, timeReceived: new Date(this.now()) }
      await this.datastore.put(dsKey, encodeRecord(record), options)
      this.trusted.set(dsKey.toString(), this.now() + this.revalidateInterval)
      if (!stored) {
        this.count++
      }
      return record
    })
  }

  /**
   * The record under `key` if it is held, not expired and still valid (an IPNS record can
   * outlive its validity). An expired or invalid record is deleted.
   */
  async get (key: Uint8Array, options?: AbortOptions): Promise<DHTRecord | undefined> {
    const dsKey = this.dsKey(key)
    let record: DHTRecord
    try {
      record = decodeRecord(await this.datastore.get(dsKey, options))
    } catch (err: any) {
      if (err.name === 'NotFoundError') {
        return undefined
      }
      throw err
    }
    if (this.expired(record) || !equals(record.key, key) || !await this.stillValid(dsKey, record)) {
      await this.delete(dsKey, options)
      return undefined
    }
    return record
  }

  /** Whether a stored record is valid: validated again only when it was not lately. */
  private async stillValid (dsKey: Key, record: DHTRecord): Promise<boolean> {
    const id = dsKey.toString()
    const now = this.now()
    if ((this.trusted.get(id) ?? -Infinity) > now) {
      return true
    }
    const valid = await this.isValid(record)
    if (valid) {
      this.trusted.set(id, now + this.revalidateInterval)
    }
    return valid
  }

  /**
   * The first `limit` records held, in datastore order, as stored (not validated again; an
   * unreadable one is left out).
   */
  async list (limit: number, options?: AbortOptions): Promise<DHTRecord[]> {
    const out: DHTRecord[] = []
    for await (const { value } of this.datastore.query({ prefix: this.prefix, limit }, options)) {
      try {
        out.push(decodeRecord(value))
      } catch {
        // unreadable: deleted when it is next read or swept
      }
    }
    return out
  }

  /** Deletes every expired record; resolves to how many were deleted. */
  async sweep (options?: AbortOptions): Promise<number> {
    const doomed: Key[] = []
    for await (const { key, value } of this.datastore.query({ prefix: this.prefix }, options)) {
      let expired = true
      try {
        expired = this.expired(decodeRecord(value))
      } catch {
        // unreadable: it goes too
      }
      if (expired) {
        doomed.push(key)
      }
    }
    for (const key of doomed) {
      await this.delete(key, options)
    }
    return doomed.length
  }

  private expired (record: DHTRecord): boolean {
    return record.timeReceived == null || record.timeReceived.getTime() + this.maxAge <= this.now()
  }

  private async isValid (record: DHTRecord): Promise<boolean> {
    try {
      await this.validator.validate(record.key, record.value)
      return true
    } catch {
      // invalid now, or in a namespace no longer accepted: not served
      return false
    }
  }

  private async delete (key: Key, options?: AbortOptions): Promise<void> {
    this.trusted.delete(key.toString())
    if (await this.datastore.has(key, options)) {
      await this.datastore.delete(key, options)
      this.count = Math.max(0, this.count - 1)
    }
  }

  private dsKey (key: Uint8Array): Key {
    return datastoreKey(this.prefix, key)
  }
}
