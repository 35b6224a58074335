/**
 * Drives a {@link Lookup} over an asynchronous "ask this peer" function: keeps up to α requests
 * in flight, gives each its own timeout, stops waiting for a request that is late (it *stalls*:
 * see {@link StallDeadline}) without cancelling it, and reports every step. It needs no libp2p:
 * the caller supplies the request and the clock.
 */
import { clockOf } from '../clock.ts'
import { TimeoutError } from '../errors.ts'
import { Lookup } from './lookup.ts'
import { StallDeadline } from './stall.ts'
import type { LookupInit, LookupPeer, LookupStats } from './lookup.ts'
import type { StallOptions } from './stall.ts'
import type { Clock } from '../clock.ts'

/**
 * One step of a running lookup, in the order it happened. `elapsed` is the time since the
 * request was sent. A `'stall'` is neither an answer nor a failure: the same peer's `'answer'` or
 * `'fail'` may follow, unless the lookup ends first (then nothing follows).
 */
export type LookupEvent<P> =
  | { type: 'ask', peer: P }
  | { type: 'answer', peer: P, closer: P[], added: P[], elapsed: number }
  | { type: 'stall', peer: P, elapsed: number }
  | { type: 'fail', peer: P, error: Error, elapsed: number }

/** What {@link runLookup} needs; its clock is the real one unless `now` and `schedule` are given. */
export interface RunLookupInit<P extends LookupPeer> extends LookupInit<P>, Partial<Clock> {
  /** The peers to start from. */
  seeds: Iterable<P>
  /**
   * Asks one peer for the peers it knows closest to the target. Must honour `signal`, which
   * fires on the request timeout and when the lookup ends or is aborted.
   */
  ask(peer: P, signal: AbortSignal): Promise<P[]>
  /** A request that has not answered within this many milliseconds fails. */
  requestTimeout: number
  /**
   * When a request stalls: a request with no answer by its stall deadline stops holding an α
   * slot and the lookup stops waiting for it, but its answer is still taken until
   * `requestTimeout` or the end of the lookup; one still open when the lookup ends is aborted and
   * not reported as a failure. The deadline adapts to the lookup's answer times
   * ({@link StallDeadline}). Without it, every request is waited for until it answers or times
   * out.
   */
  stall?: StallOptions
  /**
   * With `stall`: the stall deadline of a request to `peer`, in ms, where the caller knows better
   * than the lookup's answer times (the accelerated client measured each full-table peer's round
   * trip); undefined leaves the adaptive deadline.
   */
  stallAfter?(peer: P): number | undefined
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
 *   target, alpha: 10, resultSize: 20, requestTimeout: 10_000,
 *   seeds: table.closest(target, 20).map(e => e.peer),
 *   ask: async (peer, signal) => findNode(peer, target, { signal })
 * })
 * ```
 */
export async function runLookup<P extends LookupPeer> (init: RunLookupInit<P>): Promise<LookupOutcome<P>> {
  const lookup = new Lookup<P>(init, init.seeds)
  const { now, schedule } = clockOf(init)
  const stall = init.stall == null ? undefined : new StallDeadline(init.stall, init.requestTimeout)
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
    const begun = now()
    // the request ends at its own timeout, or when the lookup ends (stalled or not)
    const request = new AbortController()
    const onEnd = (): void => { request.abort(parent.reason) }
    if (parent.aborted) {
      onEnd()
    } else {
      parent.addEventListener('abort', onEnd, { once: true })
    }
    const cancelTimeout = schedule(init.requestTimeout, () => {
      request.abort(new TimeoutError(`no answer within ${init.requestTimeout} ms`))
    })
    const stallAfter = stall == null ? init.requestTimeout : Math.min(init.requestTimeout, init.stallAfter?.(peer) ?? stall.current)
    const cancelStall = stallAfter < init.requestTimeout
      ? schedule(stallAfter, () => {
        if (ended.signal.aborted || !lookup.stalled(peer.id)) {
          return
        }
        init.onEvent?.({ type: 'stall', peer, elapsed: now() - begun })
        // its slot is free, and the lookup may be done without it
        wake?.()
      })
      : undefined
    init.ask(peer, request.signal).then(closer => {
      if (ended.signal.aborted) {
        return
      }
      const elapsed = now() - begun
      stall?.observe(elapsed)
      const added = lookup.answered(peer.id, closer)
      init.onEvent?.({ type: 'answer', peer, closer, added, elapsed })
      if (init.stopWhen?.(peer, closer) === true) {
        stopped = true
      }
    }, (err: Error) => {
      if (ended.signal.aborted) {
        // the lookup ended first: not this peer's failure, stalled or not
        return
      }
      lookup.failed(peer.id)
      init.onEvent?.({ type: 'fail', peer, error: err, elapsed: now() - begun })
    }).finally(() => {
      cancelTimeout()
      cancelStall?.()
      parent.removeEventListener('abort', onEnd)
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
      if (lookup.pending === 0 && lookup.stalledPending === 0) {
        // nothing asked and nothing to ask: done by definition
        break
      }
      // live requests, or only stalled ones while the bound on open requests holds new ones back
      await settled()
    }
  } finally {
    ended.abort(new Error('lookup ended'))
  }
  return { closest: lookup.results(), stopped, stats: { ...lookup.stats } }
}
