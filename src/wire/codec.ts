/**
 * The typed face of the generated protobuf codec: converts wire messages to domain types
 * (PeerId, Multiaddr, Uint8Array) and back, and rejects what does not fit the protocol.
 *
 * Strict where it matters, lenient where the spec is: an unknown message type or a
 * malformed message throws; a missing type is PUT_VALUE (proto3 drops zero values); a peer
 * entry with an unparsable id is dropped and an unparsable multiaddr skipped.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidMessageError, UnsupportedMessageTypeError } from '../errors.ts'
import { peerIdFromBytes } from '../utils/peer-id.ts'
import { kadmium } from './generated/dht.js'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'

const pb = kadmium.Message

/**
 * The six request types of the protocol, as the schema numbers them (`MessageType[n]` gives the
 * name).
 */
export const MessageType = kadmium.Message.MessageType
// eslint-disable-next-line @typescript-eslint/no-redeclare
export type MessageType = kadmium.Message.MessageType

/** What the sender says of its connection to a peer it lists. */
export const ConnectionType = kadmium.Message.ConnectionType
// eslint-disable-next-line @typescript-eslint/no-redeclare
export type ConnectionType = kadmium.Message.ConnectionType

/** A peer listed in a message. */
export interface WirePeer {
  id: PeerId
  multiaddrs: Multiaddr[]
  connection?: ConnectionType
}

/** The libp2p record carried by PUT_VALUE and GET_VALUE. */
export interface WireRecord {
  key: Uint8Array
  value: Uint8Array
  /** RFC 3339, set by the node that stored it. */
  timeReceived?: string
}

/** A DHT message, request or response. */
export interface Message {
  type: MessageType
  key?: Uint8Array
  record?: WireRecord
  closer: WirePeer[]
  providers: WirePeer[]
  /** Obsolete; kept so a message round-trips. */
  clusterLevel?: number
}

/** The wire form of a peer, ready to encode: `id` is the multihash bytes. */
export interface EncodedPeer {
  id: Uint8Array
  addrs: Uint8Array[]
  connection?: ConnectionType
}

/** Converts a peer to its wire form. */
export function toEncodedPeer (peer: WirePeer): EncodedPeer {
  return {
    id: peer.id.toMultihash().bytes,
    addrs: peer.multiaddrs.map(ma => ma.bytes),
    connection: peer.connection
  }
}

/**
 * Encodes a message. Peers may be given in their wire form already (see {@link toEncodedPeer}),
 * which is what a server does with peers it answers with often.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage({ type: MessageType.FIND_NODE, key: peerId.toMultihash().bytes, closer: [], providers: [] })
 * ```
 */
export function encodeMessage (message: Omit<Message, 'closer' | 'providers'> & {
  closer?: Array<WirePeer | EncodedPeer>
  providers?: Array<WirePeer | EncodedPeer>
}): Uint8Array {
  return pb.encode({
    type: message.type,
    key: message.key,
    record: message.record,
    clusterLevelRaw: message.clusterLevel,
    closerPeers: message.closer?.map(encodedPeer),
    providerPeers: message.providers?.map(encodedPeer)
  }).finish()
}

/**
 * Decodes a message, throwing {@link InvalidMessageError} for malformed bytes and
 * {@link UnsupportedMessageTypeError} for a type outside the protocol.
 */
export function decodeMessage (bytes: Uint8Array | Uint8ArrayList): Message {
  let raw: kadmium.Message
  try {
    raw = pb.decode(bytes instanceof Uint8Array ? bytes : bytes.subarray())
  } catch (err: any) {
    throw new InvalidMessageError(`malformed message: ${err.message}`)
  }
  const type: number = raw.type ?? MessageType.PUT_VALUE
  if (MessageType[type] == null) {
    throw new UnsupportedMessageTypeError(`unknown message type ${type}`)
  }
  const message: Message = {
    type,
    closer: decodePeers(raw.closerPeers),
    providers: decodePeers(raw.providerPeers)
  }
  if (raw.key != null && raw.key.length > 0) {
    message.key = raw.key
  }
  if (raw.record != null) {
    message.record = {
      key: raw.record.key ?? new Uint8Array(0),
      value: raw.record.value ?? new Uint8Array(0)
    }
    if (raw.record.timeReceived != null && raw.record.timeReceived !== '') {
      message.record.timeReceived = raw.record.timeReceived
    }
  }
  if (raw.clusterLevelRaw != null && raw.clusterLevelRaw !== 0) {
    message.clusterLevel = raw.clusterLevelRaw
  }
  return message
}

function encodedPeer (peer: WirePeer | EncodedPeer): EncodedPeer {
  return peer.id instanceof Uint8Array ? peer as EncodedPeer : toEncodedPeer(peer as WirePeer)
}

function decodePeers (list: kadmium.Message.Peer.$Properties[] | null | undefined): WirePeer[] {
  const out: WirePeer[] = []
  if (list == null) {
    return out
  }
  for (const entry of list) {
    const peer = decodePeer(entry)
    if (peer != null) {
      out.push(peer)
    }
  }
  return out
}

/** Decodes one peer entry; undefined when its id is unparsable. Unparsable addresses are skipped. */
function decodePeer (entry: kadmium.Message.Peer.$Properties): WirePeer | undefined {
  const id = peerIdFromBytes(entry.id ?? new Uint8Array(0))
  if (id == null) {
    return undefined
  }
  const multiaddrs: Multiaddr[] = []
  for (const bytes of entry.addrs ?? []) {
    try {
      multiaddrs.push(multiaddr(bytes))
    } catch {
      // an address we cannot parse is skipped; the peer stays
    }
  }
  const peer: WirePeer = { id, multiaddrs }
  if (entry.connection != null && entry.connection !== 0) {
    peer.connection = entry.connection
  }
  return peer
}
