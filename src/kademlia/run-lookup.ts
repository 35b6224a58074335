/**
 * Drives a {@link Lookup} over an asynchronous "ask this peer" function: keeps up to α requests
 * in flight, gives each its own timeout, and reports every step. It needs no libp2p: the caller
 * supplies the request and the clock.
 */
import { deadline } from '../utils/abort.ts'
import { Lookup } from './lookup.ts'
import type { LookupInit, LookupPeer, LookupStats } from './lookup.ts'

/** One step of a running lookup, in the order it happened. */
export type LookupEvent<P> =
  | { type: 'ask', peer: P }
  | { type: 'answer', peer: P, closer: P[], added: P[], elapsed: number }
  | { type: 'fail', peer: P, error: Error, elapsed: number }

/** What {@link runLookup} needs. */
export interface RunLookupInit<P extends LookupPeer> extends LookupInit {
  /** The peers to start from. */
  seeds: Iterable<P>
  /**
   * Asks one peer for the peers it knows closest to the target. Must honour `signal`, which
   * fires on the request timeout and when the lookup ends or is aborted.
   */
  ask(peer: P, signal: AbortSignal): Promise<P[]>
  /** The clock, in milliseconds. */
  now(): number
  /** A request that has not answered within this many milliseconds fails. */
  requestTimeout: number
  /** Aborts the whole lookup. */
  signal?: AbortSignal
  /** Told about every step. */
  onEvent?(event: LookupEvent<P>): void
  /** Ends the lookup early when it returns true for an answer (a found peer, say). */
  stopWhen?(peer: P, closer: P[]): boolean
}

/** What a lookup ended with. */
export interface LookupOutcome<P> {
  /** The closest peers that answered, closest first. */
  closest: P[]
  /** Whether `stopWhen` ended it. */
  stopped: boolean
  /** Its counts. */
  stats: LookupStats
}

/**
 * Runs a lookup to its end and resolves to its closest answering peers.
 *
 * @example
 * ```ts
 * const { closest } = await runLookup({
 *   target, alpha: 10, beta: 3, resultSize: 20, requestTimeout: 10_000,
 *   seeds: table.closest(target, 20).map(e => e.peer),
 *   ask: async (peer, signal) => findNode(peer, target, { signal }),
 *   now: Date.now
 * })
 * ```
 */
export async function runLookup<P extends LookupPeer> (init: RunLookupInit<P>): Promise<LookupOutcome<P>> {
  const lookup = new Lookup<P>(init, init.seeds)
  const ended = new AbortController()
  const parent = init.signal == null ? ended.signal : AbortSignal.any([init.signal, ended.signal])
  let stopped = false
  let wake: (() => void) | undefined
  /** Resolves when a request in flight settles; rejects when the caller aborts. */
  const settled = async (): Promise<void> => new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(init.signal?.reason) }
    wake = () => {
      wake = undefined
      init.signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    init.signal?.addEventListener('abort', onAbort, { once: true })
  })

  const start = (peer: P): void => {
    init.onEvent?.({ type: 'ask', peer })
    const begun = init.now()
    const request = deadline(init.requestTimeout, `no answer within ${init.requestTimeout} ms`, parent)
    init.ask(peer, request.signal).then(closer => {
      if (ended.signal.aborted) {
        return
      }
      const added = lookup.answered(peer.id, closer)
      init.onEvent?.({ type: 'answer', peer, closer, added, elapsed: init.now() - begun })
      if (init.stopWhen?.(peer, closer) === true) {
        stopped = true
      }
    }, (err: Error) => {
      if (ended.signal.aborted) {
        return
      }
      lookup.failed(peer.id)
      init.onEvent?.({ type: 'fail', peer, error: err, elapsed: init.now() - begun })
    }).finally(() => {
      request.clear()
      wake?.()
    })
  }

  try {
    while (true) {
      init.signal?.throwIfAborted()
      if (stopped || lookup.done) {
        break
      }
      for (const peer of lookup.next()) {
        start(peer)
      }
      if (lookup.pending === 0) {
        // nothing asked and nothing to ask: done by definition
        break
      }
      await settled()
    }
  } finally {
    ended.abort(new Error('lookup ended'))
  }
  return { closest: lookup.results(), stopped, stats: { ...lookup.stats } }
}
