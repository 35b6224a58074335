/**
 * The provider store: which peers provide which keys, and since when. Pure storage, no network.
 *
 * Records live in the datastore it is given (the libp2p `datastore` component), one entry per
 * key, `<prefix>/<base32(key)>` → the key's provider list (see provider-lists.ts and
 * list-codec.ts); the prefix defaults to {@link PROVIDERS_DATASTORE_PREFIX}.
 *
 * One entry per key makes a lookup one datastore read, O(providers of the key), whatever the
 * datastore holds; a layout of one entry per (key, provider) would need a prefix query per
 * lookup, which MemoryDatastore answers by scanning every entry. The price is a
 * read-modify-write per update, so updates of one key are serialised by a per-key async lock
 * (updates of different keys run concurrently): nothing is lost when two peers announce the same
 * key at once.
 *
 * In memory it keeps only counts (see {@link ProviderStore.stats}) and a small LRU cache of
 * decoded lists of hot keys, so its memory does not grow with what it stores.
 */
import { equals } from 'uint8arrays/equals'
import { Repeat, clockOf } from '../clock.ts'
import { MAX_PROVIDER_KEY_BYTES, PROVIDER_RECORD_TTL } from '../constants.ts'
import { MAX_PROVIDERS_PER_KEY, MAX_PROVIDER_KEYS, PROVIDER_CACHE_SIZE, PROVIDERS_DATASTORE_PREFIX, PROVIDERS_MIN_SWEEP_GAP, PROVIDERS_SWEEP_INTERVAL } from '../defaults.ts'
import { InvalidParametersError } from '../errors.ts'
import { positiveInteger } from '../utils/numbers.ts'
import { peerIdFromBytes } from '../utils/peer-id.ts'
import { ProviderLists } from './provider-lists.ts'
import type { ProviderEntry } from './list-codec.ts'
import type { Clock } from '../clock.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'

/** What {@link ProviderStore.add} did with a record. */
export type AddProviderResult =
  /** The provider is now stored for the key. */
  | 'added'
  /** The provider was already stored for the key; its time is now. */
  | 'refreshed'
  /** Not stored: the key is full, the key bound is reached, or the key is empty or too long. */
  | 'refused'

/** The options of a {@link ProviderStore}; its clock is the real one unless `now` and `schedule` are given. */
export interface ProviderStoreInit extends Partial<Clock> {
  /** Where records are kept. */
  datastore: Datastore
  /** The datastore key prefix, like `/a/b`. Default {@link PROVIDERS_DATASTORE_PREFIX}. */
  prefix?: string
  /** How long a record lives after it was received, in ms. Default {@link PROVIDER_RECORD_TTL}. */
  ttl?: number
  /** Live providers kept per key. Default {@link MAX_PROVIDERS_PER_KEY}. */
  maxProvidersPerKey?: number
  /** Keys kept. Default {@link MAX_PROVIDER_KEYS}. */
  maxKeys?: number
  /** The longest key accepted, in bytes. Default {@link MAX_PROVIDER_KEY_BYTES}. */
  maxKeyBytes?: number
  /** Keys whose decoded lists are cached in memory (0: none). Default {@link PROVIDER_CACHE_SIZE}. */
  cacheSize?: number
  /**
   * When the key bound is reached, a sweep to free expired keys runs at most once per this many
   * ms. Default {@link PROVIDERS_MIN_SWEEP_GAP}.
   */
  minSweepGap?: number
  /** How often expired records are swept while the store runs, in ms. Default {@link PROVIDERS_SWEEP_INTERVAL}. */
  sweepInterval?: number
  /** Told about a sweep that failed. */
  onSweepError?(error: Error): void
}

/** What the provider store holds. */
export interface ProviderStoreStats {
  /** Keys with a stored provider list. */
  keys: number
  /** Provider records stored, expired ones included until a sweep or a write to their key. */
  records: number
}

/** The provider's PeerId, decoding and remembering it the first time; undefined if unreadable. */
function peerIdOf (entry: ProviderEntry): PeerId | undefined {
  entry.peerId ??= peerIdFromBytes(entry.multihash)
  return entry.peerId
}

/**
 * The moment the last record of a list expires: when its key has no live record left and a sweep
 * would free it (-Infinity for an empty list: at once).
 */
function listExpiry (entries: readonly ProviderEntry[], ttl: number): number {
  let latest = -Infinity
  for (const entry of entries) {
    latest = Math.max(latest, entry.time + ttl)
  }
  return latest
}

/**
 * Provider records `key → (provider, time received)` over a datastore, bounded and expiring.
 *
 * A record received at `t` is served while `now < t + ttl`, never at or after, whether or not a
 * sweep has deleted it yet. {@link ProviderStore.sweep} deletes expired records; a write to a key
 * also drops that key's expired records.
 *
 * Bounds, when full: a key with `maxProvidersPerKey` live providers refuses new providers,
 * while those it has may refresh. First come, first kept: a flood of ADD_PROVIDERs from fresh
 * (sybil) peer ids cannot push out established providers that keep republishing, and a slot
 * frees when its record expires. Once `maxKeys` keys are stored, providers for a new key are
 * refused; a key whose records have all expired is freed by the next sweep, and a new key
 * arriving at the bound triggers one (at most once per `minSweepGap`). Expired records never
 * count toward either bound once swept, and never toward the per-key bound.
 *
 * Call {@link ProviderStore.start} first (the first other call does it otherwise): it counts
 * what a persistent datastore already holds, so the bounds hold across restarts.
 *
 * @example
 * ```ts
 * const store = new ProviderStore({ datastore: components.datastore })
 * await store.start()                      // counts what is stored, sweeps hourly
 * await store.add(contentKey, remotePeerId)  // 'added'
 * const providers = await store.get(contentKey)
 * ```
 */
export class ProviderStore {
  private readonly lists: ProviderLists
  private readonly now: () => number
  private readonly ttl: number
  private readonly maxProvidersPerKey: number
  private readonly maxKeys: number
  private readonly maxKeyBytes: number
  private readonly minSweepGap: number
  private readonly sweeps: Repeat
  private keys: number
  private records: number
  private loaded: boolean
  private loading?: Promise<void>
  private sweeping?: Promise<number>
  private lastSweep: number
  /** No key can have lost its last live record before this moment (a lower bound). */
  private nextKeyExpiry: number
  /** While a sweep runs: the lower bound of the key expiries written meanwhile. */
  private sweepFloor?: number

  constructor (init: ProviderStoreInit) {
    this.lists = new ProviderLists({
      datastore: init.datastore,
      prefix: init.prefix ?? PROVIDERS_DATASTORE_PREFIX,
      cacheSize: init.cacheSize ?? PROVIDER_CACHE_SIZE
    })
    const clock = clockOf(init)
    this.now = clock.now
    this.ttl = positiveInteger('ttl', init.ttl ?? PROVIDER_RECORD_TTL)
    this.maxProvidersPerKey = positiveInteger('maxProvidersPerKey', init.maxProvidersPerKey ?? MAX_PROVIDERS_PER_KEY)
    this.maxKeys = positiveInteger('maxKeys', init.maxKeys ?? MAX_PROVIDER_KEYS)
    this.maxKeyBytes = positiveInteger('maxKeyBytes', init.maxKeyBytes ?? MAX_PROVIDER_KEY_BYTES)
    this.minSweepGap = init.minSweepGap ?? PROVIDERS_MIN_SWEEP_GAP
    if (!(this.minSweepGap >= 0)) {
      throw new InvalidParametersError(`minSweepGap must be a non-negative number, not ${this.minSweepGap}`)
    }
    this.keys = 0
    this.records = 0
    this.loaded = false
    this.lastSweep = -Infinity
    this.sweeps = new Repeat({ clock, task: async (options) => this.sweep(options), delay: init.sweepInterval ?? PROVIDERS_SWEEP_INTERVAL, onError: init.onSweepError ?? (() => {}) })
    this.nextKeyExpiry = Infinity
  }

  /**
   * Counts what the datastore already holds (see {@link ProviderStore.load}) and sweeps expired
   * records every `sweepInterval`.
   */
  async start (): Promise<void> {
    await this.load()
    this.sweeps.start()
  }

  /** Stops the sweeps (waiting for one under way). */
  async stop (): Promise<void> {
    await this.sweeps.stop()
  }

  /**
   * Reads every stored list once to count keys and records, so a node restarted over a
   * persistent datastore knows what it holds, and resolves with {@link ProviderStore.stats}.
   * Reads only once: later calls just resolve with the stats. Run it before the store is in use
   * (the first call to another method waits for it).
   */
  async load (options?: AbortOptions): Promise<ProviderStoreStats> {
    this.loading ??= this.count(options).then(
      () => {
        this.loaded = true
      },
      (err) => {
        this.loading = undefined
        throw err
      }
    )
    await this.loading
    return this.stats()
  }

  /** The keys and records held (see {@link ProviderStoreStats}). */
  stats (): ProviderStoreStats {
    return { keys: this.keys, records: this.records }
  }

  /**
   * Stores that `provider` provides `key`, received now. A provider already stored for the key
   * is refreshed. Refused when the key is full, when the key bound is reached and the key is
   * new, or when the key is empty or longer than `maxKeyBytes`.
   */
  async add (key: Uint8Array, provider: PeerId, options?: AbortOptions): Promise<AddProviderResult> {
    return this.changeList(key, provider, options, 'refused', async ({ dsKey, multihash, now, stored, entries }) => {
      const live = entries.filter(entry => now < entry.time + this.ttl)
      const index = live.findIndex(entry => equals(entry.multihash, multihash))
      let result: AddProviderResult
      if (index >= 0) {
        live[index] = { multihash: live[index].multihash, time: now, peerId: live[index].peerId ?? provider }
        result = 'refreshed'
      } else if (live.length >= this.maxProvidersPerKey) {
        return 'refused'
      } else {
        if (!stored) {
          // the key's lock is held and the key is not in the datastore, so a sweep never waits on
          // this lock: waiting for one here cannot deadlock
          if (this.keys >= this.maxKeys) {
            await this.freeKeys(now)
          }
          if (this.keys >= this.maxKeys) {
            return 'refused'
          }
          this.keys++ // reserved before the next await, so concurrent new keys cannot overshoot
        }
        live.push({ multihash, time: now, peerId: provider })
        result = 'added'
      }
      try {
        await this.lists.write(dsKey, live, options)
      } catch (err) {
        if (!stored) {
          this.keys--
        }
        throw err
      }
      this.records += live.length - entries.length
      this.lowerKeyExpiry(now + this.ttl)
      return result
    })
  }

  /** The providers of `key` whose records have not expired, first received first. */
  async get (key: Uint8Array, options?: AbortOptions): Promise<PeerId[]> {
    if (!this.acceptable(key)) {
      return []
    }
    if (!this.loaded) {
      await this.load()
    }
    const dsKey = this.lists.datastoreKey(key)
    // a miss reads under the key's lock, so no write can land between the read and the caching
    // of what it read
    const entries = this.lists.cached(dsKey) ??
      (await this.lists.locked(dsKey, async () => this.lists.read(dsKey, options, true))).entries
    const now = this.time()
    const providers: PeerId[] = []
    for (const entry of entries) {
      if (now < entry.time + this.ttl) {
        const peerId = peerIdOf(entry)
        if (peerId != null) {
          providers.push(peerId)
        }
      }
    }
    return providers
  }

  /** The first `limit` keys with provider records, in datastore order (expired ones until swept). */
  async listKeys (limit: number, options?: AbortOptions): Promise<Uint8Array[]> {
    return this.lists.keys(limit, options)
  }

  /** Deletes the record of `provider` for `key`. Resolves `true` if there was one. */
  async remove (key: Uint8Array, provider: PeerId, options?: AbortOptions): Promise<boolean> {
    return this.changeList(key, provider, options, false, async ({ dsKey, multihash, now, stored, entries }) => {
      if (!stored || !entries.some(entry => equals(entry.multihash, multihash))) {
        return false
      }
      const kept = entries.filter(entry => now < entry.time + this.ttl && !equals(entry.multihash, multihash))
      await this.replace(dsKey, entries, kept, options)
      return true
    })
  }

  /**
   * Runs `change` under the lock of `key`'s list, with the list as the datastore holds it and
   * `provider`'s multihash; `refused` when the key is empty or too long.
   */
  private async changeList<T> (key: Uint8Array, provider: PeerId, options: AbortOptions | undefined, refused: T, change: (list: { dsKey: Key, multihash: Uint8Array, now: number, stored: boolean, entries: ProviderEntry[] }) => Promise<T>): Promise<T> {
    if (!this.acceptable(key)) {
      return refused
    }
    if (!this.loaded) {
      await this.load()
    }
    const dsKey = this.lists.datastoreKey(key)
    const multihash = provider.toMultihash().bytes
    return this.lists.locked(dsKey, async () => {
      options?.signal?.throwIfAborted()
      const now = this.time()
      const { stored, entries } = await this.lists.read(dsKey, options)
      return change({ dsKey, multihash, now, stored, entries })
    })
  }

  /**
   * Deletes every expired record from the datastore, and every key left with none. Resolves to
   * how many records it deleted. If a sweep is already running, resolves with that one's count.
   */
  async sweep (options?: AbortOptions): Promise<number> {
    if (!this.loaded) {
      await this.load()
    }
    this.sweeping ??= this.runSweep(options).finally(() => {
      this.sweeping = undefined
    })
    return this.sweeping
  }

  private async runSweep (options?: AbortOptions): Promise<number> {
    const now = this.time()
    this.sweepFloor = Infinity
    let earliest = Infinity
    let deleted = 0
    try {
      for await (const { dsKey, entries } of this.lists.all(options)) {
        if (entries != null && entries.length > 0 && entries.every(entry => now < entry.time + this.ttl)) {
          earliest = Math.min(earliest, listExpiry(entries, this.ttl))
          continue
        }
        // something to delete: read again under the lock, as a write may have come meanwhile
        const swept = await this.sweepKey(dsKey, now, options)
        deleted += swept.deleted
        earliest = Math.min(earliest, swept.expiry)
      }
      this.nextKeyExpiry = Math.min(earliest, this.sweepFloor)
      this.lastSweep = now
    } finally {
      this.sweepFloor = undefined
    }
    return deleted
  }

  /**
   * Deletes the records of one key expired at `now`, and the key if none is left. Returns how many
   * it deleted, and when the key now expires.
   */
  private async sweepKey (dsKey: Key, now: number, options?: AbortOptions): Promise<{ deleted: number, expiry: number }> {
    return this.lists.locked(dsKey, async () => {
      const { stored, entries } = await this.lists.read(dsKey, options)
      if (!stored) {
        return { deleted: 0, expiry: Infinity }
      }
      const kept = entries.filter(entry => now < entry.time + this.ttl)
      if (kept.length < entries.length || kept.length === 0) {
        await this.replace(dsKey, entries, kept, options)
      }
      // a deleted key no longer expires
      return { deleted: entries.length - kept.length, expiry: kept.length > 0 ? listExpiry(kept, this.ttl) : Infinity }
    })
  }

  /** Runs a sweep if some key may have expired and the last sweep is old enough. */
  private async freeKeys (now: number): Promise<void> {
    if (now >= this.nextKeyExpiry && now - this.lastSweep >= this.minSweepGap) {
      await this.sweep()
    }
  }

  /** Scans the datastore to count keys and records. */
  private async count (options?: AbortOptions): Promise<void> {
    let keys = 0
    let records = 0
    let earliest = Infinity
    for await (const { entries = [] } of this.lists.all(options)) {
      keys++
      records += entries.length
      earliest = Math.min(earliest, listExpiry(entries, this.ttl))
    }
    this.keys = keys
    this.records = records
    this.nextKeyExpiry = earliest
  }

  /**
   * Replaces a stored list `before` by `after` (deleting the key when `after` is empty), keeping
   * the counts and the expiry bound in step. Call under the key's lock.
   */
  private async replace (dsKey: Key, before: ProviderEntry[], after: ProviderEntry[], options?: AbortOptions): Promise<void> {
    await this.lists.write(dsKey, after, options)
    if (after.length === 0) {
      this.keys--
    } else {
      this.lowerKeyExpiry(listExpiry(after, this.ttl))
    }
    this.records -= before.length - after.length
  }

  /** Notes that some key now expires at `expiry`. */
  private lowerKeyExpiry (expiry: number): void {
    this.nextKeyExpiry = Math.min(this.nextKeyExpiry, expiry)
    if (this.sweepFloor != null) {
      this.sweepFloor = Math.min(this.sweepFloor, expiry)
    }
  }

  /** The clock as a non-negative integer of milliseconds, as lists store it. */
  private time (): number {
    return Math.max(0, Math.floor(this.now()))
  }

  private acceptable (key: Uint8Array): boolean {
    return key.byteLength > 0 && key.byteLength <= this.maxKeyBytes
  }
}
