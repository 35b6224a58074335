/**
 * One implementation's emulated WAN, in a child process of its own: built, calibrated, put
 * through each network condition (bench/wan/index.ts describes them), and reported.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { byteStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { PING_PROTOCOL, pool, tableSize } from '../lib/nodes.ts'
import { Random, randomLinks } from '../lib/random.ts'
import { cpuMsSince, mean, memory, quantile } from '../lib/stats.ts'
import { realNow, virtualTime } from '../lib/virtual-time.ts'
import { closest, findPeer, pings, settle, sleep, streams } from '../network/operations.ts'
import { pairRttPercentiles } from './latency.ts'
import { closestPair, findPeerOp, provideFind, provideManyOp, putGet } from './ops.ts'
import { JOIN_WINDOW } from './report.ts'
import { requestsSent } from './trace.ts'
import { WanWorld } from './world.ts'
import type { PickReader } from './ops.ts'
import type { Calibration, JoinSample, OpSample, PhaseReport, WanOp, WanOptions, WanPhase, WanReport } from './report.ts'
import type { BenchNode, Impl, KadmiumBenchNode } from '../lib/nodes.ts'

/** A joined node not found by then counts as not findable. */
const JOIN_LIMIT = 30_000
/** Pairs timed for the calibration. */
const CALIBRATION_PAIRS = 12

type Progress = (what: string) => void

/**
 * Builds the network of one implementation, runs the phases, and reports; `partial` gets the
 * report so far after the build and after each phase.
 */
export async function wanChild (impl: Impl, options: WanOptions, partial: (report: WanReport) => void = () => {}): Promise<WanReport> {
  const began = realNow()
  const progress: Progress = (what) => {
    const clock = options.clock === 'virtual' ? `, virtual ${(performance.now() / 1_000).toFixed(0)} s` : ''
    process.stderr.write(`  [wan ${impl}, ${options.nodes} nodes, ${((realNow() - began) / 1_000).toFixed(0)} s${clock}] ${what}\n`)
  }
  const world = new WanWorld(impl, options)
  const baseline = memory()
  const build = await buildNetwork(world, options, progress)
  const rssPerNode = (memory().rss - baseline.rss) / options.nodes
  if (options.ageMinutes > 0) {
    progress(`ageing ${options.ageMinutes} min`)
    await sleep(options.ageMinutes * 60_000)
  }
  // what the network does while nobody asks anything: libp2p's connection monitor pings every
  // connection every 10 s, the DHTs' upkeep
  const idle = await idleLoad(options.idleMinutes * 60_000, options)
  const report: WanReport = {
    impl,
    nodes: options.nodes,
    rtt: pairRttPercentiles(world.factors.slice(0, options.nodes), world.wan.pairRtt, [0.5, 0.9, 0.99, 1]) as WanReport['rtt'],
    calibration: await calibrate(world, new Random(options.seed * 100 + 99)),
    buildMs: build.ms,
    buildRealMs: build.realMs,
    buildCpuMsPerNode: build.cpuMsPerNode,
    selfLookups: build.selfLookups,
    tableMean: mean(world.servers.map(tableSize)),
    rssPerNode,
    idle,
    phases: [],
    joins: [],
    clock: options.clock,
    realMs: NaN
  }
  const inRtt = (steps: number[]): string => quantile(steps.map((v, i) => v / report.calibration.rtt[i]), 0.5).toFixed(2)
  progress(`built; calibration: dial ${inRtt(report.calibration.dial)} RTT, stream ${inRtt(report.calibration.stream)}, request ${inRtt(report.calibration.request)}`)
  const finish = (): WanReport => {
    report.virtualTime = virtualTime()?.stats()
    report.realMs = realNow() - began
    return report
  }
  partial(finish())
  // a phase that could not end before the parent's kill is left out
  const deadline = began + (options.timeoutMinutes - 10) * 60_000
  for (const [i, phase] of options.phases.entries()) {
    if (realNow() > deadline) {
      progress(`no time left for ${phase}`)
      break
    }
    progress(`phase ${phase}`)
    const random = new Random(options.seed * 100 + i)
    const lag = eventLoopDelay(options)
    const t = performance.now()
    const result = await PHASES[phase](world, options, random, progress, report)
    const sizes = world.servers.map(tableSize)
    report.phases.push({ phase, ...result, lagMs: lag(), tables: [mean(sizes), Math.min(...sizes)], ms: performance.now() - t })
    partial(finish())
  }
  progress('done')
  await Promise.all(world.nodes.map(async node => { await Promise.resolve(node.stop()).catch(() => {}) }))
  return finish()
}

/**
 * Starts watching the event-loop delay (how late timers run: the real-time emulation's own
 * error); the function returned stops and gives p50 and p99 in ms. In virtual time no timer
 * is ever late: NaN.
 */
function eventLoopDelay (options: WanOptions): () => [number, number] {
  if (options.clock === 'virtual') {
    return () => [NaN, NaN]
  }
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  return () => {
    lag.disable()
    return [lag.percentile(50) / 1e6, lag.percentile(99) / 1e6]
  }
}

/** Ping and DHT streams per second, CPU per node per minute and the event-loop delay, over `ms` of quiet. */
async function idleLoad (ms: number, options: WanOptions): Promise<WanReport['idle']> {
  const lag = eventLoopDelay(options)
  const p = pings()
  const d = streams()
  const cpu = process.cpuUsage()
  await sleep(ms)
  const cpuMs = cpuMsSince(cpu)
  return { pingsPerSecond: (pings() - p) * 1_000 / ms, dhtPerSecond: (streams() - d) * 1_000 / ms, cpuMsPerNodeMinute: cpuMs / options.nodes / (ms / 60_000), lagMs: lag() }
}

interface Built {
  ms: number
  realMs: number
  cpuMsPerNode: WanReport['buildCpuMsPerNode']
  selfLookups: number
}

/** N servers; each dials `degree` others; every node looks itself up, four at a time. */
async function buildNetwork (world: WanWorld, options: WanOptions, progress: Progress): Promise<Built> {
  const t = performance.now()
  const real = realNow()
  for (let i = 0; i < options.nodes; i++) {
    world.serve(await world.make())
  }
  progress('nodes started; dialling')
  const random = new Random(options.seed)
  const n = options.nodes
  const links = randomLinks(n, options.degree, random)
  const nodes = world.servers
  const dialCpu = process.cpuUsage()
  await pool(links, 8, async ([a, b]) => {
    await nodes[a].dial(nodes[b].getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
  })
  progress('dialled; waiting until the tables are still')
  await settle(nodes, 2_000, 60_000)
  const dial = cpuMsSince(dialCpu) / n
  progress('self-lookups')
  const selfCpu = process.cpuUsage()
  // every node should look itself up, as a joining node does: the bound is generous
  const end = performance.now() + options.opMinutes * 5 * 60_000
  let selfLookups = 0
  await pool(nodes, 4, async (node) => {
    if (performance.now() < end) {
      await closest(node, world.impl, node.peerId.toMultihash().bytes).catch(() => {})
      selfLookups++
    }
  })
  await settle(nodes, 2_000, 60_000)
  return { ms: performance.now() - t, realMs: realNow() - real, cpuMsPerNode: { dial, selfLookups: cpuMsSince(selfCpu) / n }, selfLookups }
}

/**
 * How many round trips libp2p's steps take over the emulated WAN: a dial, opening a stream (ping's
 * protocol, negotiated in full as libp2p does by default), and one 32-byte exchange on it, between
 * pairs of servers that were not connected, each in units of the pair's RTT.
 */
async function calibrate (world: WanWorld, random: Random): Promise<Calibration> {
  const out: Calibration = { rtt: [], dial: [], stream: [], request: [] }
  for (let i = 0; i < CALIBRATION_PAIRS; i++) {
    const a = world.pick(random)
    const b = world.pick(random, a)
    const rtt = world.wan.rtt(a.peerId.toString(), b.peerId.toString())
    try {
      await a.hangUp(b.peerId)
      const t0 = performance.now()
      const conn = await a.dial(b.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })
      const t1 = performance.now()
      const stream = await conn.newStream(PING_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const t2 = performance.now()
      const bytes = byteStream(stream)
      await bytes.write(random.bytes(32))
      await bytes.read({ bytes: 32, signal: AbortSignal.timeout(10_000) })
      const t3 = performance.now()
      await stream.close().catch(() => {})
      out.rtt.push(rtt)
      out.dial.push(t1 - t0)
      out.stream.push(t2 - t1)
      out.request.push(t3 - t2)
    } catch {
      // a pair that failed leaves no sample
    }
  }
  return out
}

type PhaseResult = Omit<PhaseReport, 'phase' | 'lagMs' | 'tables' | 'ms'>
type PhaseRun = (world: WanWorld, options: WanOptions, random: Random, progress: Progress, report: WanReport) => Promise<PhaseResult>

/** Who asks and who is looked for in a phase. */
interface Cast {
  /** Nodes that ask (closest, put/get, provide/findProviders). */
  askers: BenchNode[]
  /** Nodes looked for with findPeer (by a random server). */
  targets: BenchNode[]
  /** Whether findPeer's asker starts with no connection open. */
  coldFindPeer: boolean
  /** Nodes in use by the operation under way (churn leaves them alone). */
  busy: Set<BenchNode>
}

const PHASES: Record<WanPhase, PhaseRun> = {
  async healthy (world, options, random, progress, report) {
    const ops = await battery(world, options, random, progress, defaultCast(world))
    if (world.impl === 'kadmium' && options.batch > 0) {
      progress('provideMany')
      const cids = await Promise.all(Array.from({ length: options.batch }, async (_, i) => cidOf(`${options.seed}-many-${i}`)))
      ops.provideMany = [await provideManyOp(world, world.pick(random) as KadmiumBenchNode, cids)]
    }
    progress('joins')
    for (let i = 0; i < options.joins; i++) {
      report.joins.push(await join(world, random))
    }
    return { note: `all ${world.servers.length} servers answer`, ops }
  },

  async silent (world, options, random, progress) {
    const silent = random.sample(world.servers.length, Math.round(options.silent * options.nodes)).map(i => world.servers[i])
    silent.forEach(node => { node.services.counter.setSilent(true) })
    const all = world.servers
    world.servers = all.filter(n => !silent.includes(n))
    try {
      const ops = await battery(world, options, random, progress, defaultCast(world))
      return { note: `${silent.length} of ${all.length} servers silent: connected, they accept DHT streams and never answer`, ops }
    } finally {
      silent.forEach(node => { node.services.counter.setSilent(false) })
      world.servers = all
    }
  },

  async nat (world, options, random, progress) {
    const clients: BenchNode[] = []
    for (let i = 0; i < Math.round(options.nat * options.nodes); i++) {
      clients.push(await world.make(true))
    }
    const links = clients.flatMap(client => random.sample(world.servers.length, options.degree).map(j => [client, world.servers[j]]))
    await pool(links, 8, async ([client, server]) => {
      await client.dial(server.getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => {})
    })
    // their first refresh (kadmium) or self-query (js) runs now
    await sleep(5_000)
    try {
      const ops = await battery(world, options, random, progress, { askers: clients, targets: clients, coldFindPeer: false, busy: new Set() })
      return { note: `${clients.length} clients behind NATs (client mode; dials to them hang) each connected to ${options.degree} servers; they ask, and are looked for`, ops }
    } finally {
      await Promise.all(clients.map(async c => { await Promise.resolve(c.stop()).catch(() => {}) }))
    }
  },

  async unreachable (world, options, random, progress) {
    const before = world.servers.length
    const gone = random.sample(world.servers.length, Math.round(options.unreachable * options.nodes)).map(i => world.servers[i])
    await Promise.all(gone.map(async node => { await world.leave(node) }))
    const ops = await battery(world, options, random, progress, defaultCast(world))
    return { note: `${gone.length} of ${before} servers gone (stopped; dials to them hang until the dialler gives up); they stay in tables and stay gone`, ops }
  },

  async churn (world, options, random, progress) {
    const cast = defaultCast(world)
    // its own generator: how far churn got must not change the operations' draws
    const churnRandom = new Random(options.seed * 100 + 50)
    const goneBefore = world.gone
    const state = { stop: false, joined: 0 }
    const churning = (async () => {
      while (!state.stop) {
        await sleep(60_000 / options.churnPerMinute)
        if (!state.stop) {
          await churnOnce(world, churnRandom, cast.busy, state)
        }
      }
    })()
    try {
      const ops = await battery(world, options, random, progress, cast)
      return { note: `${options.churnPerMinute} servers leave and ${options.churnPerMinute} new ones join (each through a random live server) per minute, after ${goneBefore} left before: ${world.gone - goneBefore} left and ${state.joined} joined while it ran`, ops }
    } finally {
      state.stop = true
      await churning
    }
  }
}

/** One server (not one in use) leaves; a new one joins through a random live server. */
async function churnOnce (world: WanWorld, random: Random, busy: Set<BenchNode>, state: { joined: number }): Promise<void> {
  await world.leave(world.pick(random, ...busy))
  const joiner = await world.make()
  const bootstrap = world.pick(random)
  try {
    await joiner.dial(bootstrap.getMultiaddrs(), { signal: AbortSignal.timeout(30_000) })
    world.serve(joiner)
    state.joined++
  } catch {
    // it never joined
  }
}

function defaultCast (world: WanWorld): Cast {
  // getters: the servers change while a phase runs (churn)
  return {
    get askers () { return world.servers },
    get targets () { return world.servers },
    coldFindPeer: true,
    busy: new Set()
  }
}

/** A random member of `from` other than `not`. */
function pickFrom (random: Random, from: BenchNode[], ...not: BenchNode[]): BenchNode {
  const left = from.filter(n => !not.includes(n))
  return left[random.int(left.length)]
}

/**
 * The operations of a phase: findPeer, getClosestPeers (cold, then warm), put + get and provide +
 * findProviders, each kind bounded by count and by `opMinutes`.
 */
async function battery (world: WanWorld, options: WanOptions, random: Random, progress: Progress, cast: Cast): Promise<Partial<Record<WanOp, OpSample[]>>> {
  const ops: Partial<Record<WanOp, OpSample[]>> = {}
  const add = (op: WanOp, sample: OpSample): void => {
    (ops[op] ??= []).push(sample)
    if (sample.error != null) {
      progress(`${op} threw after ${Math.round(sample.ms)} ms: ${sample.error}`)
    }
  }
  const bounded = async (label: string, count: number, run: () => Promise<void>): Promise<void> => {
    progress(label)
    const end = performance.now() + options.opMinutes * 60_000
    for (let i = 0; i < count && performance.now() < end; i++) {
      await run()
      cast.busy.clear()
    }
  }
  const using = (...nodes: BenchNode[]): void => { nodes.forEach(n => cast.busy.add(n)) }
  // who reads what `writer` stored: an asker the record did not reach (else it would answer
  // from its own store, as a node on a network of thousands almost never can)
  const reader = (writer: BenchNode): PickReader => (storedOn) => {
    const unreached = cast.askers.filter(n => !storedOn.has(n.peerId.toString()))
    const node = pickFrom(random, unreached.length > 1 ? unreached : cast.askers, writer)
    using(node)
    return node
  }

  await bounded('findPeer', options.ops, async () => {
    const target = pickFrom(random, cast.targets)
    const asker = world.pick(random, target)
    using(asker, target)
    add('findPeer', await findPeerOp(world, asker, target, cast.coldFindPeer))
  })
  await bounded('getClosestPeers', options.lookups, async () => {
    const asker = pickFrom(random, cast.askers)
    using(asker)
    const [cold, warm] = await closestPair(world, asker, random.bytes(32))
    add('closest', cold)
    add('closestWarm', warm)
  })
  await bounded('put/get', options.ops, async () => {
    const writer = pickFrom(random, cast.askers)
    using(writer)
    const key = new TextEncoder().encode(`/bench/${options.seed}-${Array.from(random.bytes(8), b => b.toString(16)).join('')}`)
    const [w, r] = await putGet(world, writer, reader(writer), key, random.bytes(100))
    add('put', w)
    add('get', r)
  })
  await bounded('provide/findProviders', options.ops, async () => {
    const provider = pickFrom(random, cast.askers)
    using(provider)
    const [w, r] = await provideFind(world, provider, reader(provider), await cidOf(Array.from(random.bytes(16), b => b.toString(16)).join('')))
    add('provide', w)
    add('findProviders', r)
  })
  return ops
}

async function cidOf (text: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(text)))
}

/**
 * A new server joins through a random live one; random other servers look it up (findPeer, one
 * after another) until one finds it. Its cost: what it sent and dialled in its first
 * `JOIN_WINDOW` ms.
 */
async function join (world: WanWorld, random: Random): Promise<JoinSample> {
  const node = await world.make()
  let connections = 0
  const onOpen = (event: CustomEvent<{ direction: string }>): void => { connections += event.detail.direction === 'outbound' ? 1 : 0 }
  node.addEventListener('connection:open', onOpen as any)
  const bootstrap = world.pick(random)
  const out: JoinSample = { findableMs: NaN, probeStartMs: NaN, probes: 0, requests: 0, connections: 0, cpuMs: NaN }
  const cpu = process.cpuUsage()
  try {
    await node.dial(bootstrap.getMultiaddrs(), { signal: AbortSignal.timeout(30_000) })
  } catch {
    return out
  }
  const first = performance.now()
  const watched = sleep(JOIN_WINDOW).then(() => {
    out.requests = requestsSent(node, world.impl)
    out.connections = connections
    out.cpuMs = cpuMsSince(cpu)
  })
  while (performance.now() - first < JOIN_LIMIT) {
    const prober = world.pick(random, bootstrap)
    const started = performance.now()
    out.probes++
    const found = await findPeer(prober, world.impl, node.peerId).then(() => true, () => false)
    if (found) {
      out.findableMs = performance.now() - first
      out.probeStartMs = started - first
      break
    }
  }
  await watched
  node.removeEventListener('connection:open', onOpen as any)
  world.serve(node)
  return out
}
