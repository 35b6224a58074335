/**
 * Optimistic providing: the provider record goes out during the lookup, to each peer heard of
 * that is, with high confidence given the network size, among the k closest of the key; the
 * lookup stops once the closest peers heard of are as close as the true k closest would be, and
 * the rest of them are sent the record then. The call returns once most of the records (15 of
 * 20) were sent or failed; the others go on in the background, bounded by the request timeout.
 * The tests that decide are in kademlia/optimistic.ts; this file drives them over a lookup.
 */
import { kadId } from '../kademlia/keys.ts'
import { OptimisticPlan } from '../kademlia/optimistic.ts'
import type { PeerRouting } from './peer-routing.ts'
import type { ProvideOptions, ProviderProgressEvents } from './providers.ts'
import type { DHTPeer } from '../network/dht-peer.ts'

/** How sure an optimistic provide must be, and when it returns. */
export interface OptimisticSettings {
  /** How sure it must be that a peer is among the k closest to send it the record during the lookup (0.9). */
  certainty: number
  /** How rarely the true k closest may be farther on average than the peers at which the lookup stops (0.1). */
  strictness: number
  /** The share of the records sent (or failed) before the call returns (0.75: 15 of 20). */
  returnRatio: number
}

/** What {@link provideOptimistically} needs. */
export interface OptimisticProvideInit extends OptimisticSettings {
  peerRouting: PeerRouting
  kBucketSize: number
  /** The network size. */
  networkSize: number
  /**
   * Sends the record to one peer; resolves whether it was sent. `signal` aborts it; events go
   * to `onProgress` while the call has not returned.
   */
  send(peer: DHTPeer, options: ProvideOptions): Promise<boolean>
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
 * none of those reached its peer, once every send has.
 */
export async function provideOptimistically (init: OptimisticProvideInit, key: Uint8Array, options: ProvideOptions = {}): Promise<OptimisticOutcome> {
  const plan = new OptimisticPlan<DHTPeer>(kadId(key), { k: init.kBucketSize, networkSize: init.networkSize, certainty: init.certainty, strictness: init.strictness })
  // the sends outlive the call: the caller's signal aborts them only until it returns
  const sends = new AbortController()
  const onCallerAbort = (): void => { sends.abort(options.signal?.reason) }
  options.signal?.addEventListener('abort', onCallerAbort, { once: true })
  let returned = false
  const onProgress = (event: ProviderProgressEvents): void => {
    if (!returned) {
      options.onProgress?.(event)
    }
  }
  const pending: Array<Promise<boolean>> = []
  const tally: { settled: number, sent: number, wake?(): void } = { settled: 0, sent: 0 }
  const send = (peers: DHTPeer[]): void => {
    for (const peer of peers) {
      pending.push(init.send(peer, { signal: sends.signal, onProgress }).then(ok => {
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
      const outcome = await init.peerRouting.lookup(key, {
        ...options,
        onProgress: (event) => {
          if (event.type === 'kadmium:lookup:fail') {
            plan.failed(event.detail.peer.toString())
          }
          onProgress(event)
        },
        stopWhen: (peer, closer) => {
          send(plan.heard([peer, ...closer]))
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
    returned = true
    options.signal?.removeEventListener('abort', onCallerAbort)
  }
}
