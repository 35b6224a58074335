/**
 * Real libp2p nodes for tests: TCP on 127.0.0.1, noise, yamux, identify, and either kadmium or
 * `@libp2p/kad-dht` as the DHT.
 */
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT as jsKadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { kadDHT as compatKadDHT, passthroughMapper as compatPassthrough } from '../../src/compat/index.ts'
import { kadDHT } from '../../src/index.ts'
import { kadId } from '../../src/keys.ts'
import { compareDistance } from '../../src/keys.ts'
import type { CompatKadDHT, KadDHTInit as CompatInit } from '../../src/compat/index.ts'
import type { KadDHT, KadDHTInit } from '../../src/index.ts'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PeerInfo, PrivateKey } from '@libp2p/interface'
import type { KadDHT as JsKadDHT } from '@libp2p/kad-dht'
import type { Libp2pOptions } from 'libp2p'

/** The DHT protocol the tests speak: a private one, so the tests never look like Amino peers. */
export const TEST_PROTOCOL = '/kadmium-test/kad/1.0.0'

export type KadmiumNode = Libp2p<{ identify: Identify, ping: unknown, dht: KadDHT }>
export type JsNode = Libp2p<{ identify: Identify, ping: unknown, dht: JsKadDHT }>
export type CompatNode = Libp2p<{ identify: Identify, ping: unknown, dht: CompatKadDHT }>
export type AnyNode = KadmiumNode | JsNode | CompatNode

const base = {
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // every test peer dials from 127.0.0.1: lift the per-host inbound rate limit
  connectionManager: { maxConnections: 500, inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1_000 }
}

/** What a test may set beyond the DHT: its key, its store, or other transports and addresses. */
export type NodeOptions = Pick<Libp2pOptions, 'privateKey' | 'datastore' | 'transports' | 'addresses' | 'metrics'>

/**
 * A kadmium node on loopback (address scope 'all'). It runs libp2p ping, as `@libp2p/kad-dht`
 * admits a peer to its table only after pinging it.
 */
export async function kadmiumNode (init: KadDHTInit = {}, options: NodeOptions = {}): Promise<KadmiumNode> {
  return createLibp2p({
    ...base,
    ...options,
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      dht: kadDHT({ protocol: TEST_PROTOCOL, addresses: 'all', ...init })
    }
  })
}

/**
 * A node with kadmium behind `@libp2p/kad-dht`'s API (`kadmium/kad-dht`), set up the way
 * {@link jsNode} sets up `@libp2p/kad-dht`: a server that keeps loopback addresses.
 */
export async function compatNode (init: CompatInit = {}): Promise<CompatNode> {
  return createLibp2p({
    ...base,
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      dht: compatKadDHT({ protocol: TEST_PROTOCOL, clientMode: false, peerInfoMapper: compatPassthrough, ...init })
    }
  })
}

/** A `@libp2p/kad-dht` server node on loopback. */
export async function jsNode (init: { clientMode?: boolean, protocol?: string, validators?: Record<string, any>, selectors?: Record<string, any>, peerInfoMapper?(peer: PeerInfo): PeerInfo, quiet?: boolean } = {}, options: NodeOptions = {}): Promise<JsNode> {
  return createLibp2p({
    ...base,
    ...options,
    services: {
      identify: identify(),
      identifyPush: identifyPush(),
      ping: ping(),
      dht: jsKadDHT({
        protocol: init.protocol ?? TEST_PROTOCOL,
        clientMode: init.clientMode ?? false,
        peerInfoMapper: init.peerInfoMapper ?? passthroughMapper,
        allowQueryWithZeroPeers: true,
        validators: init.validators,
        selectors: init.selectors,
        // quiet: no lookup of its own id (by default 1 s after start, then every 5 min), which
        // would introduce it to whoever its neighbours name
        ...(init.quiet === true ? { initialQuerySelfInterval: 3_600_000, querySelfInterval: 3_600_000 } : {})
      })
    }
  }) as Promise<JsNode>
}

/** A libp2p node with no DHT at all. */
export async function plainNode (options: Pick<Libp2pOptions, 'addresses'> = {}): Promise<Libp2p<{ identify: Identify }>> {
  return createLibp2p({ ...base, ...options, services: { identify: identify() } })
}

/** Dials `to` from `from` and waits until `from` has identified `to` (its protocols are known). */
export async function connect (from: Libp2p, to: Libp2p): Promise<void> {
  // a handshake can time out on a loaded machine: try five times, a little later each time
  for (let attempt = 1; ; attempt++) {
    try {
      await from.dial(to.getMultiaddrs())
      break
    } catch (err) {
      if (attempt === 5) {
        throw err
      }
      await new Promise(resolve => setTimeout(resolve, 250 * attempt))
    }
  }
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const peer = await from.peerStore.get(to.peerId).catch(() => undefined)
    if (peer != null && peer.protocols.length > 0) {
      return
    }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`${from.peerId} did not identify ${to.peerId}`)
}

/** Waits until `check` holds, polling; throws after `ms`. */
export async function eventually (check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) {
      return
    }
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** The `n` peers of `all` closest to `key` by brute force, leaving out `exclude`. */
export function trueClosest (all: PeerId[], key: Uint8Array, n: number, exclude?: PeerId): string[] {
  const target = kadId(key)
  return all
    .filter(p => exclude == null || !p.equals(exclude))
    .map(p => ({ id: p.toString(), key: kadId(p.toMultihash().bytes) }))
    .sort((a, b) => compareDistance(a.key, b.key, target))
    .slice(0, n)
    .map(p => p.id)
}

/** Stops every node, ignoring failures. */
export async function stopAll (nodes: Array<Libp2p | undefined>): Promise<void> {
  await Promise.all(nodes.map(async n => { await n?.stop()?.catch(() => {}) }))
}

/**
 * Nodes that the current suite stops after each test: call once inside a `describe`, then wrap
 * each node made in a test with the returned function.
 */
export function stoppedAfterEach (): <T extends Libp2p>(node: Promise<T>) => Promise<T> {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await stopAll(nodes.splice(0))
  })
  return async (node) => {
    const started = await node
    nodes.push(started)
    return started
  }
}

/**
 * A kadmium node on a LevelDB datastore in `dir`, with a given key: start it again on the same
 * `dir` and key to see what survives a restart. The datastore closes when the node stops.
 */
export async function persistentKadmiumNode (dir: string, privateKey: PrivateKey, init: KadDHTInit = {}): Promise<KadmiumNode> {
  const datastore = new LevelDatastore(join(dir, 'store'))
  await datastore.open()
  const node = await kadmiumNode(init, { privateKey, datastore })
  node.addEventListener('stop', () => { void datastore.close() })
  return node
}

/** The libp2p components of a node (not part of its public type): its connection manager, registrar… */
export function components (node: Libp2p): any {
  return (node as any).components
}
