/**
 * Optimistic providing: the provider record goes out during the lookup, to each peer heard of
 * that is, with high confidence given the network size, among the k closest of the key; the
 * lookup stops once the closest peers heard of are as close as the true k closest would be, and
 * the rest of them are sent the record then. The call returns once most of the records (15 of
 * 20) were sent or failed; the others go on in the background, bounded by the request timeout.
 * The tests that decide are in optimistic.ts; this file drives them over a lookup, any
 * lookup: peer routing's in the service, the simulator's in bench/sim.
 */
import { kadId } from '../keys.ts'
import { OptimisticPlan } from './optimistic.ts'
import type { LookupPeer } from '../query/lookup.ts'
import type { AbortOptions } from '@libp2p/interface'

/** How sure an optimistic provide must be, and when it returns. */
export interface OptimisticSettings {
  /** How sure it must be that a peer is among the k closest to send it the record during the lookup (0.9). */
  certainty: number
  /** How rarely the true k closest may be farther on average than the peers at which the lookup stops (0.1). */
  strictness: number
  /** The share of the records sent (or failed) before the call returns (0.75: 15 of 20). */
  returnRatio: number
  /** How many of the closest peers heard of must have answered before the lookup may stop (3). */
  closestAnswered: number
}

/** What the lookup of an optimistic provide is told to do. */
export interface OptimisticLookupHooks<P> {
  /** Sees each answer (the peer and the closer peers it named); the lookup ends when it returns true. */
  stopWhen(peer: P, closer: P[]): boolean
  /** Told about each peer that failed to answer. */
  failed(id: string): void
  /** Aborts the lookup (the caller's signal). */
  signal?: AbortSignal
}

/** What {@link provideOptimistically} needs. */
export interface OptimisticProvideInit<P extends LookupPeer> extends OptimisticSettings {
  /** Runs a closest-peers lookup for `key` with these hooks. */
  lookup(key: Uint8Array, hooks: OptimisticLookupHooks<P>): Promise<{ closest: P[], stopped: boolean }>
  /** Sends the record to one peer and resolves whether it was sent (it never rejects); `signal` aborts it. */
  send(peer: P, options: AbortOptions): Promise<boolean>
  kBucketSize: number
  /** The network size. */
  networkSize: number
}

/** What an optimistic provide did by the time it returned, and what is still under way. */
export interface OptimisticOutcome {
  /** Peers the record reached by the time the call returned. */
  sent: number
  /** Peers it was or is being sent to. */
  chosen: number
  /** Settles when every send has (they go on in the background). */
  rest: Promise<unknown>
}

/**
 * Sends `key`'s provider record optimistically (see the module comment) and resolves once
 * ⌈returnRatio × k⌉ of the sends have settled (all of them when fewer were chosen), or, when
 * none of those reached its peer, once every send has. The caller's signal aborts the lookup
 * and the sends until the call returns, not after.
 */
export async function provideOptimistically<P extends LookupPeer> (init: OptimisticProvideInit<P>, key: Uint8Array, options: AbortOptions = {}): Promise<OptimisticOutcome> {
  const plan = new OptimisticPlan<P>(kadId(key), { k: init.kBucketSize, networkSize: init.networkSize, certainty: init.certainty, strictness: init.strictness, closestAnswered: init.closestAnswered })
  const sends = new AbortController()
  const onCallerAbort = (): void => { sends.abort(options.signal?.reason) }
  options.signal?.addEventListener('abort', onCallerAbort, { once: true })
  const pending: Array<Promise<boolean>> = []
  const tally: { settled: number, sent: number, wake?(): void } = { settled: 0, sent: 0 }
  const send = (peers: P[]): void => {
    for (const peer of peers) {
      pending.push(init.send(peer, { signal: sends.signal }).then(ok => {
        tally.settled++
        tally.sent += ok ? 1 : 0
        tally.wake?.()
        return ok
      }))
    }
  }
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) {
      await new Promise<void>(resolve => { tally.wake = resolve })
    }
  }

  try {
    try {
      const outcome = await init.lookup(key, {
        signal: options.signal,
        failed: (id) => { plan.failed(id) },
        stopWhen: (peer, closer) => {
          send(plan.heard(peer, closer))
          return plan.enough
        }
      })
      // stopped: the rest of the closest heard of; else the lookup found the k closest itself
      send(outcome.stopped ? plan.rest() : plan.choose(outcome.closest))
    } catch (err) {
      // a lookup that failed after it found close peers still leaves them worth the record
      if (options.signal?.aborted === true || plan.sent === 0) {
        throw err
      }
      send(plan.rest())
    }
    const enough = Math.min(pending.length, Math.ceil(init.returnRatio * init.kBucketSize))
    await until(() => tally.settled >= enough)
    if (tally.sent === 0) {
      await until(() => tally.settled === pending.length)
    }
    options.signal?.throwIfAborted()
    return { sent: tally.sent, chosen: pending.length, rest: Promise.all(pending) }
  } finally {
    options.signal?.removeEventListener('abort', onCallerAbort)
  }
}
