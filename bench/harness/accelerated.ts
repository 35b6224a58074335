/**
 * The `accelerated` phase: DHT clients join the healthy network, each through `degree` random
 * servers, and ask the battery of operations; then many CIDs are provided from one of them.
 *
 * In kadmium's child the clients come in two kinds, made and dialled the same way: normal ones
 * (kadmium's normal mode, the same battery first) and accelerated ones (`accelerated` on), each
 * timed from its first connection until the first pass of its crawl was over (its dials, visits
 * and connections at once counted meanwhile). The CIDs are provided three ways: by an
 * accelerated client's `provideMany` (records straight to each key's closest in its full
 * table), by a normal client's `provideMany` (kadmium's batch provide: lookups per keyspace
 * region), and by a normal client's `provide` of each (optimistic provides, `BULK_PROVIDES_AT_ONCE`
 * at once). In js's child the clients are `@libp2p/kad-dht` clients and the CIDs are provided
 * with its `provide` of each, as many at once.
 *
 * Each way starts with no connection open (as every operation of the bench). Where each CID's
 * record landed is read from every live server's store afterwards, against its true 20 closest
 * live servers.
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { pool } from '../lib/nodes.ts'
import { cpuMsSince } from '../lib/stats.ts'
import { provide, provideMany, sleep, truth } from './operations.ts'
import { coldStart } from './ops.ts'
import { requestsSent } from './trace.ts'
import type { Progress } from './child.ts'
import type { PhaseResult } from './phases.ts'
import type { AcceleratedPhase, BenchOptions, BulkSample, CrawlSample, Op, OpSample } from './report.ts'
import type { World } from './world.ts'
import type { KadDHTInit } from '../../src/index.ts'
import type { BenchNode, KadmiumBenchNode } from '../lib/nodes.ts'
import type { Random } from '../lib/random.ts'

/** Crawl visits at once the accelerated clients are given (kadmium's default, CRAWL_CONCURRENCY). */
const CRAWL_CONCURRENCY = 32

/** The longest a first crawl may take (run's clock) before the client is used anyway. */
const FIRST_CRAWL_LIMIT = 30 * 60_000

/** Provides under way at once when CIDs are provided one `provide` each. */
export const BULK_PROVIDES_AT_ONCE = 16

/** How long after a bulk provide ended the servers' stores are read (sends left under way land). */
const LANDING_PAUSE = 5_000

type Ops = Partial<Record<Op, OpSample[]>>

/** Counts a node's open connections as they open and close, and the most at once. */
class ConnectionCount {
  now: number
  peak: number
  opened = 0
  private readonly node: BenchNode
  private readonly onOpen = (): void => {
    this.now++
    this.opened++
    this.peak = Math.max(this.peak, this.now)
  }

  private readonly onClose = (): void => { this.now-- }

  constructor (node: BenchNode) {
    this.node = node
    this.now = node.getConnections().length
    this.peak = this.now
    node.addEventListener('connection:open', this.onOpen)
    node.addEventListener('connection:close', this.onClose)
  }

  stop (): void {
    this.node.removeEventListener('connection:open', this.onOpen)
    this.node.removeEventListener('connection:close', this.onClose)
  }
}

/**
 * Runs the phase: `battery` asks the operations from the clients given. The phase's operations
 * are the accelerated clients' in kadmium's child, the js clients' in js's.
 */
export async function acceleratedPhase (world: World, options: BenchOptions, random: Random, progress: Progress, battery: (clients: BenchNode[]) => Promise<Ops>): Promise<PhaseResult> {
  const count = Math.max(1, options.accelerated)
  const made: BenchNode[] = []
  const client = async (kadmium: KadDHTInit = {}, linksOf?: BenchNode): Promise<BenchNode> => {
    const node = await world.make(true, { kadmium, linksOf })
    made.push(node)
    return node
  }
  // clients in the node's normal mode, joined one after another (js's, or kadmium's)
  const normalClients = async (): Promise<BenchNode[]> => {
    const clients: BenchNode[] = []
    for (let i = 0; i < count; i++) {
      const node = await client()
      await join(world, node, options, random)
      clients.push(node)
    }
    return clients
  }
  try {
    if (world.impl === 'js') {
      const clients = await normalClients()
      const ops = await battery(clients)
      const bulk = options.bulk > 0 ? [await bulkProvide(world, clients[0], 'provides', await cidsOf(`${options.seed}-bulk-each`, options.bulk), progress)] : []
      return {
        note: `${count} @libp2p/kad-dht clients, each connected to ${options.degree} random servers, ask; ${options.bulk} CIDs provided one provide each, ${BULK_PROVIDES_AT_ONCE} at once`,
        ops,
        accelerated: { crawls: [], bulk, maxConnections: maxConnections(options), crawlConcurrency: CRAWL_CONCURRENCY }
      }
    }
    progress('normal clients')
    const normal = await normalClients()
    const normalOps = await battery(normal)
    const accelerated: BenchNode[] = []
    const crawls: CrawlSample[] = []
    for (let i = 0; i < count; i++) {
      progress(`accelerated client ${i + 1}: its first crawl`)
      // the links of normal client i: the two kinds compared over the same latencies
      const node = await client({ accelerated: { crawlConcurrency: CRAWL_CONCURRENCY } }, normal[i])
      crawls.push(await firstCrawl(world, node as KadmiumBenchNode, options, random))
      accelerated.push(node)
    }
    progress('accelerated clients ask')
    const ops = await battery(accelerated)
    const bulk: BulkSample[] = []
    if (options.bulk > 0) {
      bulk.push(await bulkProvide(world, accelerated[0], 'accelerated provideMany', await cidsOf(`${options.seed}-bulk-accelerated`, options.bulk), progress))
      bulk.push(await bulkProvide(world, normal[0], 'provideMany', await cidsOf(`${options.seed}-bulk-many`, options.bulk), progress))
      bulk.push(await bulkProvide(world, normal[0], 'provides', await cidsOf(`${options.seed}-bulk-each`, options.bulk), progress))
    }
    const phase: AcceleratedPhase = { crawls, bulk, normal: normalOps, maxConnections: maxConnections(options), crawlConcurrency: CRAWL_CONCURRENCY }
    return {
      note: `${count} kadmium clients in normal mode, then ${count} accelerated ones (${CRAWL_CONCURRENCY} crawl visits at once), each connected to ${options.degree} random servers, ask; ${options.bulk} CIDs provided three ways`,
      ops,
      accelerated: phase
    }
  } finally {
    await Promise.all(made.map(async node => { await Promise.resolve(node.stop()).catch(() => {}) }))
  }
}

/** The clients' connection limit: libp2p's default (connectionManager.maxConnections) with `defaults`, else the bench's (bench/lib/nodes.ts). */
function maxConnections (options: BenchOptions): number {
  return options.defaults ? 300 : 2_000
}

/** A client connects to `degree` random servers, one after another, and has its first refresh or self-query. */
async function join (world: World, node: BenchNode, options: BenchOptions, random: Random): Promise<void> {
  for (const i of random.sample(world.servers.length, options.degree)) {
    await node.dial(world.servers[i].getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
  }
  if (world.impl === 'js' || (node as KadmiumBenchNode).services.dht.stats().accelerated == null) {
    await sleep(5_000)
  }
}

/** An accelerated client joins, and its first crawl is watched until its full table is in use. */
async function firstCrawl (world: World, node: KadmiumBenchNode, options: BenchOptions, random: Random): Promise<CrawlSample> {
  const id = node.peerId.toString()
  const connections = new ConnectionCount(node)
  const cpu = process.cpuUsage()
  const started = performance.now()
  await join(world, node, options, random)
  const dht = node.services.dht
  while (dht.stats().accelerated?.ready !== true && performance.now() - started < FIRST_CRAWL_LIMIT) {
    await sleep(100)
  }
  const stats = dht.stats().accelerated
  connections.stop()
  return {
    ms: performance.now() - started,
    requests: stats?.requests ?? NaN,
    servers: stats?.peers ?? NaN,
    live: world.servers.length,
    peakVisits: stats?.peakCrawling ?? NaN,
    peakDials: world.wan?.dials.get(id)?.peak ?? NaN,
    peakConnections: connections.peak,
    opened: connections.opened,
    cpuMs: cpuMsSince(cpu)
  }
}

/** Provides `cids` from `node` one way, and reads where the records landed. */
async function bulkProvide (world: World, node: BenchNode, how: BulkSample['how'], cids: CID[], progress: Progress): Promise<BulkSample> {
  progress(`${cids.length} CIDs: ${how}`)
  if (world.opOptions.coldStart) {
    await coldStart(node)
  }
  const connections = new ConnectionCount(node)
  const sent = requestsSent(node, world.impl)
  const cpu = process.cpuUsage()
  const started = performance.now()
  let provided = 0
  if (how === 'provides') {
    await pool(cids, BULK_PROVIDES_AT_ONCE, async (cid) => {
      const ok = await provide(node, world.impl, cid).then(() => true, () => false)
      provided += ok ? 1 : 0
    })
  } else {
    provided = await provideMany(node as KadmiumBenchNode, cids)
  }
  const ms = performance.now() - started
  const cpuMs = cpuMsSince(cpu)
  await sleep(LANDING_PAUSE)
  connections.stop()
  return { how, cids: cids.length, provided, ms, requests: requestsSent(node, world.impl) - sent, connections: connections.opened, peakConnections: connections.peak, cpuMs, ...await landing(world, node, cids) }
}

/** Where the records of `cids` from `provider` landed, against each CID's true 20 closest live servers. */
async function landing (world: World, provider: BenchNode, cids: CID[]): Promise<Pick<BulkSample, 'exact' | 'reached' | 'strays'>> {
  const held = new Map<string, Set<string>>(cids.map(cid => [cid.toString(), new Set()]))
  for (const server of world.live()) {
    // each implementation's own store, which neither exports
    const dht = server.services.dht as any
    for (const cid of cids) {
      const holders: Array<{ equals(other: unknown): boolean }> = await (world.impl === 'kadmium'
        ? dht.layers.providerStore.get(cid.multihash.bytes)
        : dht.providers.getProviders(cid)).catch(() => [])
      if (holders.some(p => p.equals(provider.peerId))) {
        held.get(cid.toString())?.add(server.peerId.toString())
      }
    }
  }
  let exact = 0
  let reached = 0
  let strays = 0
  for (const cid of cids) {
    const want = truth(world.live(), cid.multihash.bytes, provider)
    const on = held.get(cid.toString()) ?? new Set()
    const hit = [...want].filter(id => on.has(id)).length
    exact += hit === want.size ? 1 : 0
    reached += hit / want.size
    strays += on.size - hit
  }
  return { exact: exact / cids.length, reached: reached / cids.length, strays: strays / cids.length }
}

async function cidsOf (label: string, count: number): Promise<CID[]> {
  return Promise.all(Array.from({ length: count }, async (_, i) => CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`${label}-${i}`)))))
}
