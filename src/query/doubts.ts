/**
 * The peers this node's lookups have reason to doubt: those whose last request from us failed
 * or was still unanswered when its lookup ended, until one of them answers again. A lookup still
 * asks a doubted peer but does not wait for it (see `RunLookupInit.doubted`): a silent or gone
 * peer that other peers keep naming costs the next lookup nothing, and a live one that was only
 * late is cleared as soon as it answers, in time or after its lookup ended (the request runs on:
 * `RunLookupInit.onLate`). Pure bookkeeping, no clock.
 */

/** How many doubted peers are remembered (the least recently doubted forgotten first). */
export const DOUBTED_PEERS = 4_096

/**
 * A bounded set of doubted peer ids.
 *
 * @example
 * ```ts
 * const doubts = new Doubts()
 * doubts.doubt('12D3KooW…')     // its request failed
 * doubts.has('12D3KooW…')       // true: asked, not waited for
 * doubts.clear('12D3KooW…')     // it answered
 * ```
 */
export class Doubts {
  private readonly peers = new Set<string>()
  private readonly max: number

  constructor (max = DOUBTED_PEERS) {
    this.max = max
  }

  /** Records that `peer`'s request failed or went unanswered. */
  doubt (peer: string): void {
    this.peers.delete(peer)
    this.peers.add(peer)
    if (this.peers.size > this.max) {
      this.peers.delete(this.peers.values().next().value as string)
    }
  }

  /** Records that `peer` answered. */
  clear (peer: string): void {
    this.peers.delete(peer)
  }

  /** Whether `peer` is doubted. */
  has (peer: string): boolean {
    return this.peers.has(peer)
  }

  /** How many peers are doubted. */
  get size (): number {
    return this.peers.size
  }
}
