/**
 * The crawler over libp2p: runs the visits a {@link Crawl} hands out, at most `concurrency` at
 * once, each one connection and one FIND_NODE at a time, bucket depth by bucket depth. A visit
 * that had to dial closes its connection afterwards, so the crawl's thousands of peers never pile
 * up in the connection manager (but to the node's k closest, which it keeps connected anyway).
 * A re-visit of a peer that answered before gives up when its first request is not out by twice
 * the stall deadline of a dial to it ({@link Visit.giveUpAfter}) rather than at the visit
 * timeout. It counts its requests and the most visits it ever had under way.
 */
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { deadline, scheduleOnTime } from '../clock.ts'
import { TimeoutError } from '../errors.ts'
import { inScope } from '../network/addresses.ts'
import { dhtPeer, dialTarget } from '../network/dht-peer.ts'
import { MessageType } from '../wire/codec.ts'
import { compact, expand } from './compact-peer.ts'
import type { CompactPeer } from './compact-peer.ts'
import type { Crawl, Visit } from './crawl.ts'
import type { PrefixKeys } from './prefix-keys.ts'
import type { Clock } from '../clock.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { Client } from '../network/client.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { StallOptions } from '../query/stall.ts'
import type { Logger, PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** What the crawler needs; `now` and `schedule` are the node's clock. */
export interface CrawlerInit extends Clock {
  self: PeerId
  client: Client
  connectionManager: ConnectionManager
  peerStore: PeerStore
  keys: PrefixKeys
  /** The DHT protocol: a connection with a request of it under way is not closed. */
  protocol: string
  addresses: AddressScope
  kBucketSize: number
  /** Addresses kept per peer named. */
  maxAddresses: number
  /** The longest one visit may take, in ms. */
  visitTimeout: number
  /**
   * The lookups' stall deadlines: a re-visit whose connection hangs is given up as a lookup gives
   * up a hanging dial; undefined (stall detection off) waits for the visit timeout.
   */
  stall?: StallOptions
  /** Whether the node keeps a connection to the peer open anyway (one of its k closest): the crawl leaves it. */
  keepsConnected(peer: DHTPeer): boolean
  log: Logger
}

/** Options of {@link Crawler.run}. */
export interface CrawlRunOptions {
  /** Visits under way at once, at most. */
  concurrency: number
  /** Ends the run; visits under way are aborted. */
  signal: AbortSignal
  /** Keep running when nothing is due (a rolling crawl), looking again after this many ms; undefined ends a one-pass crawl. */
  idleRecheck?: number
  /** Told before each look for work (a rolling crawl offers the routing table's peers). */
  onIdle?(): void
  /** Told about each visit as it ends, before the crawl is. */
  onVisit?(visit: Visit<CompactPeer>, ok: boolean): void
}

/** Agents and protocols, as identify told them, of the peers that answered a crawl. */
export interface IdentifyCensus {
  /** Answering peers by agent version (`unknown` when identify told none). */
  agents: Record<string, number>
  /** Answering peers by protocol they list. */
  protocols: Record<string, number>
}

/** Runs crawl visits over libp2p. */
export class Crawler {
  private readonly init: CrawlerInit
  /** Visits under way now. */
  visiting = 0
  /** The most visits ever under way at once. */
  peakVisiting = 0
  /** FIND_NODE requests sent. */
  requests = 0

  constructor (init: CrawlerInit) {
    this.init = init
  }

  /**
   * Runs `crawl`: a one-pass crawl until every peer heard of was visited, a rolling one (with
   * `idleRecheck`) until `signal` aborts.
   */
  async run (crawl: Crawl<CompactPeer>, options: CrawlRunOptions): Promise<void> {
    const { signal, concurrency } = options
    const running = new Set<Promise<void>>()
    // wakes the loop: a visit ended, the next peer fell due, or the run was aborted
    const waker = { wake: (): void => {} }
    while (!signal.aborted) {
      options.onIdle?.()
      for (let peer = running.size < concurrency ? crawl.take() : undefined; peer != null; peer = running.size < concurrency ? crawl.take() : undefined) {
        const visit = this.visit(crawl, peer, options).finally(() => {
          running.delete(visit)
          waker.wake()
        })
        running.add(visit)
      }
      const due = crawl.nextDue()
      if (running.size === 0 && due == null && options.idleRecheck == null) {
        break
      }
      // wait for a visit to end, the next peer to fall due, or the idle recheck
      let delay: number | undefined
      if (running.size < concurrency) {
        delay = due == null ? options.idleRecheck : Math.max(0, due - this.init.now())
      }
      await new Promise<void>(resolve => {
        const cancel = delay == null ? () => {} : this.init.schedule(delay, () => { waker.wake() })
        const onAbort = (): void => { waker.wake() }
        signal.addEventListener('abort', onAbort, { once: true })
        waker.wake = () => {
          waker.wake = () => {}
          cancel()
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
      })
    }
    await Promise.allSettled(running)
  }

  /** Agents and protocols of these peers, from what identify left in the peer store. */
  async census (peers: Iterable<CompactPeer>): Promise<IdentifyCensus> {
    const census: IdentifyCensus = { agents: {}, protocols: {} }
    for (const peer of peers) {
      const stored = await this.init.peerStore.get(expand(peer).peerId).catch(() => undefined)
      const agent = stored?.metadata.get('AgentVersion')
      const name = agent == null ? 'unknown' : uint8ArrayToString(agent)
      census.agents[name] = (census.agents[name] ?? 0) + 1
      for (const protocol of stored?.protocols ?? []) {
        census.protocols[protocol] = (census.protocols[protocol] ?? 0) + 1
      }
    }
    return census
  }

  /** One visit: FIND_NODE per bucket depth until the visit has heard enough, within the visit timeout. */
  private async visit (crawl: Crawl<CompactPeer>, known: CompactPeer, options: CrawlRunOptions): Promise<void> {
    const { init } = this
    const visit = crawl.visit(known)
    const peer = expand(known)
    const wasConnected = init.connectionManager.getConnections(peer.peerId).length > 0
    const limit = deadline(init, init.visitTimeout, `the crawl visit of ${peer.id} took more than ${init.visitTimeout} ms`, options.signal)
    // the first request connects: when it is not out by then, a peer that answered before is
    // taken to have left (a late timer waits as long again: our own lag is not the peer's)
    const giveUp = visit.giveUpAfter(init.stall, init.visitTimeout)
    const first = new AbortController()
    const follow = (): void => { first.abort(limit.signal.reason) }
    limit.signal.addEventListener('abort', follow, { once: true })
    const cancelGiveUp = giveUp < init.visitTimeout
      ? scheduleOnTime(init, giveUp, () => { first.abort(new TimeoutError(`no connection to ${peer.id} within ${Math.round(giveUp)} ms: given up`)) })
      : () => {}
    this.visiting++
    this.peakVisiting = Math.max(this.peakVisiting, this.visiting)
    let requests = 0
    let ok = false
    try {
      do {
        requests++
        this.requests++
        const sent = init.now()
        const answer = await init.client.request(dialTarget(peer, init.connectionManager), {
          type: MessageType.FIND_NODE,
          key: init.keys.atDepth(peer.key, visit.depth)
        }, requests === 1 ? { signal: first.signal, onSent: cancelGiveUp } : { signal: limit.signal })
        ok = true
        const closer: CompactPeer[] = []
        for (const entry of answer.closer.first(init.kBucketSize)) {
          if (!entry.id.equals(init.self)) {
            closer.push(compact(dhtPeer(entry.id, inScope(init.addresses, entry.multiaddrs)), init.maxAddresses))
          }
        }
        // the stop rule counts what the peer named, also those we cannot dial; the first request
        // of a visit that was not connected paid for the connection
        if (!visit.answer(closer, init.now() - sent, requests === 1 && !wasConnected)) {
          break
        }
      } while (visit.more)
    } catch (err: any) {
      init.log.trace('crawl visit of %p ended after %d requests: %s', peer.peerId, requests, err.message)
    } finally {
      cancelGiveUp()
      limit.signal.removeEventListener('abort', follow)
      limit.clear()
      this.visiting--
    }
    if (!wasConnected && !init.keepsConnected(peer)) {
      await closeIdle(init.client, init.connectionManager, init.protocol, peer)
    }
    options.onVisit?.(visit, ok)
    // peers named with no address we may use are dropped here: the crawl could never visit them
    for (const [id, named] of visit.named) {
      if (named.addresses.length === 0) {
        visit.named.delete(id)
      }
    }
    crawl.finish(visit, ok, requests)
  }
}

/**
 * Closes the stream kept for `peer` and then its connections that carry no DHT request: a
 * connection the crawl or a bulk send opened goes once its questions are answered, unless a
 * lookup uses it meanwhile (identify's or ping's streams do not keep it).
 */
export async function closeIdle (client: Client, connectionManager: ConnectionManager, protocol: string, peer: DHTPeer): Promise<void> {
  await client.release(peer.id)
  await Promise.all(connectionManager.getConnections(peer.peerId)
    // a DHT stream still writable is someone's request (ours are closed for writing by now)
    .filter(connection => connection.streams.every(stream => stream.protocol !== protocol || stream.writeStatus !== 'writable'))
    .map(async connection => connection.close().catch(() => {})))
}
