/**
 * Peer routing over the network: the iterative FIND_NODE lookup that finds the peers closest to
 * a key, and finding one peer's addresses.
 */
import { CustomProgressEvent } from 'progress-events'
import { NotFoundError } from '../errors.ts'
import { kadId } from '../keys.ts'
import { inScope } from '../network/addresses.ts'
import { dhtPeer, dialTarget } from '../network/dht-peer.ts'
import { runLookup } from '../query/run-lookup.ts'
import { learnFromLookup, lookupSeeds } from '../query/table-lookup.ts'
import { deadline } from '../utils/abort.ts'
import { MessageType } from '../wire/codec.ts'
import type { KadId } from '../keys.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { Client } from '../network/client.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { LookupEvent, LookupOutcome } from '../query/run-lookup.ts'
import type { StallOptions } from '../query/stall.ts'
import type { RoutingTable } from '../table/routing-table.ts'
import type { Message } from '../wire/codec.ts'
import type { Logger, PeerId, PeerInfo, PeerStore, RoutingOptions } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
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

/** Options of {@link PeerRouting.lookup}. */
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

/** What peer routing needs. */
export interface PeerRoutingInit {
  self: PeerId
  table: RoutingTable<DHTPeer>
  client: Client
  connectionManager: ConnectionManager
  peerStore: PeerStore
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
  /** Told about each peer first heard of in a lookup. */
  onDiscovered?(peer: PeerInfo): void
  /** Gives an observer for each lookup that starts (asking with `type` about `target`, with `options`), if any. */
  observe?(type: MessageType, target: KadId, options: QueryOptions): LookupObserver | undefined
  /**
   * The accelerated client's start for a lookup of `target`: peers to seed it with instead of the
   * routing table's k closest, and how many to ask at once; undefined for a normal lookup.
   */
  fullView?(target: KadId, count: number): { seeds: DHTPeer[], alpha: number } | undefined
}

/** Lookups over FIND_NODE. */
export class PeerRouting {
  private readonly init: PeerRoutingInit
  private readonly selfId: string

  constructor (init: PeerRoutingInit) {
    this.init = init
    this.selfId = init.self.toString()
  }

  /**
   * Runs a lookup for `key` (raw key bytes: a peer id's multihash, a CID's multihash, a record
   * key…) and resolves to the closest peers that answered. Each peer is asked a FIND_NODE, or
   * `type` (GET_VALUE, GET_PROVIDERS), whose answers `onAnswer` sees.
   */
  async lookup (key: Uint8Array, options: QueryOptions = {}): Promise<LookupOutcome<DHTPeer>> {
    const { init } = this
    const target = kadId(key)
    const query = deadline(init.queryTimeout, `the query took more than ${init.queryTimeout} ms`, init.lifetime(), options.signal)
    const full = init.fullView?.(target, init.kBucketSize)
    const seeds = full?.seeds ?? lookupSeeds(init.table, target, init.kBucketSize)
    const observer = init.observe?.(options.type ?? MessageType.FIND_NODE, target, options)
    try {
      const outcome = await runLookup<DHTPeer>({
        target,
        alpha: full?.alpha ?? init.alpha,
        resultSize: options.resultSize ?? init.kBucketSize,
        requestTimeout: init.requestTimeout,
        stall: init.stall,
        seeds,
        signal: query.signal,
        now: Date.now,
        stopWhen: options.stopWhen,
        // of peers as close, ask those we are connected to first: no dial, no new connection
        prefer: (peer) => init.connectionManager.getConnections(peer.peerId).length > 0,
        ask: async (peer, requestSignal) => this.ask(peer, key, requestSignal, options),
        onEvent: (event) => {
          observer?.event(event)
          this.onEvent(event, options)
        }
      })
      observer?.end(outcome)
      return outcome
    } catch (err) {
      observer?.end()
      throw err
    } finally {
      query.clear()
    }
  }

  /**
   * The `k` closest peers to `key` that answered, closest first, yielded when the lookup ends.
   */
  async * getClosestPeers (key: Uint8Array, options: LookupOptions = {}): AsyncGenerator<PeerInfo> {
    const { closest } = await this.lookup(key, options)
    for (const peer of closest) {
      yield { id: peer.peerId, multiaddrs: peer.multiaddrs }
    }
  }

  /**
   * A peer's addresses: from the peer store when we are connected or know them already (unless
   * `useCache` is false), otherwise from a lookup that stops as soon as a peer lists it.
   * Throws {@link NotFoundError} when no peer knows it.
   */
  async findPeer (peerId: PeerId, options: LookupOptions = {}): Promise<PeerInfo> {
    const { init } = this
    if (peerId.equals(init.self)) {
      throw new NotFoundError('cannot look up our own peer id')
    }
    if (options.useCache !== false) {
      const known = await this.known(peerId)
      if (known != null) {
        return known
      }
    }
    if (options.useNetwork === false) {
      throw new NotFoundError(`${peerId} is not known locally`)
    }
    const wanted = peerId.toString()
    let found: Multiaddr[] | undefined
    // the whole neighbourhood of the target may be asked: the lookup stops at the first peer
    // that lists it, so the wider window only costs when the peer is not on the network
    await this.lookup(peerId.toMultihash().bytes, {
      ...options,
      stopWhen: (peer, closer) => {
        if (peer.id === wanted && peer.multiaddrs.length > 0) {
          found = peer.multiaddrs
        }
        for (const candidate of closer) {
          if (candidate.id === wanted && candidate.multiaddrs.length > 0) {
            found = candidate.multiaddrs
          }
        }
        return found != null
      }
    })
    if (found == null) {
      throw new NotFoundError(`no peer knows ${peerId}`)
    }
    return { id: peerId, multiaddrs: found }
  }

  /** Asks one peer about `key` and turns its answer into lookup candidates. */
  private async ask (peer: DHTPeer, key: Uint8Array, signal: AbortSignal, options: QueryOptions): Promise<DHTPeer[]> {
    const { init } = this
    const type = options.type ?? MessageType.FIND_NODE
    const answer = await init.client.request(dialTarget(peer, init.connectionManager), { type, key }, { signal })
    await options.onAnswer?.(peer, answer)
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

  private async known (peerId: PeerId): Promise<PeerInfo | undefined> {
    try {
      const info = await this.init.peerStore.getInfo(peerId)
      if (info.multiaddrs.length > 0) {
        return info
      }
    } catch {
      // not in the peer store
    }
    return undefined
  }

  private onEvent (event: LookupEvent<DHTPeer>, options: LookupOptions): void {
    const { init } = this
    // an answer offers the peer to the table, a failure counts against it
    learnFromLookup(init.table, event)
    switch (event.type) {
      case 'ask':
        options.onProgress?.(new CustomProgressEvent('kadmium:lookup:ask', { peer: event.peer.peerId }))
        break
      case 'answer':
        for (const peer of event.added) {
          if (peer.multiaddrs.length > 0 && !init.table.has(peer.id)) {
            init.onDiscovered?.({ id: peer.peerId, multiaddrs: peer.multiaddrs })
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
