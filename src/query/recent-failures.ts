/**
 * Peers whose request failed or went unanswered lately: a lookup does not ask them again until
 * `ttl` ms have passed or they answered (a gone or silent peer named by others' answers would
 * hold every lookup near it for its stall deadline). Pure bookkeeping: the caller gives the time.
 */

import type { LookupPeer } from './lookup.ts'
import type { LookupEvent, LookupOutcome } from './run-lookup.ts'

/** How many peers are remembered (the oldest forgotten first). */
export const RECENT_FAILURES_MAX = 1_024

/**
 * @example
 * ```ts
 * const failures = new RecentFailures(60_000)
 * failures.failed('12D3KooW…', clock.now())
 * failures.has('12D3KooW…', clock.now())   // true for a minute, or until answered('12D3KooW…')
 * ```
 */
export class RecentFailures {
  private readonly ttl: number
  private readonly max: number
  /** When each peer last failed, oldest first. */
  private readonly at = new Map<string, number>()

  constructor (ttl: number, max = RECENT_FAILURES_MAX) {
    this.ttl = ttl
    this.max = max
  }

  /** Records that `peer` failed or did not answer at `now`. */
  failed (peer: string, now: number): void {
    this.at.delete(peer)
    this.at.set(peer, now)
    if (this.at.size > this.max) {
      this.at.delete(this.at.keys().next().value as string)
    }
  }

  /** Records that `peer` answered: it is no longer held back. */
  answered (peer: string): void {
    this.at.delete(peer)
  }

  /** Learns from one step of a lookup: a failure holds its peer back, an answer frees it. */
  observe (event: LookupEvent<LookupPeer>, now: number): void {
    if (event.type === 'fail') {
      this.failed(event.peer.id, now)
    } else if (event.type === 'answer') {
      this.answered(event.peer.id)
    }
  }

  /** Learns from a lookup's end: each peer still unanswered is held back. */
  ended (outcome: Pick<LookupOutcome<LookupPeer>, 'unanswered'>, now: number): void {
    for (const peer of outcome.unanswered) {
      this.failed(peer.id, now)
    }
  }

  /** Whether `peer` failed within the last `ttl` ms before `now`. */
  has (peer: string, now: number): boolean {
    const at = this.at.get(peer)
    if (at == null) {
      return false
    }
    if (now - at >= this.ttl) {
      this.at.delete(peer)
      return false
    }
    return true
  }
}
