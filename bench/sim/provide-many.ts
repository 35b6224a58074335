/**
 * Many CIDs provided at once from one node, three ways, over a simulated network on the virtual
 * clock. The accelerated client's `provideMany` runs the shipped `bulkSend`
 * (src/accelerated/bulk-send.ts) from a full table of every server (what its first crawl leaves
 * in a network without churn), with the service's pool of senders and records per peer. The
 * normal mode's `provideMany` is a model: the shipped `settleBatch` (src/providers/region.ts)
 * for the region lookups (`PUBLISH_MANY_REGIONS_AT_ONCE` regions at once), then each key's 20
 * sends with `PUBLISH_MANY_KEYS_AT_ONCE` keys on their way at once, as `publishMany` sends them (the closest peers taken from the truth, as
 * bench/sim/batch.ts takes them: what the simulator's lookups find in a network without churn).
 * One optimistic `provide` per CID runs the shipped src/providers/optimistic-provide.ts through
 * bench/sim/optimistic.ts, `--at-once` of them at a time, each slot free again when its call
 * returns (the rest of its sends go on in the background).
 *
 * A request or an ADD_PROVIDER takes one round trip of the pair (log-normal, median 80 ms) with
 * connections taken as open, as the other simulator benches take them; the accelerated send is
 * also run with a dial of 3 round trips before a peer's first record and its connection closed
 * after its batch (the service closes those of peers it does not keep), the cost a real node
 * pays that the other two ways' lookups also pay and this model leaves out.
 *
 * ```
 * npm run build
 * node dist/bench/sim/provide-many.js [--nodes 10000] [--cids 10000] [--at-once 16] [--seed 1]
 * ```
 */
import { parseArgs } from 'node:util'
import { bulkSend } from '../../src/accelerated/bulk-send.ts'
import { FullTable } from '../../src/accelerated/full-table.ts'
import { ALPHA } from '../../src/constants.ts'
import { ACCELERATED_MAX_FAILURES, BULK_SEND_CONCURRENCY, BULK_SEND_PER_PEER, MAX_REGION_LOOKUPS, MIN_REGION_KEYS, PUBLISH_MANY_KEYS_AT_ONCE, PUBLISH_MANY_REGIONS_AT_ONCE } from '../../src/defaults.ts'
import { kadId } from '../../src/keys.ts'
import { settleBatch } from '../../src/providers/region.ts'
import { isMain } from '../lib/main.ts'
import { fmt, ms, pct, positiveInt, table } from '../lib/stats.ts'
import { inPart, SimNetwork } from './network.ts'
import { estimateSize, inVirtualTime, provide } from './optimistic.ts'
import type { SimNode, SimPeer } from './network.ts'
import type { ProvideRecord } from './optimistic.ts'

/** Options of {@link runProvideMany}. */
export interface ProvideManyOptions {
  nodes: number
  cids: number
  /** Optimistic provides at once. */
  atOnce: number
  seed: number
  out?(text: string): void
}

/** What one way of providing did. */
export interface ProvideManyRow {
  how: string
  /** Virtual ms from the start until every key's call was over. */
  returned: number
  /** Virtual ms until every record sent had arrived. */
  settled: number
  findNode: number
  addProvider: number
  dials?: number
  /** Keys whose records reached exactly their true k closest. */
  exact: number
  /** Share of the true k closest reached, over all keys. */
  reached: number
}

/** Where the records of each key landed: the peers that got it. */
class Landing {
  private readonly peers = new Map<Uint8Array, Set<string>>()
  constructor (keys: Uint8Array[]) {
    keys.forEach(key => this.peers.set(key, new Set()))
  }

  /** Records that `peer` got the record of `key` (one of the keys given). */
  add (key: Uint8Array, peer: string): void {
    this.peers.get(key)?.add(peer)
  }

  /** Share of keys on exactly their true k, and of the true k reached. */
  score (net: SimNetwork, from: SimNode): { exact: number, reached: number } {
    let exact = 0
    let reached = 0
    for (const [key, got] of this.peers) {
      const truth = net.trueClosest(kadId(key), net.k, from.peer.index)
      const hits = truth.filter(peer => got.has(peer.id)).length
      exact += hits === truth.length && got.size === truth.length ? 1 : 0
      reached += hits / truth.length
    }
    return { exact: exact / this.peers.size, reached: reached / this.peers.size }
  }
}

/** A promise that resolves after `delay` virtual ms. */
async function after (net: SimNetwork, delay: number): Promise<void> {
  return new Promise(resolve => { net.clock.after(delay, resolve) })
}

/** The accelerated client's provideMany from a full table of every server; with `dial`, a peer's first record waits for its connection. */
async function accelerated (net: SimNetwork, from: SimNode, keys: Uint8Array[], dial: boolean): Promise<ProvideManyRow> {
  const table = new FullTable<SimPeer>({ maxPeers: 2 * net.nodes.length, maxFailures: ACCELERATED_MAX_FAILURES })
  for (const node of net.nodes) {
    if (node !== from && node.up) {
      table.answered(node.peer, net.clock.now)
    }
  }
  const landing = new Landing(keys)
  const open = new Map<number, Promise<void>>()
  let sends = 0
  let dials = 0
  const started = net.clock.now
  let returned = started
  let over = 0
  const work = (async () => {
    for await (const result of bulkSend(keys.map(key => ({ item: key, key })), {
      table,
      prepare: (peer) => peer,
      kBucketSize: net.k,
      concurrency: BULK_SEND_CONCURRENCY,
      perPeer: BULK_SEND_PER_PEER,
      send: async (peer, key) => {
        sends++
        const rtt = net.rtt(from.peer.index, peer.index)
        if (dial) {
          let connection = open.get(peer.index)
          if (connection == null) {
            dials++
            connection = after(net, 3 * rtt)
            open.set(peer.index, connection)
          }
          await connection
        }
        // the record goes and the peer ends its stream once it handled it: one round trip
        await after(net, rtt)
        landing.add(key, peer.id)
      },
      connected: (peer) => !dial || open.has(peer.index),
      release: async (peer) => { open.delete(peer.index) }
    })) {
      over += result.sent > 0 ? 1 : 0
      returned = net.clock.now
    }
  })()
  await inVirtualTime(net, work)
  if (over !== keys.length) {
    throw new Error(`only ${over} of ${keys.length} keys were sent`)
  }
  return { how: `accelerated provideMany (${BULK_SEND_CONCURRENCY} peers at once, ${BULK_SEND_PER_PEER} records each)${dial ? ', a dial of 3 round trips a peer' : ''}`, returned: returned - started, settled: net.clock.now - started, findNode: 0, addProvider: sends, ...(dial ? { dials } : {}), ...landing.score(net, from) }
}

/** The normal mode's provideMany: region lookups, several regions at once, and each settled key's sends. */
async function batch (net: SimNetwork, from: SimNode, keys: Uint8Array[]): Promise<ProvideManyRow> {
  const landing = new Landing(keys)
  let findNode = 0
  let sends = 0
  // the time with at least one region lookup under way
  let lookupMs = 0
  let looking = 0
  let lookingSince = 0
  const sending = new Set<Promise<unknown>>()
  const started = net.clock.now
  const findFor = () => async (prefix: Uint8Array, bits: number) => {
    const target = bits >= 256 ? prefix : inPart(prefix, bits, net.random.bytes(32))
    if (looking++ === 0) {
      lookingSince = net.clock.now
    }
    const record = await net.lookupNow(from, target, { alpha: ALPHA, resultSize: net.k })
    if (--looking === 0) {
      lookupMs += net.clock.now - lookingSince
    }
    findNode += record.requests
    return { target, peers: net.trueClosest(target, net.k, from.peer.index) }
  }
  for await (const step of settleBatch(keys, key => kadId(key), findFor, { k: net.k, maxLookups: MAX_REGION_LOOKUPS, minKeys: MIN_REGION_KEYS, regionsAtOnce: PUBLISH_MANY_REGIONS_AT_ONCE })) {
    if ('failed' in step) {
      continue
    }
    for (const { item, peers } of step.settled) {
      // a key's 20 records at once, and up to PUBLISH_MANY_KEYS_AT_ONCE keys' at once, as publishMany sends them
      if (sending.size >= PUBLISH_MANY_KEYS_AT_ONCE) {
        await inVirtualTime(net, Promise.race(sending))
      }
      sends += peers.length
      const key = Promise.all(peers.map(async peer => {
        await after(net, net.rtt(from.peer.index, peer.index))
        landing.add(item, peer.id)
      })).then(() => { sending.delete(key) })
      sending.add(key)
    }
  }
  await inVirtualTime(net, Promise.all([...sending]))
  const elapsed = net.clock.now - started
  return { how: `provideMany (${PUBLISH_MANY_REGIONS_AT_ONCE} regions' lookups at once, the sends of ${PUBLISH_MANY_KEYS_AT_ONCE} keys at once; ${ms(lookupMs)} of it with lookups under way)`, returned: elapsed, settled: elapsed, findNode, addProvider: sends, ...landing.score(net, from) }
}

/** One optimistic provide per key, `atOnce` at a time. */
async function optimistic (net: SimNetwork, from: SimNode, keys: Uint8Array[], atOnce: number, networkSize: number): Promise<ProvideManyRow> {
  let findNode = 0
  let exact = 0
  let reached = 0
  let sends = 0
  let next = 0
  let returned = 0
  const background: Array<Promise<unknown>> = []
  const started = net.clock.now
  const tally = (record: ProvideRecord): void => {
    findNode += record.requests
    sends += record.records
    exact += record.onTrue === net.k && record.records === net.k ? 1 : 0
    reached += record.onTrue / net.k
  }
  const slot = async (): Promise<void> => {
    for (let i = next++; i < keys.length; i = next++) {
      const call = Promise.withResolvers<void>()
      background.push(provide(net, from, keys[i], 'optimistic, 3 closest answered (kadmium)', networkSize, () => { call.resolve() }).then(tally))
      await call.promise
      returned = net.clock.now
    }
  }
  await inVirtualTime(net, Promise.all(Array.from({ length: atOnce }, slot)))
  await inVirtualTime(net, Promise.all(background))
  return { how: `optimistic provides (${atOnce} at once)`, returned: returned - started, settled: net.clock.now - started, findNode, addProvider: sends, exact: exact / keys.length, reached: reached / keys.length }
}

/** Runs the three ways over one network and prints the table; resolves to its rows. */
export async function runProvideMany (partial: Partial<ProvideManyOptions> = {}): Promise<ProvideManyRow[]> {
  const options: ProvideManyOptions = { nodes: 10_000, cids: 10_000, atOnce: 16, seed: 1, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  // the provides' own requests are what is measured: no background upkeep
  const net = new SimNetwork({ seed: options.seed, refreshInterval: 0 })
  net.buildFromGlobalView(options.nodes)
  const from = net.nodes[0]
  const keys = Array.from({ length: options.cids }, () => net.random.bytes(32))
  const networkSize = await estimateSize(net, from)
  const rows: ProvideManyRow[] = []
  for (const run of [
    async () => accelerated(net, from, keys, false),
    async () => accelerated(net, from, keys, true),
    async () => batch(net, from, keys),
    async () => optimistic(net, from, keys, options.atOnce, networkSize)
  ]) {
    const wall = performance.now()
    const row = await run()
    rows.push(row)
    process.stderr.write(`  ${row.how}: ${ms(row.returned)} virtual, ${((performance.now() - wall) / 1000).toFixed(1)} s of wall time\n`)
  }
  out(table(`${fmt(options.cids)} CIDs provided from one node of ${fmt(options.nodes)} simulated nodes, three ways (virtual time; a request or record one round trip, log-normal RTT median 80 ms; connections open unless said)`,
    ['how', 'all calls over', 'all records arrived', 'FIND_NODE (per CID)', 'ADD_PROVIDER (per CID)', 'dials', 'CIDs on exactly their true 20', 'true 20 reached'],
    rows.map(row => [row.how, ms(row.returned), ms(row.settled), `${fmt(row.findNode)} (${fmt(row.findNode / options.cids, 1)})`, `${fmt(row.addProvider)} (${fmt(row.addProvider / options.cids, 1)})`, row.dials == null ? '–' : fmt(row.dials), pct(row.exact), pct(row.reached)])))
  return rows
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { nodes: { type: 'string' }, cids: { type: 'string' }, 'at-once': { type: 'string' }, seed: { type: 'string' } }, strict: true })
  await runProvideMany({
    ...(values.nodes == null ? {} : { nodes: positiveInt('nodes', values.nodes) }),
    ...(values.cids == null ? {} : { cids: positiveInt('cids', values.cids) }),
    ...(values['at-once'] == null ? {} : { atOnce: positiveInt('at-once', values['at-once']) }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) })
  })
}
