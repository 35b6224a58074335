/**
 * One implementation's network in a child process of its own (so that memory and CPU are
 * measured apart and neither warms the other's caches): built, aged, measured idle, calibrated
 * (WAN), put through its phases, left to live `hours`, and reported. The parent
 * (bench/harness/run.ts) starts it as
 *
 * ```
 * node --expose-gc [--import bench/lib/virtual-install.js] dist/bench/harness/child.js --impl kadmium --options '{…}'
 * ```
 *
 * and reads the `REPORT <json>` line it prints after each phase and each hour (bench/lib/child.ts);
 * with `json` in the options, the same report also goes to `<json>.<impl>.partial`.
 */
import { writeFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { byteStream } from '@libp2p/utils'
import { printReport } from '../lib/child.ts'
import { isMain } from '../lib/main.ts'
import { PING_PROTOCOL, pool, tableSize } from '../lib/nodes.ts'
import { Random, randomLinks } from '../lib/random.ts'
import { cpuMsSince, mean, memory, quantile } from '../lib/stats.ts'
import { realNow, virtualTime } from '../lib/virtual-time.ts'
import { pairRttPercentiles } from '../wan/latency.ts'
import { liveHours } from './hours.ts'
import { closest, pings, settle, sleep, streams } from './operations.ts'
import { PHASE_RUNS } from './phases.ts'
import { Soak } from './soak.ts'
import { World } from './world.ts'
import type { BenchOptions, BenchReport, BuildReport, Calibration, IdleReport } from './report.ts'
import type { Impl } from '../lib/nodes.ts'

/** Pairs timed for the calibration. */
const CALIBRATION_PAIRS = 12

/** Tells how far the child got (stderr). */
export type Progress = (what: string) => void

/**
 * Builds the network of one implementation, runs the phases and the long run, and reports;
 * `partial` gets the report so far after the build and after each phase.
 */
export async function benchChild (impl: Impl, options: BenchOptions, partial: (report: BenchReport) => void = () => {}): Promise<BenchReport> {
  const began = realNow()
  const progress: Progress = (what) => {
    const clock = options.clock === 'virtual' ? `, virtual ${(performance.now() / 1_000).toFixed(0)} s` : ''
    process.stderr.write(`  [${options.transport} ${impl}, ${options.nodes} nodes, ${((realNow() - began) / 1_000).toFixed(0)} s${clock}] ${what}\n`)
  }
  const world = new World(impl, options)
  const { baseline, ...build } = await buildNetwork(world, options, progress)
  if (options.ageMinutes > 0) {
    progress(`ageing ${options.ageMinutes} min`)
    await sleep(options.ageMinutes * 60_000)
  }
  // what the network does while nobody asks anything: libp2p's connection monitor pings every
  // connection every 10 s (WAN), the DHTs' upkeep
  const idle = await idleLoad(options.idleMinutes * 60_000, options)
  const report: BenchReport = {
    impl,
    transport: options.transport,
    clock: options.clock,
    nodes: options.nodes,
    rtt: world.wan == null ? [NaN, NaN, NaN, NaN] : pairRttPercentiles(world.factors.slice(0, options.nodes), world.wan.pairRtt, [0.5, 0.9, 0.99, 1]) as BenchReport['rtt'],
    calibration: world.wan == null ? { rtt: [], dial: [], stream: [], request: [] } : await calibrate(world, new Random(options.seed * 100 + 99)),
    build,
    idle,
    phases: [],
    hours: [],
    rssPerNodeEnd: NaN,
    heapPerNodeEnd: NaN,
    realMs: NaN,
    cpuMs: NaN
  }
  if (world.wan != null) {
    const c = report.calibration
    const inRtt = (steps: number[]): string => quantile(steps.map((v, i) => v / c.rtt[i]), 0.5).toFixed(2)
    progress(`built; calibration: dial ${inRtt(c.dial)} RTT, stream ${inRtt(c.stream)}, request ${inRtt(c.request)}`)
  }
  const finish = (): BenchReport => {
    report.virtualTime = virtualTime()?.stats()
    report.realMs = realNow() - began
    const cpu = process.cpuUsage()
    report.cpuMs = (cpu.user + cpu.system) / 1_000
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
    const result = await PHASE_RUNS[phase](world, options, random, progress)
    const sizes = world.servers.map(tableSize)
    report.phases.push({ phase, joins: [], ...result, lagMs: lag(), tables: [mean(sizes), Math.min(...sizes)], ms: performance.now() - t })
    partial(finish())
  }
  if (options.hours > 0) {
    const soak = options.soak ? new Soak(world, new Random(options.seed * 100 + 77), progress) : undefined
    await soak?.start(options.seed)
    await liveHours(world, options.hours, progress, (sample) => {
      report.hours.push(sample)
      partial(finish())
    }, soak == null ? {} : { live: async () => soak.live(options.nodes), check: async () => soak.check() })
  }
  const end = memory()
  report.rssPerNodeEnd = (end.rss - baseline.rss) / options.nodes
  report.heapPerNodeEnd = (end.heap - baseline.heap) / options.nodes
  progress('done')
  await Promise.all(world.nodes.map(async node => { await Promise.resolve(node.stop()).catch(() => {}) }))
  return finish()
}

/**
 * Starts watching the event-loop delay (how late timers run: the real-time emulation's own
 * error); the function returned stops and gives p50 and p99 in ms. In virtual time no timer is
 * ever late: NaN.
 */
function eventLoopDelay (options: BenchOptions): () => [number, number] {
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

/** Ping and DHT streams per second, CPU per node and the event-loop delay, over `ms` of quiet. */
async function idleLoad (ms: number, options: BenchOptions): Promise<IdleReport> {
  const lag = eventLoopDelay(options)
  const p = pings()
  const d = streams()
  const cpu = process.cpuUsage()
  await sleep(ms)
  const cpuMs = cpuMsSince(cpu)
  return {
    pingsPerSecond: (pings() - p) * 1_000 / ms,
    dhtPerSecond: (streams() - d) * 1_000 / ms,
    cpuMsPerNodeMinute: cpuMs / options.nodes / (ms / 60_000),
    cpuShare: options.clock === 'real' ? cpuMs / ms : NaN,
    lagMs: lag()
  }
}

/**
 * N servers, started one by one; each dials `degree` random others (the same draws for both
 * implementations, 8 dials at a time) until the tables are still; then every node looks itself
 * up, four at a time, as a joining node does, until the tables are still again.
 */
async function buildNetwork (world: World, options: BenchOptions, progress: Progress): Promise<BuildReport & { baseline: { rss: number, heap: number } }> {
  const baseline = memory()
  const t = performance.now()
  const real = realNow()
  const startupMs: number[] = []
  for (let i = 0; i < options.nodes; i++) {
    const s = performance.now()
    world.serve(await world.make())
    startupMs.push(performance.now() - s)
  }
  const started = memory()
  progress('nodes started; dialling')
  const n = options.nodes
  const links = randomLinks(n, options.degree, new Random(options.seed))
  const nodes = world.servers
  const dialCpu = process.cpuUsage()
  const dialStart = performance.now()
  const dialStreams = streams()
  let dialFailures = 0
  await pool(links, 8, async ([a, b]) => {
    await nodes[a].dial(nodes[b].getMultiaddrs(), { signal: AbortSignal.timeout(30_000) }).catch(() => { dialFailures++ })
  })
  const dialMs = performance.now() - dialStart
  progress('dialled; waiting until the tables are still')
  await settle(nodes, 2_000, 60_000)
  const connectMs = performance.now() - dialStart
  const connectStreams = streams() - dialStreams
  const dial = cpuMsSince(dialCpu) / n
  const connectionsPerNode = mean(nodes.map(node => node.getConnections().length))
  progress('self-lookups')
  const selfCpu = process.cpuUsage()
  const selfStart = performance.now()
  const selfStreams = streams()
  const selfPings = pings()
  // every node should look itself up, as a joining node does: the bound is generous
  const end = performance.now() + options.opMinutes * 5 * 60_000
  let selfLookups = 0
  await pool(nodes, 4, async (node) => {
    if (performance.now() < end) {
      await closest(node, world.impl, node.peerId.toMultihash().bytes).catch(() => {})
      selfLookups++
    }
  })
  const selfLookupMs = performance.now() - selfStart
  await settle(nodes, 2_000, 60_000)
  const sizes = nodes.map(tableSize)
  return {
    baseline,
    startupMs,
    dialMs,
    dialFailures,
    connectMs,
    connectStreams,
    connectionsPerNode,
    selfLookupMs,
    selfLookups,
    settleMs: performance.now() - selfStart,
    selfLookupStreams: streams() - selfStreams,
    selfLookupPings: pings() - selfPings,
    ms: performance.now() - t,
    realMs: realNow() - real,
    cpuMsPerNode: { dial, selfLookups: cpuMsSince(selfCpu) / n },
    tableMean: mean(sizes),
    tableMin: Math.min(...sizes),
    rssPerNodeStarted: (started.rss - baseline.rss) / n,
    heapPerNodeStarted: (started.heap - baseline.heap) / n,
    rssPerNode: (memory().rss - baseline.rss) / n
  }
}

/**
 * How long libp2p's steps take over the emulated WAN: a dial, opening a stream (ping's
 * protocol, negotiated in full as libp2p does by default), and one 32-byte exchange on it,
 * between pairs of servers that were not connected, each in ms with the pair's RTT.
 */
async function calibrate (world: World, random: Random): Promise<Calibration> {
  const out: Calibration = { rtt: [], dial: [], stream: [], request: [] }
  const wan = world.wan
  if (wan == null) {
    return out
  }
  for (let i = 0; i < CALIBRATION_PAIRS; i++) {
    const a = world.pick(random)
    const b = world.pick(random, a)
    const rtt = wan.rtt(a.peerId.toString(), b.peerId.toString())
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

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { impl: { type: 'string' }, options: { type: 'string' } }, strict: true })
  if (values.impl !== 'kadmium' && values.impl !== 'js') {
    throw new Error(`--impl takes kadmium or js, got ${values.impl}`)
  }
  const options: BenchOptions = JSON.parse(values.options ?? '{}')
  // with a JSON report asked for, the report so far also goes to a file of its own beside it,
  // where a long run can be read before it ends
  const save = (report: BenchReport): void => {
    printReport(report)
    if (options.json != null) {
      writeFileSync(`${options.json}.${report.impl}.partial`, JSON.stringify(report))
    }
  }
  save(await benchChild(values.impl, options, save))
  // stopped nodes may leave timers behind: end the child once the report is out
  process.exit(0)
}
