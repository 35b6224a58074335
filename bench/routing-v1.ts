/**
 * Load benchmark of the Delegated Routing V1 HTTP API: 200 clients at once send 10,000 requests
 * (providers in JSON and NDJSON, peers, closest peers, IPNS records) to a server in a 20-node
 * network on loopback, while one greedy client keeps 64 requests in flight. It measures latency
 * (p50, p90, p99), throughput, the server process's memory, which answers were not ones the spec
 * allows, and what the greedy client got.
 *
 * Two servers are measured in the same run, each alone in the same network: the `kadmium daemon`
 * (its /routing/v1 listener, a child process started as a user starts it) and, for comparison,
 * `@helia/delegated-routing-v1-http-api-server` (fastify) over Helia whose router is
 * `@libp2p/kad-dht`, the JavaScript server one would run today. The network is 19 kadmium nodes
 * in another process, holding 200 provider records and 40 IPNS records; the server under test is
 * the 20th node. Each client binds an address of its own in 127.0.0.0/8 (127.0.0.2 and up; the
 * greedy one 127.0.0.250), so that a server can tell them apart, as it would on a network.
 *
 * ```
 * npm run build
 * node dist/bench/routing-v1.js [--requests 10000] [--seconds 240] [--clients 200] [--greedy 64] [--only kadmium,reference]
 * ```
 */
import { fork, spawn } from 'node:child_process'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { Agent, get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { createDelegatedRoutingV1HttpApiServer } from '@helia/delegated-routing-v1-http-api-server'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { kadDHT as jsKadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { createIPNSRecord, marshalIPNSRecord, multihashToIPNSRoutingKey } from 'ipns'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import drain from 'it-drain'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { isMain } from './lib/main.ts'
import { BENCH_PROTOCOL, benchKey, benchNode, pool } from './lib/nodes.ts'
import { Random, randomLinks } from './lib/random.ts'
import { fmt, ms, pct, positiveInt, summarise, table } from './lib/stats.ts'
import type { KadmiumBenchNode } from './lib/nodes.ts'
import type { AddressInfo } from 'node:net'

/** The servers measured. */
type ServerName = 'kadmium' | 'reference'
const SERVER_LABELS: Record<ServerName, string> = {
  kadmium: 'kadmium daemon',
  reference: '@helia/…-http-api-server + @libp2p/kad-dht'
}

/** What is asked. */
type Kind = 'providers' | 'providers ndjson' | 'providers (none)' | 'peers' | 'closest' | 'ipns'
/** The share of each kind in the mix. */
const MIX: Array<[Kind, number]> = [['providers', 0.35], ['providers ndjson', 0.15], ['providers (none)', 0.1], ['peers', 0.15], ['closest', 0.15], ['ipns', 0.1]]

/** Options of the benchmark. */
export interface RoutingLoadOptions {
  requests: number
  /** How long the clients send new requests, at most, in s (a server that takes longer is measured on what it answered by then). */
  seconds: number
  clients: number
  greedy: number
  only: ServerName[]
  seed: number
}

export const ROUTING_LOAD_DEFAULTS: RoutingLoadOptions = { requests: 10_000, seconds: 240, clients: 200, greedy: 64, only: ['kadmium', 'reference'], seed: 1 }

/** Nodes of the network besides the server under test. */
const HELPERS = 19
/** Links each helper draws to others. */
const DEGREE = 4
/** CIDs provided in the network, and CIDs nobody provides. */
const PROVIDED = 200
const UNPROVIDED = 100
/** IPNS names published in the network. */
const NAMES = 40
/** How long one request may take, in ms: the npm client's limit. */
const REQUEST_TIMEOUT = 30_000
/** Requests sent before measuring, so both servers start with their connections made. */
const WARM_UP = 200

/** What the network process tells once it is ready. */
interface NetworkReady {
  type: 'ready'
  /** Each helper's address, with `/p2p/<id>`. */
  addrs: string[]
  peers: string[]
  provided: Array<{ cid: string, provider: string }>
  names: string[]
}

// ---------------------------------------------------------------------------------------------
// the network: 19 kadmium nodes with provider and IPNS records

async function networkProcess (seed: number): Promise<void> {
  const random = new Random(seed)
  const nodes = await Promise.all(Array.from({ length: HELPERS }, async (_, i) =>
    benchNode({ impl: 'kadmium', privateKey: await benchKey(seed, i + 1), transport: 'tcp', name: `helper-${i}` }) as Promise<KadmiumBenchNode>))
  for (const [from, to] of randomLinks(HELPERS, DEGREE, random)) {
    await nodes[from].dial(nodes[to].getMultiaddrs()).catch(() => {})
  }
  for (const node of nodes) {
    await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
  }
  const provided: NetworkReady['provided'] = []
  await pool(Array.from({ length: PROVIDED }, (_, i) => i), 8, async (i) => {
    const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`routing-v1 bench ${seed} ${i}`)))
    const node = nodes[i % HELPERS]
    await node.services.dht.provide(cid)
    provided.push({ cid: cid.toString(), provider: node.peerId.toString() })
  })
  const names: string[] = []
  await pool(Array.from({ length: NAMES }, (_, i) => i), 8, async (i) => {
    const key = await benchKey(seed, 1_000 + i)
    const record = marshalIPNSRecord(await createIPNSRecord(key, '/ipfs/bafkqaaa', 1, 24 * 60 * 60_000, { v1Compatible: false }))
    await nodes[i % HELPERS].services.dht.put(multihashToIPNSRoutingKey(key.publicKey.toMultihash()), record)
    names.push(peerIdFromPrivateKey(key).toCID().toString(base36))
  })
  const ready: NetworkReady = { type: 'ready', addrs: nodes.map(n => n.getMultiaddrs()[0].toString()), peers: nodes.map(n => n.peerId.toString()), provided, names }
  process.send?.(ready)
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stop') {
      process.exit(0)
    }
  })
}

// ---------------------------------------------------------------------------------------------
// the reference server: Helia over @libp2p/kad-dht, served by fastify

async function referenceProcess (bootstrap: string[]): Promise<void> {
  const helia = withLibp2pLight(createHeliaLight(), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 2_000, inboundConnectionThreshold: 100_000 },
    services: {
      identify: identify(),
      ping: ping(),
      dht: jsKadDHT({ protocol: BENCH_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper, validators: { ipns: ipnsValidator }, selectors: { ipns: ipnsSelector } })
    }
  })
  await helia.start()
  for (const address of bootstrap) {
    await helia.libp2p.dial(multiaddr(address)).catch(() => {})
  }
  const server = await createDelegatedRoutingV1HttpApiServer(helia as any, { listen: { host: '127.0.0.1', port: 0 } })
  const { port } = server.server.address() as AddressInfo
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}/routing/v1` })
  process.on('message', (message: { type: string }) => {
    if (message.type === 'stop') {
      process.exit(0)
    }
  })
}

// ---------------------------------------------------------------------------------------------
// the load

/** A server under test: where it serves, its process id, and how to stop it. */
interface RunningServer {
  url: string
  pid: number
  stop(): Promise<void>
}

/** Starts the kadmium daemon as a user does, on a fresh data directory, dialling `bootstrap`. */
async function startKadmium (bootstrap: string[]): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'kadmium-bench-routing-'))
  const cli = fileURLToPath(new URL('../../packages/daemon/dist/src/index.js', import.meta.url))
  const args = [cli, 'daemon', '--data-dir', dir, '--protocol', BENCH_PROTOCOL, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--routing-port', '0',
    '--max-connections', '2000', '--inbound-connection-threshold', '100000', ...bootstrap.flatMap(a => ['--bootstrap', a])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { reject(new Error(`the daemon did not start:\n${out}`)) }, 60_000)
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /^routing: +(\S+)$/m.exec(out)
      if (match != null) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    child.on('exit', () => { reject(new Error(`the daemon exited:\n${out}`)) })
  })
  return {
    url,
    pid: child.pid ?? 0,
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Starts the reference server in a process of its own. */
async function startReference (bootstrap: string[]): Promise<RunningServer> {
  const child = fork(fileURLToPath(import.meta.url), ['--role', 'reference', '--bootstrap', bootstrap.join(',')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { type: string, url: string }) => { resolve(message.url) })
    child.on('exit', () => { reject(new Error('the reference server exited')) })
  })
  return {
    url,
    pid: child.pid ?? 0,
    stop: async () => {
      child.send({ type: 'stop' })
      await new Promise(resolve => child.once('exit', resolve))
    }
  }
}

/** A process's resident memory, in bytes (Linux's /proc). */
async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024
}

/** A process's CPU time so far (user and system), in seconds (Linux's /proc; 100 ticks a second). */
async function cpuOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** One answer: its status (0: no answer), whether it said what the network holds, and its time. */
interface Answer {
  kind: Kind
  status: number
  right: boolean
  ms: number
}

/** One request: where, with which `Accept`, and the peer a right answer names (providers, peers). */
interface Ask {
  kind: Kind
  path: string
  accept: string
  names?: string
}

/** The peer ids of an answer's records, JSON or NDJSON, in base58btc whichever form they came in. */
function recordIds (body: string, ndjson: boolean): string[] {
  const records: Array<{ ID: string }> = ndjson
    ? body.split('\n').filter(line => line !== '').map(line => JSON.parse(line))
    : Object.values(JSON.parse(body) as Record<string, Array<{ ID: string }>>)[0] ?? []
  // the reference server writes IDs as CIDs, kadmium as base58btc: both name the same peer
  return records.map(record => peerIdFromString(record.ID).toString())
}

/** Whether an answer says what the network holds. */
function isRight (ask: Ask, status: number, body: string, contentType: string): boolean {
  if (status !== 200) {
    return false
  }
  try {
    switch (ask.kind) {
      case 'ipns':
        return contentType === 'application/vnd.ipfs.ipns-record'
      case 'providers (none)':
        return recordIds(body, false).length === 0
      case 'closest':
        return recordIds(body, false).length > 0
      default:
        return recordIds(body, ask.accept === 'application/x-ndjson').includes(ask.names ?? '')
    }
  } catch {
    return false
  }
}

/** Sends one GET over `agent` and reads the whole answer; `check` may judge the body instead. */
async function send (base: string, ask: Ask, agent: Agent, check?: (body: string) => boolean): Promise<Answer> {
  const started = performance.now()
  return new Promise(resolve => {
    const done = (status: number, body: string, contentType = ''): void => {
      const right = check != null ? status === 200 && check(body) : isRight(ask, status, body, contentType)
      resolve({ kind: ask.kind, status, right, ms: performance.now() - started })
    }
    const request = get(`${base}${ask.path}`, { agent, headers: { accept: ask.accept }, timeout: REQUEST_TIMEOUT }, (res) => {
      let body = ''
      res.setEncoding('latin1')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { done(res.statusCode ?? 0, body, res.headers['content-type']) })
      res.on('error', () => { done(0, '') })
    })
    request.on('timeout', () => { request.destroy(new Error('timed out')) })
    request.on('error', () => { done(0, '') })
  })
}

/** The requests of a run, drawn from the network's records with `random`. */
function asks (network: NetworkReady, unprovided: string[], count: number, random: Random): Ask[] {
  const out: Ask[] = []
  for (let i = 0; i < count; i++) {
    let roll = random.next()
    const kind = MIX.find(([, share]) => (roll -= share) < 0)?.[0] ?? 'providers'
    const json = 'application/json'
    if (kind === 'providers' || kind === 'providers ndjson') {
      const { cid, provider } = network.provided[random.int(network.provided.length)]
      out.push({ kind, path: `/providers/${cid}`, accept: kind === 'providers' ? json : 'application/x-ndjson', names: provider })
    } else if (kind === 'providers (none)') {
      out.push({ kind, path: `/providers/${unprovided[random.int(unprovided.length)]}`, accept: json })
    } else if (kind === 'peers') {
      // as the npm client asks: a libp2p-key CID (the reference server reads no base58 peer id)
      const peer = network.peers[random.int(network.peers.length)]
      out.push({ kind, path: `/peers/${peerIdFromString(peer).toCID()}`, accept: json, names: peer })
    } else if (kind === 'closest') {
      out.push({ kind, path: `/dht/closest/peers/${unprovided[random.int(unprovided.length)]}`, accept: json })
    } else {
      out.push({ kind, path: `/ipns/${network.names[random.int(network.names.length)]}`, accept: 'application/vnd.ipfs.ipns-record' })
    }
  }
  return out
}

/** What one server's run measured. */
interface LoadResult {
  server: ServerName
  /** Requests one at a time from one client, before the load. */
  idle: Answer[]
  /** The polite clients' answers, and how long they took. */
  answers: Answer[]
  seconds: number
  rss: { before: number, peak: number, after: number }
  /** CPU seconds spent during the polite load by the server process and by the network's process. */
  cpu: { server: number, network: number }
  /** The polite clients' answers while the greedy client ran beside them, and what it got. */
  contended: Answer[]
  greedy: { sent: number, ok: number, refused: number, other: number }
}

/** Requests sent one at a time before the load, for the latency of a server at rest. */
const IDLE = 100

/** The share of the requests sent again while the greedy client runs. */
const CONTENDED_SHARE = 0.2

/** Waits until the server's closest peers of a key are most of the network: it has joined it. */
async function joined (running: RunningServer, key: string): Promise<void> {
  const agent = new Agent({ keepAlive: false })
  const deadline = Date.now() + 60_000
  try {
    while (Date.now() < deadline) {
      const answer = await send(running.url, { kind: 'closest', path: `/dht/closest/peers/${key}`, accept: 'application/json' }, agent, (body) => recordIds(body, false).length >= HELPERS / 2)
      if (answer.right) {
        return
      }
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  } finally {
    agent.destroy()
  }
  throw new Error(`${running.url} did not join the network in 60 s`)
}

/**
 * Sends `work` from `agents`, each client one request at a time, sending no new one after
 * `seconds`; the answers in order of arrival.
 */
async function drive (url: string, work: Ask[], agents: Agent[], seconds = Infinity): Promise<Answer[]> {
  const answers: Answer[] = []
  const deadline = performance.now() + seconds * 1_000
  let next = 0
  await Promise.all(agents.map(async (agent) => {
    while (next < work.length && performance.now() < deadline) {
      answers.push(await send(url, work[next++], agent))
    }
  }))
  return answers
}

/**
 * Runs the load against one server: after a warm-up and requests at rest, the `clients` polite
 * clients send `work`; then they send a share of it again while one greedy client keeps
 * `greedy` requests in flight from one address.
 */
async function load (server: ServerName, running: RunningServer, networkPid: number, work: Ask[], warmUp: Ask[], options: RoutingLoadOptions, random: Random): Promise<LoadResult> {
  const agents = Array.from({ length: options.clients }, (_, i) => new Agent({ keepAlive: true, maxSockets: 1, localAddress: `127.0.0.${2 + i}` }))
  await drive(running.url, warmUp, agents)
  const idle = await drive(running.url, work.slice(0, IDLE), agents.slice(0, 1))

  const before = await rssOf(running.pid)
  const cpuBefore = { server: await cpuOf(running.pid), network: await cpuOf(networkPid) }
  let peak = before
  const sampler = setInterval(() => { void rssOf(running.pid).then(rss => { peak = Math.max(peak, rss) }, () => {}) }, 250)
  const started = performance.now()
  const answers = await drive(running.url, work, agents, options.seconds)
  const seconds = (performance.now() - started) / 1_000
  const cpu = { server: await cpuOf(running.pid) - cpuBefore.server, network: await cpuOf(networkPid) - cpuBefore.network }
  const after = await rssOf(running.pid)
  process.stderr.write(`${server}: ${answers.length} requests in ${seconds.toFixed(1)} s\n`)

  const greedyAgent = new Agent({ keepAlive: true, maxSockets: options.greedy, localAddress: '127.0.0.250' })
  const greedy = { sent: 0, ok: 0, refused: 0, other: 0 }
  const contending = new AbortController()
  const greedyLoops = Array.from({ length: options.greedy }, async () => {
    while (!contending.signal.aborted) {
      const answer = await send(running.url, work[random.int(work.length)], greedyAgent)
      greedy.sent++
      if (answer.status === 200) {
        greedy.ok++
      } else if (answer.status === 429) {
        greedy.refused++
        // it does not wait as Retry-After asks; the pause only keeps this process from spinning
        await new Promise(resolve => setTimeout(resolve, 5))
      } else {
        greedy.other++
      }
    }
  })
  const contended = await drive(running.url, work.slice(0, Math.ceil(work.length * CONTENDED_SHARE)), agents, options.seconds * CONTENDED_SHARE)
  contending.abort()
  await Promise.all(greedyLoops)
  clearInterval(sampler)
  for (const agent of [...agents, greedyAgent]) {
    agent.destroy()
  }
  return { server, idle, answers, seconds, rss: { before, peak: Math.max(peak, after), after }, cpu, contended, greedy }
}

/** The tables of a run. */
function report (results: LoadResult[], options: RoutingLoadOptions): string {
  const mib = (bytes: number): string => `${fmt(bytes / 1024 / 1024, 0)} MiB`
  const latency = (answers: Answer[]): string[] => {
    const s = summarise(answers.map(a => a.ms))
    return [ms(s.median), ms(s.p90), ms(s.p99), ms(s.max)]
  }
  const notAllowed = (answers: Answer[]): string => fmt(answers.filter(a => a.status !== 200 && a.status !== 429).length)
  const refused = (answers: Answer[]): string => fmt(answers.filter(a => a.status === 429).length)
  const right = (answers: Answer[]): string => pct(answers.filter(a => a.right).length / answers.length)
  const out: string[] = []
  out.push(table(`${fmt(options.requests)} requests (or what ${options.seconds} s allow) from ${options.clients} clients at once, each one at a time, to a server in a 20-node network on loopback`,
    ['server', 'answered', 'time', 'requests/s', 'p50', 'p90', 'p99', 'max', 'not allowed', '429', 'right answer', 'RSS before', 'RSS peak', 'RSS after'],
    results.map(r => [SERVER_LABELS[r.server], fmt(r.answers.length), `${r.seconds.toFixed(1)} s`, fmt(r.answers.length / r.seconds), ...latency(r.answers),
      notAllowed(r.answers), refused(r.answers), right(r.answers), mib(r.rss.before), mib(r.rss.peak), mib(r.rss.after)])))
  out.push(table(`At rest (${IDLE} requests one at a time before the load), and the CPU time the load cost`,
    ['server', 'p50 at rest', 'p99 at rest', 'right at rest', 'server CPU', 'server CPU / request', 'network CPU / request'],
    results.map(r => {
      const s = summarise(r.idle.map(a => a.ms))
      return [SERVER_LABELS[r.server], ms(s.median), ms(s.p99), right(r.idle), `${r.cpu.server.toFixed(1)} s`,
        ms(r.cpu.server * 1_000 / r.answers.length), ms(r.cpu.network * 1_000 / r.answers.length)]
    })))
  out.push(table('Latency by request kind (p50 / p99), and the share answered right',
    ['kind', ...results.map(r => SERVER_LABELS[r.server])],
    MIX.map(([kind]) => [kind, ...results.map(r => {
      const of = r.answers.filter(a => a.kind === kind)
      const s = summarise(of.map(a => a.ms))
      return `${ms(s.median)} / ${ms(s.p99)}, ${pct(of.filter(a => a.right).length / of.length, 0)} right`
    })])))
  out.push(table(`A greedy client with ${options.greedy} requests in flight from one address, beside the ${options.clients} clients sending ${fmt(Math.ceil(options.requests * CONTENDED_SHARE))} requests`,
    ['server', 'greedy: sent', '200', '429', 'other', 'the others: p50', 'p90', 'p99', 'max', 'not allowed', '429', 'right answer'],
    results.map(r => [SERVER_LABELS[r.server], fmt(r.greedy.sent), fmt(r.greedy.ok), fmt(r.greedy.refused), fmt(r.greedy.other),
      ...latency(r.contended), notAllowed(r.contended), refused(r.contended), right(r.contended)])))
  return out.join('\n')
}

/** Runs the benchmark; prints and returns its tables. */
export async function runRoutingLoad (options: RoutingLoadOptions = ROUTING_LOAD_DEFAULTS): Promise<string> {
  const random = new Random(options.seed)
  const network = fork(fileURLToPath(import.meta.url), ['--role', 'network', '--seed', String(options.seed)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const ready = await new Promise<NetworkReady>((resolve, reject) => {
    network.on('message', (message: NetworkReady) => { resolve(message) })
    network.on('exit', () => { reject(new Error('the network process exited')) })
  })
  const unprovided = await Promise.all(Array.from({ length: UNPROVIDED }, async (_, i) =>
    CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`nobody provides ${options.seed} ${i}`))).toString()))
  const work = asks(ready, unprovided, options.requests, random)
  const warmUp = asks(ready, unprovided, WARM_UP, random)
  const bootstrap = ready.addrs.slice(0, 4)
  const results: LoadResult[] = []
  try {
    for (const server of options.only) {
      const running = server === 'kadmium' ? await startKadmium(bootstrap) : await startReference(bootstrap)
      try {
        await joined(running, unprovided[0])
        results.push(await load(server, running, network.pid ?? 0, work, warmUp, options, new Random(options.seed + 1)))
      } finally {
        await running.stop()
      }
    }
  } finally {
    network.send({ type: 'stop' })
  }
  const text = report(results, options)
  process.stdout.write(text + '\n')
  return text
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      seed: { type: 'string', default: String(ROUTING_LOAD_DEFAULTS.seed) },
      bootstrap: { type: 'string', default: '' },
      requests: { type: 'string', default: String(ROUTING_LOAD_DEFAULTS.requests) },
      seconds: { type: 'string', default: String(ROUTING_LOAD_DEFAULTS.seconds) },
      clients: { type: 'string', default: String(ROUTING_LOAD_DEFAULTS.clients) },
      greedy: { type: 'string', default: String(ROUTING_LOAD_DEFAULTS.greedy) },
      only: { type: 'string', default: ROUTING_LOAD_DEFAULTS.only.join(',') }
    },
    strict: true
  })
  if (values.role === 'network') {
    await networkProcess(positiveInt('seed', values.seed))
  } else if (values.role === 'reference') {
    await referenceProcess(values.bootstrap.split(',').filter(a => a !== ''))
  } else {
    const clients = positiveInt('clients', values.clients)
    if (clients > 240) {
      throw new Error('--clients takes at most 240: each binds its own address, 127.0.0.2 and up, below the greedy one\'s')
    }
    await runRoutingLoad({
      requests: positiveInt('requests', values.requests),
      seconds: positiveInt('seconds', values.seconds),
      clients,
      greedy: positiveInt('greedy', values.greedy),
      only: values.only.split(',') as ServerName[],
      seed: positiveInt('seed', values.seed)
    })
    process.exit(0)
  }
}
