/**
 * The accelerated client in the simulator: its crawl state and full table (src/accelerated/, the
 * shipped pure parts) driven over a virtual network of thousands of nodes with churn, against
 * go's fullrt modelled the same way (a full crawl every hour, 1,000 visits at once, 16 requests
 * per server that answers, the table replaced by what the crawl found). Over the virtual hours
 * it reports the share of the live servers each table holds, the share of its entries that are
 * gone, the requests each sends per hour and the most visits at once, and one-hop lookups from
 * kadmium's table against the truth and their one-hop floor. `--memory` measures the full
 * table's bytes per entry with real peer ids and addresses, and the whole table at 20,000.
 *
 * ```
 * npm run build
 * node --expose-gc dist/bench/sim/accelerated.js [--nodes 10000] [--churn 1] [--hours 3] [--interval 60]
 *   [--concurrency 32] [--seed 1] [--sample 15] [--lookups 20] [--network-refresh 10] [--bulk 0] [--memory] [--go false]
 * ```
 */
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { compact } from '../../src/accelerated/compact-peer.ts'
import { Crawl } from '../../src/accelerated/crawl.ts'
import { FullTable } from '../../src/accelerated/full-table.ts'
import { K_BUCKET_SIZE } from '../../src/constants.ts'
import { ACCELERATED_MAX_ADDRESSES, ACCELERATED_MAX_FAILURES, CRAWL_MAX_DEPTH, CRAWL_MAX_FAILED_VISITS, REQUEST_TIMEOUT, STALL_MIN_SENT_TIMEOUT } from '../../src/defaults.ts'
import { KAD_ID_BYTES } from '../../src/keys.ts'
import { dhtPeer } from '../../src/network/dht-peer.ts'
import { RoundTrips } from '../../src/query/round-trips.ts'
import { runLookup } from '../../src/query/run-lookup.ts'
import { requestDeadline } from '../../src/query/stall.ts'
import { peerIdFromBytes } from '../../src/utils/peer-id.ts'
import { isMain } from '../lib/main.ts'
import { fmt, numberIn, pct, positiveInt, quantile, table } from '../lib/stats.ts'
import { DEFAULT_STALL, SimNetwork, inPart } from './network.ts'
import type { SimNode, SimPeer } from './network.ts'
import type { CompactPeer } from '../../src/accelerated/compact-peer.ts'
import type { Visit } from '../../src/accelerated/crawl.ts'
import type { StallOptions } from '../../src/query/stall.ts'
import type { PeerId } from '@libp2p/interface'

/** go's crawler: visits at once, requests per server that answers (cpl 0 to 15), one connect + query timeout. */
const GO_PARALLELISM = 1_000
const GO_REQUESTS_PER_VISIT = 16
const GO_TIMEOUT = 5_000

/** Options of {@link runAccelerated}. */
export interface AcceleratedSimOptions {
  nodes: number
  /** Percent of the nodes replaced per virtual minute. */
  churn: number
  /** Virtual hours measured after the first pass. */
  hours: number
  /** The crawl round (kadmium) and crawl interval (go), in minutes. */
  interval: number
  /** kadmium's visits at once. */
  concurrency: number
  seed: number
  /** Virtual minutes between samples. */
  sample: number
  /** One-hop lookups at each sample. */
  lookups: number
  /** The simulated nodes' own bucket refresh, every this many minutes (their join refresh runs regardless). */
  networkRefresh: number
  /** Keys bulk-sent from each table at each sample (0: none): see {@link bulkSend}. */
  bulk?: number
  /** Whether go's crawl is modelled beside (default true); without it its columns are left empty, and a large run takes a fraction of the time. */
  go?: boolean
}

/** What one crawling model did up to a sample. */
interface Model {
  name: string
  table: FullTable<SimPeer>
  /** The round trips its crawl's visits measured, by peer (the service's store). */
  roundTrips: RoundTrips
  requests: number
  peak: number
  visiting: number
}

/**
 * Runs visits of `crawl` from `node` over the simulated network, at most `concurrency` at once:
 * each asks one bucket depth after another (a key at that depth of the peer's position), as the
 * crawler does, until its {@link Visit} has heard enough or a request times out. With `giveUp`
 * a visit's first request times out as the crawler gives up a connection ({@link Visit.giveUpAfter}:
 * a peer measured before at twice its dial's stall deadline); the simulator's request has no dial,
 * so a server that is up answers well within it, and one that left costs the give-up.
 */
function drive (net: SimNetwork, node: SimNode, crawl: Crawl<SimPeer>, model: Model, options: { concurrency: number, requestTimeout: number, giveUp?: StallOptions, perVisit?: number, onVisit?(visit: Visit<SimPeer>, ok: boolean): void }): { pump(): void } {
  let cancelWake: (() => void) | undefined
  const pump = (): void => {
    cancelWake?.()
    cancelWake = undefined
    for (let peer = model.visiting < options.concurrency ? crawl.take() : undefined; peer != null; peer = model.visiting < options.concurrency ? crawl.take() : undefined) {
      visit(peer)
    }
    const due = crawl.nextDue()
    if (model.visiting < options.concurrency && due != null) {
      cancelWake = net.clock.schedule(Math.max(1, due - net.clock.now), pump)
    }
  }
  const visit = (peer: SimPeer): void => {
    model.visiting++
    model.peak = Math.max(model.peak, model.visiting)
    const state = crawl.visit(peer)
    let ok = false
    let requests = 0
    const end = (): void => {
      model.visiting--
      // go's crawler asks all 16 depths of a server that answers
      model.requests += options.perVisit != null && ok ? options.perVisit : requests
      options.onVisit?.(state, ok)
      crawl.finish(state, ok, requests)
      pump()
    }
    const ask = (): void => {
      requests++
      const abort = new AbortController()
      const timeout = requests === 1 && options.giveUp != null ? state.giveUpAfter(options.giveUp, options.requestTimeout) : options.requestTimeout
      const cancel = net.clock.schedule(timeout, () => { abort.abort(new Error('timeout')) })
      const target = keyAtDepth(peer.key, state.depth, net)
      const sent = net.clock.now
      net.asker(node, target)(peer, abort.signal, () => {}).then(closer => {
        cancel()
        ok = true
        // a simulated request is one round trip, with no connection to open
        if (state.answer(closer, net.clock.now - sent, false)) {
          ask()
        } else {
          end()
        }
      }, end)
    }
    ask()
  }
  return { pump }
}

/** A key sharing exactly `depth` leading bits with `position`. */
function keyAtDepth (position: Uint8Array, depth: number, net: SimNetwork): Uint8Array {
  const prefix = position.slice()
  prefix[depth >> 3] ^= 0x80 >> (depth & 7)
  return inPart(prefix, depth + 1, net.random.bytes(KAD_ID_BYTES))
}

/** Share of the live servers `table` holds, and share of its entries that are down. */
function accuracy (net: SimNetwork, table: FullTable<SimPeer>): { held: number, gone: number } {
  let live = 0
  for (const entry of table.entries()) {
    if (net.nodes[entry.peer.index].up) {
      live++
    }
  }
  return { held: live / Math.max(1, net.upCount - 1), gone: table.size === 0 ? 0 : (table.size - live) / table.size }
}

/** Runs the comparison and returns its printed tables. */
export async function runAccelerated (options: AcceleratedSimOptions): Promise<string> {
  const lines: string[] = []
  const net = new SimNetwork({ seed: options.seed, refreshInterval: options.networkRefresh * 60_000 })
  const started = performance.now()
  net.buildFromGlobalView(options.nodes)
  // both crawlers are servers of the network, as a node running fullrt is
  const ours = net.addNode()
  const theirs = net.addNode()
  net.join(ours, net.nodes[0])
  net.join(theirs, net.nodes[1])
  const interval = options.interval * 60_000
  const now = (): number => net.clock.now

  // kadmium: one rolling crawl; its table learns from each visit
  const kadmium: Model = { name: 'kadmium rolling crawl', table: new FullTable({ maxPeers: 10 * options.nodes, maxFailures: ACCELERATED_MAX_FAILURES }), roundTrips: new RoundTrips(20 * options.nodes), requests: 0, peak: 0, visiting: 0 }
  const rolling = new Crawl<SimPeer>({ kBucketSize: K_BUCKET_SIZE, maxDepth: CRAWL_MAX_DEPTH, interval, maxKnown: 20 * options.nodes, maxFailedVisits: CRAWL_MAX_FAILED_VISITS, now })
  rolling.offer([net.nodes[0].peer])
  drive(net, ours, rolling, kadmium, {
    concurrency: options.concurrency,
    requestTimeout: REQUEST_TIMEOUT,
    giveUp: DEFAULT_STALL,
    onVisit: (visit, ok) => {
      if (ok) {
        kadmium.table.answered(visit.peer, now())
        kadmium.roundTrips.observe(visit.peer.id, visit.roundTrip)
      } else {
        kadmium.table.remove(visit.peer.id)
      }
    }
  }).pump()

  // go: a one-pass crawl every interval from what the last found; the table is replaced at its end
  const go: Model = { name: 'go fullrt hourly crawl', table: new FullTable({ maxPeers: 10 * options.nodes, maxFailures: 1 }), roundTrips: new RoundTrips(20 * options.nodes), requests: 0, peak: 0, visiting: 0 }
  let goDurations: number[] = []
  let goSeeds: SimPeer[] = [net.nodes[1].peer]
  const goCrawl = (): void => {
    const began = now()
    const crawl = new Crawl<SimPeer>({ kBucketSize: K_BUCKET_SIZE, maxDepth: CRAWL_MAX_DEPTH, interval: 0, maxKnown: 20 * options.nodes, maxFailedVisits: 1, now })
    crawl.offer(goSeeds)
    const found: SimPeer[] = []
    const { pump } = drive(net, theirs, crawl, go, {
      concurrency: GO_PARALLELISM,
      requestTimeout: GO_TIMEOUT,
      perVisit: GO_REQUESTS_PER_VISIT,
      onVisit: (visit, ok) => {
        if (ok) {
          // go's crawler could time its requests as well: its table gets the same measurements
          found.push(visit.peer)
          go.roundTrips.observe(visit.peer.id, visit.roundTrip)
        }
        if (crawl.done || (go.visiting === 0 && crawl.nextDue() == null)) {
          const table = new FullTable<SimPeer>({ maxPeers: 10 * options.nodes, maxFailures: 1 })
          found.forEach(p => table.answered(p, now()))
          go.table = table
          goSeeds = [...found, net.nodes[1].peer]
          goDurations.push(now() - began)
        }
      }
    })
    pump()
    net.clock.schedule(interval, goCrawl)
  }
  const withGo = options.go !== false
  if (withGo) {
    goCrawl()
  }

  // the first passes: until both tables are ready
  process.stderr.write(`built ${options.nodes} nodes in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  // a long run says where it is: the virtual time reached, every 5 minutes of wall time
  const progress = setInterval(() => {
    process.stderr.write(`  … virtual ${fmt(now() / 60_000, 1)} min after ${fmt((performance.now() - started) / 60_000, 1)} min of wall time\n`)
  }, 300_000)
  progress.unref()
  await net.run(() => rolling.progress().firstPassDone && (!withGo || go.table.size > 0))
  const firstPass = now()
  process.stderr.write(`first passes over at ${fmt(firstPass)} virtual ms, ${((performance.now() - started) / 1000).toFixed(1)} s of wall time\n`)
  lines.push(`\n${options.nodes} nodes (their bucket refresh every ${options.networkRefresh} min; built from the global view in ${((performance.now() - started) / 1000).toFixed(1)} s), churn ${options.churn} %/min, round ${options.interval} min, kadmium ${options.concurrency} visits at once; first pass: kadmium ${fmt(rolling.progress().firstPassEndedAt ?? 0)} ms, go ${fmt(goDurations[0] ?? NaN)} ms (virtual)`)
  lines.push(`first pass requests: kadmium ${fmt(kadmium.requests)} (${fmt(kadmium.requests / kadmium.table.size, 1)} a server), go ${fmt(go.requests)}; most visits at once: kadmium ${kadmium.peak}, go ${go.peak}\n`)

  // churn from here on: nodes leave silently and new ones join through a random node
  const perMs = options.churn / 100 * options.nodes / 60_000
  const end = firstPass + options.hours * 3_600_000
  if (perMs > 0) {
    const churnEvent = (): void => {
      if (now() >= end) {
        return
      }
      const leaving = net.randomUp()
      if (leaving != null && leaving !== ours && leaving !== theirs) {
        net.stop(leaving)
      }
      net.join(net.addNode(), net.randomUp())
      net.clock.after(-Math.log(1 - net.random.next()) / perMs, churnEvent)
    }
    net.clock.after(-Math.log(1 - net.random.next()) / perMs, churnEvent)
  }

  const rows: string[][] = []
  const lookupRows: string[][][] = [[], []]
  const bulkRows: string[][] = []
  let lastRequests = { kadmium: kadmium.requests, go: go.requests, at: firstPass }
  goDurations = goDurations.slice(0, 1)
  for (let at = firstPass; at <= end; at += options.sample * 60_000) {
    await net.runUntil(at)
    const k = accuracy(net, kadmium.table)
    const g = accuracy(net, go.table)
    const hours = (now() - lastRequests.at) / 3_600_000
    rows.push([
      fmt((now() - firstPass) / 60_000),
      fmt(net.upCount),
      `${pct(k.held)} / ${pct(k.gone)}`,
      `${pct(g.held)} / ${pct(g.gone)}`,
      hours === 0 ? '–' : fmt((kadmium.requests - lastRequests.kadmium) / hours),
      hours === 0 ? '–' : fmt((go.requests - lastRequests.go) / hours)
    ])
    lastRequests = { kadmium: kadmium.requests, go: go.requests, at: now() }
    process.stderr.write(`${rows[rows.length - 1].join(' | ')}\n`)
    if ((options.bulk ?? 0) > 0) {
      const keys = Array.from({ length: options.bulk ?? 0 }, () => net.random.bytes(KAD_ID_BYTES))
      bulkRows.push([fmt((now() - firstPass) / 60_000), ...bulkSend(net, ours, kadmium.table, keys), ...bulkSend(net, ours, go.table, keys)])
    }
    if (options.lookups > 0) {
      const targets = Array.from({ length: options.lookups }, () => net.random.bytes(KAD_ID_BYTES))
      const minutes = fmt((now() - firstPass) / 60_000)
      for (const [i, measured] of [false, true].entries()) {
        lookupRows[i].push([minutes, ...await oneHop(net, ours, kadmium, targets, measured), ...withGo ? await oneHop(net, ours, go, targets, measured) : ['–', '–', '–', '–']])
        // a long run that is stopped early keeps what it measured
        process.stderr.write(`  one-hop lookups (${measured ? 'per-request deadlines' : 'adaptive deadline'}): ${lookupRows[i][lookupRows[i].length - 1].join(' | ')}\n`)
      }
    }
  }
  lines.push(table('Full tables over time: share of the live servers held / share of entries gone; requests per hour since the last row', [
    'minutes', 'servers up', 'kadmium held / gone', 'go held / gone', 'kadmium requests/h', 'go requests/h'
  ], rows))
  if (bulkRows.length > 0) {
    lines.push(table(`${fmt(options.bulk ?? 0)} keys provided from each table at each sample, as kadmium's provideMany sends from its full table (no lookup: each key's record to its 20 closest in the table, a gone one passed to the next closest): sends per key, and where the records land against the true 20 live`, [
      'minutes', 'kadmium: sends per key', 'failed sends per key', 'keys on exactly their true 20', 'true 20 reached', 'go table: sends per key', 'failed sends per key', 'keys on exactly their true 20', 'true 20 reached'
    ], bulkRows))
  }
  lines.push(`most visits at once: kadmium ${kadmium.peak}, go ${go.peak}; go's crawls took ${goDurations.map(d => fmt(d / 1000, 1)).join(', ')} s (virtual)\n`)
  if (options.lookups > 0) {
    const stalls = [
      'the lookup\'s adaptive stall deadline alone (2 s before its first answer: before the measured deadlines)',
      'each request stalled after its peer\'s round trip as the crawl measured it (the service\'s per-request deadline: 3 round trips, at least 250 ms)'
    ]
    for (const [i, rows] of lookupRows.entries()) {
      lines.push(table(`One-hop getClosestPeers from each table (the 40 closest seeded, 20 asked at once), ${stalls[i]}: exact true 20 live, requests, latency and its floor (the slowest round trip to the true 20); the same ${options.lookups} keys in both tables`, [
        'minutes', 'kadmium exact', 'requests p50', 'latency p50 ms', 'latency / floor p50', 'go table exact', 'requests p50', 'latency p50 ms', 'latency / floor p50'
      ], rows))
    }
  }
  clearInterval(progress)
  return lines.join('\n')
}

/**
 * Lookups from `from` of each of `targets`, each seeded with the table's 2k closest and asking k
 * at once, with stall detection (what the service does with the full table), run through the
 * shipped runLookup; with `measured`, a request stalls as the service's does (its deadline from
 * the peer's round trip in the model's store, which its crawl's visits fed: a simulated request
 * is one round trip, with no connection to open), else at the lookup's adaptive deadline alone.
 */
async function oneHop (net: SimNetwork, from: SimNode, model: Model, targets: Uint8Array[], measured: boolean): Promise<string[]> {
  const full = model.table
  const stall = { ...DEFAULT_STALL, minSent: STALL_MIN_SENT_TIMEOUT }
  const results: Array<{ exact: boolean, requests: number, latency: number, floor: number }> = []
  for (const target of targets) {
    const started = net.clock.now
    let requests = 0
    let closest: SimPeer[] | undefined
    void runLookup<SimPeer>({
      target,
      alpha: K_BUCKET_SIZE,
      resultSize: K_BUCKET_SIZE,
      requestTimeout: REQUEST_TIMEOUT,
      // the service's stall detection: a gone peer among the seeds costs its stall deadline, not 10 s
      stall: DEFAULT_STALL,
      stallAfter: measured
        ? (peer) => requestDeadline(stall, model.roundTrips, peer.id, 'sent', REQUEST_TIMEOUT)
        : undefined,
      seeds: full.closest(target, 2 * K_BUCKET_SIZE).map(entry => entry.peer),
      now: () => net.clock.now,
      schedule: net.clock.schedule,
      ask: net.asker(from, target),
      onEvent: (event) => { requests += event.type === 'ask' ? 1 : 0 }
    }).then(outcome => { closest = outcome.closest }, () => { closest = [] })
    await net.run(() => closest != null)
    const truth = net.trueClosest(target, K_BUCKET_SIZE, from.peer.index)
    const found = new Set((closest ?? []).map(p => p.id))
    results.push({
      exact: truth.every(p => found.has(p.id)),
      requests,
      latency: net.clock.now - started,
      floor: Math.max(...truth.map(p => net.rtt(from.peer.index, p.index)))
    })
  }
  return [
    pct(results.filter(r => r.exact).length / results.length, 0),
    fmt(quantile(results.map(r => r.requests), 0.5)),
    fmt(quantile(results.map(r => r.latency), 0.5)),
    fmt(quantile(results.map(r => r.latency / r.floor), 0.5), 2)
  ]
}

/**
 * Each key's provider record sent from `full` as the accelerated client's bulk send does
 * (src/accelerated/bulk-send.ts): to the key's k closest in the table, a send to a peer that is
 * gone failing and passed to the next closest, until k live peers took it or the table's 3k
 * closest are spent. Sends per key, failed sends per key, the share of keys whose records are on
 * exactly their true k closest live servers, and the share of those reached, mean.
 */
function bulkSend (net: SimNetwork, from: SimNode, full: FullTable<SimPeer>, keys: Uint8Array[]): string[] {
  let sends = 0
  let failed = 0
  let exact = 0
  let reached = 0
  for (const key of keys) {
    const landed = new Set<string>()
    for (const entry of full.closest(key, 3 * K_BUCKET_SIZE)) {
      if (landed.size === K_BUCKET_SIZE) {
        break
      }
      sends++
      if (net.nodes[entry.peer.index].up) {
        landed.add(entry.peer.id)
      } else {
        failed++
      }
    }
    const truth = net.trueClosest(key, K_BUCKET_SIZE, from.peer.index)
    const hits = truth.filter(p => landed.has(p.id)).length
    exact += hits === truth.length ? 1 : 0
    reached += hits / truth.length
  }
  const n = keys.length
  return [fmt(sends / n, 1), fmt(failed / n, 1), pct(exact / n), pct(reached / n)]
}

/**
 * Bytes per full-table entry as the service holds one (a compact peer: id, position, peer id and
 * two addresses as bytes),
 * and the whole table at `count` servers, from the heap before and after (run with --expose-gc).
 */
export async function measureMemory (count: number): Promise<string> {
  const gc = (globalThis as { gc?(): void }).gc
  if (gc == null) {
    return 'run with node --expose-gc to measure memory'
  }
  // what arrives on the wire, made beforehand: each peer's id and address bytes; the table's
  // entries are built from them inside the measurement, as the crawler builds them from answers
  const wire = await Promise.all(Array.from({ length: count }, async (_, i) => ({
    id: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toMultihash().bytes,
    addresses: [`/ip4/10.${(i >> 8) & 255}.${i & 255}.1/tcp/4001`, `/ip4/10.${(i >> 8) & 255}.${i & 255}.1/udp/4001/quic-v1`].map(a => multiaddr(a).bytes)
  })))
  gc()
  const before = process.memoryUsage().heapUsed
  const full = new FullTable<CompactPeer>({ maxPeers: count, maxFailures: ACCELERATED_MAX_FAILURES })
  for (const { id, addresses } of wire) {
    // as the crawler turns a peer of an answer into a table entry
    full.answered(compact(dhtPeer(peerIdFromBytes(id) as PeerId, addresses.map(bytes => multiaddr(bytes))), ACCELERATED_MAX_ADDRESSES), 0)
  }
  gc()
  const after = process.memoryUsage().heapUsed
  // the rolling crawl's bookkeeping of the same servers (it shares their compact peers with the table)
  const crawl = new Crawl<CompactPeer>({ kBucketSize: K_BUCKET_SIZE, maxDepth: CRAWL_MAX_DEPTH, interval: 3_600_000, maxKnown: 2 * count, maxFailedVisits: CRAWL_MAX_FAILED_VISITS, now: () => 0 })
  crawl.offer(full.entries().map(entry => entry.peer))
  gc()
  const crawled = process.memoryUsage().heapUsed
  return table(`The full table's memory: ${fmt(count)} servers, each entry (its id, position, Ed25519 peer id and two addresses) made from wire bytes as the crawler makes it`, ['entries', 'full table: heap growth', 'bytes per entry', 'and the crawl\'s bookkeeping: heap growth', 'bytes per server'], [
    [fmt(full.size), `${fmt((after - before) / 1_048_576, 1)} MiB`, fmt((after - before) / count), `${fmt((crawled - after) / 1_048_576, 1)} MiB`, fmt((crawled - after) / count)]
  ])
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '10000' },
      churn: { type: 'string', default: '1' },
      hours: { type: 'string', default: '3' },
      interval: { type: 'string', default: '60' },
      concurrency: { type: 'string', default: '32' },
      seed: { type: 'string', default: '1' },
      sample: { type: 'string', default: '15' },
      lookups: { type: 'string', default: '20' },
      'network-refresh': { type: 'string', default: '10' },
      bulk: { type: 'string', default: '0' },
      memory: { type: 'boolean', default: false },
      go: { type: 'string', default: 'true' }
    }
  })
  if (values.memory) {
    process.stdout.write(await measureMemory(positiveInt('nodes', values.nodes)) + '\n')
  } else {
    process.stdout.write(await runAccelerated({
      nodes: positiveInt('nodes', values.nodes),
      churn: numberIn('churn', values.churn, 0, 100),
      hours: numberIn('hours', values.hours, 0, 48),
      interval: numberIn('interval', values.interval, 1, 24 * 60),
      concurrency: positiveInt('concurrency', values.concurrency),
      seed: positiveInt('seed', values.seed),
      sample: numberIn('sample', values.sample, 1, 24 * 60),
      lookups: numberIn('lookups', values.lookups, 0, 1_000),
      networkRefresh: numberIn('network-refresh', values['network-refresh'], 1, 24 * 60),
      bulk: numberIn('bulk', values.bulk, 0, 1_000_000),
      go: values.go !== 'false'
    }) + '\n')
  }
}
