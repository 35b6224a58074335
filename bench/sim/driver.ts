/**
 * Why the simulator drives lookups through driveLookup, the callback core of runLookup: the same
 * lookups on the same virtual network, once through driveLookup (every step runs inside a clock
 * event) and once through the promise-based runLookup the service uses, which needs the pending
 * promise callbacks let run (a `setImmediate`) after every clock event. Both give the same events
 * (test/sim checks it); this prints what each costs.
 *
 * ```
 * npm run build
 * node dist/bench/sim/driver.js [--nodes 10000] [--lookups 1000] [--silent 0.2] [--seed 1]
 * ```
 */
import { parseArgs } from 'node:util'
import { isMain } from '../lib/main.ts'
import { fmt, numberIn, positiveInt, ratio, table } from '../lib/stats.ts'
import { SimNetwork } from './network.ts'

/** Options of {@link runDriverBench}. */
export interface DriverBenchOptions {
  nodes: number
  lookups: number
  /** Share of the nodes silenced, so that stalls and timeouts happen too. */
  silent: number
  seed: number
  out?(text: string): void
}

interface Cost {
  requests: number
  events: number
  wall: number
  cpu: number
}

/** The same network each time: tables from the global view, no upkeep, `silent` of it down. */
function network (options: DriverBenchOptions): SimNetwork {
  const net = new SimNetwork({ seed: options.seed, refreshInterval: 0 })
  net.buildFromGlobalView(options.nodes)
  for (const i of net.random.sample(options.nodes, Math.round(options.silent * options.nodes))) {
    net.stop(net.nodes[i])
  }
  return net
}

async function measure (options: DriverBenchOptions, promises: boolean): Promise<Cost> {
  const net = network(options)
  const wall = performance.now()
  const cpu = process.cpuUsage()
  for (let i = 0; i < options.lookups; i++) {
    const from = net.randomUp()
    if (from == null) {
      break
    }
    const target = net.random.bytes(32)
    if (promises) {
      await net.promiseLookup(from, target).catch(() => {})
    } else {
      await net.lookupNow(from, target, net.defaults, { judge: false })
    }
  }
  const used = process.cpuUsage(cpu)
  return { requests: net.counters.requests, events: net.clock.ran, wall: performance.now() - wall, cpu: (used.user + used.system) / 1_000 }
}

/** Runs both drivers and prints the table. */
export async function runDriverBench (partial: Partial<DriverBenchOptions> = {}): Promise<{ callbacks: Cost, promises: Cost }> {
  const options: DriverBenchOptions = { nodes: 10_000, lookups: 1_000, silent: 0.2, seed: 1, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  // a small run of each first, so that neither pays for the JIT's warm-up
  const warmUp = { ...options, nodes: Math.min(options.nodes, 1_000), lookups: Math.min(options.lookups, 100) }
  await measure(warmUp, false)
  await measure(warmUp, true)
  const callbacks = await measure(options, false)
  const promises = await measure(options, true)
  const rowOf = (name: string, c: Cost): string[] => [name, fmt(c.requests), fmt(c.events), fmt(c.wall / 1_000, 2), fmt(c.cpu * 1_000 / c.requests, 1), ratio(c.cpu, callbacks.cpu)]
  out(table(`Lookup drivers on the simulator's clock: ${fmt(options.lookups)} lookups over ${options.nodes.toLocaleString('en-US')} nodes, ${fmt(options.silent * 100)} % silent, no upkeep`,
    ['driver', 'requests', 'clock events', 'wall s', 'CPU µs per request', 'CPU against driveLookup'],
    [rowOf('driveLookup (callbacks)', callbacks), rowOf('runLookup (promises, setImmediate after each event)', promises)]))
  return { callbacks, promises }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { nodes: { type: 'string' }, lookups: { type: 'string' }, silent: { type: 'string' }, seed: { type: 'string' } }, strict: true })
  await runDriverBench({
    ...(values.nodes == null ? {} : { nodes: positiveInt('nodes', values.nodes) }),
    ...(values.lookups == null ? {} : { lookups: positiveInt('lookups', values.lookups) }),
    ...(values.silent == null ? {} : { silent: numberIn('silent', values.silent, 0, 0.95) }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) })
  })
}
