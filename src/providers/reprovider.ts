/**
 * The reprovider: remembers which keys this node provides (in the datastore, so a restarted
 * node goes on) and publishes each again before its records expire on other peers, all the keys
 * due at one check in one batch.
 */
import { checkPrefix, datastoreKey, keyOf } from '../storage/datastore-key.ts'
import { decodeTime, encodeTime } from '../storage/time.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'

/** What a {@link Reprovider} needs. */
export interface ReproviderInit {
  datastore: Datastore
  /**
   * Publishes keys on the network, as a batch; yields each key once, with the error that kept it
   * from being published, if any.
   */
  publish(keys: Uint8Array[], options: AbortOptions): AsyncIterable<{ item: Uint8Array, error?: Error }>
  /** How long after a provide the key is provided again, in ms (22 h). */
  interval: number
  /** How often the list is checked for keys that are due, in ms. */
  checkInterval: number
  /** Where the list lives in the datastore. */
  prefix: string
  /** The clock, in milliseconds. */
  now?(): number
  /** Told about each key that could not be provided again (it is retried at the next check). */
  onError?(key: Uint8Array, error: Error): void
}

/**
 * Keeps provided keys provided.
 *
 * @example
 * ```ts
 * const reprovider = new Reprovider({ datastore, publish, interval: 22 * HOUR, checkInterval: HOUR, prefix: '/kadmium/provided' })
 * await reprovider.track(key)   // after a successful provide
 * reprovider.start()            // publishes again every key whose last provide is older than 22 h
 * ```
 */
export class Reprovider {
  private readonly init: ReproviderInit
  private readonly now: () => number
  private timer?: ReturnType<typeof setInterval>
  private running?: AbortController
  private sweep?: Promise<number>

  constructor (init: ReproviderInit) {
    checkPrefix(init.prefix)
    this.init = init
    this.now = init.now ?? Date.now
  }

  /** Records that `key` was provided now. */
  async track (key: Uint8Array, options?: AbortOptions): Promise<void> {
    await this.init.datastore.put(this.dsKey(key), encodeTime(this.now()), options)
  }

  /** Forgets `key`: it is no longer provided again. Returns whether it was tracked. */
  async forget (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    const dsKey = this.dsKey(key)
    if (!await this.init.datastore.has(dsKey, options)) {
      return false
    }
    await this.init.datastore.delete(dsKey, options)
    return true
  }

  /** Whether `key` is tracked. */
  async has (key: Uint8Array, options?: AbortOptions): Promise<boolean> {
    return this.init.datastore.has(this.dsKey(key), options)
  }

  /** Every tracked key with when it was last provided (ms). */
  async * list (options?: AbortOptions): AsyncGenerator<{ key: Uint8Array, provided: number }> {
    for await (const { key, value } of this.init.datastore.query({ prefix: this.init.prefix }, options)) {
      // an unreadable time is due at once
      yield { key: keyOf(key), provided: decodeTime(value) ?? 0 }
    }
  }

  /** Checks the list every `checkInterval`, the first time at once. */
  start (): void {
    if (this.timer != null) {
      return
    }
    this.running = new AbortController()
    const run = (): void => { void this.reprovideDue().catch(() => {}) }
    this.timer = setInterval(run, this.init.checkInterval)
    run()
  }

  /** Stops checking and aborts provides under way. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    this.running?.abort(new Error('the reprovider stopped'))
    await this.sweep?.catch(() => {})
  }

  /**
   * Provides again every key whose last provide is `interval` old or older; resolves to how
   * many were provided. One sweep runs at a time: a call during a sweep joins it.
   */
  async reprovideDue (options: AbortOptions = {}): Promise<number> {
    this.sweep ??= this.runDue(options).finally(() => { this.sweep = undefined })
    return this.sweep
  }

  private async runDue (options: AbortOptions): Promise<number> {
    const signal = AbortSignal.any([options.signal, this.running?.signal].filter((s): s is AbortSignal => s != null))
    const due: Uint8Array[] = []
    for await (const entry of this.list({ signal })) {
      if (entry.provided + this.init.interval <= this.now()) {
        due.push(entry.key)
      }
    }
    let done = 0
    if (due.length === 0) {
      return done
    }
    for await (const { item: key, error } of this.init.publish(due, { signal })) {
      if (error != null) {
        this.init.onError?.(key, error)
        continue
      }
      // still wanted? a cancelReprovide during the provide wins
      if (await this.has(key, { signal })) {
        await this.track(key, { signal })
      }
      done++
    }
    return done
  }

  private dsKey (key: Uint8Array): Key {
    return datastoreKey(this.init.prefix, key)
  }
}
