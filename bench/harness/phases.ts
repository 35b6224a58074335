/**
 * The phases a network is put through, in the order a run lists them:
 * - conditions, each running every kind of operation (the battery) under it: `healthy` (every
 * server answers; then kadmium's provideMany, and nodes joining), `silent` (a share of the servers
 * accept DHT streams and never answer; restored afterwards), `nat` (clients behind NATs ask, and
 * are looked for), `unreachable` (a share of the servers are gone: dials to them hang; they stay
 * gone), `churn` (servers leave and new ones join at a rate);
 * - parts, one kind of work on the healthy network: `lookup` (getClosestPeers, then again warm),
 * `findPeer`, `values` (put, then get from a node the record was not stored on), `providers`
 * (provide, then findProviders from a node the record was not sent to), `batch` (many CIDs from
 * one node, one provide after another and with kadmium's provideMany), `join` (nodes joining one
 * after another), `accelerated` (kadmium's accelerated clients: their first crawl, the battery
 * asked by them, and many CIDs provided three ways: bench/harness/accelerated.ts).
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { dhtStreamsFrom, pool, tableSize } from '../lib/nodes.ts'
import { Random } from '../lib/random.ts'
import { cpuMsSince } from '../lib/stats.ts'
import { acceleratedPhase } from './accelerated.ts'
import { findPeer, sleep } from './operations.ts'
import { closestPair, findPeerOp, provideBatch, provideFind, putGet } from './ops.ts'
import { JOIN_WINDOW } from './report.ts'
import { requestsSent } from './trace.ts'
import type { Progress } from './child.ts'
import type { PickReader } from './ops.ts'
import type { BenchOptions, JoinSample, Op, OpSample, Phase, PhaseReport } from './report.ts'
import type { World } from './world.ts'
import type { BenchNode } from '../lib/nodes.ts'

/** A joined node not found by then counts as not findable. */
const JOIN_LIMIT = 30_000

/** CIDs of a batch whose provider is looked for from another node. */
const BATCH_CHECKED = 5

export type PhaseResult = Pick<PhaseReport, 'note' | 'ops'> & Partial<Pick<PhaseReport, 'joins' | 'accelerated'>>
type PhaseRun = (world: World, options: BenchOptions, random: Random, progress: Progress) => Promise<PhaseResult>

/** The kinds of operation of the battery. */
type Kind = 'findPeer' | 'lookup' | 'values' | 'providers'
const EVERY_KIND: Kind[] = ['findPeer', 'lookup', 'values', 'providers']

/** Who asks and who is looked for in a phase. */
interface Cast {
  /** Nodes that ask (closest, put/get, provide/findProviders). */
  askers: BenchNode[]
  /** Nodes looked for with findPeer (by a random server). */
  targets: BenchNode[]
  /** Whether findPeer's asker starts with no connection open (where the operations start cold). */
  coldFindPeer: boolean
  /** Nodes that run findPeer (random servers unless given). */
  finders?: BenchNode[]
  /** Nodes in use by the operation under way (churn leaves them alone). */
  busy: Set<BenchNode>
}

/** A part of the battery alone, on the healthy network. */
function part (kind: Kind, what: string): PhaseRun {
  return async (world, options, random, progress) => ({ note: `${what} (all ${world.servers.length} servers answer)`, ops: await battery(world, options, random, progress, defaultCast(world), [kind]) })
}

export const PHASE_RUNS: Record<Phase, PhaseRun> = {
  async healthy (world, options, random, progress) {
    const ops = await battery(world, options, random, progress, defaultCast(world), EVERY_KIND)
    if (world.impl === 'kadmium' && options.batch > 0) {
      progress('provideMany')
      ops.provideMany = [await provideBatch(world, world.pick(random), await cidsOf(`${options.seed}-many`, options.batch), true, () => world.pick(random), 0)]
    }
    progress('joins')
    return { note: `all ${world.servers.length} servers answer`, ops, joins: await joins(world, options, random) }
  },

  async silent (world, options, random, progress) {
    const silent = random.sample(world.servers.length, Math.round(options.silent * options.nodes)).map(i => world.servers[i])
    silent.forEach(node => { node.services.counter.setSilent(true) })
    const all = world.servers
    world.servers = all.filter(n => !silent.includes(n))
    try {
      const ops = await battery(world, options, random, progress, defaultCast(world), EVERY_KIND)
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
      const ops = await battery(world, options, random, progress, { askers: clients, targets: clients, coldFindPeer: false, busy: new Set() }, EVERY_KIND)
      return { note: `${clients.length} clients behind NATs (client mode; dials to them hang) each connected to ${options.degree} servers; they ask, and are looked for`, ops }
    } finally {
      await Promise.all(clients.map(async c => { await Promise.resolve(c.stop()).catch(() => {}) }))
    }
  },

  async unreachable (world, options, random, progress) {
    const before = world.servers.length
    const gone = random.sample(world.servers.length, Math.round(options.unreachable * options.nodes)).map(i => world.servers[i])
    await Promise.all(gone.map(async node => { await world.leave(node) }))
    const ops = await battery(world, options, random, progress, defaultCast(world), EVERY_KIND)
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
      const ops = await battery(world, options, random, progress, cast, EVERY_KIND)
      return { note: `${options.churnPerMinute} servers leave and ${options.churnPerMinute} new ones join (each through a random live server) per minute, after ${goneBefore} left before: ${world.gone - goneBefore} left and ${state.joined} joined while it ran`, ops }
    } finally {
      state.stop = true
      await churning
    }
  },

  lookup: part('lookup', 'getClosestPeers from random servers to random keys, each repeated at once'),
  findPeer: part('findPeer', 'findPeer of random servers from random servers'),
  values: part('values', 'put from a random server, then get from a server the record was not stored on'),
  providers: part('providers', 'provide from a random server, then find the first provider from a server the record was not sent to'),

  async batch (world, options, random) {
    const provider = world.pick(random)
    const seeker = (): BenchNode => world.pick(random, provider)
    const ops: Partial<Record<Op, OpSample[]>> = {
      provideEach: [await provideBatch(world, provider, await cidsOf(`${options.seed}-each`, options.batch), false, seeker, BATCH_CHECKED)]
    }
    if (world.impl === 'kadmium') {
      ops.provideMany = [await provideBatch(world, provider, await cidsOf(`${options.seed}-many`, options.batch), true, seeker, BATCH_CHECKED)]
    }
    return { note: `${options.batch} CIDs from one server, one provide after another, then (kadmium) ${options.batch} others with one provideMany; the provider of ${BATCH_CHECKED} of each looked for from random other servers`, ops }
  },

  async join (world, options, random) {
    return { note: `${options.joins} servers join one after another`, ops: {}, joins: await joins(world, options, random) }
  },

  async accelerated (world, options, random, progress) {
    return acceleratedPhase(world, options, random, progress, async (clients) => battery(world, options, random, progress, {
      askers: clients,
      targets: world.servers,
      finders: clients,
      coldFindPeer: true,
      busy: new Set()
    }, EVERY_KIND))
  }
}

/** One server (not one in use) leaves; a new one joins through a random live server. */
async function churnOnce (world: World, random: Random, busy: Set<BenchNode>, state: { joined: number }): Promise<void> {
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

function defaultCast (world: World): Cast {
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
 * The operations of a phase, of the kinds asked for: findPeer, getClosestPeers (cold, then
 * warm), put + get and provide + findProviders, each kind bounded by count and by `opMinutes`.
 */
async function battery (world: World, options: BenchOptions, random: Random, progress: Progress, cast: Cast, kinds: Kind[]): Promise<Partial<Record<Op, OpSample[]>>> {
  const ops: Partial<Record<Op, OpSample[]>> = {}
  const add = (op: Op, sample: OpSample): void => {
    (ops[op] ??= []).push(sample)
    if (sample.error != null) {
      progress(`${op} threw after ${Math.round(sample.ms)} ms: ${sample.error}`)
    }
  }
  const bounded = async (kind: Kind, count: number, run: () => Promise<void>): Promise<void> => {
    if (!kinds.includes(kind)) {
      return
    }
    progress(kind)
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
    const asker = cast.finders == null ? world.pick(random, target) : pickFrom(random, cast.finders, target)
    using(asker, target)
    add('findPeer', await findPeerOp(world, asker, target, cast.coldFindPeer))
  })
  await bounded('lookup', options.lookups, async () => {
    const asker = pickFrom(random, cast.askers)
    using(asker)
    const [cold, warm] = await closestPair(world, asker, random.bytes(32))
    add('closest', cold)
    add('closestWarm', warm)
  })
  await bounded('values', options.ops, async () => {
    const writer = pickFrom(random, cast.askers)
    using(writer)
    const key = new TextEncoder().encode(`/bench/${options.seed}-${Array.from(random.bytes(8), b => b.toString(16)).join('')}`)
    const [w, r] = await putGet(world, writer, reader(writer), key, random.bytes(100))
    add('put', w)
    add('get', r)
  })
  await bounded('providers', options.ops, async () => {
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

async function cidsOf (label: string, count: number): Promise<CID[]> {
  return Promise.all(Array.from({ length: count }, async (_, i) => cidOf(`${label}-${i}`)))
}

/** `options.joins` servers join one after another; each stays. */
async function joins (world: World, options: BenchOptions, random: Random): Promise<JoinSample[]> {
  const out: JoinSample[] = []
  for (let i = 0; i < options.joins; i++) {
    out.push(await join(world, random))
  }
  return out
}

/**
 * A new server joins through a random live one, as a user's node does; random other servers
 * look it up (findPeer, one after another, from no cache) until one finds it. Its cost: what it
 * sent, opened and held in its first `JOIN_WINDOW` ms, and the process's CPU from its dial to the
 * end of that window.
 */
async function join (world: World, random: Random): Promise<JoinSample> {
  const node = await world.make()
  const id = node.peerId.toString()
  const counts = { outbound: 0, inbound: 0 }
  const onOpen = (event: CustomEvent<{ direction: string }>): void => { counts[event.detail.direction === 'outbound' ? 'outbound' : 'inbound']++ }
  node.addEventListener('connection:open', onOpen as any)
  const bootstrap = world.pick(random)
  // a joiner whose dial failed has no figures (NaN: left out of the medians) and counts as not found
  const out: JoinSample = { findableMs: NaN, probeStartMs: NaN, probes: 0, requests: NaN, streams: NaN, outbound: NaN, inbound: NaN, open: NaN, table: NaN, cpuMs: NaN }
  const cpu = process.cpuUsage()
  const sent = requestsSent(node, world.impl)
  const opened = dhtStreamsFrom.get(id) ?? 0
  try {
    await node.dial(bootstrap.getMultiaddrs(), { signal: AbortSignal.timeout(30_000) })
  } catch {
    node.removeEventListener('connection:open', onOpen as any)
    return out
  }
  const first = performance.now()
  const watched = sleep(JOIN_WINDOW).then(() => {
    Object.assign(out, {
      requests: requestsSent(node, world.impl) - sent,
      streams: (dhtStreamsFrom.get(id) ?? 0) - opened,
      outbound: counts.outbound,
      inbound: counts.inbound,
      open: node.getConnections().length,
      table: tableSize(node),
      cpuMs: cpuMsSince(cpu)
    })
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
