/**
 * The daemon: a libp2p node (TCP, QUIC and WebSocket, noise, yamux, identify, ping, AutoNAT,
 * kadmium) on a LevelDB datastore in the data directory, its API server (with Prometheus metrics
 * when asked), the public Delegated Routing V1 HTTP API on a port of its own, reconnecting to
 * known peers, and a clean stop on SIGINT and SIGTERM.
 */
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { quic } from '@chainsafe/libp2p-quic'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { LevelDatastore } from 'datastore-level'
import { kadDHT } from 'kadmium'
import { createLibp2p } from 'libp2p'
import { Registry } from 'prom-client'
import { CONNECTION_LIMITS, ConfigError, ensureDataDir, loadOrCreateKey, loadOrCreateToken, readApiInfo, removeApiInfo, writeApiInfo } from './config.ts'
import { startApiServer } from './http.ts'
import { methods } from './methods.ts'
import { KADMIUM_NAMESPACE, kadmiumValidator } from './namespace.ts'
import { QueryLog } from './queries.ts'
import { startRoutingListener } from './routing-server.ts'
import { Dispatcher } from './rpc.ts'
import type { DaemonConfig } from './config.ts'
import type { ApiServer } from './http.ts'
import type { DaemonNode } from './methods.ts'
import type { RoutingListener } from './routing-server.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { KadDHTInit } from 'kadmium'

/** Known DHT peers dialled at start, at most. */
export const RECONNECT_MAX_PEERS = 64

/** Dials under way at once while reconnecting. */
export const RECONNECT_CONCURRENCY = 8

/** How long one reconnecting dial may take, in ms. */
export const RECONNECT_DIAL_TIMEOUT = 10_000

/** While the routing table is empty, the bootstrap peers are dialled again this often, in ms. */
export const BOOTSTRAP_RETRY_INTERVAL = 60_000

/** A running daemon. */
export interface Daemon {
  node: DaemonNode
  api: ApiServer
  /** The Delegated Routing V1 HTTP API. */
  routing: RoutingListener
  /** Stops the APIs, the node and the datastore, and removes `api.json`. */
  stop(): Promise<void>
}

/** Where the daemon writes what it has to say. */
export interface DaemonOutput {
  info(line: string): void
  warn(line: string): void
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
async function eachLimited<T> (items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      await work(items[next++])
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

/**
 * Dials, in the background, the peers in the peer store that served the DHT protocol (the most
 * recently updated first) and the bootstrap addresses.
 */
async function reconnect (node: DaemonNode, config: DaemonConfig, output: DaemonOutput, signal: AbortSignal): Promise<void> {
  const known = (await node.peerStore.all())
    .filter(peer => peer.protocols.includes(node.services.dht.protocol) && peer.addresses.length > 0 && !peer.id.equals(node.peerId))
    .slice(0, RECONNECT_MAX_PEERS)
  const targets: Array<{ label: string, dial(): Promise<unknown> }> = [
    ...config.bootstrap.map(text => ({
      label: text,
      dial: async () => node.dial(multiaddr(text), { signal: AbortSignal.any([signal, AbortSignal.timeout(RECONNECT_DIAL_TIMEOUT)]) })
    })),
    ...known.map(peer => ({
      label: peer.id.toString(),
      dial: async () => node.dial(peer.id, { signal: AbortSignal.any([signal, AbortSignal.timeout(RECONNECT_DIAL_TIMEOUT)]) })
    }))
  ]
  let connected = 0
  await eachLimited(targets, RECONNECT_CONCURRENCY, async (target) => {
    if (signal.aborted) {
      return
    }
    try {
      await target.dial()
      connected++
    } catch (err: any) {
      if (!signal.aborted) {
        output.warn(`could not dial ${target.label}: ${err.message}`)
      }
    }
  })
  if (targets.length > 0 && !signal.aborted) {
    output.info(`connected to ${connected} of ${targets.length} known and bootstrap peers`)
  }
}

/** The process id of another live daemon that wrote `api.json` in `dir`, if there is one. */
async function runningDaemon (dir: string): Promise<number | undefined> {
  let pid: number
  try {
    pid = (await readApiInfo(dir)).pid
  } catch {
    return undefined
  }
  if (!Number.isInteger(pid) || pid === process.pid) {
    return undefined
  }
  try {
    // signal 0 only asks whether the process exists
    process.kill(pid, 0)
    return pid
  } catch (err: any) {
    return err.code === 'EPERM' ? pid : undefined
  }
}

/** Opens the LevelDB datastore in `dir`; its lock keeps a second daemon out. */
async function openDatastore (dir: string): Promise<LevelDatastore> {
  const datastore = new LevelDatastore(join(dir, 'datastore'))
  try {
    await datastore.open()
  } catch (err: any) {
    // LevelDB's lock is what keeps two daemons apart; api.json only names the other one
    const other = await runningDaemon(dir)
    throw new ConfigError(other != null
      ? `the data directory ${dir} is in use by the daemon with process id ${other}`
      : `cannot open the datastore in ${dir} (is another daemon using it?): ${err.message}`)
  }
  return datastore
}

/** kadmium's options for the daemon's config: what the config leaves out, kadmium decides. */
function dhtOptions (config: DaemonConfig): KadDHTInit {
  const init: Record<string, unknown> = {
    protocol: config.protocol,
    // passed as it is: kadmium decides which modes it knows
    mode: config.mode,
    validators: { [KADMIUM_NAMESPACE]: kadmiumValidator }
  }
  if (config.addresses != null) {
    init.addresses = config.addresses
  }
  if (config.randomWalk) {
    init.randomWalk = { enabled: true }
  }
  if (config.accelerated) {
    init.accelerated = true
  }
  return init as KadDHTInit
}

/** The libp2p node: TCP, QUIC and WebSocket, noise, yamux, identify, ping, AutoNAT and kadmium, with metrics in `registry` when given. */
async function createNode (config: DaemonConfig, privateKey: PrivateKey, datastore: LevelDatastore, registry?: Registry): Promise<DaemonNode> {
  const connectionManager: Record<string, number> = {}
  for (const key of CONNECTION_LIMITS) {
    if (config[key] != null) {
      connectionManager[key] = config[key]
    }
  }
  try {
    return await createLibp2p({
      privateKey,
      datastore,
      addresses: { listen: config.listen, announce: config.announce },
      // QUIC sets a connection up in one round trip (TCP, noise and yamux take three), and most
      // Amino servers listen on it; WebSocket for browser clients, which cannot open TCP connections
      transports: [tcp(), quic(), webSockets()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager,
      metrics: registry == null ? undefined : prometheusMetrics({ registry }),
      services: {
        identify: identify(),
        // tells connected peers at once when this node switches between client and server
        identifyPush: identifyPush(),
        // @libp2p/kad-dht admits a peer to its table only after a libp2p ping
        ping: ping(),
        // has peers dial our public addresses back: what confirms them for the 'auto' mode
        autoNAT: autoNAT(),
        dht: kadDHT(dhtOptions(config))
      }
    })
  } catch (err: any) {
    throw err.name === 'InvalidParametersError' ? new ConfigError(`the DHT refused a setting: ${err.message}`) : err
  }
}

/**
 * Dials the known and bootstrap peers now, and the bootstrap peers again every
 * {@link BOOTSTRAP_RETRY_INTERVAL} while the routing table is empty; returns the function that
 * stops it.
 */
function keepConnected (node: DaemonNode, config: DaemonConfig, output: DaemonOutput): () => void {
  const running = new AbortController()
  void reconnect(node, config, output, running.signal).catch(err => { output.warn(`reconnecting failed: ${err.message}`) })
  const retry = setInterval(() => {
    if (config.bootstrap.length > 0 && node.services.dht.stats().routingTableSize === 0) {
      void reconnect(node, { ...config }, output, running.signal).catch(() => {})
    }
  }, BOOTSTRAP_RETRY_INTERVAL)
  retry.unref()
  return () => {
    running.abort()
    clearInterval(retry)
  }
}

/** Starts the daemon on the data directory `dir` with `config`. */
export async function startDaemon (dir: string, config: DaemonConfig, output: DaemonOutput): Promise<Daemon> {
  await ensureDataDir(dir)
  const privateKey = await loadOrCreateKey(dir)
  const token = await loadOrCreateToken(dir)
  const datastore = await openDatastore(dir)
  // the daemon's own registry: what GET /metrics serves
  const registry = config.metrics ? new Registry() : undefined
  let node: DaemonNode
  try {
    node = await createNode(config, privateKey, datastore, registry)
  } catch (err) {
    await datastore.close().catch(() => {})
    throw err
  }

  let routing: RoutingListener
  try {
    routing = await startRoutingListener({ routing: node.services.dht, port: config.routingPort, host: config.routingListen, trustProxy: config.routingTrustProxy, log: output.warn })
  } catch (err: any) {
    await node.stop()
    await datastore.close().catch(() => {})
    throw new ConfigError(err.code === 'EADDRINUSE'
      ? `the routing port ${config.routingPort} is in use: pass --routing-port with another port, or 0 for any free one`
      : `cannot start the Delegated Routing V1 HTTP API on ${config.routingListen}: ${err.message}`)
  }
  const dispatcher = new Dispatcher(methods({ node, dataDir: dir, started: Date.now(), queries: new QueryLog(), routingV1: routing.url }))
  let api: ApiServer
  try {
    api = await startApiServer({
      dispatcher,
      token,
      port: config.apiPort,
      log: output.warn,
      metrics: registry == null ? undefined : async () => ({ contentType: registry.contentType, text: await registry.metrics() })
    })
  } catch (err: any) {
    await routing.close()
    await node.stop()
    await datastore.close().catch(() => {})
    throw new ConfigError(err.code === 'EADDRINUSE'
      ? `the API port ${config.apiPort} is in use: pass --api-port with another port, or 0 for any free one`
      : `cannot start the API: ${err.message}`)
  }
  await writeApiInfo(dir, { url: `${api.origin}/rpc`, port: api.port, pid: process.pid, peerId: node.peerId.toString() })
  const disconnect = keepConnected(node, config, output)

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      disconnect()
      await Promise.all([api.close(), routing.close()])
      await node.stop()
      await datastore.close()
      await removeApiInfo(dir)
    })()
    return stopping
  }
  return { node, api, routing, stop }
}
