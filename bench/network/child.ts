/**
 * One N-node network with one implementation, in a child process of its own: built, settled,
 * put through the phases, and reported (see bench/network.ts).
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { benchKey, benchNode, dhtStreamsFrom, pool, tableSize } from '../lib/nodes.ts'
import { Random, randomLinks } from '../lib/random.ts'
import { mean, memory } from '../lib/stats.ts'
import { closest, findProvider, get, pings, provide, provideMany, put, settle, sleep, streams, timed, truth } from './operations.ts'
import type { ChildReport, JoinSample, NetworkBenchOptions } from './report.ts'
import type { BenchNode, Impl, KadmiumBenchNode } from '../lib/nodes.ts'
import type { Connection } from '@libp2p/interface'

/** Builds one network with one implementation, runs the phases, and reports. */
export async function child (impl: Impl, n: number, options: NetworkBenchOptions): Promise<ChildReport> {
  const began = performance.now()
  const progress = (what: string): void => {
    process.stderr.write(`  [${impl}, ${n} nodes, ${((performance.now() - began) / 1_000).toFixed(0)} s] ${what}\n`)
  }
  const random = new Random(options.seed)
  const keys = await Promise.all(Array.from({ length: n }, async (_, i) => benchKey(options.seed, i)))
  const baseline = memory()
  const nodes: BenchNode[] = []
  const startupMs: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    nodes.push(await benchNode({ impl, privateKey: keys[i], transport: 'memory', name: `bench-${options.seed}-${i}`, defaults: options.defaults }))
    startupMs.push(performance.now() - t)
  }
  const started = memory()
  progress('nodes started; dialling')

  const formed = await formNetwork(nodes, options, random)
  progress('tables still; self-lookups')
  const t = performance.now()
  const buildStreams0 = streams()
  const buildPings0 = pings()
  let phaseEnd = performance.now() + options.phaseMinutes * 60_000
  let selfLookups = 0
  await pool(nodes, 4, async (node) => {
    if (performance.now() < phaseEnd) {
      await closest(node, impl, node.peerId.toMultihash().bytes).catch(() => {})
      selfLookups++
    }
  })
  const selfLookupMs = performance.now() - t
  await settle(nodes)
  const settleMs = performance.now() - t
  const buildStreams = streams() - buildStreams0
  const buildPings = pings() - buildPings0
  // background traffic while nobody asks anything
  const idle0 = streams()
  const cpu0 = process.cpuUsage()
  await sleep(2_000)
  const idleStreamsPerSecond = (streams() - idle0) / 2
  const idleCpu = process.cpuUsage(cpu0)
  const sizes = nodes.map(tableSize)
  progress('settled')

  const report: ChildReport = {
    impl,
    nodes: n,
    startupMs,
    ...formed,
    settleMs,
    selfLookupMs,
    selfLookups,
    buildStreams,
    buildPings,
    idleStreamsPerSecond,
    // microseconds over the 2 s: the share of one core
    idleCpuShare: (idleCpu.user + idleCpu.system) / 2_000_000,
    tableMean: mean(sizes),
    tableMin: Math.min(...sizes),
    rssPerNodeStarted: (started.rss - baseline.rss) / n,
    heapPerNodeStarted: (started.heap - baseline.heap) / n,
    rssPerNodeSettled: 0,
    heapPerNodeSettled: 0,
    lookups: [],
    values: [],
    providers: [],
    joins: []
  }

  if (options.phases.includes('lookup')) {
    progress('lookups')
    phaseEnd = performance.now() + options.phaseMinutes * 60_000
    for (let i = 0; i < options.lookups && performance.now() < phaseEnd; i++) {
      const from = nodes[random.int(n)]
      const key = random.bytes(32)
      const s = streams()
      const p = pings()
      const t0 = performance.now()
      const result = await closest(from, impl, key).catch((err: Error) => ({ ids: [], sent: NaN, asked: new Set<string>(), errors: [`the lookup failed: ${err.name}`] }))
      const elapsed = performance.now() - t0
      const streamCount = streams() - s
      const pingCount = pings() - p
      // the same lookup again at once: the connections it needs are open now
      const t1 = performance.now()
      await closest(from, impl, key).catch(() => {})
      const warmMs = performance.now() - t1
      const want = truth(nodes, key, from)
      report.lookups.push({
        ms: elapsed,
        warmMs,
        sent: result.sent,
        failed: result.errors.length,
        errors: result.errors.slice(0, 5),
        distinct: result.asked.size,
        streams: streamCount,
        pings: pingCount,
        accuracy: result.ids.filter(id => want.has(id)).length / want.size,
        returned: result.ids.length
      })
    }
  }
  if (options.phases.includes('values')) {
    progress('values')
    phaseEnd = performance.now() + options.phaseMinutes * 60_000
    for (let i = 0; i < options.ops && performance.now() < phaseEnd; i++) {
      const key = new TextEncoder().encode(`/bench/${options.seed}-${i}-${Array.from(random.bytes(8), b => b.toString(16)).join('')}`)
      const value = random.bytes(100)
      const writer = nodes[random.int(n)]
      const reader = nodes[random.int(n)]
      const w = await timed(async () => put(writer, impl, key, value))
      const r = await timed(async () => get(reader, impl, key))
      const got = r.value as Uint8Array | undefined
      report.values.push({
        firstMs: w.ms,
        firstStreams: w.streams,
        firstOk: w.ok,
        secondMs: r.ms,
        secondStreams: r.streams,
        secondOk: r.ok && got != null && got.length === value.length && got.every((b, j) => b === value[j])
      })
    }
  }
  if (options.phases.includes('providers')) {
    progress('providers')
    phaseEnd = performance.now() + options.phaseMinutes * 60_000
    for (let i = 0; i < options.ops && performance.now() < phaseEnd; i++) {
      const cid = CID.createV1(0x55, await sha256.digest(random.bytes(32)))
      const provider = nodes[random.int(n)]
      let seeker = nodes[random.int(n)]
      if (seeker === provider) {
        seeker = nodes[(nodes.indexOf(provider) + 1) % n]
      }
      const w = await timed(async () => provide(provider, impl, cid))
      const r = await timed(async () => findProvider(seeker, impl, cid))
      report.providers.push({
        firstMs: w.ms,
        firstStreams: w.streams,
        firstOk: w.ok,
        secondMs: r.ms,
        secondStreams: r.streams,
        secondOk: r.ok && r.value === provider.peerId.toString()
      })
    }
  }
  if (options.phases.includes('batch')) {
    progress('batch')
    Object.assign(report, await batchPhase(nodes, impl, options, random))
  }
  if (options.phases.includes('join')) {
    progress('joins')
    for (let j = 0; j < options.joins; j++) {
      report.joins.push(await joinOne(nodes, impl, options, random, j))
    }
  }
  progress('done')
  const settled = memory()
  report.rssPerNodeSettled = (settled.rss - baseline.rss) / n
  report.heapPerNodeSettled = (settled.heap - baseline.heap) / n
  await Promise.all(nodes.map(async node => { await node.stop()?.catch(() => {}) }))
  return report
}

/**
 * One random node provides `options.batch` CIDs one `provide` after another and (kadmium)
 * `options.batch` others with one `provideMany`; a random other node then looks for five of each.
 */
async function batchPhase (nodes: BenchNode[], impl: Impl, options: NetworkBenchOptions, random: Random): Promise<Pick<ChildReport, 'provideEach' | 'provideMany'>> {
  const n = nodes.length
  const provider = nodes[random.int(n)]
  const cidsOf = async (label: string): Promise<CID[]> => Promise.all(Array.from({ length: options.batch }, async (_, i) => CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`${options.seed}-${label}-${i}`)))))
  const check = async (cids: CID[], checked: number): Promise<number> => {
    let found = 0
    for (const cid of cids.slice(0, checked)) {
      let seeker = nodes[random.int(n)]
      if (seeker === provider) {
        seeker = nodes[(nodes.indexOf(provider) + 1) % n]
      }
      found += await findProvider(seeker, impl, cid).then(id => id === provider.peerId.toString() ? 1 : 0, () => 0)
    }
    return found
  }
  const out: Pick<ChildReport, 'provideEach' | 'provideMany'> = {}
  const each = await cidsOf('each')
  const e = await timed(async () => {
    let provided = 0
    for (const cid of each) {
      provided += await provide(provider, impl, cid).then(() => 1, () => 0)
    }
    return provided
  })
  out.provideEach = { cids: each.length, ms: e.ms, streams: e.streams, provided: e.value ?? 0, found: await check(each, 5), checked: Math.min(5, each.length) }
  if (impl === 'kadmium') {
    const many = await cidsOf('many')
    const m = await timed(async () => provideMany(provider as KadmiumBenchNode, many))
    out.provideMany = { cids: many.length, ms: m.ms, streams: m.streams, provided: m.value ?? 0, found: await check(many, 5), checked: Math.min(5, many.length) }
  }
  return out
}

/**
 * Dials the topology, the same for both implementations (each node dials `degree` others from a
 * seeded draw, 8 dials at a time), and waits until the tables are still.
 */
async function formNetwork (nodes: BenchNode[], options: NetworkBenchOptions, random: Random): Promise<Pick<ChildReport, 'dialMs' | 'dialFailures' | 'connectMs' | 'connectStreams' | 'connectionsPerNode'>> {
  const n = nodes.length
  const links = randomLinks(n, options.degree, random)
  const t = performance.now()
  const streams0 = streams()
  let dialFailures = 0
  await pool(links, 8, async ([a, b]) => {
    await nodes[a].dial(nodes[b].getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => { dialFailures++ })
  })
  const dialMs = performance.now() - t
  await settle(nodes)
  return {
    dialMs,
    dialFailures,
    connectMs: performance.now() - t,
    connectStreams: streams() - streams0,
    connectionsPerNode: mean(nodes.map(node => node.getConnections().length))
  }
}

/** How long a joining node is watched: requests and connections are counted over its first 20 s. */
export const JOIN_WINDOW = 20_000

/** One findPeer attempt of the join phase may take this long. */
const FIND_ATTEMPT_TIMEOUT = 5_000

/**
 * A new node joins the network through one random member, as a user's node does: it is made,
 * dials that member, and is watched for {@link JOIN_WINDOW} ms. Meanwhile a random other member
 * looks for it with findPeer (not from its cache), again and again until it is found. The node
 * stays in the network afterwards: the next one joins a network one larger.
 */
async function joinOne (nodes: BenchNode[], impl: Impl, options: NetworkBenchOptions, random: Random, j: number): Promise<JoinSample> {
  const n = nodes.length
  const newcomer = await benchNode({ impl, privateKey: await benchKey(options.seed, 1_000_000 + j), transport: 'memory', name: `bench-${options.seed}-join-${j}`, defaults: options.defaults })
  const id = newcomer.peerId.toString()
  let outbound = 0
  let inbound = 0
  newcomer.addEventListener('connection:open', (event: CustomEvent<Connection>) => {
    if (event.detail.direction === 'outbound') {
      outbound++
    } else {
      inbound++
    }
  })
  const sent0 = requestsSent(newcomer, impl)
  const streams0 = dhtStreamsFrom.get(id) ?? 0
  const member = nodes[random.int(n)]
  let finder = nodes[random.int(n)]
  if (finder === member) {
    finder = nodes[(nodes.indexOf(member) + 1) % n]
  }
  const t0 = performance.now()
  await newcomer.dial(member.getMultiaddrs(), { signal: AbortSignal.timeout(30_000) })
  let foundMs = NaN
  let attempts = 0
  while (performance.now() - t0 < JOIN_WINDOW) {
    attempts++
    try {
      await finder.peerRouting.findPeer(newcomer.peerId, { useCache: false, signal: AbortSignal.timeout(FIND_ATTEMPT_TIMEOUT) })
      foundMs = performance.now() - t0
      break
    } catch {
      await sleep(100)
    }
  }
  await sleep(Math.max(0, JOIN_WINDOW - (performance.now() - t0)))
  const streamsSent = (dhtStreamsFrom.get(id) ?? 0) - streams0
  nodes.push(newcomer)
  return {
    foundMs,
    attempts,
    // js opens one stream per request
    requests: impl === 'kadmium' ? requestsSent(newcomer, impl) - sent0 : streamsSent,
    streams: streamsSent,
    outbound,
    inbound,
    open: newcomer.getConnections().length,
    table: tableSize(newcomer)
  }
}

/** The DHT requests a kadmium node sent so far (0 for js, which does not count them). */
function requestsSent (node: BenchNode, impl: Impl): number {
  if (impl !== 'kadmium') {
    return 0
  }
  return Object.values((node as KadmiumBenchNode).services.dht.stats().outbound).reduce((a, b) => a + b, 0)
}
