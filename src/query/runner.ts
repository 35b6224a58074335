/**
 * The query runner: every lookup of a node over the network, whatever it asks. It starts from
 * the routing table's k closest peers (or where `start` says: the accelerated client's full
 * table), asks each peer a FIND_NODE (or a GET_VALUE or GET_PROVIDERS, whose answers the caller
 * sees), drives the lookup state machine over the node's client on the node's clock, teaches the
 * table what each step showed, and reports each step to the caller's `onProgress` and to the
 * lookup's observers (metrics, the network size).
 */
import { CustomProgressEvent } from 'progress-events'
import { clockOf, deadline } from '../clock.ts'
import { kadId } from '../keys.ts'
import { inScope } from '../network/addresses.ts'
import { dhtPeer, dialTarget } from '../network/dht-peer.ts'
import { MessageType } from '../wire/codec.ts'
import { Doubts } from './doubts.ts'
import { RoundTrips } from './round-trips.ts'
import { runLookup } from './run-lookup.ts'
import { requestDeadline, requestPhase } from './stall.ts'
import { learnFromLookup, learnFromOutcome, lookupSeeds } from './table-lookup.ts'
import type { LookupEvent, LookupOutcome } from './run-lookup.ts'
import type { StallOptions } from './stall.ts'
import type { Clock } from '../clock.ts'
import type { Emitter, NodeEvents } from '../events.ts'
import type { KadId } from '../keys.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { Client } from '../network/client.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { RoutingTable } from '../table/routing-table.ts'
import type { Message } from '../wire/codec.ts'
import type { Logger, PeerId, PeerInfo, RoutingOptions } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { ProgressEvent } from 'progress-events'

/** The progress events of a lookup, passed to `onProgress`. */
export type LookupProgressEvents =
  | ProgressEvent<'kadmium:lookup:ask', {
    /** The peer asked. */
    peer: PeerId
  }>
  | ProgressEvent<'kadmium:lookup:answer', {
    /** The peer that answered. */
    peer: PeerId
    /** The closer peers it named. */
    closer: PeerId[]
    /** The same peers, with the addresses it gave for them. */
    closerPeers: PeerInfo[]
    /** Milliseconds since the request was sent. */
    elapsed: number
  }>
  | ProgressEvent<'kadmium:lookup:stall', {
    /** The peer that is late. */
    peer: PeerId
    /** Milliseconds since the request was sent. */
    elapsed: number
  }>
  | ProgressEvent<'kadmium:lookup:fail', {
    /** The peer that failed. */
    peer: PeerId
    /** What went wrong. */
    error: Error
    /** Milliseconds since the request was sent. */
    elapsed: number
  }>

/** Options of a lookup-based call. */
export interface LookupOptions extends RoutingOptions {
  /** Told about each step as it happens. */
  onProgress?(event: LookupProgressEvents): void
}

/** Options of {@link QueryRunner.lookup}. */
export interface QueryOptions extends LookupOptions {
  /** What each peer is asked: FIND_NODE unless told otherwise. */
  type?: MessageType
  /** How many answering peers to return; k unless told otherwise. */
  resultSize?: number
  /** Sees every answer, before its closer peers join the lookup. */
  onAnswer?(peer: DHTPeer, answer: Message): void | Promise<void>
  /** Ends the lookup early when it returns true after an answer. */
  stopWhen?(peer: DHTPeer, closer: DHTPeer[]): boolean
  /** Of the peers answers name, only those it returns true for join the lookup. */
  accept?(peer: DHTPeer): boolean
}

/** Watches one lookup from its first step to its end (for metrics). */
export interface LookupObserver {
  /** Sees every step of the lookup. */
  event(event: LookupEvent<DHTPeer>): void
  /** Told once when the lookup ends: with its outcome, or without one when it threw. */
  end(outcome?: LookupOutcome<DHTPeer>): void
}

/** Makes an observer for each lookup that starts (asking with `type` about `target`, with `options`), or none. */
export type ObserveLookup = (type: MessageType, target: KadId, options: QueryOptions) => LookupObserver | undefined

/** What the query runner needs; its clock is the real one unless `now` and `schedule` are given. */
export interface QueryRunnerInit extends Partial<Clock> {
  self: PeerId
  table: RoutingTable<DHTPeer>
  client: Client
  connectionManager: ConnectionManager
  log: Logger
  kBucketSize: number
  alpha: number
  queryTimeout: number
  requestTimeout: number
  /** When a lookup request stalls (see `RunLookupInit.stall`); never when absent. */
  stall?: StallOptions
  addresses: AddressScope
  /** Aborts when the service stops. */
  lifetime(): AbortSignal
  /** Where it tells of each peer first heard of in a lookup that the table does not hold. */
  channel: Emitter<Pick<NodeEvents, 'discovered'>>
  /** Each gives an observer for every lookup that starts, or none. */
  observers: ObserveLookup[]
  /** The round trips measured by peer, shared with whoever else measures them (the crawl); its own otherwise. */
  roundTrips?: RoundTrips
  /**
   * Where a lookup of `target` starts instead of the routing table's `count` closest, and how many
   * peers it asks at once instead of α (the accelerated client's full table); undefined for the
   * usual start.
   */
  start?(target: KadId, count: number): LookupStart | undefined
}

/** Where a lookup starts: its first candidates, and how many requests it keeps in flight. */
export interface LookupStart {
  seeds: DHTPeer[]
  alpha: number
}

/**
 * Runs lookups over the network.
 *
 * @example
 * ```ts
 * const query = new QueryRunner({ self, table, client, connectionManager, log, kBucketSize: 20, alpha: 10,
 *   queryTimeout: 30_000, requestTimeout: 10_000, addresses: 'public', lifetime, channel, observers: [] })
 * const { closest } = await query.lookup(key, { signal })
 * ```
 */
export class QueryRunner {
  private readonly init: QueryRunnerInit
  private readonly clock: Clock
  private readonly selfId: string
  /** The round trips this node's requests measured, which set each request's stall deadline. */
  private readonly roundTrips: RoundTrips
  /** The peers whose last request failed or went unanswered: asked, not waited for. */
  private readonly doubts: Doubts

  constructor (init: QueryRunnerInit) {
    this.init = init
    this.clock = clockOf(init)
    this.selfId = init.self.toString()
    this.roundTrips = init.roundTrips ?? new RoundTrips()
    this.doubts = new Doubts()
  }

  /**
   * Runs a lookup for `key` (raw key bytes: a peer id's multihash, a CID's multihash, a record
   * key…) and resolves to the closest peers that answered. Each peer is asked a FIND_NODE, or
   * `type` (GET_VALUE, GET_PROVIDERS), whose answers `onAnswer` sees.
   */
  async lookup (key: Uint8Array, options: QueryOptions = {}): Promise<LookupOutcome<DHTPeer>> {
    const { init } = this
    const target = kadId(key)
    const query = deadline(this.clock, init.queryTimeout, `the query took more than ${init.queryTimeout} ms`, init.lifetime(), options.signal)
    const start = init.start?.(target, init.kBucketSize)
    const seeds = start?.seeds ?? lookupSeeds(init.table, target, init.kBucketSize)
    const type = options.type ?? MessageType.FIND_NODE
    const observers = init.observers.map(observe => observe(type, target, options)).filter(o => o != null)
    // a request that outlives the lookup teaches the table, not the caller
    let over = false
    try {
      const outcome = await runLookup<DHTPeer>({
        target,
        alpha: start?.alpha ?? init.alpha,
        resultSize: options.resultSize ?? init.kBucketSize,
        requestTimeout: init.requestTimeout,
        stall: init.stall,
        stallAfter: (peer, sent) => this.stallAfter(peer, sent),
        doubted: (peer) => this.doubts.has(peer.id),
        seeds,
        signal: query.signal,
        ...this.clock,
        stopWhen: options.stopWhen,
        // of peers as close, ask those we are connected to first: no dial, no new connection
        prefer: (peer) => init.connectionManager.getConnections(peer.peerId).length > 0,
        // one live peer more for each of the closest that failed or stalled (see LookupInit.widen)
        widen: true,
        ask: async (peer, requestSignal, sent) => this.ask(peer, key, requestSignal, options, sent, () => over),
        onEvent: (event) => {
          observers.forEach(observer => { observer.event(event) })
          this.onEvent(event, options)
        },
        // a late answer clears what the peer's silence set; a late timeout counts against it
        onLate: (event) => { learnFromLookup(init.table, event, this.doubts) },
        linger: init.lifetime()
      })
      learnFromOutcome(init.table, outcome, this.doubts)
      observers.forEach(observer => { observer.end(outcome) })
      return outcome
    } catch (err) {
      observers.forEach(observer => { observer.end() })
      throw err
    } finally {
      over = true
      query.clear()
    }
  }

  /**
   * The stall deadline of a request to `peer` from the round trips measured
   * (`requestDeadline`): undefined (the lookup's adaptive deadline) before any was.
   */
  private stallAfter (peer: DHTPeer, sent: boolean): number | undefined {
    const { init } = this
    if (init.stall == null) {
      return undefined
    }
    const phase = requestPhase(sent, init.connectionManager.getConnections(peer.peerId).length > 0)
    return requestDeadline(init.stall, this.roundTrips, peer.id, phase, init.requestTimeout)
  }

  /** Asks one peer about `key` and turns its answer into lookup candidates. */
  private async ask (peer: DHTPeer, key: Uint8Array, signal: AbortSignal, options: QueryOptions, sent: () => void, over: () => boolean): Promise<DHTPeer[]> {
    const { init } = this
    const type = options.type ?? MessageType.FIND_NODE
    let sentAt = NaN
    const askedAt = this.clock.now()
    const connections = init.connectionManager.getConnections(peer.peerId)
    const dialled = connections.length === 0
    // a connection libp2p's monitor pinged bounds the round trip of a peer we never asked
    const pinged = connections.find(connection => connection.rtt != null)?.rtt
    if (pinged != null) {
      this.roundTrips.bound(peer.id, pinged)
    }
    const answer = await init.client.request(dialTarget(peer, init.connectionManager), { type, key }, {
      signal,
      onSent: () => {
        sentAt = this.clock.now()
        if (dialled) {
          // the dial's round trips bound the peer's: a silent peer stalls at its own deadline, not the floor
          this.roundTrips.dialled(peer.id, sentAt - askedAt)
        }
        sent()
      }
    })
    this.roundTrips.observe(peer.id, this.clock.now() - sentAt)
    if (!over()) {
      // an answer after the lookup ended (it outlived it) is not the caller's
      await options.onAnswer?.(peer, answer)
    }
    const closer: DHTPeer[] = []
    // an honest answer lists at most k peers: a longer list (up to a 4 MiB frame of them) would
    // only swell the lookup
    for (const entry of answer.closer.first(init.kBucketSize)) {
      const id = entry.id.toString()
      if (id === this.selfId) {
        continue
      }
      const candidate = dhtPeer(entry.id, inScope(init.addresses, entry.multiaddrs))
      if (options.accept?.(candidate) !== false) {
        closer.push(candidate)
      }
    }
    return closer
  }

  private onEvent (event: LookupEvent<DHTPeer>, options: LookupOptions): void {
    const { init } = this
    // an answer offers the peer to the table, a failure counts against it
    learnFromLookup(init.table, event, this.doubts)
    switch (event.type) {
      case 'ask':
        options.onProgress?.(new CustomProgressEvent('kadmium:lookup:ask', { peer: event.peer.peerId }))
        break
      case 'answer':
        for (const peer of event.added) {
          if (peer.multiaddrs.length > 0 && !init.table.has(peer.id)) {
            init.channel.emit('discovered', { id: peer.peerId, multiaddrs: peer.multiaddrs })
          }
        }
        options.onProgress?.(new CustomProgressEvent('kadmium:lookup:answer', {
          peer: event.peer.peerId,
          closer: event.closer.map(p => p.peerId),
          closerPeers: event.closer.map(p => ({ id: p.peerId, multiaddrs: p.multiaddrs })),
          elapsed: event.elapsed
        }))
        break
      case 'stall':
        // late, not failed: the lookup goes on without it but takes its answer if it comes
        init.log('%p stalled after %d ms', event.peer.peerId, Math.round(event.elapsed))
        options.onProgress?.(new CustomProgressEvent('kadmium:lookup:stall', {
          peer: event.peer.peerId,
          elapsed: event.elapsed
        }))
        break
      case 'fail':
        init.log('%p failed: %s', event.peer.peerId, event.error.message)
        options.onProgress?.(new CustomProgressEvent('kadmium:lookup:fail', {
          peer: event.peer.peerId,
          error: event.error,
          elapsed: event.elapsed
        }))
        break
      default:
        break
    }
  }
}
