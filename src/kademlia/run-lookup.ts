/**
 * Drives a {@link Lookup} over time: keeps up to α requests in flight, gives each its own
 * timeout, stops waiting for a request that is late (it *stalls*: see {@link StallDeadline})
 * without cancelling it, and reports every step. It needs no libp2p: the caller supplies the
 * request and the clock.
 *
 * {@link driveLookup} is the driver itself, driven by callbacks only: an answer, a failure or a
 * timer moves it on at once, so a simulator can run it on a virtual clock with no promise in
 * between. {@link runLookup} wraps it for a promise-returning request and resolves when it ends;
 * that is what the service uses.
 */
import { TimeoutError } from '../errors.ts'
import { Lookup } from './lookup.ts'
import { StallDeadline } from './stall.ts'
import type { LookupInit, LookupPeer, LookupStats } from './lookup.ts'
import type { StallOptions } from './stall.ts'

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

/** What {@link runLookup} needs. */
export interface RunLookupInit<P extends LookupPeer> extends LookupInit {
  /** The peers to start from. */
  seeds: Iterable<P>
  /**
   * Asks one peer for the peers it knows closest to the target. Should honour `signal`, which
   * fires on the request timeout and when the lookup ends or is aborted (the lookup no longer
   * waits for it then).
   */
  ask(peer: P, signal: AbortSignal): Promise<P[]>
  /** The clock, in milliseconds. */
  now(): number
  /**
   * Calls `fire` after `ms` milliseconds of the same clock as `now` and returns a function that
   * calls it off. `setTimeout` unless told otherwise; tests and simulations pass a virtual clock.
   */
  schedule?(ms: number, fire: () => void): () => void
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
  /** Aborts the whole lookup. */
  signal?: AbortSignal
  /** Told about every step. */
  onEvent?(event: LookupEvent<P>): void
  /** Ends the lookup early when it returns true for an answer (a found peer, say). */
  stopWhen?(peer: P, closer: P[]): boolean
}

/** How a request of {@link driveLookup} reports its outcome; only the first call counts. */
export interface LookupReply<P> {
  /** The peer answered with these peers. */
  answer(closer: P[]): void
  /** The request failed. */
  fail(error: Error): void
}

/** What {@link driveLookup} needs: {@link RunLookupInit}, with a request that reports by callback. */
export interface DriveLookupInit<P extends LookupPeer> extends Omit<RunLookupInit<P>, 'ask'> {
  /**
   * Sends one request and reports its outcome through `reply`, at any later time (or never: the
   * request then fails at its timeout). `signal` fires when the lookup no longer waits for it.
   */
  ask(peer: P, signal: AbortSignal, reply: LookupReply<P>): void
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

function setTimer (ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms)
  return () => { clearTimeout(timer) }
}

/**
 * Starts a lookup and returns at once; `onEnd` gets its outcome when it ends, or `onAbort` the
 * reason when `init.signal` aborts it first (exactly one of them is called, once). Nothing
 * waits on a promise: every step runs inside a `reply` or a timer of `init.schedule`.
 *
 * @example
 * ```ts
 * driveLookup({
 *   target, alpha: 10, resultSize: 20, requestTimeout: 10_000, seeds,
 *   now: () => clock.now, schedule: (ms, fire) => clock.after(ms, fire),
 *   ask: (peer, signal, reply) => { network.send(peer, target, reply.answer, reply.fail) }
 * }, outcome => { console.log(outcome.closest) }, reason => { console.error(reason) })
 * ```
 */
export function driveLookup<P extends LookupPeer> (init: DriveLookupInit<P>, onEnd: (outcome: LookupOutcome<P>) => void, onAbort: (reason: unknown) => void): void {
  if (init.signal?.aborted === true) {
    onAbort(init.signal.reason)
    return
  }
  const lookup = new Lookup<P>(init, init.seeds)
  const schedule = init.schedule ?? setTimer
  const stall = init.stall == null ? undefined : new StallDeadline(init.stall, init.requestTimeout)
  /** Each open request's function that calls it off with a reason. */
  const open = new Set<(reason: unknown) => void>()
  let ended = false
  let stopped = false
  let pumping = false
  let again = false

  /** Ends the lookup: every request still open is called off, its outcome no longer counted. */
  const end = (reason: unknown): void => {
    ended = true
    init.signal?.removeEventListener('abort', onCallerAbort)
    for (const callOff of open) {
      callOff(reason)
    }
  }
  const onCallerAbort = (): void => {
    const reason = init.signal?.reason
    end(reason)
    onAbort(reason)
  }
  init.signal?.addEventListener('abort', onCallerAbort, { once: true })
  const finish = (): void => {
    end(new Error('lookup ended'))
    onEnd({ closest: lookup.results(), stopped, stats: { ...lookup.stats } })
  }

  /** Ends the lookup or hands out what it wants asked next; a call from inside runs it once more. */
  const pump = (): void => {
    if (pumping) {
      again = true
      return
    }
    pumping = true
    try {
      do {
        again = false
        if (ended) {
          return
        }
        if (stopped || lookup.done) {
          finish()
          return
        }
        for (const peer of lookup.next()) {
          start(peer)
        }
      } while (again)
      // nothing asked and nothing to ask: done by definition (otherwise live requests, or only
      // stalled ones while the bound on open requests holds new ones back)
      if (lookup.pending === 0 && lookup.stalledPending === 0) {
        finish()
      }
    } finally {
      pumping = false
    }
  }

  const start = (peer: P): void => {
    init.onEvent?.({ type: 'ask', peer })
    const begun = init.now()
    // the request ends at its own timeout, or when the lookup ends (stalled or not)
    const request = new AbortController()
    /** Closes the request; false when it was closed already (its outcome then counts for nothing). */
    const close = (): boolean => {
      if (!open.delete(callOff)) {
        return false
      }
      cancelTimeout()
      cancelStall?.()
      return true
    }
    const callOff = (reason: unknown): void => {
      close()
      request.abort(reason)
    }
    open.add(callOff)
    const fail = (error: Error): void => {
      if (!close()) {
        return
      }
      lookup.failed(peer.id)
      init.onEvent?.({ type: 'fail', peer, error, elapsed: init.now() - begun })
      pump()
    }
    const cancelTimeout = schedule(init.requestTimeout, () => {
      const error = new TimeoutError(`no answer within ${init.requestTimeout} ms`)
      request.abort(error)
      fail(error)
    })
    const stallAfter = stall?.current ?? init.requestTimeout
    const cancelStall = stallAfter < init.requestTimeout
      ? schedule(stallAfter, () => {
        if (!lookup.stalled(peer.id)) {
          return
        }
        init.onEvent?.({ type: 'stall', peer, elapsed: init.now() - begun })
        // its slot is free, and the lookup may be done without it
        pump()
      })
      : undefined
    init.ask(peer, request.signal, {
      answer: (closer) => {
        if (!close()) {
          return
        }
        const elapsed = init.now() - begun
        stall?.observe(elapsed)
        const added = lookup.answered(peer.id, closer)
        init.onEvent?.({ type: 'answer', peer, closer, added, elapsed })
        if (init.stopWhen?.(peer, closer) === true) {
          stopped = true
        }
        pump()
      },
      fail
    })
  }

  pump()
}

/**
 * Runs a lookup to its end and resolves to its closest answering peers; rejects with the
 * reason when `init.signal` aborts it.
 *
 * @example
 * ```ts
 * const { closest } = await runLookup({
 *   target, alpha: 10, resultSize: 20, requestTimeout: 10_000,
 *   seeds: table.closest(target, 20).map(e => e.peer),
 *   ask: async (peer, signal) => findNode(peer, target, { signal }),
 *   now: Date.now
 * })
 * ```
 */
export async function runLookup<P extends LookupPeer> (init: RunLookupInit<P>): Promise<LookupOutcome<P>> {
  return new Promise((resolve, reject) => {
    driveLookup<P>({
      ...init,
      ask: (peer, signal, reply) => { init.ask(peer, signal).then(reply.answer, reply.fail) }
    }, resolve, reject)
  })
}
