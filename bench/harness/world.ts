/**
 * The nodes of one implementation's network, in one process: made in index order from the seed
 * (the same peer ids and latencies for both implementations), the servers that answer, and the
 * ways nodes fall silent, leave, join and restart. Over the emulated WAN or the plain memory
 * transport. Each node has a datastore of its own, which a restart starts it again on.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { REFRESH_INTERVAL } from '../../src/constants.ts'
import { benchKey, benchNode } from '../lib/nodes.ts'
import { Random } from '../lib/random.ts'
import { drawFactors, pairRtt } from '../wan/latency.ts'
import { WanNetwork } from '../wan/transport.ts'
import type { OpContext } from './ops.ts'
import type { BenchOptions } from './report.ts'
import type { KadDHTInit } from '../../src/index.ts'
import type { BenchNode, Impl } from '../lib/nodes.ts'
import type { Datastore } from 'interface-datastore'

/** `@libp2p/kad-dht`'s self-query and table-refresh interval (its QUERY_SELF_INTERVAL, TABLE_REFRESH_INTERVAL). */
const JS_UPKEEP_INTERVAL = 5 * 60_000

export class World implements OpContext {
  readonly impl: Impl
  /** The emulated WAN (undefined over the plain memory transport). */
  readonly wan?: WanNetwork
  /** Every node made and not stopped (by {@link leave} or {@link restart}), in the order made. */
  readonly nodes: BenchNode[] = []
  /** Latency factors by index, drawn in index order from their own generator. */
  readonly factors: number[] = []
  /** Servers that answer: askers, targets and truths are drawn from them. */
  servers: BenchNode[] = []
  /** Servers that left. */
  gone = 0
  readonly opOptions: OpContext['opOptions']
  private readonly options: BenchOptions
  private readonly factorRandom: Random
  private readonly upkeepRandom: Random
  /** Nodes made so far, restarts not counted: the next node's index. */
  private made = 0
  /** Each running node's index and datastore: what it restarts from. */
  private readonly identities = new Map<BenchNode, Identity>()

  constructor (impl: Impl, options: BenchOptions) {
    this.impl = impl
    this.options = options
    this.opOptions = { coldStart: options.coldStart, countPauseMs: options.countPauseMs }
    this.wan = options.transport === 'wan' ? new WanNetwork(pairRtt(options.latency)) : undefined
    this.factorRandom = new Random(options.seed * 7_919 + 17)
    this.upkeepRandom = new Random(options.seed * 7_919 + 29)
  }

  live (): BenchNode[] {
    return this.servers
  }

  /**
   * The latency factor of node `index`: the first `nodes` (the servers built first) drawn
   * together (see `drawFactors`), later ones (clients, joiners) one by one, in index order.
   */
  factor (index: number): number {
    if (this.factors.length === 0) {
      this.factors.push(...drawFactors(this.factorRandom, this.options.nodes))
    }
    while (this.factors.length <= index) {
      this.factors.push(this.factorRandom.normal())
    }
    return this.factors[index]
  }

  /**
   * Makes and starts the next node: a server, or a client behind a NAT (it dials out; dials to
   * it hang), with kadmium's `kadmium` options besides the run's, and the latency factor of node
   * `linksOf` when given (two nodes compared with the same links). A server joins `servers` only
   * when `serve` is called (after it connected). Given an `identity`, the node of that index
   * starts again on that datastore (a restart).
   */
  async make (client = false, init: { kadmium?: KadDHTInit, linksOf?: BenchNode, identity?: Identity } = {}): Promise<BenchNode> {
    const { kadmium = {}, linksOf, identity } = init
    const index = identity?.index ?? this.made++
    const datastore = identity?.datastore ?? new MemoryDatastore()
    const privateKey = await benchKey(this.options.seed, index)
    const name = `bench-${this.options.seed}-${index}`
    const id = peerIdFromPrivateKey(privateKey).toString()
    // the factor of every index is drawn, in order, whether used or not: later nodes keep theirs
    const factor = this.factor(index)
    this.wan?.add(id, `/memory/${name}`, linksOf == null ? factor : this.factor(this.identities.get(linksOf)?.index ?? index))
    this.wan?.setReachable(id, !client)
    // Each node's periodic upkeep (kadmium's bucket refresh every 10 min, js's self-query and
    // table refresh every 5 min) runs every 0.5–1.5 × its default: nodes started within a minute
    // would otherwise all refresh at once, every 5 and 10 minutes, which no real network does
    // (its nodes started at unrelated times); the mean interval stays the default
    const upkeep = 0.5 + this.upkeepRandom.next()
    const node = await benchNode({
      impl: this.impl,
      privateKey,
      transport: 'memory',
      name,
      memoryTransport: this.wan?.transport(),
      defaults: this.options.defaults,
      // options from an older parent may lack it: libp2p's default then
      pingInterval: Number.isFinite(this.options.pingSeconds) ? this.options.pingSeconds * 1_000 : undefined,
      client,
      datastore,
      kadmium: { ...this.options.kadmium, ...kadmium, refresh: { ...this.options.kadmium?.refresh, interval: Math.round(REFRESH_INTERVAL * upkeep) } },
      js: { querySelfInterval: Math.round(JS_UPKEEP_INTERVAL * upkeep) }
    })
    if (this.impl === 'js') {
      // js's table refresh interval is no option: its refresher reads this field each time it
      // sets its next timer
      (node.services.dht as any).routingTableRefresh.refreshInterval = Math.round(JS_UPKEEP_INTERVAL * upkeep)
    }
    this.nodes.push(node)
    this.identities.set(node, { index, datastore })
    return node
  }

  serve (node: BenchNode): void {
    this.servers.push(node)
  }

  /** A node leaves: it stops, and dials to it hang from now on; it stays in others' tables. */
  async leave (node: BenchNode): Promise<void> {
    this.gone++
    await this.stop(node)
  }

  /**
   * A server restarts: it stops, stays down `downMs` (dials to it hang), and starts again with
   * the same key, address and datastore (its records, provider records, the lists of what it
   * provides and keeps, its peer store); then it dials a random live server, as a node with a
   * bootstrap list does, and serves again. Resolves to the node that runs now.
   */
  async restart (node: BenchNode, downMs: number, random: Random): Promise<BenchNode> {
    const identity = this.identities.get(node)
    if (identity == null) {
      throw new Error('only a running node made here restarts')
    }
    await this.stop(node)
    await new Promise(resolve => setTimeout(resolve, downMs))
    const again = await this.make(false, { identity })
    await again.dial(this.pick(random).getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
    this.serve(again)
    return again
  }

  /** Stops a node and forgets it (a stopped node held would be memory the run never frees). */
  private async stop (node: BenchNode): Promise<void> {
    this.servers = this.servers.filter(n => n !== node)
    const at = this.nodes.indexOf(node)
    if (at >= 0) {
      this.nodes.splice(at, 1)
    }
    this.identities.delete(node)
    this.wan?.setReachable(node.peerId.toString(), false)
    await Promise.resolve(node.stop()).catch(() => {})
  }

  /** A random server, other than the ones in `not`. */
  pick (random: Random, ...not: BenchNode[]): BenchNode {
    const from = this.servers.filter(n => !not.includes(n))
    return from[random.int(from.length)]
  }
}

/** What a node restarts from: its index (key, address, latency) and its datastore. */
interface Identity {
  index: number
  datastore: Datastore
}
