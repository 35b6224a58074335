/**
 * Drives a {@link Lookup} over an asynchronous "ask this peer" function: keeps up to α requests
 * in flight, gives each its own timeout, stops waiting for a request that is late (it *stalls*:
 * see {@link StallDeadline}) without cancelling it, and reports every step. It needs no libp2p:
 * the caller supplies the request and the clock.
 */
import { clockOf, scheduleOnTime } from '../clock.ts'
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
  | {
    type: 'fail'
    peer: P
    error: Error
    elapsed: number
    /**
     * True when the lookup's end gave the request up while its dial was late: weaker evidence
     * that the peer is gone than a failure while it ran (a far peer's dial takes long).
     */
    lookupEnded?: true
  }

/** The answer or failure of a request that outlived its lookup (see `RunLookupInit.onLate`). */
export type LateEvent<P> = Extract<LookupEvent<P>, { type: 'answer' | 'fail' }>

/** What {@link runLookup} needs; its clock is the real one unless `now` and `schedule` are given. */
export interface RunLookupInit<P extends LookupPeer> extends LookupInit<P>, Partial<Clock> {
  /** The peers to start from. */
  seeds: Iterable<P>
  /**
   * Asks one peer for the peers it knows closest to the target. Must honour `signal`, which
   * fires on the request timeout and when the lookup ends or is aborted; calls `sent` (when it
   * can tell) once the request is on the wire, any dial and stream behind it.
   */
  ask(peer: P, signal: AbortSignal, sent: () => void): Promise<P[]>
  /** A request that has not answered within this many milliseconds fails. */
  requestTimeout: number
  /**
   * When a request stalls: a request with no answer by its stall deadline stops holding an α
   * slot and the lookup stops waiting for it, but its answer is still taken until
   * `requestTimeout` or the end of the lookup; one still open when the lookup ends is aborted and
   * not reported as a failure (unless `onLate` lets it run on). The deadline adapts to the lookup's answer times
   * ({@link StallDeadline}). Without it, every request is waited for until it answers or times
   * out.
   */
  stall?: StallOptions
  /**
   * With `stall`: the stall deadline of a request in ms from now, from what is known of its
   * peer, asked when the request starts (`sent` false: a dial or a stream may come first) and
   * again when `ask` reports it sent; undefined leaves the lookup's adaptive deadline. A request
   * that stalled before it was sent (its dial was late) and is then sent is waited for again: a
   * slow peer that connects is not left behind. One still not sent after as long again is given
   * up (aborted, and reported failed with a `TimeoutError`), as it is when the lookup ends
   * first: a gone peer whose dial hangs fails at twice its stall deadline, not at the dial
   * timeout, and counts against it.
   */
  stallAfter?(peer: P, sent: boolean): number | undefined
  /**
   * With `stall`: a peer it returns true for (its last request failed or went unanswered: see
   * `Doubts`) is asked but not waited for. Its request counts as stalled from the start (a
   * `'stall'` after 0 ms) and is not waited for again once sent, nor given up while its dial
   * hangs: its answer is taken while the lookup lasts, and its failure reported.
   */
  doubted?(peer: P): boolean
  /**
   * With it, a request that stalled and is still open when the lookup ends (a peer of the
   * outcome's `unanswered`) is not cut short: it runs on until it answers, fails, times out or
   * `linger` aborts, and its answer or failure is told here, after the outcome was returned. A
   * late answer is how a slow or doubted live peer clears the marks its silence left (see
   * `learnFromOutcome`); a late timeout is a failure like any other.
   */
  onLate?(event: LateEvent<P>): void
  /** Ends the requests kept open for `onLate` (the node stopping). */
  linger?: AbortSignal
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
  /**
   * Peers whose request was on the wire, stalled and still unanswered when the lookup ended (a
   * silent peer, or a slow one): not failed, but they did not answer in time.
   */
  unanswered: P[]
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
  const clock = clockOf(init)
  const { now, schedule } = clock
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

  /**
   * Whether the lookup may end: done, and, once a peer of it stalled or failed, no live request
   * still on its way (its answer may name a closer peer that a silent or gone one would have).
   */
  const finished = (): boolean => lookup.done && (lookup.pending === 0 || (lookup.stats.stalled === 0 && lookup.stats.failed === 0))

  /**
   * The requests under way: whether each was sent and whether it stalled; `outlive` lets it run
   * on past the lookup's end (for `onLate`).
   */
  const open = new Map<string, { peer: P, begun: number, sent: boolean, stalled: boolean, dialDeadline: boolean, outlive(): void }>()
  /** Late answers and failures wait for this turn to end: the caller takes the outcome first. */
  const late = (event: LateEvent<P>): void => { schedule(0, () => { init.onLate?.(event) }) }

  const start = (peer: P): void => {
    init.onEvent?.({ type: 'ask', peer })
    const begun = now()
    // the request ends at its own timeout, or when the lookup ends (stalled or not) unless it outlives it
    const request = new AbortController()
    let end = parent
    let outlived = false
    const onEnd = (): void => { request.abort(end.reason) }
    if (parent.aborted) {
      onEnd()
    } else {
      parent.addEventListener('abort', onEnd, { once: true })
    }
    // dialDeadline: its stall deadline came from its peer's round trip, a dial included
    const state = {
      peer,
      begun,
      sent: false,
      stalled: false,
      dialDeadline: false,
      outlive: () => {
        outlived = true
        parent.removeEventListener('abort', onEnd)
        if (init.linger != null) {
          end = init.linger
          if (end.aborted) {
            onEnd()
          } else {
            end.addEventListener('abort', onEnd, { once: true })
          }
        }
      }
    }
    open.set(peer.id, state)
    const cancelTimeout = schedule(init.requestTimeout, () => {
      request.abort(new TimeoutError(`no answer within ${init.requestTimeout} ms`))
    })
    let cancelStall: (() => void) | undefined
    const arm = (after: number): void => {
      cancelStall?.()
      cancelStall = after < init.requestTimeout
        ? scheduleOnTime(clock, after, () => {
          if (ended.signal.aborted || !lookup.stalled(peer.id)) {
            return
          }
          state.stalled = true
          init.onEvent?.({ type: 'stall', peer, elapsed: now() - begun })
          if (!state.sent && state.dialDeadline) {
            // a dial as late again is given up
            cancelStall = scheduleOnTime(clock, after, () => {
              request.abort(hungDial(now() - begun))
            })
          }
          // its slot is free, and the lookup may be done without it
          wake?.()
        })
        : undefined
    }
    const doubted = stall != null && init.doubted?.(peer) === true
    if (doubted) {
      // asked, not waited for: its slot is free at once (the caller asks for more)
      lookup.stalled(peer.id)
      state.stalled = true
      init.onEvent?.({ type: 'stall', peer, elapsed: 0 })
    } else if (stall != null) {
      const after = init.stallAfter?.(peer, false)
      state.dialDeadline = after != null
      arm(after ?? stall.current)
    }
    const onSent = (): void => {
      if (state.sent || stall == null || doubted || ended.signal.aborted) {
        return
      }
      state.sent = true
      const after = init.stallAfter?.(peer, true)
      if (after != null) {
        // late in its dial, not gone: the lookup waits for it again
        if (lookup.resumed(peer.id)) {
          state.stalled = false
        }
        arm(after)
      }
    }
    init.ask(peer, request.signal, onSent).then(closer => {
      const elapsed = now() - begun
      if (ended.signal.aborted) {
        if (outlived) {
          late({ type: 'answer', peer, closer, added: [], elapsed })
        }
        return
      }
      stall?.observe(elapsed)
      const added = lookup.answered(peer.id, closer)
      init.onEvent?.({ type: 'answer', peer, closer, added, elapsed })
      if (init.stopWhen?.(peer, closer) === true) {
        stopped = true
      }
    }, (err: Error) => {
      if (ended.signal.aborted) {
        // the lookup ended first: not this peer's failure, stalled or not, unless it outlived
        // the lookup and failed on its own (not stopped by `linger`)
        if (outlived && init.linger?.aborted !== true) {
          late({ type: 'fail', peer, error: err, elapsed: now() - begun })
        }
        return
      }
      lookup.failed(peer.id)
      init.onEvent?.({ type: 'fail', peer, error: err, elapsed: now() - begun })
    }).finally(() => {
      open.delete(peer.id)
      cancelTimeout()
      cancelStall?.()
      end.removeEventListener('abort', onEnd)
      wake?.()
    })
  }

  try {
    while (true) {
      init.signal?.throwIfAborted()
      if (stopped || finished()) {
        break
      }
      // a doubted peer frees its slot as it is asked: ask until no slot or candidate is left
      for (let batch = lookup.next(); batch.length > 0; batch = lookup.next()) {
        for (const peer of batch) {
          start(peer)
        }
      }
      if (finished() || (lookup.pending === 0 && lookup.stalledPending === 0)) {
        // done with the doubted peers just asked, or nothing asked and nothing to ask
        break
      }
      // live requests, or only stalled ones while the bound on open requests holds new ones back
      await settled()
    }
    if (init.onLate != null) {
      // the unanswered (below) run on, so that a late answer still counts
      unansweredOf(open.values()).forEach(state => { state.outlive() })
    }
  } finally {
    ended.abort(new Error('lookup ended'))
  }
  for (const { peer, begun, sent, stalled, dialDeadline } of open.values()) {
    if (stalled && !sent && dialDeadline) {
      // its dial hung past its stall deadline: given up, as it would have been had the lookup gone on
      init.onEvent?.({ type: 'fail', peer, error: hungDial(now() - begun, true), elapsed: now() - begun, lookupEnded: true })
    }
  }
  return { closest: lookup.results(), stopped, stats: { ...lookup.stats }, unanswered: unansweredOf(open.values()).map(state => state.peer) }
}

/**
 * Of the requests open when a lookup ends, those that stalled on the wire (or before a deadline
 * of their own was known): the outcome's `unanswered`. One that stalled in a dial timed by its
 * peer's round trip is given up instead.
 */
function unansweredOf<S extends { stalled: boolean, sent: boolean, dialDeadline: boolean }> (open: Iterable<S>): S[] {
  return [...open].filter(state => state.stalled && (state.sent || !state.dialDeadline))
}

/**
 * The error of a request given up because its dial hung past twice its stall deadline, or
 * because the lookup ended while its dial was late (`lookupEnded`).
 */
function hungDial (elapsed: number, lookupEnded = false): TimeoutError {
  return new TimeoutError(lookupEnded
    ? `no connection within ${Math.round(elapsed)} ms, late in its dial when the lookup ended: given up`
    : `no connection within ${Math.round(elapsed)} ms, twice the stall deadline: given up`)
}
