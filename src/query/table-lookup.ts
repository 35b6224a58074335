/**
 * What a node's lookups and its routing table owe each other, in one place for the service's
 * peer routing and for the simulator: a lookup starts from the table's k closest peers and counts
 * as a refresh of the target's bucket; a peer that answers is a live DHT server and is offered to
 * the table (or marked seen); a peer whose request fails counts a failure, and leaves after the
 * table's `maxFailures` in a row (a dial that hung past twice its stall deadline is such a
 * failure); a stalled request teaches nothing while the lookup runs (late is not dead), but one
 * sent and still unanswered when the lookup ends keeps its peer out of the answers we give until
 * it proves alive again. With {@link Doubts}, the node's lookups also ask such a peer (and one
 * that failed) without waiting for it, until it answers. Its request runs on past the lookup
 * (`RunLookupInit.onLate`, told to {@link learnFromLookup} too): a late answer is that proof, so
 * a live peer that is only slow, or that answers after a fast lookup is over, is named again at
 * once; a late timeout counts as a failure.
 */
import type { Doubts } from './doubts.ts'
import type { KadId } from '../keys.ts'
import type { LookupPeer } from './lookup.ts'
import type { LookupEvent, LookupOutcome } from './run-lookup.ts'
import type { RoutingTable } from '../table/routing-table.ts'

/**
 * The peers a lookup for `target` starts from: the table's `count` closest that we would name in
 * an answer (a peer whose last request from us went unanswered is left out until it proves alive
 * again). Marks the target's bucket as looked up, so the bucket refresh skips it.
 *
 * @example
 * ```ts
 * const outcome = await runLookup({ ...params, seeds: lookupSeeds(table, target, 20), onEvent: e => { learnFromLookup(table, e) } })
 * ```
 */
export function lookupSeeds<P> (table: RoutingTable<P>, target: KadId, count: number): P[] {
  table.markLookup(target)
  return table.answerable(target, count).map(entry => entry.peer)
}

/**
 * Tells the table what one step of a lookup showed of a peer (see the module comment), and
 * `doubts`, when given, whom to doubt: a peer that failed, until it answers; not one whose dial
 * was only late when its lookup ended (a far peer's dial takes 3 of its round trips).
 */
export function learnFromLookup<P extends LookupPeer> (table: RoutingTable<P>, event: LookupEvent<P>, doubts?: Doubts): void {
  if (event.type === 'answer') {
    table.add(event.peer.id, event.peer.key, event.peer)
    doubts?.clear(event.peer.id)
  } else if (event.type === 'fail') {
    table.failed(event.peer.id)
    if (event.lookupEnded !== true) {
      doubts?.doubt(event.peer.id)
    }
  }
}

/**
 * Tells the table what a lookup's end showed: each peer whose request was on the wire and still
 * unanswered is named in no answer until it proves alive again (its failures, hung dials
 * included, were told step by step).
 */
export function learnFromOutcome<P extends LookupPeer> (table: RoutingTable<P>, outcome: Pick<LookupOutcome<P>, 'unanswered'>, doubts?: Doubts): void {
  for (const peer of outcome.unanswered) {
    table.unanswered(peer.id)
    doubts?.doubt(peer.id)
  }
}

/**
 * The accept rule of a bucket's refresh lookup: with `bucket` given, the lookup takes in only
 * peers that fall in that bucket of `table` (so it ends once the bucket's own peers answered);
 * without it, every peer.
 */
export function inBucket<P> (table: RoutingTable<P>, bucket?: number): ((peer: { key: KadId }) => boolean) | undefined {
  return bucket == null ? undefined : (peer) => table.bucketIndex(peer.key) === bucket
}
