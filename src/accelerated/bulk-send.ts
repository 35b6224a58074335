/**
 * Bulk sending (go's fullrt `bulkMessageSend`, reworked): many keys, each to its k closest peers
 * of the full table, with no lookup. The keys are taken in keyspace order, so neighbouring keys
 * share their peers, and each peer gets its whole batch of keys on one connection, `perPeer`
 * records at a time, each on a stream of its own that the peer ends once it handled the record
 * (so the sends keep to the peer's pace), from a bounded pool of senders. Where go gives up on a peer it cannot reach, here each of that peer's keys goes
 * to the next closest peer instead, so every key still reaches its k closest reachable peers.
 * Generic over the table's peers and what a send takes, so the simulator runs it as the service
 * does (bench/sim/provide-many.ts).
 */
import { pushable } from 'it-pushable'
import { NotStoredError } from '../errors.ts'
import { KAD_ID_BYTES, compareDistance, kadId } from '../keys.ts'
import type { FullTable, FullTablePeer } from './full-table.ts'
import type { AbortOptions } from '@libp2p/interface'

/** One key to send, and the item it stands for. */
export interface BulkEntry<T> {
  item: T
  key: Uint8Array
}

/** What became of one key. */
export interface BulkResult<T> {
  item: T
  /** To how many peers it was sent. */
  sent: number
  /** Why it reached none (then `sent` is 0). */
  error?: Error
}

/**
 * What a bulk send needs: the table's peers are `P` (the service's compact peers), a send takes
 * `D` (the service's `DHTPeer`), made once per peer's batch by `prepare`.
 */
export interface BulkSendInit<P extends FullTablePeer, D> {
  table: FullTable<P>
  /** What the sends to one peer take, made once before its batch (the service expands a compact peer). */
  prepare(peer: P): D
  kBucketSize: number
  /** Peers sent to at once. */
  concurrency: number
  /** Sends to one peer at once, at most. */
  perPeer: number
  /** Sends one key's record to one peer; resolves once the peer handled it, rejects when it could not. */
  send(peer: D, key: Uint8Array, options: AbortOptions): Promise<void>
  /** Whether we are connected to the peer (before its batch). */
  connected(peer: D): boolean
  /** Told when the batch of a peer we were not connected to is over: its connection may be closed. */
  release(peer: D): Promise<void>
  /** Told when a peer's batch begins (`true`) and ends (`false`). */
  busy?(peer: D, busy: boolean): void
}

const ZERO = new Uint8Array(KAD_ID_BYTES)

interface KeyState<T> {
  entry: BulkEntry<T>
  target: Uint8Array
  /** Peers it was given to (sent, failed or waiting). */
  tried: Set<string>
  sent: number
  /** Sends given out and not over. */
  open: number
}

interface Batch<T, D> {
  id: string
  peer: D
  keys: Array<KeyState<T>>
}

/**
 * Sends every entry's key to its k closest peers in the full table; yields each entry once, as
 * its sends are over.
 *
 * @example
 * ```ts
 * for await (const { item, sent } of bulkSend(entries, { table, prepare: expand, kBucketSize: 20, concurrency: 32, perPeer: 8, send, connected, release })) {
 *   console.log(item, sent)
 * }
 * ```
 */
export async function * bulkSend<T, P extends FullTablePeer, D> (entries: Iterable<BulkEntry<T>>, init: BulkSendInit<P, D>, options: AbortOptions = {}): AsyncGenerator<BulkResult<T>> {
  const { table, kBucketSize } = init
  const states: Array<KeyState<T>> = [...entries]
    .map(entry => ({ entry, target: kadId(entry.key), tried: new Set<string>(), sent: 0, open: 0 }))
    // keyspace order: by distance from the zero key
    .sort((a, b) => compareDistance(a.target, b.target, ZERO))
  const results = pushable<BulkResult<T>>({ objectMode: true })
  // batches waiting for a sender, in the order their first key came; one per peer until it starts
  const queue: Array<Batch<T, D>> = []
  const waiting = new Map<string, Batch<T, D>>()
  let remaining = states.length

  const settle = (state: KeyState<T>): void => {
    if (state.open > 0) {
      return
    }
    remaining--
    results.push({ item: state.entry.item, sent: state.sent, error: state.sent > 0 ? undefined : notSent(state.tried.size) })
    if (remaining === 0) {
      results.end()
    }
  }
  /** Gives `state` to its closest peers not tried yet, up to k sends in all; settles it when none is left open. */
  const assign = (state: KeyState<T>, settleNow = true): void => {
    const wanted = kBucketSize - state.sent - state.open
    if (wanted > 0 && state.tried.size < 2 * kBucketSize) {
      let given = 0
      for (const { peer } of table.closest(state.target, kBucketSize + state.tried.size)) {
        if (given === wanted) {
          break
        }
        if (state.tried.has(peer.id)) {
          continue
        }
        state.tried.add(peer.id)
        state.open++
        given++
        let batch = waiting.get(peer.id)
        if (batch == null) {
          batch = { id: peer.id, peer: init.prepare(peer), keys: [] }
          waiting.set(peer.id, batch)
          queue.push(batch)
        }
        batch.keys.push(state)
      }
    }
    if (settleNow) {
      settle(state)
    }
  }

  const attempt = async (peer: D, state: KeyState<T>): Promise<boolean> => {
    try {
      await init.send(peer, state.entry.key, options)
      return true
    } catch {
      return false
    }
  }
  const sender = async (): Promise<void> => {
    for (let batch = queue.shift(); batch != null; batch = queue.shift()) {
      waiting.delete(batch.id)
      init.busy?.(batch.peer, true)
      const wasConnected = init.connected(batch.peer)
      let reached = false
      let next = 0
      // `perPeer` lanes, each sending the batch's next key when its last send is over
      const lane = async (peer: D): Promise<void> => {
        for (let i = next++; i < batch.keys.length; i = next++) {
          const state = batch.keys[i]
          if (options.signal?.aborted === true) {
            state.open--
            settle(state)
            continue
          }
          // a peer that took a record already is tried twice (its connection may have gone under
          // the send); one that took none gets no second try
          let ok = await attempt(peer, state)
          if (!ok && reached) {
            ok = await attempt(peer, state)
          }
          reached ||= ok
          state.open--
          if (ok) {
            state.sent++
            settle(state)
          } else {
            // this peer cannot take it: the next closest can
            assign(state)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(init.perPeer, batch.keys.length) }, async () => { await lane(batch.peer) }))
      init.busy?.(batch.peer, false)
      if (!reached) {
        table.failed(batch.id)
      }
      if (!wasConnected) {
        await init.release(batch.peer)
      }
    }
  }

  if (states.length === 0) {
    return
  }
  for (const state of states) {
    assign(state, false)
  }
  // a key that found no peer at all is over already
  for (const state of states) {
    settle(state)
  }
  // senders that find the queue empty stop; a failure may queue more, so they are started again until none is left
  const run = async (): Promise<void> => {
    while (queue.length > 0) {
      await Promise.all(Array.from({ length: Math.min(init.concurrency, queue.length) }, sender))
    }
  }
  const done = run().then(() => { results.end() }, (err) => { results.end(err) })
  try {
    yield * results
  } finally {
    await done
  }
}

function notSent (tried: number): NotStoredError {
  return new NotStoredError(tried === 0
    ? 'the full table holds no peer to send to'
    : `reached none of the ${tried} closest peers in the full table`)
}
