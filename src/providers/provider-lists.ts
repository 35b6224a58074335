/**
 * Where the provider store keeps its lists: one datastore entry per key, a lock per key, and an
 * LRU cache of decoded lists in front of the datastore. No policy here (bounds, expiry, counts
 * are the store's); only the layout and keeping the cache true to the datastore.
 *
 * ```
 * <prefix>/<base32(key)>  →  the key's provider list (see list-codec.ts)
 * ```
 */
import { InvalidParametersError } from '../errors.ts'
import { checkPrefix, datastoreKey, keyOf } from '../storage/datastore-key.ts'
import { KeyedLock } from '../storage/keyed-lock.ts'
import { decodeProviders, encodeProviders } from './list-codec.ts'
import type { ProviderEntry } from './list-codec.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'

/** One read of a key's list. */
export interface StoredList {
  /** Whether the datastore has an entry for the key. */
  stored: boolean
  /** Its providers (none if there is no entry, or it cannot be read). Never mutate it. */
  entries: ProviderEntry[]
}

/** What {@link ProviderLists} needs. */
export interface ProviderListsInit {
  /** Where the lists are kept. */
  datastore: Datastore
  /** The datastore key prefix, a clean key like `/a/b`. */
  prefix: string
  /** Keys whose decoded lists are cached (0: none). */
  cacheSize: number
}

/**
 * The provider lists of keys in a datastore. Reads and writes of one key must run under
 * {@link ProviderLists.locked} for that key, so that the cache never keeps what a concurrent
 * write has replaced.
 *
 * @example
 * ```ts
 * const lists = new ProviderLists({ datastore, prefix: '/kadmium/providers', cacheSize: 256 })
 * const dsKey = lists.datastoreKey(key)
 * await lists.locked(dsKey, async () => {
 *   const { entries } = await lists.read(dsKey)
 *   await lists.write(dsKey, [...entries, { multihash, time: Date.now() }])
 * })
 * ```
 */
export class ProviderLists {
  /** The datastore key prefix. */
  readonly prefix: string
  private readonly datastore: Datastore
  private readonly cacheSize: number
  /** Decoded lists by datastore key; least recently used first. */
  private readonly cache: Map<string, ProviderEntry[]>
  private readonly locks: KeyedLock

  constructor (init: ProviderListsInit) {
    const { prefix, cacheSize } = init
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
      throw new InvalidParametersError(`cacheSize must be a non-negative integer, not ${cacheSize}`)
    }
    this.prefix = checkPrefix(prefix)
    this.datastore = init.datastore
    this.cacheSize = cacheSize
    this.cache = new Map()
    this.locks = new KeyedLock()
  }

  /** The datastore key of a key's list: `<prefix>/<base32(key)>`. */
  datastoreKey (key: Uint8Array): Key {
    return datastoreKey(this.prefix, key)
  }

  /** Runs `task` once every earlier task for the same key is done. */
  async locked<T> (dsKey: Key, task: () => Promise<T>): Promise<T> {
    return this.locks.run(dsKey.toString(), task)
  }

  /** The cached list of a key, marked most recently used; no datastore read. */
  cached (dsKey: Key): ProviderEntry[] | undefined {
    const id = dsKey.toString()
    const entries = this.cache.get(id)
    if (entries != null) {
      this.cache.delete(id)
      this.cache.set(id, entries)
    }
    return entries
  }

  /**
   * A key's list, from the cache or else the datastore (an unreadable list reads as empty).
   * With `remember`, a list read from the datastore is cached. Call under the key's lock.
   */
  async read (dsKey: Key, options?: AbortOptions, remember = false): Promise<StoredList> {
    const id = dsKey.toString()
    const cached = remember ? this.cached(dsKey) : this.cache.get(id)
    if (cached != null) {
      return { stored: true, entries: cached }
    }
    let bytes: Uint8Array
    try {
      bytes = await this.datastore.get(dsKey, options)
    } catch (err: any) {
      if (err?.name === 'NotFoundError') {
        return { stored: false, entries: [] }
      }
      throw err
    }
    const entries = decodeProviders(bytes) ?? []
    if (remember) {
      this.remember(id, entries)
    }
    return { stored: true, entries }
  }

  /**
   * Stores a key's list, or deletes its entry if the list is empty. A cached list is replaced;
   * an uncached one is not cached (a write alone does not make a key hot). Call under the key's
   * lock, and do not mutate `entries` afterwards.
   */
  async write (dsKey: Key, entries: ProviderEntry[], options?: AbortOptions): Promise<void> {
    const id = dsKey.toString()
    if (entries.length === 0) {
      await this.datastore.delete(dsKey, options)
      this.cache.delete(id)
      return
    }
    await this.datastore.put(dsKey, encodeProviders(entries), options)
    if (this.cache.has(id)) {
      this.cache.set(id, entries)
    }
  }

  /**
   * Every stored list, read from the datastore without locks or cache: a list may be older than
   * a write made since (`entries` is undefined for one that cannot be read).
   */
  async * all (options?: AbortOptions): AsyncGenerator<{ dsKey: Key, entries?: ProviderEntry[] }> {
    for await (const { key, value } of this.datastore.query({ prefix: this.prefix + '/' }, options)) {
      options?.signal?.throwIfAborted()
      yield { dsKey: key, entries: decodeProviders(value) }
    }
  }

  /** The first `limit` keys with a stored list, in datastore order. */
  async keys (limit: number, options?: AbortOptions): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for await (const dsKey of this.datastore.queryKeys({ prefix: this.prefix + '/', limit }, options)) {
      try {
        out.push(keyOf(dsKey))
      } catch {
        // not one of ours
      }
    }
    return out
  }

  private remember (id: string, entries: ProviderEntry[]): void {
    if (this.cacheSize === 0) {
      return
    }
    this.cache.set(id, entries)
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next()
      if (oldest.done !== true) {
        this.cache.delete(oldest.value)
      }
    }
  }
}
