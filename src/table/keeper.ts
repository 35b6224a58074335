/**
 * Fills and prunes the routing table from what libp2p learns: peers whose identify (or
 * identify-push) lists the protocol are DHT servers and enter it, peers whose identify no longer
 * lists it leave, addresses stay current, and a full bucket's oldest peer is checked with a
 * FIND_NODE (never the deprecated PING) before a newcomer may take its place. The table's peers
 * carry connection-manager tags that follow it (see {@link PeerTags}).
 *
 * Only identify is trusted for the protocol list: libp2p also records a protocol for a peer that
 * merely opened a stream with it, which a client-mode peer does with every request.
 */
import { clockOf, deadline } from '../clock.ts'
import { kadId } from '../keys.ts'
import { inScope } from '../network/addresses.ts'
import { dhtPeer } from '../network/dht-peer.ts'
import { MessageType } from '../wire/codec.ts'
import { addressGroups } from './diversity.ts'
import { RoutingTable } from './routing-table.ts'
import { PeerTags } from './tags.ts'
import type { Clock } from '../clock.ts'
import type { Emitter, NodeEvents } from '../events.ts'
import type { AddressScope } from '../network/addresses.ts'
import type { Client } from '../network/client.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { IdentifyResult, Libp2pEvents, Logger, PeerId, PeerStore, PeerUpdate, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What the table keeper needs; its clock is the real one unless `now` and `schedule` are given. */
export interface TableKeeperInit extends Partial<Clock> {
  /** Our own peer id. */
  self: PeerId
  events: TypedEventTarget<Libp2pEvents>
  peerStore: PeerStore
  connectionManager: ConnectionManager
  /** The protocol a peer must list in identify to enter the table. */
  protocol: string
  /** Which addresses of a peer are kept. */
  addresses: AddressScope
  /** Peers per bucket (k). */
  kBucketSize: number
  /** The diversity limits, or undefined when the filter is off. */
  diversity?: { maxPerBucket: number, maxPerTable: number }
  client: Client
  log: Logger
  /** The tag values of table peers and of our k closest (0: none), whether those keep alive, and how soon tags follow a change (ms). */
  tags: { tableTag: number, closeTag: number, keepAlive: boolean, delay: number }
  /** A table peer seen within this many ms is alive without a check. */
  freshness: number
  /** Requests a table peer may fail in a row before it leaves. */
  maxFailures: number
  /** How long a liveness check may take, in ms. */
  pingTimeout: number
  /** Where it tells that the table got its first peer (the node just joined a network). */
  channel: Emitter<Pick<NodeEvents, 'first-peer'>>
}

/** Owns the routing table and keeps it in step with libp2p. */
export class TableKeeper {
  /** The routing table. */
  readonly table: RoutingTable<DHTPeer>
  private readonly init: TableKeeperInit
  private readonly clock: Clock
  private readonly checks: Set<Promise<void>>
  private readonly tags: PeerTags
  private running?: AbortController

  constructor (init: TableKeeperInit) {
    this.init = init
    this.clock = clockOf(init)
    this.checks = new Set()
    const localKey = kadId(init.self.toMultihash().bytes)
    this.table = new RoutingTable<DHTPeer>({
      localKey,
      kBucketSize: init.kBucketSize,
      freshness: init.freshness,
      maxFailures: init.maxFailures,
      now: this.clock.now,
      onCheck: (entry) => { this.check(entry.id, entry.peer) },
      onAdd: (entry) => {
        this.tags.changed(entry.peer.peerId)
        if (this.table.size === 1) {
          init.channel.emit('first-peer', undefined)
        }
      },
      onRemove: (entry) => { this.tags.changed(entry.peer.peerId) },
      ...(init.diversity == null
        ? {}
        : { groups: (peer) => this.groups(peer), maxPerGroupPerBucket: init.diversity.maxPerBucket, maxPerGroupInTable: init.diversity.maxPerTable })
    })
    this.tags = new PeerTags({
      ...init.tags,
      peerStore: init.peerStore,
      table: this.table,
      selfKadId: localKey,
      kBucketSize: init.kBucketSize,
      log: init.log,
      ...this.clock
    })
  }

  async start (): Promise<void> {
    this.running = new AbortController()
    this.tags.start()
    this.init.events.addEventListener('peer:identify', this.onIdentify)
    this.init.events.addEventListener('peer:update', this.onPeerUpdate)
  }

  async stop (): Promise<void> {
    this.running?.abort(new Error('the DHT stopped'))
    this.init.events.removeEventListener('peer:identify', this.onIdentify)
    this.init.events.removeEventListener('peer:update', this.onPeerUpdate)
    await Promise.all([this.checksDone(), this.tags.stop()])
  }

  /** Resolves when every liveness check under way has ended. */
  async checksDone (): Promise<void> {
    while (this.checks.size > 0) {
      await Promise.all([...this.checks])
    }
  }

  /**
   * A liveness check that the spec allows: FIND_NODE for our own id (PING is deprecated).
   * Resolves whether the peer answered, or undefined when the keeper stopped first: a check cut
   * short tells nothing about the peer.
   */
  async isAlive (peer: DHTPeer): Promise<boolean | undefined> {
    const stopped = this.running?.signal
    const check = deadline(this.clock, this.init.pingTimeout, 'no answer to the liveness check', stopped)
    try {
      await this.init.client.request(peer.peerId, {
        type: MessageType.FIND_NODE,
        key: this.init.self.toMultihash().bytes
      }, { signal: check.signal })
      return true
    } catch {
      return stopped?.aborted === true ? undefined : false
    } finally {
      check.clear()
    }
  }

  /**
   * The diversity filter's groups of a peer: those of the addresses it is connected from now
   * (the table takes peers as they identify or answer us, so over a connection), or of the
   * addresses it announces when it has none.
   */
  private groups (peer: DHTPeer): string[] {
    const remote = this.init.connectionManager.getConnections(peer.peerId).map(connection => connection.remoteAddr)
    return addressGroups(remote.length > 0 ? remote : peer.multiaddrs)
  }

  /** Checks a table peer that a newcomer waits on, and tells the table the outcome, if there is one. */
  private check (id: string, peer: DHTPeer): void {
    const run = this.isAlive(peer).then(alive => {
      if (alive == null) {
        this.table.checkAbandoned(id)
      } else {
        this.table.checked(id, alive)
      }
    })
    this.checks.add(run)
    void run.finally(() => this.checks.delete(run))
  }

  /** A peer identified itself: a server enters the table, a client (or no longer a server) leaves it. */
  private readonly onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, listenAddrs } = event.detail
    if (peerId.equals(this.init.self) || this.running?.signal.aborted !== false) {
      return
    }
    const id = peerId.toString()
    if (!protocols.includes(this.init.protocol)) {
      if (this.table.remove(id)) {
        this.init.log('%p no longer serves the DHT: it left the table', peerId)
      }
      return
    }
    this.offer(peerId, listenAddrs).catch(err => { this.init.log('could not add %p to the routing table: %s', peerId, err.message) })
  }

  /** Offers a DHT server to the routing table, with the addresses the peer store has for it. */
  private async offer (peerId: PeerId, announced: Multiaddr[]): Promise<void> {
    const known = await this.init.peerStore.get(peerId).then(peer => peer.addresses.map(a => a.multiaddr), () => announced)
    const multiaddrs = inScope(this.init.addresses, known.length > 0 ? known : announced)
    this.table.add(peerId.toString(), kadId(peerId.toMultihash().bytes), dhtPeer(peerId, multiaddrs))
  }

  /** Keeps the addresses of table peers current. */
  private readonly onPeerUpdate = (event: CustomEvent<PeerUpdate>): void => {
    const { peer } = event.detail
    const entry = this.table.get(peer.id.toString())
    if (entry != null) {
      entry.peer = dhtPeer(peer.id, inScope(this.init.addresses, peer.addresses.map(a => a.multiaddr)), entry.key)
    }
  }
}
