/**
 * Putting and getting values on the network: a put stores the record on the k closest peers;
 * a get collects valid records from a GET_VALUE lookup, picks the best, and corrects the
 * closest peers that hold a worse one or none.
 */
import { CustomProgressEvent } from 'progress-events'
import { equals } from 'uint8arrays/equals'
import { clockOf, deadline } from '../clock.ts'
import { NotFoundError, NotStoredError } from '../errors.ts'
import { dialTarget } from '../network/dht-peer.ts'
import { MessageType } from '../wire/codec.ts'
import { formatTime } from './record.ts'
import type { RecordValidator } from './validators.ts'
import type { ValueStore } from './value-store.ts'
import type { Clock } from '../clock.ts'
import type { Client } from '../network/client.ts'
import type { Counters } from '../network/counters.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { LookupOptions, LookupProgressEvents, QueryRunner } from '../query/runner.ts'
import type { WireRecord } from '../wire/codec.ts'
import type { Logger, PeerId } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { ProgressEvent } from 'progress-events'

/** The progress events of `put` and `get`, passed to `onProgress`. */
export type ValueProgressEvents =
  | LookupProgressEvents
  | ProgressEvent<'kadmium:put:stored', {
    /** A peer that stored the record. */
    peer: PeerId
  }>
  | ProgressEvent<'kadmium:put:failed', {
    /** A peer that did not store it. */
    peer: PeerId
    /** What went wrong. */
    error: Error
  }>
  | ProgressEvent<'kadmium:get:value', {
    /** The peer that sent it. */
    peer: PeerId
    /** The value, valid for the key's namespace. */
    value: Uint8Array
  }>
  | ProgressEvent<'kadmium:get:invalid', {
    /** The peer that sent it. */
    peer: PeerId
    /** Why the validator refused it. */
    error: Error
  }>
  | ProgressEvent<'kadmium:get:corrected', {
    /** The peer sent the best record. */
    peer: PeerId
  }>

/** Options of `put`. */
export interface PutOptions extends LookupOptions {
  /** Told about each step as it happens. */
  onProgress?(event: ValueProgressEvents): void
  /**
   * Keep the value alive: this node owns it, and puts it again, as given, every 12 h on average
   * (the `republish` option), also after a restart, until `forget(key)`. A value kept is kept
   * even when no peer stored it now (`NotStoredError`): it goes out once the node has peers.
   */
  keep?: boolean
}

/** Options of `get`. */
export interface GetOptions extends Omit<PutOptions, 'keep'> {
  /**
   * How many valid answers (our own stored record counts as one) to wait for before the lookup
   * stops early. Without it the lookup runs to its end.
   */
  quorum?: number
}

/** What value routing needs; its clock is the real one unless `now` and `schedule` are given. */
export interface ValueRoutingInit extends Partial<Clock> {
  query: QueryRunner
  client: Client
  connectionManager: ConnectionManager
  store: ValueStore
  validator: RecordValidator
  counters: Counters
  log: Logger
  requestTimeout: number
  /** Aborts when the service stops. */
  lifetime(): AbortSignal
}

/** Values over PUT_VALUE and GET_VALUE. */
export class ValueRouting {
  private readonly init: ValueRoutingInit
  private readonly clock: Clock
  private readonly corrections: Set<Promise<unknown>>

  constructor (init: ValueRoutingInit) {
    this.init = init
    this.clock = clockOf(init)
    this.corrections = new Set()
  }

  /**
   * Validates the record (a bad one throws before anything is sent), stores it locally, sends it
   * to the k closest peers and resolves to how many confirmed. Throws an error named
   * `NotStoredError` when none did.
   */
  async put (key: Uint8Array, value: Uint8Array, options: PutOptions = {}): Promise<number> {
    const { init } = this
    const stored = await init.store.put(key, value, options)
    const record: WireRecord = { key, value, timeReceived: formatTime(stored.timeReceived ?? new Date()) }
    const { closest } = await init.query.lookup(key, options)
    const confirmed = await Promise.all(closest.map(async peer => this.send(peer, record, options)))
    const count = confirmed.filter(Boolean).length
    if (count === 0) {
      throw new NotStoredError(closest.length === 0
        ? 'the record is stored on this node only: the lookup found no peer (is the node connected to the DHT?)'
        : `the record is stored on this node only: none of the ${closest.length} closest peers stored it`)
    }
    return count
  }

  /**
   * Resolves to the best valid value under `key`. Answers that fail validation are ignored and
   * counted. Afterwards the closest peers that answered with a worse record or none are sent the
   * best one. Throws an error named `NotFoundError` when no valid record was found.
   */
  async get (key: Uint8Array, options: GetOptions = {}): Promise<Uint8Array> {
    const { init } = this
    init.validator.check(key)
    const values: Uint8Array[] = []
    const local = await init.store.get(key, options)
    if (local != null) {
      values.push(local.value)
    }
    const held = new Map<string, Uint8Array>()
    const { closest } = await init.query.lookup(key, {
      ...options,
      type: MessageType.GET_VALUE,
      onAnswer: async (peer, answer) => {
        if (answer.record == null) {
          return
        }
        try {
          if (!equals(answer.record.key, key)) {
            throw new NotFoundError('the answer holds a record for another key')
          }
          await init.validator.validate(key, answer.record.value)
        } catch (err: any) {
          init.counters.error(err)
          options.onProgress?.(new CustomProgressEvent('kadmium:get:invalid', { peer: peer.peerId, error: err }))
          return
        }
        held.set(peer.id, answer.record.value)
        values.push(answer.record.value)
        options.onProgress?.(new CustomProgressEvent('kadmium:get:value', { peer: peer.peerId, value: answer.record.value }))
      },
      stopWhen: () => options.quorum != null && values.length >= options.quorum
    })
    if (values.length === 0) {
      throw new NotFoundError('no peer holds a valid record under this key')
    }
    const best = values[await init.validator.select(key, values)]
    this.correct(key, best, local?.value, closest.filter(peer => {
      const value = held.get(peer.id)
      return value == null || !equals(value, best)
    }), options)
    return best
  }

  /** Resolves when every correction sent so far has ended. */
  async settled (): Promise<void> {
    await Promise.all([...this.corrections])
  }

  /** Sends the best record to the peers that lack it, and keeps it locally if ours was worse. */
  private correct (key: Uint8Array, best: Uint8Array, local: Uint8Array | undefined, peers: DHTPeer[], options: GetOptions): void {
    const { init } = this
    const record: WireRecord = { key, value: best, timeReceived: formatTime(new Date()) }
    const work = Promise.all([
      local != null && !equals(local, best) ? init.store.put(key, best).catch(() => {}) : undefined,
      ...peers.map(async peer => {
        if (await this.send(peer, record, {})) {
          options.onProgress?.(new CustomProgressEvent('kadmium:get:corrected', { peer: peer.peerId }))
        }
      })
    ])
    this.corrections.add(work)
    void work.finally(() => this.corrections.delete(work))
  }

  /** Sends PUT_VALUE to one peer; resolves whether it echoed the record back. */
  private async send (peer: DHTPeer, record: WireRecord, options: PutOptions): Promise<boolean> {
    const { init } = this
    const request = deadline(this.clock, init.requestTimeout, `${peer.id} did not confirm in time`, init.lifetime(), options.signal)
    try {
      const answer = await init.client.request(dialTarget(peer, init.connectionManager), {
        type: MessageType.PUT_VALUE,
        key: record.key,
        record
      }, { signal: request.signal })
      if (answer.record == null || !equals(answer.record.value, record.value)) {
        throw new NotStoredError('the answer does not echo the record')
      }
      options.onProgress?.(new CustomProgressEvent('kadmium:put:stored', { peer: peer.peerId }))
      return true
    } catch (err: any) {
      init.log('PUT_VALUE to %p failed: %s', peer.peerId, err.message)
      options.onProgress?.(new CustomProgressEvent('kadmium:put:failed', { peer: peer.peerId, error: err }))
      return false
    } finally {
      request.clear()
    }
  }
}
