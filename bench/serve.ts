/**
 * Serve benchmark: how many requests per second one server node answers over TCP loopback.
 *
 * A server process runs one DHT node (kadmium or `@libp2p/kad-dht`) with a trivial echo protocol
 * beside it on the same libp2p stack (TCP, noise, yamux), plus helper nodes of the same
 * implementation that connect to it, so that its routing table is full and its answers carry
 * k peers as they would in a network. It also holds one provider record and one value. This
 * process is the client: a few libp2p nodes with no DHT that send FIND_NODE, GET_PROVIDERS and
 * GET_VALUE (or an echo) with a new stream per request or many requests on one stream, at
 * concurrency 1, 16 and 64 (at most 16 streams per client connection, under both servers'
 * per-connection inbound stream limit of 32). FIND_NODE and the echo are also sent through
 * kadmium's own outbound `Client`, which keeps one stream per peer for requests in sequence and
 * opens more only for requests at the same time. Every run is bounded in count and in time. The
 * server's CPU time per request is read from the server process (process.cpuUsage).
 *
 * ```
 * npm run build
 * node dist/bench/serve.js [--seconds 2] [--max 5000] [--helpers 40] [--concurrency 1,16,64]
 * ```
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { MAX_KEPT_STREAMS, OUTBOUND_IDLE_TIMEOUT } from '../src/defaults.ts'
import { Client } from '../src/network/client.ts'
import { Counters } from '../src/network/counters.ts'
import { streamSink, streamSource } from '../src/network/stream-source.ts'
import { MessageType, decodeMessage, encodeMessage } from '../src/wire/codec.ts'
import { frame, readFrames } from '../src/wire/framing.ts'
import { isMain } from './lib/main.ts'
import { BENCH_PROTOCOL, benchKey, benchNode, tableSize } from './lib/nodes.ts'
import { Random } from './lib/random.ts'
import { fmt, intList, ms, numberIn, positiveInt, ratio, table } from './lib/stats.ts'
import type { BenchNode, Impl, JsBenchNode, KadmiumBenchNode } from './lib/nodes.ts'
import type { Request } from '../src/network/client.ts'
import type { Message } from '../src/wire/codec.ts'
import type { AbortOptions, Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

/** The echo protocol: every byte read is written back. */
export const ECHO_PROTOCOL = '/kadmium-bench/echo/1.0.0'

/** What is asked. */
type Kind = 'FIND_NODE' | 'GET_PROVIDERS' | 'GET_VALUE' | 'ECHO'
/**
 * How requests travel: a new stream each, many in sequence on one stream per worker, or through
 * kadmium's outbound `Client`, which keeps one stream per peer for requests in sequence.
 */
type StreamMode = 'new' | 'reused' | 'client'

const MODE_LABELS: Record<StreamMode, string> = { new: 'new stream each', reused: 'one stream', client: 'kadmium Client' }

/** The modes of each request kind: kadmium's client is measured on FIND_NODE (and the echo). */
function modesOf (kind: Kind): StreamMode[] {
  return kind === 'FIND_NODE' || kind === 'ECHO' ? ['new', 'reused', 'client'] : ['new', 'reused']
}

/** Options of the serve benchmark. */
export interface ServeOptions {
  seconds: number
  max: number
  helpers: number
  concurrency: number[]
  seed: number
  out?(text: string): void
}

export const SERVE_DEFAULTS: ServeOptions = {
  seconds: 2,
  max: 5_000,
  helpers: 40,
  concurrency: [1, 16, 64],
  seed: 1
}

/** Streams per client connection at most (both servers accept 32 inbound per connection). */
const STREAMS_PER_CLIENT = 16

/** A measured run. */
export interface ServeResult {
  server: Impl | 'echo'
  kind: Kind
  mode: StreamMode
  concurrency: number
  requests: number
  errors: number
  seconds: number
  perSecond: number
  cpuMsPerRequest: number
  answerBytes: number
}

/** What the server process says once it is ready to be measured. */
export interface Ready { type: 'ready', addrs: string[], key: string, cid: string, table: number }
interface Cpu { type: 'cpu', micros: number, rss: number }

// ---------------------------------------------------------------------------------------------
// server process

async function serverProcess (impl: Impl, helpers: number, seed: number, rateLimit: boolean): Promise<void> {
  const random = new Random(seed)
  // one client sends every request: kadmium's per-peer rate limit would measure itself, and js
  // has none, so it is off here unless asked for (at kadmium's defaults)
  const server = await benchNode({ impl, privateKey: await benchKey(seed, 0), transport: 'tcp', name: 'server', kadmium: rateLimit ? {} : { rateLimit: false } })
  await server.handle(ECHO_PROTOCOL, async (stream: Stream) => {
    // the same reading and writing path as kadmium's server, so the echo stays a fair limit
    await streamSink(stream, streamSource(stream))
    await stream.close()
  }, { maxInboundStreams: 32 })
  const others: BenchNode[] = []
  for (let i = 1; i <= helpers; i++) {
    const helper = await benchNode({ impl, privateKey: await benchKey(seed, i), transport: 'tcp', name: `helper-${i}` })
    others.push(helper)
    await helper.dial(server.getMultiaddrs())
  }
  // wait until the server's table holds the helpers (js pings each first)
  const deadline = Date.now() + 30_000
  while (tableSize(server) < helpers && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const key = new TextEncoder().encode(`/bench/serve-${seed}`)
  const value = random.bytes(100)
  const cid = CID.createV1(0x55, await sha256.digest(random.bytes(32)))
  if (impl === 'kadmium') {
    const dht = (server as KadmiumBenchNode).services.dht
    await dht.put(key, value)
    await dht.provide(cid)
  } else {
    const dht = (server as JsBenchNode).services.dht
    for await (const event of dht.put(key, value)) { void event }
    for await (const event of dht.provide(cid)) { void event }
  }
  // the helpers' and the server's own start-up work (kadmium's join refresh, js's self-query)
  // runs in this process: measure only once it is quiet (under 10 % of a core for 2 s, longer
  // than kadmium waits before a join refresh), for both alike, within 60 s
  const quietBy = Date.now() + 60_000
  for (let quiet = 0; quiet < 4 && Date.now() < quietBy;) {
    const before = process.cpuUsage()
    await new Promise(resolve => setTimeout(resolve, 500))
    const used = process.cpuUsage(before)
    quiet = (used.user + used.system) / 1_000 < 50 ? quiet + 1 : 0
  }
  const ready: Ready = { type: 'ready', addrs: server.getMultiaddrs().map(String), key: Buffer.from(key).toString('hex'), cid: cid.toString(), table: tableSize(server) }
  process.send?.(ready)
  process.on('message', (message: { type: string }) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage()
      const reply: Cpu = { type: 'cpu', micros: usage.user + usage.system, rss: process.memoryUsage().rss }
      process.send?.(reply)
    } else if (message.type === 'stop') {
      process.exit(0)
    }
  })
}

// ---------------------------------------------------------------------------------------------
// client side

/** A server process (kadmium or js, with its helpers), and its CPU time and memory on demand. */
export class ServerHandle {
  readonly ready: Promise<Ready>
  private readonly proc: ReturnType<typeof fork>
  private cpuWaiter?: (usage: Cpu) => void

  /** With `rateLimit`, a kadmium server limits each peer as it does by default; otherwise not at all. */
  constructor (impl: Impl, options: Pick<ServeOptions, 'helpers' | 'seed'> & { rateLimit?: boolean }) {
    this.proc = fork(fileURLToPath(import.meta.url), ['--server', impl, '--helpers', String(options.helpers), '--seed', String(options.seed), ...(options.rateLimit === true ? ['--rate-limit'] : [])], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc']
    })
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('the server did not start in 120 s')) }, 120_000)
      this.proc.on('message', (message: Ready | Cpu) => {
        if (message.type === 'ready') {
          clearTimeout(timer)
          resolve(message)
        } else if (message.type === 'cpu') {
          this.cpuWaiter?.(message)
        }
      })
      this.proc.on('exit', () => { reject(new Error('the server process ended')) })
    })
  }

  /** The server process's CPU time so far, in µs. */
  async cpu (): Promise<number> {
    return (await this.usage()).micros
  }

  /** The server process's CPU time so far (µs) and resident memory (bytes). */
  async usage (): Promise<{ micros: number, rss: number }> {
    return new Promise(resolve => {
      this.cpuWaiter = resolve
      this.proc.send({ type: 'cpu' })
    })
  }

  stop (): void {
    this.proc.send({ type: 'stop' })
    setTimeout(() => this.proc.kill('SIGKILL'), 2_000).unref()
  }
}

/** A libp2p node with no DHT, on the server's stack. */
export async function clientNode (privateKey?: PrivateKey): Promise<Libp2p> {
  return createLibp2p({
    privateKey,
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

function request (kind: Kind, ready: Ready, keys: Uint8Array[], i: number): Request {
  switch (kind) {
    case 'GET_PROVIDERS':
      return { type: MessageType.GET_PROVIDERS, key: CID.parse(ready.cid).multihash.bytes, clusterLevel: 0 }
    case 'GET_VALUE':
      return { type: MessageType.GET_VALUE, key: Buffer.from(ready.key, 'hex'), clusterLevel: 0 }
    default:
      // an echo carries a FIND_NODE request's bytes: what the transport does with a small message
      return { type: MessageType.FIND_NODE, key: keys[i % keys.length], clusterLevel: 0 }
  }
}

/** Checks that an answer is what was asked for; throws if not. */
function check (kind: Kind, answer: Uint8Array): void {
  if (kind !== 'ECHO') {
    checkMessage(kind, decodeMessage(answer))
  }
}

function checkMessage (kind: Kind, message: Message): void {
  if (kind === 'FIND_NODE' && message.closer.first(1).length === 0) {
    throw new Error('FIND_NODE answered with no closer peers')
  }
  if (kind === 'GET_PROVIDERS' && message.providers.first(1).length === 0) {
    throw new Error('GET_PROVIDERS answered with no provider')
  }
  if (kind === 'GET_VALUE' && message.record == null) {
    throw new Error('GET_VALUE answered with no record')
  }
}

/** One measured run: `concurrency` workers until `max` requests or `seconds` have passed. */
async function run (clients: Libp2p[], server: ServerHandle, ready: Ready, kind: Kind, mode: StreamMode, concurrency: number, options: ServeOptions, keys: Uint8Array[]): Promise<Omit<ServeResult, 'server'>> {
  const protocol = kind === 'ECHO' ? ECHO_PROTOCOL : BENCH_PROTOCOL
  const target = multiaddr(ready.addrs[0])
  const conns = await Promise.all(clients.map(async c => c.dial(target)))
  let sent = 0
  let done = 0
  let errors = 0
  let answerBytes = 0
  const started = performance.now()
  const until = started + options.seconds * 1_000
  const more = (): boolean => sent < options.max && performance.now() < until
  /** Sends request `i` on `stream`, reads and checks its answer. */
  const exchange = async (stream: Stream, frames: ReturnType<typeof readFrames>, i: number): Promise<void> => {
    if (!stream.send(frame(encodeMessage(request(kind, ready, keys, i))))) {
      await stream.onDrain()
    }
    const answer = await frames.next()
    if (answer.done === true) {
      throw new Error('the stream ended without an answer')
    }
    const bytes = answer.value.subarray()
    check(kind, bytes)
    answerBytes += bytes.length
    done++
  }
  // kadmium's outbound client, one per client connection, its streams opened on that connection
  const serverId = peerIdFromString(target.getComponents().find(c => c.name === 'p2p')?.value as string)
  const kadmiumClients = conns.map(conn => new Client({
    connectionManager: { openStream: async (_target: unknown, proto: string, opts: AbortOptions) => conn.newStream(proto, opts) } as unknown as ConnectionManager,
    logger: defaultLogger()
  }, { protocol, maxMessageSize: 4 * 1024 * 1024, counters: new Counters(), logPrefix: 'bench', readTimeout: 10_000, idleTimeout: OUTBOUND_IDLE_TIMEOUT, maxKept: MAX_KEPT_STREAMS }))
  const cpu0 = await server.cpu()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    const at = Math.floor(w / STREAMS_PER_CLIENT) % conns.length
    const conn = conns[at]
    if (mode === 'client') {
      while (more()) {
        const i = sent++
        try {
          const answer = await kadmiumClients[at].request(serverId, request(kind, ready, keys, i))
          if (kind !== 'ECHO') {
            checkMessage(kind, answer)
          }
          done++
        } catch {
          errors++
        }
      }
      return
    }
    if (mode === 'new') {
      while (more()) {
        const i = sent++
        try {
          const stream = await conn.newStream(protocol)
          await exchange(stream, readFrames(streamSource(stream), { maxMessageSize: 4 * 1024 * 1024 }), i)
          await stream.close()
        } catch {
          errors++
        }
      }
      return
    }
    let stream: Stream | undefined
    try {
      stream = await conn.newStream(protocol)
      const frames = readFrames(streamSource(stream), { maxMessageSize: 4 * 1024 * 1024 })
      while (more()) {
        await exchange(stream, frames, sent++)
      }
      await stream.close()
    } catch {
      errors++
      stream?.abort(new Error('benchmark error'))
    }
  }))
  const seconds = (performance.now() - t0) / 1_000
  const cpu1 = await server.cpu()
  kadmiumClients.forEach(c => { c.closeAll() })
  await Promise.all(conns.map(async c => c.close().catch(() => {})))
  return {
    kind,
    mode,
    concurrency,
    requests: done,
    errors,
    seconds,
    perSecond: done / seconds,
    cpuMsPerRequest: done === 0 ? NaN : (cpu1 - cpu0) / 1_000 / done,
    answerBytes: done === 0 ? 0 : answerBytes / done
  }
}

/** Runs the serve benchmark and prints its tables. */
export async function runServe (partial: Partial<ServeOptions> = {}): Promise<ServeResult[]> {
  const options = { ...SERVE_DEFAULTS, ...partial }
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const random = new Random(options.seed + 1)
  const keys = Array.from({ length: 256 }, () => random.bytes(32))
  const results: ServeResult[] = []
  const maxConcurrency = Math.max(...options.concurrency)
  const clients = await Promise.all(Array.from({ length: Math.ceil(maxConcurrency / STREAMS_PER_CLIENT) }, async () => clientNode()))
  out(`\n## Serve: requests per second one server answers over TCP loopback (${options.helpers} helper peers in its table; runs bounded by ${options.seconds} s or ${fmt(options.max)} requests)\n`)
  try {
    for (const impl of ['kadmium', 'js'] as Impl[]) {
      const server = new ServerHandle(impl, options)
      try {
        const ready = await server.ready
        out(`\n${impl} server up, routing table ${ready.table} peers\n`)
        const kinds: Kind[] = impl === 'kadmium' ? ['FIND_NODE', 'GET_PROVIDERS', 'GET_VALUE', 'ECHO'] : ['FIND_NODE', 'GET_PROVIDERS', 'GET_VALUE']
        const plan = kinds.flatMap(kind => modesOf(kind).flatMap(mode => options.concurrency.map(concurrency => ({ kind, mode, concurrency }))))
        for (const { kind, mode, concurrency } of plan) {
          // a short warm-up, not measured
          await run(clients, server, ready, kind, mode, concurrency, { ...options, seconds: 0.2, max: 200 }, keys)
          const result = await run(clients, server, ready, kind, mode, concurrency, options, keys)
          results.push({ server: kind === 'ECHO' ? 'echo' : impl, ...result })
        }
      } finally {
        server.stop()
      }
    }
  } finally {
    await Promise.all(clients.map(async c => { await c.stop() }))
  }
  out(serveTables(results, options))
  return results
}

function cell (result: ServeResult | undefined): string {
  if (result == null) {
    return '–'
  }
  return `${fmt(result.perSecond)}${result.errors > 0 ? ` (${result.errors} err)` : ''}`
}

/** A number of a result, NaN when there is no result. */
function num (result: ServeResult | undefined, field: 'perSecond' | 'cpuMsPerRequest' | 'answerBytes'): number {
  return result == null ? NaN : result[field]
}

function serveTables (results: ServeResult[], options: ServeOptions): string {
  const find = (server: string, kind: Kind, mode: StreamMode, c: number): ServeResult | undefined =>
    results.find(r => r.server === server && r.kind === kind && r.mode === mode && r.concurrency === c)
  const rows: string[][] = []
  for (const kind of ['FIND_NODE', 'GET_PROVIDERS', 'GET_VALUE'] as Kind[]) {
    for (const mode of modesOf(kind)) {
      for (const c of options.concurrency) {
        const k = find('kadmium', kind, mode, c)
        const j = find('js', kind, mode, c)
        const e = find('echo', 'ECHO', mode, c)
        rows.push([
          kind,
          MODE_LABELS[mode],
          String(c),
          cell(k),
          cell(j),
          cell(e),
          ratio(num(k, 'perSecond'), num(j, 'perSecond'), 1),
          ratio(num(k, 'perSecond'), num(e, 'perSecond'), 2),
          ms(num(k, 'cpuMsPerRequest')),
          ms(num(j, 'cpuMsPerRequest')),
          ms(num(e, 'cpuMsPerRequest')),
          // the client decodes its answers itself: their size is not counted
          mode === 'client' ? '–' : `${fmt(num(k, 'answerBytes'))} / ${fmt(num(j, 'answerBytes'))}`
        ])
      }
    }
  }
  return table('Serve: requests answered per second (server CPU per request from the server process)', [
    'request', 'streams', 'concurrency', 'kadmium req/s', 'js req/s', 'echo req/s', 'kadmium / js', 'kadmium / echo', 'kadmium CPU/req', 'js CPU/req', 'echo CPU/req', 'answer bytes k / js'
  ], rows)
}

/** Parses the serve benchmark's command line. */
export function serveArgs (args: string[]): Partial<ServeOptions> & { server?: Impl, rateLimit?: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string' },
      max: { type: 'string' },
      helpers: { type: 'string' },
      concurrency: { type: 'string' },
      seed: { type: 'string' },
      server: { type: 'string' },
      'rate-limit': { type: 'boolean' }
    },
    strict: true
  })
  const out: Partial<ServeOptions> & { server?: Impl, rateLimit?: boolean } = {}
  if (values.seconds != null) { out.seconds = numberIn('seconds', values.seconds, 0.1, 600) }
  if (values.max != null) { out.max = positiveInt('max', values.max) }
  if (values.helpers != null) { out.helpers = positiveInt('helpers', values.helpers) }
  if (values.concurrency != null) { out.concurrency = intList('concurrency', values.concurrency) }
  if (values.seed != null) { out.seed = positiveInt('seed', values.seed) }
  if (values.server != null) {
    if (values.server !== 'kadmium' && values.server !== 'js') {
      throw new Error('--server takes kadmium or js')
    }
    out.server = values.server
  }
  if (values['rate-limit'] === true) {
    out.rateLimit = true
  }
  return out
}

if (isMain(import.meta.url)) {
  const { server, rateLimit, ...options } = serveArgs(process.argv.slice(2))
  if (server != null) {
    await serverProcess(server, options.helpers ?? SERVE_DEFAULTS.helpers, options.seed ?? SERVE_DEFAULTS.seed, rateLimit === true)
  } else {
    await runServe(options)
    process.exit(0)
  }
}
