/**
 * The accelerated client: a full table of every DHT server, kept by a rolling crawl, from which
 * every operation starts. A lookup is seeded with the full table's closest peers and asks all of
 * them at once: when the table is right, they answer with nobody closer and the lookup is over
 * after one round (one hop); a peer that left is replaced by the next one, a closer peer the table
 * lacked is asked as in any lookup, so the result is still the closest peers that answered. Bulk
 * provides go straight to each key's closest peers (see bulk-send.ts).
 *
 * Until the first pass of the crawl is over the full table is not used: every operation runs the
 * node's normal lookups (go's fullrt has nothing to offer until its first crawl ends, and provides
 * issued meanwhile fail).
 */
import { CustomProgressEvent } from 'progress-events'
import { deadline } from '../clock.ts'
import { inScope } from '../network/addresses.ts'
import { dialTarget } from '../network/dht-peer.ts'
import { MessageType } from '../wire/codec.ts'
import { bulkSend } from './bulk-send.ts'
import { compact, expand } from './compact-peer.ts'
import { Crawl } from './crawl.ts'
import { Crawler, closeIdle } from './crawler.ts'
import { FullTable } from './full-table.ts'
import { PrefixKeys } from './prefix-keys.ts'
import type { BulkEntry, BulkResult } from './bulk-send.ts'
import type { CompactPeer } from './compact-peer.ts'
import type { CrawlProgress, Visit } from './crawl.ts'
import type { CrawlerInit, IdentifyCensus } from './crawler.ts'
import type { KadId } from '../keys.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { RoundTrips } from '../query/round-trips.ts'
import type { LookupEvent } from '../query/run-lookup.ts'
import type { LookupObserver, LookupStart } from '../query/runner.ts'
import type { RoutingTable } from '../table/routing-table.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ProgressEvent } from 'progress-events'

/** The accelerated client's settings, resolved. */
export interface AcceleratedSettings {
  /** The rolling crawl's round, in ms. */
  crawlInterval: number
  /** Crawl visits under way at once, at most. */
  crawlConcurrency: number
  /** Servers the full table holds at most. */
  maxPeers: number
}

/** What {@link AcceleratedRouting} needs besides what the crawler does. */
export interface AcceleratedInit extends Omit<CrawlerInit, 'keys'> {
  settings: AcceleratedSettings
  /** The node's k-bucket table: where the crawl starts. */
  table: RoutingTable<DHTPeer>
  maxDepth: number
  maxFailedVisits: number
  /** A failed visit is tried again after this many ms. */
  retryDelay: number
  maxFailures: number
  idleRecheck: number
  bulkConcurrency: number
  /** Records a bulk send sends to one peer at once, at most. */
  bulkPerPeer: number
  /**
   * The node's round trips by peer, which set each lookup request's stall deadline: each crawl
   * visit that got an answer tells it the round trip it measured, so a request to any full-table
   * peer stalls after what that peer takes, not the node's typical round trip.
   */
  roundTrips: RoundTrips
  /** The longest one bulk send may take, in ms. */
  requestTimeout: number
  /** Our own addresses as we announce them, sent with our provider records. */
  selfAddresses(): Multiaddr[]
}

/** What `stats().accelerated` reports. */
export interface AcceleratedStats extends CrawlProgress {
  /** Servers in the full table. */
  peers: number
  /** Whether operations start from the full table (the first pass of the crawl is over). */
  ready: boolean
  /** Crawl visits under way now. */
  crawling: number
  /** The most crawl visits ever under way at once. */
  peakCrawling: number
  /** Servers refused because the full table was full. */
  refused: number
  /** The rolling crawl's round, in ms. */
  crawlInterval: number
  /** When the last full round of the rolling crawl ended (the first pass until one did), in ms since the epoch. */
  lastFullPass?: number
}

/** What a one-pass crawl found. */
export interface CrawlCensus extends IdentifyCensus {
  /** Servers heard of: named by another, or a starting peer. */
  found: number
  /** Servers that answered. */
  answering: number
  /** Servers that did not (unreachable, not a DHT server, or too slow). */
  unreachable: number
  /** FIND_NODE requests sent. */
  requests: number
  /** The most visits under way at once. */
  peakVisiting: number
  /** How long it took, in ms. */
  duration: number
}

/** Progress events of a crawl. */
export type CrawlProgressEvents =
  | ProgressEvent<'kadmium:crawl:visited', {
    /** The peer visited. */
    peer: PeerId
    /** Whether it answered. */
    ok: boolean
    /** The crawl so far. */
    progress: CrawlProgress
  }>

/** Options of a one-pass crawl. */
export interface CrawlOptions extends AbortOptions {
  /** Visits under way at once, at most (default 32). */
  concurrency?: number
  /** Told about each visit as it ends. */
  onProgress?(event: CrawlProgressEvents): void
}

/** The full table, its rolling crawl, and the operations' hooks into them. */
export class AcceleratedRouting {
  /** Every server the crawl found answering. */
  readonly table: FullTable<CompactPeer>
  private readonly init: AcceleratedInit
  private readonly keys = new PrefixKeys()
  private readonly crawler: Crawler
  private crawl: Crawl<CompactPeer>
  private running?: AbortController
  private loop?: Promise<void>
  private lastFullPass?: number
  /** Peers a bulk send is sending to now: the crawl leaves their connections open. */
  private readonly sending = new Map<string, number>()
  private readonly observer: LookupObserver = { event: (event) => { this.observe(event) }, end: () => {} }

  constructor (init: AcceleratedInit) {
    this.init = init
    this.table = new FullTable({ maxPeers: init.settings.maxPeers, maxFailures: init.maxFailures })
    this.crawler = this.makeCrawler()
    this.crawl = this.makeCrawl(init.settings.crawlInterval)
  }

  /** Whether operations start from the full table. */
  get ready (): boolean {
    return this.crawl.progress().firstPassDone && this.table.size > 0
  }

  /** Starts the rolling crawl (in the background). */
  start (): void {
    if (this.running != null) {
      return
    }
    const running = new AbortController()
    this.running = running
    this.crawl = this.makeCrawl(this.init.settings.crawlInterval)
    let rounds = 0
    this.loop = this.crawler.run(this.crawl, {
      concurrency: this.init.settings.crawlConcurrency,
      signal: running.signal,
      idleRecheck: this.init.idleRecheck,
      onIdle: () => {
        let progress = this.crawl.progress()
        if (!progress.firstPassDone || progress.known === 0) {
          // the routing table's peers start the crawl, and restart it after it lost everyone
          this.crawl.offer([...this.init.table.entries()].map(entry => compact(entry.peer, this.init.maxAddresses)))
          progress = this.crawl.progress()
        }
        if (progress.rounds > rounds || (this.lastFullPass == null && progress.firstPassEndedAt != null)) {
          rounds = progress.rounds
          this.lastFullPass = this.init.now()
        }
      },
      onVisit: (visit, ok) => { this.learn(visit, ok) }
    }).catch(err => { this.init.log.error('the rolling crawl failed: %s', err.message) })
  }

  /** Stops the rolling crawl and waits for its visits to end. */
  async stop (): Promise<void> {
    this.running?.abort()
    this.running = undefined
    await this.loop
  }

  /**
   * The peers a lookup for `target` starts from, and how many it asks at once: the full table's
   * `2 × count` closest, `count` at once; undefined until the table is ready.
   */
  seeds (target: KadId, count: number): LookupStart | undefined {
    if (!this.ready) {
      return undefined
    }
    return {
      seeds: this.table.closest(target, 2 * count).map(entry => expand(entry.peer)),
      alpha: count
    }
  }

  /** An observer of a lookup about to start, while the rolling crawl runs (see {@link observe}). */
  observeLookup (): LookupObserver | undefined {
    return this.running == null ? undefined : this.observer
  }

  /**
   * Tells the full table and the crawl what a lookup step showed: an answer refreshes the peer's
   * entry (a peer enters the table only through a crawl visit), a failure counts against it, a
   * full-table peer that failed or stalled is visited again soon, and peers the crawl never
   * heard of are visited soon.
   */
  private observe (event: LookupEvent<DHTPeer>): void {
    if (this.running == null) {
      return
    }
    if (event.type === 'answer') {
      if (this.table.has(event.peer.id)) {
        this.table.answered(compact(event.peer, this.init.maxAddresses), this.init.now())
      }
      this.crawl.offer(event.closer.filter(peer => peer.multiaddrs.length > 0 && !this.crawl.has(peer.id)).map(peer => compact(peer, this.init.maxAddresses)))
    } else if ((event.type === 'fail' || event.type === 'stall') && this.table.has(event.peer.id)) {
      this.crawl.soon(event.peer.id)
      if (event.type === 'fail') {
        this.table.failed(event.peer.id)
      }
    }
  }

  /** Sends each key's provider record to its k closest peers of the full table (see bulk-send.ts). */
  async * provideMany<T> (entries: Iterable<BulkEntry<T>>, options: AbortOptions = {}): AsyncGenerator<BulkResult<T>> {
    const { init } = this
    const providers = [{ id: init.self, multiaddrs: inScope(init.addresses, init.selfAddresses()) }]
    yield * bulkSend(entries, {
      table: this.table,
      prepare: expand,
      kBucketSize: init.kBucketSize,
      concurrency: init.bulkConcurrency,
      perPeer: init.bulkPerPeer,
      send: async (peer, key, sendOptions) => {
        const limit = deadline(init, init.requestTimeout, `sending to ${peer.id} took more than ${init.requestTimeout} ms`, sendOptions.signal)
        try {
          await init.client.send(dialTarget(peer, init.connectionManager), { type: MessageType.ADD_PROVIDER, key, providers }, { signal: limit.signal, confirm: true })
        } finally {
          limit.clear()
        }
      },
      connected: (peer) => init.connectionManager.getConnections(peer.peerId).length > 0,
      busy: (peer, busy) => {
        const count = (this.sending.get(peer.id) ?? 0) + (busy ? 1 : -1)
        if (count > 0) {
          this.sending.set(peer.id, count)
        } else {
          this.sending.delete(peer.id)
        }
      },
      release: async (peer) => {
        if (!init.keepsConnected(peer)) {
          await closeIdle(init.client, init.connectionManager, init.protocol, peer)
        }
      }
    }, options)
  }

  /** The full table and the crawl, for `stats().accelerated`. */
  stats (): AcceleratedStats {
    return {
      ...this.crawl.progress(),
      peers: this.table.size,
      ready: this.ready,
      crawling: this.crawler.visiting,
      peakCrawling: this.crawler.peakVisiting,
      refused: this.table.refused,
      crawlInterval: this.init.settings.crawlInterval,
      lastFullPass: this.lastFullPass
    }
  }

  /** Runs one crawl pass from `start` to its end and says what it found. */
  async census (start: DHTPeer[], options: CrawlOptions = {}): Promise<CrawlCensus> {
    const began = this.init.now()
    const crawler = this.makeCrawler()
    const crawl = this.makeCrawl(0)
    crawl.offer(start.map(peer => compact(peer, this.init.maxAddresses)))
    const answering: CompactPeer[] = []
    await crawler.run(crawl, {
      concurrency: options.concurrency ?? this.init.settings.crawlConcurrency,
      signal: options.signal ?? new AbortController().signal,
      onVisit: (visit, ok) => {
        if (ok) {
          answering.push(visit.peer)
        }
        if (this.running != null) {
          // the rolling crawl runs: what this pass learnt is as good
          this.learn(visit, ok)
        }
        options.onProgress?.(new CustomProgressEvent('kadmium:crawl:visited', { peer: expand(visit.peer).peerId, ok, progress: crawl.progress() }))
      }
    })
    options.signal?.throwIfAborted()
    const progress = crawl.progress()
    return {
      found: progress.known,
      answering: progress.answering,
      unreachable: progress.unreachable,
      requests: crawler.requests,
      peakVisiting: crawler.peakVisiting,
      duration: this.init.now() - began,
      ...await crawler.census(answering)
    }
  }

  /** A visit's outcome, told to the full table, and the round trip it measured to the node's round trips. */
  private learn (visit: Visit<CompactPeer>, ok: boolean): void {
    if (ok) {
      this.table.answered(visit.peer, this.init.now())
      this.init.roundTrips.observe(visit.peer.id, visit.roundTrip)
    } else {
      this.table.remove(visit.peer.id)
    }
  }

  private makeCrawler (): Crawler {
    return new Crawler({
      ...this.init,
      keys: this.keys,
      keepsConnected: (peer) => this.sending.has(peer.id) || this.init.keepsConnected(peer)
    })
  }

  private makeCrawl (interval: number): Crawl<CompactPeer> {
    const { init } = this
    return new Crawl<CompactPeer>({
      kBucketSize: init.kBucketSize,
      maxDepth: init.maxDepth,
      interval,
      maxKnown: 2 * init.settings.maxPeers,
      maxFailedVisits: init.maxFailedVisits,
      retryDelay: interval > 0 ? init.retryDelay : 0,
      now: init.now
    })
  }
}
