/**
 * The operations of the benchmarks, the same call for both implementations: a getClosestPeers,
 * a put, a get, a provide, finding a provider, and the counting around them.
 */
import { EventTypes } from '@libp2p/kad-dht'
import { compareDistance, kadId } from '../../src/keys.ts'
import { BENCH_PROTOCOL, PING_PROTOCOL, inboundStreams, tableSize } from '../lib/nodes.ts'
import type { BenchNode, Impl, JsBenchNode, KadmiumBenchNode } from '../lib/nodes.ts'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export const OP_TIMEOUT = 120_000

export function streams (): number {
  return inboundStreams.get(BENCH_PROTOCOL) ?? 0
}

export function pings (): number {
  return inboundStreams.get(PING_PROTOCOL) ?? 0
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Waits until the sum of routing-table sizes has not changed for `quiet` ms, at most `max` ms. */
export async function settle (nodes: BenchNode[], quiet = 1_000, max = 30_000): Promise<void> {
  const start = Date.now()
  let last = -1
  let since = Date.now()
  while (Date.now() - start < max) {
    const total = nodes.reduce((sum, node) => sum + tableSize(node), 0)
    if (total !== last) {
      last = total
      since = Date.now()
    } else if (Date.now() - since >= quiet) {
      return
    }
    await sleep(100)
  }
}

/** The kad ids of all nodes, for brute-force truths. */
export function truth (nodes: BenchNode[], key: Uint8Array, exclude: BenchNode, k = 20): Set<string> {
  const target = kadId(key)
  return new Set(nodes
    .filter(n => n !== exclude)
    .map(n => ({ id: n.peerId.toString(), key: kadId(n.peerId.toMultihash().bytes) }))
    .sort((a, b) => compareDistance(a.key, b.key, target))
    .slice(0, k)
    .map(p => p.id))
}

/**
 * Sees every event of an operation: kadmium's progress events, `@libp2p/kad-dht`'s query events
 * (the WAN benchmark traces who referred whom with it).
 */
export type OnEvent = (event: unknown) => void

/** One getClosestPeers with either implementation: the ids returned, requests and peers asked. */
export async function closest (node: BenchNode, impl: Impl, key: Uint8Array, onEvent?: OnEvent): Promise<{ ids: string[], sent: number, asked: Set<string>, errors: string[] }> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  const ids: string[] = []
  const asked = new Set<string>()
  const errors: string[] = []
  if (impl === 'kadmium') {
    const dht = (node as KadmiumBenchNode).services.dht
    const before = sumValues(dht.stats().outbound)
    for await (const peer of dht.getClosestPeers(key, {
      signal,
      onProgress: (event) => {
        onEvent?.(event)
        if (event.type === 'kadmium:lookup:ask') {
          asked.add(event.detail.peer.toString())
        } else if (event.type === 'kadmium:lookup:fail') {
          errors.push(`${event.detail.error.name} after ${Math.round(event.detail.elapsed)} ms`)
        }
      }
    })) {
      ids.push(peer.id.toString())
    }
    return { ids, sent: sumValues(dht.stats().outbound) - before, asked, errors }
  }
  let sent = 0
  for await (const event of (node as JsBenchNode).services.dht.getClosestPeers(key, { signal })) {
    onEvent?.(event)
    if (event.type === EventTypes.SEND_QUERY) {
      sent++
      asked.add(event.to.toString())
    } else if (event.type === EventTypes.FINAL_PEER) {
      ids.push(event.peer.id.toString())
    } else if (event.type === EventTypes.QUERY_ERROR) {
      errors.push(event.error.name)
    }
  }
  return { ids, sent, asked, errors }
}

function sumValues (record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0)
}

export async function put (node: BenchNode, impl: Impl, key: Uint8Array, value: Uint8Array, onEvent?: OnEvent): Promise<void> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    await (node as KadmiumBenchNode).services.dht.put(key, value, { signal, onProgress: onEvent })
    return
  }
  let stored = 0
  for await (const event of (node as JsBenchNode).services.dht.put(key, value, { signal })) {
    onEvent?.(event)
    if (event.type === EventTypes.PEER_RESPONSE && event.messageName === 'PUT_VALUE') {
      stored++
    }
  }
  if (stored === 0) {
    throw new Error('no peer stored the value')
  }
}

export async function get (node: BenchNode, impl: Impl, key: Uint8Array, onEvent?: OnEvent): Promise<Uint8Array | undefined> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    return (node as KadmiumBenchNode).services.dht.get(key, { signal, onProgress: onEvent })
  }
  let found: Uint8Array | undefined
  for await (const event of (node as JsBenchNode).services.dht.get(key, { signal })) {
    onEvent?.(event)
    if (event.type === EventTypes.VALUE) {
      found ??= event.value
    }
  }
  return found
}

export async function provide (node: BenchNode, impl: Impl, cid: CID, onEvent?: OnEvent): Promise<void> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    await (node as KadmiumBenchNode).services.dht.provide(cid, { signal, onProgress: onEvent })
    return
  }
  for await (const event of (node as JsBenchNode).services.dht.provide(cid, { signal })) {
    onEvent?.(event)
  }
}

/** Provides every CID with one `provideMany` (kadmium); resolves to how many reached a peer. */
export async function provideMany (node: KadmiumBenchNode, cids: CID[]): Promise<number> {
  let provided = 0
  for await (const { error } of node.services.dht.provideMany(cids, { signal: AbortSignal.timeout(OP_TIMEOUT) })) {
    provided += error == null ? 1 : 0
  }
  return provided
}

/** Finds the first provider of `cid` other than the asker; resolves to its id. */
export async function findProvider (node: BenchNode, impl: Impl, cid: CID, onEvent?: OnEvent): Promise<string | undefined> {
  const stop = new AbortController()
  const signal = AbortSignal.any([AbortSignal.timeout(OP_TIMEOUT), stop.signal])
  try {
    if (impl === 'kadmium') {
      const providers = (node as KadmiumBenchNode).services.dht.findProviders(cid, { signal, count: 1, onProgress: onEvent })
      const first = await providers.next()
      await providers.return(undefined)
      return first.done === true ? undefined : first.value.id.toString()
    }
    for await (const event of (node as JsBenchNode).services.dht.findProviders(cid, { signal })) {
      onEvent?.(event)
      if (event.type === EventTypes.PROVIDER && event.providers.length > 0) {
        return event.providers[0].id.toString()
      }
    }
    return undefined
  } finally {
    stop.abort()
  }
}

/**
 * Finds a peer through the network (not the peer store: `useCache: false`), stopping at the
 * first answer that lists it; resolves to how many addresses were found (throws when none).
 */
export async function findPeer (node: BenchNode, impl: Impl, peer: PeerId, onEvent?: OnEvent): Promise<number> {
  const signal = AbortSignal.timeout(OP_TIMEOUT)
  if (impl === 'kadmium') {
    const found = await (node as KadmiumBenchNode).services.dht.findPeer(peer, { signal, useCache: false, onProgress: onEvent })
    return found.multiaddrs.length
  }
  for await (const event of (node as JsBenchNode).services.dht.findPeer(peer, { signal, useCache: false })) {
    onEvent?.(event)
    if (event.type === EventTypes.FINAL_PEER) {
      return event.peer.multiaddrs.length
    }
  }
  throw new Error(`${peer} not found`)
}
