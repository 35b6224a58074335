/**
 * A program written against `@libp2p/kad-dht`'s types only, the way libp2p's examples, Helia and
 * `@libp2p/daemon-server` use that service. It imports nothing from kadmium: the specs hand it
 * kadmium's compat service, and the build type-checks that they may (tsc strict).
 */
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface'
import type { KadDHT, QueryEvent, SingleKadDHT } from '@libp2p/kad-dht'
import type { CID } from 'multiformats/cid'

/** A node as code written for `@libp2p/kad-dht` types it. */
export type DHTNode = Libp2p<{ dht: KadDHT }>

/** Every event of a query, in order. */
export async function events (source: AsyncIterable<QueryEvent>): Promise<QueryEvent[]> {
  const out: QueryEvent[] = []
  for await (const event of source) {
    out.push(event)
  }
  return out
}

/** A peer's addresses: read until its FINAL_PEER. */
export async function findPeer (node: DHTNode, id: PeerId): Promise<PeerInfo | undefined> {
  for await (const event of node.services.dht.findPeer(id)) {
    if (event.name === 'FINAL_PEER') {
      return event.peer
    }
  }
  return undefined
}

/** The closest peers: the FINAL_PEER events. */
export async function closestPeers (dht: KadDHT, key: Uint8Array): Promise<PeerId[]> {
  const out: PeerId[] = []
  for await (const event of dht.getClosestPeers(key)) {
    if (event.name === 'FINAL_PEER') {
      out.push(event.peer.id)
    }
  }
  return out
}

/** Provides `cid`; resolves to the peers that acknowledged the ADD_PROVIDER. */
export async function provide (dht: KadDHT, cid: CID): Promise<number> {
  let sent = 0
  for await (const event of dht.provide(cid)) {
    if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') {
      sent++
    }
  }
  return sent
}

/** The providers of `cid`, from its PROVIDER events. */
export async function findProviders (dht: KadDHT, cid: CID): Promise<PeerInfo[]> {
  const out: PeerInfo[] = []
  for await (const event of dht.findProviders(cid)) {
    if (event.name === 'PROVIDER') {
      out.push(...event.providers)
    }
  }
  return out
}

/** Stores a value; resolves to the peers whose PUT_VALUE response echoed it. */
export async function put (dht: KadDHT, key: Uint8Array, value: Uint8Array): Promise<number> {
  let stored = 0
  for await (const event of dht.put(key, value)) {
    if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE' && event.record != null) {
      stored++
    }
  }
  return stored
}

/** The best value, and who it came from: the last VALUE event. */
export async function get (dht: KadDHT, key: Uint8Array): Promise<{ value: Uint8Array, from: PeerId } | undefined> {
  let best: { value: Uint8Array, from: PeerId } | undefined
  for await (const event of dht.get(key)) {
    if (event.name === 'VALUE') {
      best = { value: event.value, from: event.from }
    }
  }
  return best
}

/** Adds a namespace the way `@helia/ipns` does, by assigning to the maps. */
export function addNamespace (dht: KadDHT, namespace: string, validate: (key: Uint8Array, value: Uint8Array) => Promise<void>, select: (key: Uint8Array, values: Uint8Array[]) => number): void {
  dht.validators[namespace] = validate
  dht.selectors[namespace] = select
}

/** The routing table's size, as `SingleKadDHT` shows it. */
export function tableSize (dht: SingleKadDHT): number {
  return dht.routingTable.size
}
