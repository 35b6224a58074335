/**
 * What one operation asked and heard, recorded from either implementation's events: kadmium's
 * progress events (`kadmium:lookup:ask`, `kadmium:lookup:answer` with the closer peers…) and
 * `@libp2p/kad-dht`'s query events (SEND_QUERY, PEER_RESPONSE with the closer peers…). It is the
 * input of the operation's floor (see floor.ts).
 */
import { EventTypes } from '@libp2p/kad-dht'
import { dhtStreamsFrom } from '../lib/nodes.ts'
import type { BenchNode, Impl, KadmiumBenchNode } from '../lib/nodes.ts'
import type { Referrals } from '../wan/floor.ts'
import type { WanNetwork } from '../wan/transport.ts'
import type { Connection, Libp2p } from '@libp2p/interface'

/** Messages that make a lookup: their answers list closer peers. */
const LOOKUP_MESSAGES = new Set(['FIND_NODE', 'GET_VALUE', 'GET_PROVIDERS'])
/** Messages that store something. */
const STORE_MESSAGES = new Set(['PUT_VALUE', 'ADD_PROVIDER'])

/** The peer ids in a node's routing table (either implementation). */
export function tablePeers (node: BenchNode, impl: Impl): string[] {
  if (impl === 'kadmium') {
    return (node as KadmiumBenchNode).services.dht.routingTableInfo().flatMap(bucket => bucket.peers.map(entry => entry.id))
  }
  // @libp2p/kad-dht's routing table is public on the class, not on the exported interface
  return [...(node.services.dht as any).routingTable.kb.toIterable()].map((peer: any) => peer.peerId.toString())
}

/**
 * The DHT requests a node has sent so far: kadmium's own count (it keeps an outbound stream for
 * the next request to the same peer, so its streams undercount), js's DHT streams opened at other
 * nodes (it opens one per request).
 */
export function requestsSent (node: BenchNode, impl: Impl): number {
  if (impl === 'kadmium') {
    return Object.values((node as KadmiumBenchNode).services.dht.stats().outbound).reduce((a, b) => a + b, 0)
  }
  return dhtStreamsFrom.get(node.peerId.toString()) ?? 0
}

/** Records one operation at one node: feed it every event, then call `end()`. */
export class Trace {
  readonly ref: Referrals
  /** Peers that answered with what the operation looks for (a value, a provider). */
  readonly holders = new Set<string>()
  /** Peers a record was stored on (put) or sent to (provide). */
  readonly stored = new Set<string>()
  /** The peers a closest-peers query returned (js's FINAL_PEER; kadmium's come from the call). */
  readonly final: string[] = []
  /** Requests that failed (an error from the peer, a timeout, a dial that failed). */
  failed = 0
  /** Why, for the first few. */
  readonly failures: string[] = []
  /** Peers the node started dialling while the operation ran: the asks that needed a new connection. */
  readonly dialled = new Set<string>()
  /** Connections the node opened (outbound) while the operation ran. */
  opened = 0
  private readonly listed = new Set<string>()
  private readonly node: Libp2p
  private readonly onOpen: (event: CustomEvent<Connection>) => void
  private readonly unwatch?: () => void

  /**
   * Starts recording at `node`. `wan` tells which peers it starts dialling from now on: a dial
   * started before (libp2p reconnecting a kept-alive peer) is not charged to the operation.
   */
  constructor (node: BenchNode, impl: Impl, wan?: WanNetwork) {
    this.node = node as Libp2p
    this.ref = { known: new Set(tablePeers(node, impl)), asked: new Map(), answers: new Map() }
    const self = node.peerId.toString()
    this.unwatch = wan?.watchDials((from, to) => {
      if (from === self) {
        this.dialled.add(to)
      }
    })
    this.onOpen = (event) => {
      this.opened += event.detail.direction === 'outbound' ? 1 : 0
    }
    this.node.addEventListener('connection:open', this.onOpen)
  }

  /** One event of either implementation (a kadmium progress event or a js query event). */
  event (event: any): void {
    if (typeof event.type === 'string') {
      this.kadmium(event.type, event.detail)
    } else {
      this.js(event)
    }
  }

  /** Stops listening; marks which asks needed a new connection. */
  end (): this {
    this.node.removeEventListener('connection:open', this.onOpen)
    this.unwatch?.()
    for (const [peer, ask] of this.ref.asked) {
      ask.cold = this.dialled.has(peer)
    }
    // a peer that answered with a value or a provider answered, even when the operation ended
    // on that answer before the lookup reported it
    for (const peer of this.holders) {
      if (this.ref.asked.has(peer) && !this.ref.answers.has(peer)) {
        this.ref.answers.set(peer, [])
      }
    }
    return this
  }

  private fail (error: Error | undefined): void {
    this.failed++
    if (this.failures.length < 3) {
      this.failures.push(`${error?.name}: ${error?.message}`.slice(0, 120))
    }
  }

  private ask (peer: string): void {
    if (!this.listed.has(peer)) {
      // asked before any answer named it: it was known at the start
      this.ref.known.add(peer)
    }
    if (!this.ref.asked.has(peer)) {
      this.ref.asked.set(peer, { cold: false })
    }
  }

  private answer (peer: string, closer: string[]): void {
    this.ref.answers.set(peer, [...(this.ref.answers.get(peer) ?? []), ...closer])
    closer.forEach(p => this.listed.add(p))
  }

  private kadmium (type: string, detail: any): void {
    switch (type) {
      case 'kadmium:lookup:ask': this.ask(detail.peer.toString()); break
      case 'kadmium:lookup:answer': this.answer(detail.peer.toString(), detail.closer.map(String)); break
      case 'kadmium:lookup:fail': this.fail(detail.error); break
      case 'kadmium:get:value': this.holders.add(detail.peer.toString()); break
      case 'kadmium:providers:found': if (detail.from != null) { this.holders.add(detail.from.toString()) } break
      case 'kadmium:put:stored':
      case 'kadmium:provide:sent': this.stored.add(detail.peer.toString()); break
      case 'kadmium:put:failed':
      case 'kadmium:provide:failed': this.fail(detail.error); break
      default: break
    }
  }

  private js (event: any): void {
    switch (event.type) {
      case EventTypes.SEND_QUERY:
        if (LOOKUP_MESSAGES.has(event.messageName)) {
          this.ask(event.to.toString())
        }
        break
      case EventTypes.PEER_RESPONSE:
        if (LOOKUP_MESSAGES.has(event.messageName)) {
          this.answer(event.from.toString(), event.closer.map((p: any) => p.id.toString()))
        } else if (STORE_MESSAGES.has(event.messageName)) {
          this.stored.add(event.from.toString())
        }
        break
      case EventTypes.VALUE:
      case EventTypes.PROVIDER: this.holders.add(event.from.toString()); break
      case EventTypes.FINAL_PEER: this.final.push(event.peer.id.toString()); break
      case EventTypes.QUERY_ERROR: this.fail(event.error); break
      default: break
    }
  }
}
