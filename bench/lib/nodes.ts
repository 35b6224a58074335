/**
 * libp2p nodes for the benchmarks: kadmium or `@libp2p/kad-dht` on the same stack (memory or TCP
 * loopback transport, noise, yamux, identify, ping), with deterministic keys and a counter of
 * inbound streams per protocol at every node.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT as jsKadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { memory } from '@libp2p/memory'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { MAX_MESSAGE_SIZE } from '../../src/constants.ts'
import { kadDHT } from '../../src/index.ts'
import { mix32 } from './random.ts'
import type { KadDHT, KadDHTInit } from '../../src/index.ts'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey, Stream, StreamHandler, Transport } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { KadDHT as JsKadDHT, KadDHTInit as JsKadDHTInit } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'

/** The private protocol both implementations speak in the benchmarks. */
export const BENCH_PROTOCOL = '/kadmium-bench/kad/1.0.0'

/** libp2p ping's protocol: `@libp2p/kad-dht` pings a peer before it enters its table. */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'

export type Impl = 'kadmium' | 'js'

/** Inbound streams counted by protocol, shared by every node of a process. */
export const inboundStreams = new Map<string, number>()

/** Inbound DHT streams counted by the peer that opened them (requests it sent), every node of a process. */
export const dhtStreamsFrom = new Map<string, number>()

/**
 * A service that wraps the registered handler of a protocol to count its inbound streams, and
 * can make the node silent on it.
 */
export class StreamCounter {
  private readonly registrar: Registrar
  private silent = false
  private readonly held = new Set<Stream>()

  constructor (components: { registrar: Registrar }) {
    this.registrar = components.registrar
  }

  /** Counts every inbound stream of `protocol` from now on (call after the node started). */
  async count (protocol: string): Promise<void> {
    const { handler, options } = this.registrar.getHandler(protocol)
    const counted: StreamHandler = async (stream, connection) => {
      inboundStreams.set(protocol, (inboundStreams.get(protocol) ?? 0) + 1)
      if (protocol === BENCH_PROTOCOL) {
        const from = connection.remotePeer.toString()
        dhtStreamsFrom.set(from, (dhtStreamsFrom.get(from) ?? 0) + 1)
        if (this.silent) {
          // accepted, never read, never answered: the asker waits until it gives up
          this.held.add(stream)
          return
        }
      }
      await handler(stream, connection)
    }
    await this.registrar.handle(protocol, counted, { ...options, force: true })
  }

  /**
   * Makes the node silent on the DHT protocol (it accepts streams and never answers) or speak
   * again (the streams it held are reset).
   */
  setSilent (silent: boolean): void {
    this.silent = silent
    if (!silent) {
      this.held.forEach(stream => { stream.abort(new Error('the node speaks again')) })
      this.held.clear()
    }
  }
}

export type KadmiumBenchNode = Libp2p<{ identify: Identify, ping: unknown, counter: StreamCounter, dht: KadDHT }>
export type JsBenchNode = Libp2p<{ identify: Identify, ping: unknown, counter: StreamCounter, dht: JsKadDHT }>
export type BenchNode = KadmiumBenchNode | JsBenchNode

/** The Ed25519 key of node `index` of a run seeded with `seed`: the same ids every run. */
export async function benchKey (seed: number, index: number): Promise<PrivateKey> {
  const bytes = new Uint8Array(32)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < 8; i++) {
    view.setUint32(i * 4, mix32(seed * 0x9e3779b1 + index * 8 + i + 1))
  }
  return generateKeyPairFromSeed('Ed25519', bytes)
}

/** How a benchmark node is made. */
export interface BenchNodeInit {
  impl: Impl
  privateKey: PrivateKey
  transport: 'memory' | 'tcp'
  /** A name unique in the process, for the memory transport's address. */
  name: string
  /** A memory transport of the caller's (the emulated WAN's) instead of the plain one. */
  memoryTransport?(components: any): Transport
  /** A DHT client (asks, never answers) instead of a server. */
  client?: boolean
  /** kadmium's options (kadmium nodes only). */
  kadmium?: KadDHTInit
  /** `@libp2p/kad-dht`'s options (js nodes only), over the benchmarks' own. */
  js?: Partial<JsKadDHTInit>
  /**
   * libp2p's own connection-manager defaults (300 connections at most) with its connection
   * monitor on, as a user runs a node; otherwise the limits are lifted and the monitor is off.
   */
  defaults?: boolean
  /**
   * With `defaults`: the connection monitor's ping interval in ms (libp2p's is 10 s); 0 turns
   * the monitor off. The connection-manager limits stay libp2p's.
   */
  pingInterval?: number
  /** The node's datastore (libp2p makes a memory one otherwise): a node restarted on it keeps its records, provider records and peer store. */
  datastore?: Datastore
}

/** libp2p's connection monitor with a ping every `interval` ms (undefined: libp2p's default), or off (0). */
function monitor (interval?: number): { connectionMonitor?: { enabled: boolean, pingInterval?: number } } {
  if (interval == null) {
    return {}
  }
  return { connectionMonitor: interval === 0 ? { enabled: false } : { enabled: true, pingInterval: interval } }
}

/**
 * Creates and starts one node, and counts its inbound DHT and ping streams. Both
 * implementations accept values under `/bench/` (any value up to what one message holds, as js
 * takes any; the first one found is kept).
 */
export async function benchNode (init: BenchNodeInit): Promise<BenchNode> {
  const base = {
    privateKey: init.privateKey,
    datastore: init.datastore,
    addresses: { listen: [init.transport === 'memory' ? `/memory/${init.name}` : '/ip4/127.0.0.1/tcp/0'] },
    transports: [init.transport === 'memory' ? (init.memoryTransport ?? memory()) : tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.defaults === true
      ? monitor(init.pingInterval)
      : {
          // every peer is local: no per-host inbound rate limit, room for every node to connect
          connectionManager: { maxConnections: 2_000, inboundConnectionThreshold: 100_000, maxIncomingPendingConnections: 1_000 },
          // libp2p pings every connection every 10 s by default: with thousands of in-process
          // connections that is load neither DHT asked for, and it would hide the pings js sends
          // before admitting a peer to its table
          connectionMonitor: { enabled: false }
        })
  }
  const services = {
    identify: identify(),
    ping: ping(),
    counter: (components: { registrar: Registrar }) => new StreamCounter(components)
  }
  const node: BenchNode = init.impl === 'kadmium'
    ? await createLibp2p({
      ...base,
      services: {
        ...services,
        dht: kadDHT({ protocol: BENCH_PROTOCOL, mode: init.client === true ? 'client' : 'server', addresses: 'all', validators: { bench: { validate: () => {}, select: () => 0, maxValueBytes: MAX_MESSAGE_SIZE } }, ...init.kadmium })
      }
    })
    : await createLibp2p({
      ...base,
      services: {
        ...services,
        dht: jsKadDHT({
          protocol: BENCH_PROTOCOL,
          clientMode: init.client === true,
          peerInfoMapper: passthroughMapper,
          allowQueryWithZeroPeers: true,
          validators: { bench: async () => {} },
          selectors: { bench: () => 0 },
          ...init.js
        })
      }
    }) as JsBenchNode
  if (init.client !== true) {
    // a client serves no DHT protocol
    await node.services.counter.count(BENCH_PROTOCOL)
  }
  await node.services.counter.count(PING_PROTOCOL)
  return node
}

/** The routing-table size of either implementation. */
export function tableSize (node: BenchNode): number {
  const dht = node.services.dht
  if ('stats' in dht && typeof dht.stats === 'function') {
    return (dht as KadDHT).stats().routingTableSize
  }
  // @libp2p/kad-dht's routing table is public on the class, not on the exported interface
  return (dht as any).routingTable.size
}

/** Runs `work` over `items` with at most `limit` at once. */
export async function pool<T> (items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      await work(items[i], i)
    }
  }))
}
