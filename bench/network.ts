/**
 * The N-node benchmarks: lookups, values and providers in a network of N real libp2p nodes in
 * one process over the in-memory transport, built once with kadmium and once with
 * `@libp2p/kad-dht` from the same keys and the same topology.
 *
 * Each implementation runs in a child process of its own (this file with `--child`), so that
 * their memory is measured apart and neither warms the other's caches. The parent prints the
 * tables side by side with ratios kadmium / js.
 *
 * How a network is built and settled, the same way for both:
 * 1. N nodes are created and started one by one (start-up time and resident memory per node).
 * 2. Each node dials `degree` others drawn at random from a seeded generator; the network waits
 * until no routing table has changed for a second.
 * 3. Every node looks up its own id (getClosestPeers of its peer id), four at a time, as a node
 * joining a network does; then the network waits again until the tables are still. (js also
 * runs its own self-query and table refresh in the background, as it always does.)
 *
 * How each number is measured:
 * - wall time: from the call until the result iterator ended, in the process of all N nodes;
 * then the same lookup is run again at once, when the connections it needs are open, to show
 * how much of the first was connection set-up (the repeat is not counted in the other rows);
 * - requests sent: counted at the asking node: kadmium's stats().outbound delta, js's SEND_QUERY
 * events; distinct peers: the peers those requests went to;
 * - DHT streams received: inbound streams of the DHT protocol at every node of the network during
 * the operation, counted the same way for both by wrapping each node's protocol handler; ping
 * streams (js pings a peer before it enters its table) are counted apart;
 * - values and providers: put, get, provide and the first provider found, each from a random node,
 * its streams counted until 300 ms after it returned, so that messages sent without an answer
 * (ADD_PROVIDER) and get's corrections are counted with the operation that sent them;
 * - accuracy: the share of the true 20 closest (by brute force over every node's kad id,
 * leaving out the asker) among the peers returned.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { EventTypes } from '@libp2p/kad-dht'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { compareDistance, kadId } from '../src/kademlia/keys.ts'
import { isMain } from './lib/main.ts'
import { BENCH_PROTOCOL, PING_PROTOCOL, benchKey, benchNode, inboundStreams, pool, tableSize } from './lib/nodes.ts'
import { Random } from './lib/random.ts'
import { fmt, intList, mean, memory, ms, pct, positiveInt, quantile, ratio, table } from './lib/stats.ts'
import type { BenchNode, Impl, JsBenchNode, KadmiumBenchNode } from './lib/nodes.ts'

/** The phases a child runs after building its network. */
export type Phase = 'lookup' | 'values' | 'providers'

/** One lookup's numbers. */
interface LookupSample { ms: number, warmMs: number, sent: number, failed: number, errors: string[], distinct: number, streams: number, pings: number, accuracy: number, returned: number }
/** One put + get (or provide + findProviders). */
interface PairSample { firstMs: number, firstStreams: number, firstOk: boolean, secondMs: number, secondStreams: number, secondOk: boolean }

/** What a child reports. */
export interface ChildReport {
  impl: Impl
  nodes: number
  startupMs: number[]
  connectMs: number
  settleMs: number
  selfLookupMs: number
  /** Self-lookups done within the phase's time bound. */
  selfLookups: number
  buildStreams: number
  buildPings: number
  idleStreamsPerSecond: number
  tableMean: number
  tableMin: number
  rssPerNodeStarted: number
  heapPerNodeStarted: number
  rssPerNodeSettled: number
  heapPerNodeSettled: number
  lookups: LookupSample[]
  values: PairSample[]
  providers: PairSample[]
}

/** Options of the N-node benchmarks. */
export interface NetworkBenchOptions {
  nodes: number[]
  lookups: number
  /** put/get and provide/findProviders pairs per network. */
  ops: number
  degree: number
  seed: number
  phases: Phase[]
  /** A child still running after this long is killed. */
  timeoutMinutes: number
  /**
   * Each phase (self-lookups, lookups, values, providers) starts no new operation after this
   * many minutes, so a slow implementation reports what it did in bounded time.
   */
  phaseMinutes: number
  /** Which implementations to run; a left-out one gets empty columns. */
  impls: Impl[]
  out?(text: string): void
}

export const NETWORK_DEFAULTS: NetworkBenchOptions = {
  nodes: [50, 150],
  lookups: 20,
  ops: 5,
  degree: 4,
  seed: 1,
  phases: ['lookup', 'values', 'providers'],
  timeoutMinutes: 30,
  phaseMinutes: 2,
  impls: ['kadmium', 'js']
}

const OP_TIMEOUT = 120_000

/**
 * A pause after each write and read, so that messages sent without an answer (ADD_PROVIDER) and
 * work a call leaves behind (get's corrections) land before the next operation is counted.
 */
const PAUSE = 300

function streams (): number {
  return inboundStreams.get(BENCH_PROTOCOL) ?? 0
}

function pings (): number {
  return inboundStreams.get(PING_PROTOCOL) ?? 0
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Waits until the sum of routing-table sizes has not changed for `quiet` ms, at most `max` ms. */
async function settle (nodes: BenchNode[], quiet = 1_000, max = 30_000): Promise<void> {
  const start = Date.now()
  let last = -1
  let since = Date.now()
  while (Date.now() - start < max) {
    const total = nodes.reduce((sum, node) => sum + tableSize(node), 0)
    if (total !== last) {
      last = total
      since = Date.now()
    } else if (Date.now() - since >= quiet) {
      return
    }
    await sleep(100)
  }
}

/** The kad ids of all nodes, for brute-force truths. */
function truth (nodes: BenchNode[], key: Uint8Array, exclude: BenchNode, k = 20): Set<string> {
  const target = kadId(key)
  return new Set(nodes
    .filter(n => n !== exclude)
    .map(n => ({ id: n.peerId.toString(), key: kadId(n.peerId.toMultihash().bytes) }))
    .sort((a, b) => compareDistance(a.key, b.key, target))
    .slice(0, k)
    .map(p => p.id))
}

/** One getClosestPeers with either implementation: the ids returned, requests and peers asked. */
async function closest (node: BenchNode, impl: Impl, key: Uint8Array): Promise<{ ids: string[], sent: number, asked: Set<string>, errors: string[] }> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  const ids: string[] = []
  const asked = new Set<string>()
  const errors: string[] = []
  if (impl === 'kadmium') {
    const dht = (node as KadmiumBenchNode).services.dht
    const before = sumValues(dht.stats().outbound)
    for await (const peer of dht.getClosestPeers(key, {
      signal,
      onProgress: (event) => {
        if (event.type === 'kadmium:lookup:ask') {
          asked.add(event.detail.peer.toString())
        } else if (event.type === 'kadmium:lookup:fail') {
          errors.push(`${event.detail.error.name} after ${Math.round(event.detail.elapsed)} ms`)
        }
      }
    })) {
      ids.push(peer.id.toString())
    }
    return { ids, sent: sumValues(dht.stats().outbound) - before, asked, errors }
  }
  let sent = 0
  for await (const event of (node as JsBenchNode).services.dht.getClosestPeers(key, { signal })) {
    if (event.type === EventTypes.SEND_QUERY) {
      sent++
      asked.add(event.to.toString())
    } else if (event.type === EventTypes.FINAL_PEER) {
      ids.push(event.peer.id.toString())
    } else if (event.type === EventTypes.QUERY_ERROR) {
      errors.push(event.error.name)
    }
  }
  return { ids, sent, asked, errors }
}

function sumValues (record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0)
}

/** Runs `work`: its wall time, then (after the pause) the DHT streams it caused. */
async function timed<T> (work: () => Promise<T>): Promise<{ ms: number, streams: number, ok: boolean, value?: T }> {
  const s = streams()
  const t = performance.now()
  let ok = true
  let value: T | undefined
  try {
    value = await work()
  } catch {
    ok = false
  }
  const elapsed = performance.now() - t
  await sleep(PAUSE)
  return { ms: elapsed, streams: streams() - s, ok, value }
}

async function put (node: BenchNode, impl: Impl, key: Uint8Array, value: Uint8Array): Promise<void> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    await (node as KadmiumBenchNode).services.dht.put(key, value, { signal })
    return
  }
  let stored = 0
  for await (const event of (node as JsBenchNode).services.dht.put(key, value, { signal })) {
    if (event.type === EventTypes.PEER_RESPONSE && event.messageName === 'PUT_VALUE') {
      stored++
    }
  }
  if (stored === 0) {
    throw new Error('no peer stored the value')
  }
}

async function get (node: BenchNode, impl: Impl, key: Uint8Array): Promise<Uint8Array | undefined> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    return (node as KadmiumBenchNode).services.dht.get(key, { signal })
  }
  let found: Uint8Array | undefined
  for await (const event of (node as JsBenchNode).services.dht.get(key, { signal })) {
    if (event.type === EventTypes.VALUE) {
      found ??= event.value
    }
  }
  return found
}

async function provide (node: BenchNode, impl: Impl, cid: CID): Promise<void> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    await (node as KadmiumBenchNode).services.dht.provide(cid, { signal })
    return
  }
  for await (const event of (node as JsBenchNode).services.dht.provide(cid, { signal })) {
    void event
  }
}

/** Finds the first provider of `cid` other than the asker; resolves to its id. */
async function findProvider (node: BenchNode, impl: Impl, cid: CID): Promise<string | undefined> {
  const stop = new AbortController()
  const signal = AbortSignal.any([AbortSignal.timeout(OP_TIMEOUT), stop.signal])
  try {
    if (impl === 'kadmium') {
      const providers = (node as KadmiumBenchNode).services.dht.findProviders(cid, { signal, count: 1 })
      const first = await providers.next()
      await providers.return(undefined)
      return first.done === true ? undefined : first.value.id.toString()
    }
    for await (const event of (node as JsBenchNode).services.dht.findProviders(cid, { signal })) {
      if (event.type === EventTypes.PROVIDER && event.providers.length > 0) {
        return event.providers[0].id.toString()
      }
    }
    return undefined
  } finally {
    stop.abort()
  }
}

/** Builds one network with one implementation, runs the phases, and reports. */
async function child (impl: Impl, n: number, options: NetworkBenchOptions): Promise<ChildReport> {
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
    nodes.push(await benchNode({ impl, privateKey: keys[i], transport: 'memory', name: `bench-${options.seed}-${i}` }))
    startupMs.push(performance.now() - t)
  }
  const started = memory()
  progress('nodes started; dialling')

  // the same topology for both: each node dials `degree` others from a seeded draw
  const links: Array<[number, number]> = []
  for (let i = 0; i < n; i++) {
    for (const j of random.sample(n - 1, Math.min(options.degree, n - 1))) {
      links.push([i, j >= i ? j + 1 : j])
    }
  }
  let t = performance.now()
  await pool(links, 8, async ([a, b]) => {
    await nodes[a].dial(nodes[b].getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
  })
  await settle(nodes)
  const connectMs = performance.now() - t
  progress('tables still; self-lookups')
  t = performance.now()
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
  await sleep(2_000)
  const idleStreamsPerSecond = (streams() - idle0) / 2
  const sizes = nodes.map(tableSize)
  progress('settled')

  const report: ChildReport = {
    impl,
    nodes: n,
    startupMs,
    connectMs,
    settleMs,
    selfLookupMs,
    selfLookups,
    buildStreams,
    buildPings,
    idleStreamsPerSecond,
    tableMean: mean(sizes),
    tableMin: Math.min(...sizes),
    rssPerNodeStarted: (started.rss - baseline.rss) / n,
    heapPerNodeStarted: (started.heap - baseline.heap) / n,
    rssPerNodeSettled: 0,
    heapPerNodeSettled: 0,
    lookups: [],
    values: [],
    providers: []
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
  progress('done')
  const settled = memory()
  report.rssPerNodeSettled = (settled.rss - baseline.rss) / n
  report.heapPerNodeSettled = (settled.heap - baseline.heap) / n
  await Promise.all(nodes.map(async node => { await node.stop()?.catch(() => {}) }))
  return report
}

/** Runs one child process and resolves to its report. */
async function spawnChild (impl: Impl, n: number, options: NetworkBenchOptions): Promise<ChildReport> {
  try {
    return await runChild(impl, n, options)
  } catch (err: any) {
    process.stderr.write(`  ${err.message}: its columns are left empty\n`)
    return emptyReport(impl, n)
  }
}

/** The report of a child that gave none: every number NaN, every list empty. */
function emptyReport (impl: Impl, n: number): ChildReport {
  return {
    impl,
    nodes: n,
    startupMs: [],
    connectMs: NaN,
    settleMs: NaN,
    selfLookupMs: NaN,
    selfLookups: NaN,
    buildStreams: NaN,
    buildPings: NaN,
    idleStreamsPerSecond: NaN,
    tableMean: NaN,
    tableMin: NaN,
    rssPerNodeStarted: NaN,
    heapPerNodeStarted: NaN,
    rssPerNodeSettled: NaN,
    heapPerNodeSettled: NaN,
    lookups: [],
    values: [],
    providers: []
  }
}

async function runChild (impl: Impl, n: number, options: NetworkBenchOptions): Promise<ChildReport> {
  const script = fileURLToPath(import.meta.url)
  const args = [
    '--expose-gc', script, '--child', '--impl', impl, '--nodes', String(n),
    '--lookups', String(options.lookups), '--ops', String(options.ops), '--degree', String(options.degree),
    '--seed', String(options.seed), '--phases', options.phases.join(','), '--phase-minutes', String(options.phaseMinutes)
  ]
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    proc.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, options.timeoutMinutes * 60_000)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = stdout.split('\n').find(l => l.startsWith('REPORT '))
      if (line == null) {
        reject(new Error(`the ${impl} child with ${n} nodes ended (${code ?? signal}) without a report`))
        return
      }
      resolve(JSON.parse(line.slice('REPORT '.length)))
    })
  })
}

const KB = 1024

function lookupTable (a: ChildReport, b: ChildReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  const la = a.lookups
  const lb = b.lookups
  const col = (list: LookupSample[], f: (s: LookupSample) => number): number[] => list.map(f).filter(Number.isFinite)
  for (const [name, pick, f] of [
    ['wall time', (s: LookupSample) => s.ms, ms],
    ['wall time of the same lookup repeated at once', (s: LookupSample) => s.warmMs, ms],
    ['requests sent by the asker', (s: LookupSample) => s.sent, (v: number) => fmt(v)],
    ['requests that failed', (s: LookupSample) => s.failed, (v: number) => fmt(v)],
    ['distinct peers asked', (s: LookupSample) => s.distinct, (v: number) => fmt(v)],
    ['DHT streams received, whole network', (s: LookupSample) => s.streams, (v: number) => fmt(v)],
    ['libp2p ping streams received, whole network', (s: LookupSample) => s.pings, (v: number) => fmt(v)]
  ] as Array<[string, (s: LookupSample) => number, (v: number) => string]>) {
    add(`${name}, median`, quantile(col(la, pick), 0.5), quantile(col(lb, pick), 0.5), f)
    add(`${name}, p90`, quantile(col(la, pick), 0.9), quantile(col(lb, pick), 0.9), f)
  }
  add('accuracy (true 20 found), mean', mean(la.map(s => s.accuracy)), mean(lb.map(s => s.accuracy)), v => pct(v))
  add('accuracy, worst lookup', Math.min(...la.map(s => s.accuracy)), Math.min(...lb.map(s => s.accuracy)), v => pct(v))
  add('lookups returning exactly the true 20', la.filter(s => s.accuracy === 1).length / la.length, lb.filter(s => s.accuracy === 1).length / lb.length, v => pct(v, 0))
  return table(`Lookup, ${a.nodes} nodes, getClosestPeers from random nodes to random keys (${la.length} kadmium, ${lb.length} js)`, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

function setupTable (a: ChildReport, b: ChildReport): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  add('start-up per node, median', quantile(a.startupMs, 0.5), quantile(b.startupMs, 0.5), ms)
  add('start-up per node, p90', quantile(a.startupMs, 0.9), quantile(b.startupMs, 0.9), ms)
  add('resident memory per node, started', a.rssPerNodeStarted, b.rssPerNodeStarted, v => `${fmt(v / KB / KB, 2)} MB`)
  add('resident memory per node, after the runs', a.rssPerNodeSettled, b.rssPerNodeSettled, v => `${fmt(v / KB / KB, 2)} MB`)
  add('JS heap per node, after the runs', a.heapPerNodeSettled, b.heapPerNodeSettled, v => `${fmt(v / KB / KB, 2)} MB`)
  add('dialling the topology until tables are still', a.connectMs, b.connectMs, ms)
  add('self-lookups of every node, 4 at a time', a.selfLookupMs, b.selfLookupMs, ms)
  add('self-lookups done within the phase bound', a.selfLookups, b.selfLookups, v => fmt(v))
  add('DHT streams received during the self-lookups', a.buildStreams, b.buildStreams, v => fmt(v))
  add('routing-table size after settling, mean', a.tableMean, b.tableMean, v => fmt(v, 1))
  add('routing-table size after settling, min', a.tableMin, b.tableMin, v => fmt(v))
  add('DHT streams per second while idle', a.idleStreamsPerSecond, b.idleStreamsPerSecond, v => fmt(v, 1))
  return table(`Network of ${a.nodes} nodes: start-up, memory and settling`, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

function pairTable (title: string, first: string, second: string, a: PairSample[], b: PairSample[]): string {
  const rows: string[][] = []
  const add = (name: string, x: number, y: number, f: (v: number) => string): void => {
    rows.push([name, f(x), f(y), ratio(x, y)])
  }
  rows.push(['operations done', String(a.length), String(b.length), ''])
  const okMs = (list: PairSample[], pick: (s: PairSample) => number): number[] => list.map(pick)
  add(`${first}: wall time, median`, quantile(okMs(a, s => s.firstMs), 0.5), quantile(okMs(b, s => s.firstMs), 0.5), ms)
  add(`${first}: wall time, p90`, quantile(okMs(a, s => s.firstMs), 0.9), quantile(okMs(b, s => s.firstMs), 0.9), ms)
  add(`${first}: DHT streams received, median`, quantile(a.map(s => s.firstStreams), 0.5), quantile(b.map(s => s.firstStreams), 0.5), v => fmt(v))
  add(`${first}: success`, a.filter(s => s.firstOk).length / a.length, b.filter(s => s.firstOk).length / b.length, v => pct(v, 0))
  add(`${second}: wall time, median`, quantile(okMs(a, s => s.secondMs), 0.5), quantile(okMs(b, s => s.secondMs), 0.5), ms)
  add(`${second}: wall time, p90`, quantile(okMs(a, s => s.secondMs), 0.9), quantile(okMs(b, s => s.secondMs), 0.9), ms)
  add(`${second}: DHT streams received, median`, quantile(a.map(s => s.secondStreams), 0.5), quantile(b.map(s => s.secondStreams), 0.5), v => fmt(v))
  add(`${second}: success`, a.filter(s => s.secondOk).length / a.length, b.filter(s => s.secondOk).length / b.length, v => pct(v, 0))
  return table(title, ['', 'kadmium', '@libp2p/kad-dht', 'kadmium / js'], rows)
}

/** Builds each network with each implementation, runs the phases and prints the tables. */
export async function runNetworkBench (partial: Partial<NetworkBenchOptions> = {}): Promise<Array<{ kadmium: ChildReport, js: ChildReport }>> {
  const options = { ...NETWORK_DEFAULTS, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const results: Array<{ kadmium: ChildReport, js: ChildReport }> = []
  for (const n of options.nodes) {
    out(`\n## ${n} real libp2p nodes in one process (memory transport; each node dials ${options.degree} random others; seed ${options.seed})\n`)
    const started = performance.now()
    const kadmium = options.impls.includes('kadmium') ? await spawnChild('kadmium', n, options) : emptyReport('kadmium', n)
    const js = options.impls.includes('js') ? await spawnChild('js', n, options) : emptyReport('js', n)
    results.push({ kadmium, js })
    out(setupTable(kadmium, js))
    if (options.phases.includes('lookup')) {
      out(lookupTable(kadmium, js))
    }
    if (options.phases.includes('values')) {
      out(pairTable(`Values, ${n} nodes: ${options.ops} × put from a random node, then get from another (streams counted at every node)`, 'put', 'get', kadmium.values, js.values))
    }
    if (options.phases.includes('providers')) {
      out(pairTable(`Providers, ${n} nodes: ${options.ops} × provide from a random node, then find the first provider from another`, 'provide', 'findProviders', kadmium.providers, js.providers))
    }
    out(`\n(${n} nodes: both networks built and measured in ${((performance.now() - started) / 1_000).toFixed(0)} s)\n`)
  }
  return results
}

/** Parses the command line shared by the N-node benchmarks. */
export function networkArgs (args: string[], phases: Phase[]): Partial<NetworkBenchOptions> & { child?: Impl } {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: 'string' },
      lookups: { type: 'string' },
      ops: { type: 'string' },
      degree: { type: 'string' },
      seed: { type: 'string' },
      phases: { type: 'string' },
      'timeout-minutes': { type: 'string' },
      'phase-minutes': { type: 'string' },
      impls: { type: 'string' },
      child: { type: 'boolean' },
      impl: { type: 'string' }
    },
    strict: true
  })
  const out: Partial<NetworkBenchOptions> & { child?: Impl } = { phases }
  if (values.nodes != null) { out.nodes = intList('nodes', values.nodes) }
  if (values.lookups != null) { out.lookups = positiveInt('lookups', values.lookups) }
  if (values.ops != null) { out.ops = positiveInt('ops', values.ops) }
  if (values.degree != null) { out.degree = positiveInt('degree', values.degree) }
  if (values.seed != null) { out.seed = positiveInt('seed', values.seed) }
  if (values.impls != null) {
    out.impls = values.impls.split(',').map(i => {
      if (i !== 'kadmium' && i !== 'js') {
        throw new Error(`--impls takes kadmium and js, got ${i}`)
      }
      return i
    })
  }
  if (values['phase-minutes'] != null) { out.phaseMinutes = positiveInt('phase-minutes', values['phase-minutes']) }
  if (values['timeout-minutes'] != null) { out.timeoutMinutes = positiveInt('timeout-minutes', values['timeout-minutes']) }
  if (values.phases != null) {
    out.phases = values.phases.split(',').map(p => {
      if (p !== 'lookup' && p !== 'values' && p !== 'providers') {
        throw new Error(`--phases takes lookup, values and providers, got ${p}`)
      }
      return p
    })
  }
  if (values.child === true) {
    if (values.impl !== 'kadmium' && values.impl !== 'js') {
      throw new Error('--child needs --impl kadmium or js')
    }
    out.child = values.impl
  }
  return out
}

if (isMain(import.meta.url)) {
  const { child: impl, ...options } = networkArgs(process.argv.slice(2), NETWORK_DEFAULTS.phases)
  if (impl == null) {
    await runNetworkBench(options)
  } else {
    const report = await child(impl, (options.nodes ?? [50])[0], { ...NETWORK_DEFAULTS, ...options })
    process.stdout.write(`REPORT ${JSON.stringify(report)}\n`)
    for (const [i, sample] of report.lookups.entries()) {
      if (sample.errors.length > 0) {
        process.stderr.write(`  [${impl}] lookup ${i}: ${Math.round(sample.ms)} ms, failed requests: ${sample.errors.join('; ')}\n`)
      }
    }
    // stopped nodes may leave timers behind: end the child once the report is out
    process.exit(0)
  }
}
