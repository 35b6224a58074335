/**
 * Hostile messages: what one expensive message costs a server, kadmium against
 * `@libp2p/kad-dht`, each in a server process of its own (the serve benchmark's, with its helper
 * peers in the table and the rate limit off, so that the cost measured is the work, not a wait).
 *
 * For each message, `runs` times each (the table gives the least and the median CPU time: the
 * least is the one the machine's other work disturbed least), (1) the server's CPU time from sending it until the server is quiet
 * again (a PING sent after it on the same stream marks when the stream got to it; then the
 * server's CPU is sampled until a 100 ms window uses under 5 ms); (2) the same message while
 * another client sends PINGs one after another on a stream of its own: the slowest PING answer
 * in that window, against the slowest before it. Then a flood of malformed frames, for the
 * server's CPU and memory.
 *
 * Then legitimate records, each server with the per-peer rate limit on (kadmium's defaults; js
 * has none): a PUT_VALUE of a small record and one of a record that fills a frame (4 MiB; the
 * benchmarks' `/bench/` namespace takes it in both), each from a fresh peer: how long until the
 * answer came, the server's CPU, and the slowest PING meanwhile; then `largeFlood` of the large
 * ones at once from one peer, each on a stream of its own: how many were answered.
 *
 * ```
 * npm run build
 * node dist/bench/hostile.js [--helpers 20] [--flood 100000] [--runs 5] [--seed 1] [--large-flood 8] [--only large]
 * ```
 */
import { parseArgs } from 'node:util'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_MESSAGE_SIZE } from '../src/constants.ts'
import { streamSource } from '../src/network/stream-source.ts'
import { MessageType, encodeMessage } from '../src/wire/codec.ts'
import { frame, readFrames } from '../src/wire/framing.ts'
import { kadmium as pb } from '../src/wire/generated/dht.js'
import { isMain } from './lib/main.ts'
import { BENCH_PROTOCOL } from './lib/nodes.ts'
import { Random } from './lib/random.ts'
import { fmt, positiveInt, quantile, ratio, table } from './lib/stats.ts'
import { ServerHandle, clientNode } from './serve.ts'
import type { Impl } from './lib/nodes.ts'
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Options of the hostile-message benchmark. */
export interface HostileOptions {
  helpers: number
  flood: number
  runs: number
  seed: number
  /** Large records sent at once from one peer. */
  largeFlood: number
  /** `hostile`, `large`, or both (undefined). */
  only?: 'hostile' | 'large'
}

export const HOSTILE_DEFAULTS: HostileOptions = { helpers: 20, flood: 100_000, runs: 5, seed: 1, largeFlood: 8 }

/** Room left in a frame for the message's own fields. */
const SLACK = 1_024

/** A message that costs the sender nothing to make: built to fill a frame. */
interface Hostile {
  name: string
  bytes: Uint8Array
}

/** The entries of `entry` that fit in one frame beside `SLACK` bytes. */
function fill<T> (entry: T, entryBytes: number): T[] {
  return Array.from({ length: Math.floor((MAX_MESSAGE_SIZE - SLACK) / entryBytes) }, () => entry)
}

/** The size of one repeated peer entry on the wire (its tag and length prefix included). */
function entrySize (entry: { id: Uint8Array, addrs: Uint8Array[] }): number {
  return pb.Message.encode({ closerPeers: [entry] }).finish().length
}

async function hostileMessages (sender: PeerId, senderKey: PrivateKey, random: Random): Promise<Hostile[]> {
  const addr = multiaddr('/ip4/1.2.3.4/tcp/4001').bytes
  const self = { id: sender.toMultihash().bytes, addrs: [addr] }
  const pkKey = new Uint8Array([...new TextEncoder().encode('/pk/'), ...sender.toMultihash().bytes])
  // one-byte addresses nobody can parse, a thousand to an entry
  const padded = { id: sender.toMultihash().bytes, addrs: Array.from({ length: 1_000 }, () => new Uint8Array([0xff])) }
  // peers with sha2-256 multihash ids (cheap to make, valid peer ids)
  const someone = (): { id: Uint8Array, addrs: Uint8Array[] } => ({ id: new Uint8Array([0x12, 0x20, ...random.bytes(32)]), addrs: [addr] })
  const many = Array.from({ length: Math.floor((MAX_MESSAGE_SIZE - SLACK) / entrySize(someone())) }, someone)
  const messages: Hostile[] = [
    {
      name: `ADD_PROVIDER listing the sender ${fmt(fill(self, entrySize(self)).length)} times`,
      bytes: pb.Message.encode({ type: MessageType.ADD_PROVIDER, key: random.bytes(34), providerPeers: fill(self, entrySize(self)) }).finish()
    },
    {
      name: `PUT_VALUE of a valid /pk/ record padded with ${fmt(fill(padded, entrySize(padded)).length * 1_000)} one-byte bad addresses`,
      bytes: pb.Message.encode({
        type: MessageType.PUT_VALUE,
        key: pkKey,
        record: { key: pkKey, value: publicKeyToProtobuf(senderKey.publicKey) },
        closerPeers: fill(padded, entrySize(padded))
      }).finish()
    },
    {
      name: `FIND_NODE carrying ${fmt(many.length)} closer peers`,
      bytes: pb.Message.encode({ type: MessageType.FIND_NODE, key: random.bytes(34), closerPeers: many }).finish()
    }
  ]
  for (const message of messages) {
    if (message.bytes.length > MAX_MESSAGE_SIZE) {
      throw new Error(`${message.name} is ${message.bytes.length} bytes, over the frame limit`)
    }
  }
  return messages
}

const PING = encodeMessage({ type: MessageType.PING })

/** Sends `bytes` then a PING on a new stream; resolves when the PING's answer came or the stream ended. */
async function sendThenPing (client: Libp2p, server: PeerId, bytes: Uint8Array): Promise<void> {
  const stream = await client.dialProtocol(server, BENCH_PROTOCOL)
  const frames = readFrames(streamSource(stream), { maxMessageSize: MAX_MESSAGE_SIZE })
  try {
    for (const message of [bytes, PING]) {
      if (!stream.send(frame(message))) {
        await stream.onDrain({ signal: AbortSignal.timeout(60_000) })
      }
    }
    const deadline = AbortSignal.timeout(60_000)
    // the answers until the PING's (an answer to the hostile message may come first)
    while (!deadline.aborted) {
      const next = await frames.next()
      if (next.done === true || next.value.subarray()[1] === MessageType.PING) {
        break
      }
    }
  } catch {
    // reset: the server refused it
  } finally {
    stream.abort(new Error('done'))
  }
}

/** Waits until the server process uses under 5 ms of CPU in 100 ms (at most 60 s). */
async function quiet (server: ServerHandle): Promise<void> {
  const until = Date.now() + 60_000
  let last = await server.cpu()
  while (Date.now() < until) {
    await new Promise(resolve => setTimeout(resolve, 100))
    const now = await server.cpu()
    if (now - last < 5_000) {
      return
    }
    last = now
  }
}

/** Sends PINGs one after another on one stream until stopped; records each round trip. */
function probe (client: Libp2p, server: PeerId): { stop(): Promise<number[]> } {
  const rtts: number[] = []
  const stopped = new AbortController()
  const loop = (async () => {
    const stream = await client.dialProtocol(server, BENCH_PROTOCOL)
    const frames = readFrames(streamSource(stream), { maxMessageSize: MAX_MESSAGE_SIZE })
    while (!stopped.signal.aborted) {
      const t = performance.now()
      stream.send(frame(PING))
      if ((await frames.next()).done === true) {
        break
      }
      rtts.push(performance.now() - t)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    stream.abort(new Error('done'))
  })()
  return {
    stop: async () => {
      stopped.abort()
      await loop.catch(() => {})
      return rtts
    }
  }
}

function median (values: number[]): number {
  return quantile(values, 0.5)
}

/** One implementation's row of figures for each message. */
interface Measured {
  /** Per message: the least and the median CPU time of its runs. */
  cpuMs: Array<{ min: number, median: number }>
  worstPingMs: number[]
  baselinePingMs: number
  flood: { cpuMs: number, rssBeforeMb: number, rssAfterMb: number, answered: boolean }
}

async function measure (impl: Impl, messages: Hostile[], attacker: Libp2p, prober: Libp2p, options: HostileOptions): Promise<Measured> {
  const server = new ServerHandle(impl, options)
  try {
    const ready = await server.ready
    const target = multiaddr(ready.addrs[0])
    const serverId = (await dial(attacker, target)).remotePeer
    await dial(prober, target)
    const baseline = probe(prober, serverId)
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const baselinePingMs = Math.max(...await baseline.stop())
    const out: Measured = { cpuMs: [], worstPingMs: [], baselinePingMs, flood: { cpuMs: NaN, rssBeforeMb: NaN, rssAfterMb: NaN, answered: false } }
    for (const message of messages) {
      process.stderr.write(`  [${impl}] ${message.name}\n`)
      const cpu: number[] = []
      const worst: number[] = []
      for (let run = 0; run < options.runs; run++) {
        await quiet(server)
        const cpu0 = await server.cpu()
        await sendThenPing(attacker, serverId, message.bytes)
        await quiet(server)
        cpu.push((await server.cpu() - cpu0) / 1_000)
        const pings = probe(prober, serverId)
        await new Promise(resolve => setTimeout(resolve, 100))
        await sendThenPing(attacker, serverId, message.bytes)
        await quiet(server)
        worst.push(Math.max(...await pings.stop()))
      }
      out.cpuMs.push({ min: Math.min(...cpu), median: median(cpu) })
      out.worstPingMs.push(median(worst))
    }
    process.stderr.write(`  [${impl}] a flood of ${fmt(options.flood)} malformed frames\n`)
    await quiet(server)
    const before = await server.usage()
    await flood(attacker, serverId, options.flood, options.seed)
    await quiet(server)
    const after = await server.usage()
    const check = probe(prober, serverId)
    await new Promise(resolve => setTimeout(resolve, 200))
    out.flood = {
      cpuMs: (after.micros - before.micros) / 1_000,
      rssBeforeMb: before.rss / 2 ** 20,
      rssAfterMb: after.rss / 2 ** 20,
      answered: (await check.stop()).length > 0
    }
    return out
  } finally {
    server.stop()
  }
}

/** Sends `count` random malformed frames, a hundred to a stream (each stream is reset at its first). */
async function flood (client: Libp2p, server: PeerId, count: number, seed: number): Promise<void> {
  const random = new Random(seed + 7)
  const perStream = 100
  const streams = Math.ceil(count / perStream)
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < streams) {
      next++
      let stream: Stream | undefined
      try {
        stream = await client.dialProtocol(server, BENCH_PROTOCOL)
        for (let i = 0; i < perStream; i++) {
          // a field of wire type 7, which no protobuf message has, then random bytes
          stream.send(frame(new Uint8Array([0x0f, ...random.bytes(1 + (i % 40))])))
        }
        await stream.close({ signal: AbortSignal.timeout(5_000) })
      } catch {
        // reset by the server: expected
      } finally {
        stream?.abort(new Error('done'))
      }
    }
  }))
}

/** A legitimate PUT_VALUE: a record under `/bench/` with a value of `bytes` bytes, a new key each time. */
function putValue (label: string, bytes: number, random: Random): () => Uint8Array {
  let n = 0
  return () => {
    const key = new TextEncoder().encode(`/bench/${label}-${n++}-${Array.from(random.bytes(4), b => b.toString(16)).join('')}`)
    return pb.Message.encode({ type: MessageType.PUT_VALUE, key, record: { key, value: new Uint8Array(bytes).fill(n & 0xff) } }).finish()
  }
}

/** Sends one request on a new stream; resolves to the ms until its answer had arrived whole, or undefined if the stream was reset. */
async function answerTime (client: Libp2p, server: PeerId, bytes: Uint8Array): Promise<number | undefined> {
  const stream = await client.dialProtocol(server, BENCH_PROTOCOL)
  const frames = readFrames(streamSource(stream), { maxMessageSize: MAX_MESSAGE_SIZE })
  const t = performance.now()
  try {
    if (!stream.send(frame(bytes))) {
      await stream.onDrain({ signal: AbortSignal.timeout(60_000) })
    }
    const answer = await frames.next()
    return answer.done === true ? undefined : performance.now() - t
  } catch {
    return undefined
  } finally {
    stream.abort(new Error('done'))
  }
}

/** Dials `target`, up to five times with 30 s each: a handshake can take seconds on a loaded machine. */
async function dial (client: Libp2p, target: Multiaddr): Promise<Connection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.dial(target, { signal: AbortSignal.timeout(30_000) })
    } catch (err) {
      if (attempt === 5) {
        throw err
      }
    }
  }
}

/** A client of its own (a peer the rate limit has not seen), connected to `target`. */
async function freshClient (target: Multiaddr): Promise<{ client: Libp2p, server: PeerId }> {
  const client = await clientNode()
  return { client, server: (await dial(client, target)).remotePeer }
}

/** One implementation's figures for legitimate records. */
interface LargeMeasured {
  /** Per request kind: ms until answered, least and median; CPU ms, least and median; the slowest PING meanwhile (median of runs). */
  rows: Array<{ answerMs: number[], cpuMs: number[], worstPingMs: number, unanswered: number }>
  /** The flood: answered, refused, and the ms until the last answer or reset. */
  flood: { answered: number, refused: number, ms: number }
}

interface Legit {
  name: string
  bytes: number
  make(): Uint8Array
}

function legitMessages (random: Random): Legit[] {
  // the value fills the frame beside the message's fields (two keys, tags, lengths)
  const large = MAX_MESSAGE_SIZE - SLACK
  return [
    { name: 'a lone PUT_VALUE of a 100-byte record', bytes: 100, make: putValue('small', 100, random) },
    { name: `a lone PUT_VALUE of a ${fmt(large / 2 ** 20, 2)} MiB record`, bytes: large, make: putValue('large', large, random) }
  ]
}

async function measureLarge (impl: Impl, legit: Legit[], prober: Libp2p, options: HostileOptions): Promise<LargeMeasured> {
  const server = new ServerHandle(impl, { ...options, rateLimit: true })
  const clients: Libp2p[] = []
  const fresh = async (target: Multiaddr): Promise<{ client: Libp2p, server: PeerId }> => {
    const made = await freshClient(target)
    clients.push(made.client)
    return made
  }
  try {
    const ready = await server.ready
    const target = multiaddr(ready.addrs[0])
    const serverId = (await dial(prober, target)).remotePeer
    const out: LargeMeasured = { rows: [], flood: { answered: 0, refused: 0, ms: NaN } }
    for (const message of legit) {
      process.stderr.write(`  [${impl}, rate limit on] ${message.name}\n`)
      const row = { answerMs: [] as number[], cpuMs: [] as number[], worstPingMs: NaN, unanswered: 0 }
      const worst: number[] = []
      for (let run = 0; run < options.runs; run++) {
        // each request from a peer of its own: a lone request, whatever came before
        const first = await fresh(target)
        await quiet(server)
        const cpu0 = await server.cpu()
        const ms = await answerTime(first.client, first.server, message.make())
        await quiet(server)
        row.cpuMs.push((await server.cpu() - cpu0) / 1_000)
        if (ms == null) {
          row.unanswered++
        } else {
          row.answerMs.push(ms)
        }
        const second = await fresh(target)
        const pings = probe(prober, serverId)
        await new Promise(resolve => setTimeout(resolve, 100))
        await answerTime(second.client, second.server, message.make())
        await quiet(server)
        worst.push(Math.max(...await pings.stop()))
      }
      row.worstPingMs = median(worst)
      out.rows.push(row)
    }
    process.stderr.write(`  [${impl}, rate limit on] ${options.largeFlood} large records at once from one peer\n`)
    const flooder = await fresh(target)
    const large = legit[legit.length - 1]
    const t = performance.now()
    const answers = await Promise.all(Array.from({ length: options.largeFlood }, async () => answerTime(flooder.client, flooder.server, large.make())))
    out.flood = { answered: answers.filter(a => a != null).length, refused: answers.filter(a => a == null).length, ms: performance.now() - t }
    return out
  } finally {
    server.stop()
    await Promise.all(clients.map(async client => client.stop()))
  }
}

/** The table of legitimate records, both implementations. */
function largeTable (legit: Legit[], k: LargeMeasured, j: LargeMeasured, options: HostileOptions): string {
  const both = (values: number[]): string => values.length === 0 ? '–' : `${fmt(Math.min(...values), 1)} / ${fmt(median(values), 1)}`
  const rows = legit.map((message, i) => [
    message.name,
    fmt(message.bytes / 2 ** 20, 2),
    both(k.rows[i].answerMs) + (k.rows[i].unanswered > 0 ? ` (${k.rows[i].unanswered} reset)` : ''),
    both(j.rows[i].answerMs) + (j.rows[i].unanswered > 0 ? ` (${j.rows[i].unanswered} reset)` : ''),
    ratio(median(k.rows[i].answerMs), median(j.rows[i].answerMs)),
    both(k.rows[i].cpuMs),
    both(j.rows[i].cpuMs),
    fmt(k.rows[i].worstPingMs, 1),
    fmt(j.rows[i].worstPingMs, 1)
  ])
  const flood = (f: LargeMeasured['flood']): string => `${f.answered} answered, ${f.refused} reset, in ${fmt(f.ms, 0)} ms`
  rows.push([`${options.largeFlood} of the large ones at once from one peer, a stream each`, fmt(legit[legit.length - 1].bytes * options.largeFlood / 2 ** 20, 1), flood(k.flood), flood(j.flood), '', '', '', '', ''])
  return table(`Legitimate records with the rate limit on (kadmium's defaults: 200 requests at once, 50/s, one request per 16 KiB; js has none): answer time, server CPU and the slowest PING meanwhile (least / median of ${options.runs} runs, each from a fresh peer)`, [
    'request', 'MiB', 'kadmium answered in ms', 'js answered in ms', 'kadmium / js', 'kadmium CPU ms', 'js CPU ms', 'kadmium worst PING ms', 'js worst PING ms'
  ], rows)
}

/** Runs the benchmark and prints its tables. */
export async function runHostile (partial: Partial<HostileOptions> = {}): Promise<void> {
  const options = { ...HOSTILE_DEFAULTS, ...partial }
  if (options.only !== 'hostile') {
    const prober = await clientNode()
    try {
      const legit = legitMessages(new Random(options.seed + 11))
      const k = await measureLarge('kadmium', legit, prober, options)
      const j = await measureLarge('js', legit, prober, options)
      process.stdout.write(largeTable(legit, k, j, options))
    } finally {
      await prober.stop()
    }
  }
  if (options.only === 'large') {
    return
  }
  // the attacker's /pk/ record is its own: a valid record
  const attackerKey = await generateKeyPair('Ed25519')
  const attacker = await clientNode(attackerKey)
  const prober = await clientNode()
  try {
    const messages = await hostileMessages(attacker.peerId, attackerKey, new Random(options.seed))
    const results = new Map<Impl, Measured>()
    for (const impl of ['kadmium', 'js'] as Impl[]) {
      results.set(impl, await measure(impl, messages, attacker, prober, options))
    }
    const k = results.get('kadmium') as Measured
    const j = results.get('js') as Measured
    const rows = messages.map((message, i) => [
      message.name,
      fmt(message.bytes.length / 2 ** 20, 2),
      `${fmt(k.cpuMs[i].min, 1)} / ${fmt(k.cpuMs[i].median, 1)}`,
      `${fmt(j.cpuMs[i].min, 1)} / ${fmt(j.cpuMs[i].median, 1)}`,
      fmt(k.worstPingMs[i], 1),
      fmt(j.worstPingMs[i], 1)
    ])
    rows.push([
      `a flood of ${fmt(options.flood)} malformed frames (100 a stream)`,
      '–',
      fmt(k.flood.cpuMs, 0),
      fmt(j.flood.cpuMs, 0),
      k.flood.answered ? 'answers after' : 'NO ANSWER',
      j.flood.answered ? 'answers after' : 'NO ANSWER'
    ])
    process.stdout.write(table(`Hostile messages: server CPU and the slowest PING from another client meanwhile (the median of ${options.runs} runs) (slowest PING before: kadmium ${fmt(k.baselinePingMs, 1)} ms, js ${fmt(j.baselinePingMs, 1)} ms)`, [
      'message', 'MiB', 'kadmium CPU ms, least / median', 'js CPU ms, least / median', 'kadmium worst PING ms', 'js worst PING ms'
    ], rows))
    process.stdout.write(`\nserver resident memory around the flood: kadmium ${fmt(k.flood.rssBeforeMb, 0)} → ${fmt(k.flood.rssAfterMb, 0)} MiB, js ${fmt(j.flood.rssBeforeMb, 0)} → ${fmt(j.flood.rssAfterMb, 0)} MiB\n`)
  } finally {
    await Promise.all([attacker.stop(), prober.stop()])
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { helpers: { type: 'string' }, flood: { type: 'string' }, runs: { type: 'string' }, seed: { type: 'string' }, 'large-flood': { type: 'string' }, only: { type: 'string' } }, strict: true })
  if (values.only != null && values.only !== 'hostile' && values.only !== 'large') {
    throw new Error('--only takes hostile or large')
  }
  await runHostile({
    ...(values.helpers == null ? {} : { helpers: positiveInt('helpers', values.helpers) }),
    ...(values.runs == null ? {} : { runs: positiveInt('runs', values.runs) }),
    ...(values.flood == null ? {} : { flood: positiveInt('flood', values.flood) }),
    ...(values.seed == null ? {} : { seed: positiveInt('seed', values.seed) }),
    ...(values['large-flood'] == null ? {} : { largeFlood: positiveInt('large-flood', values['large-flood']) }),
    only: values.only
  })
  process.exit(0)
}
