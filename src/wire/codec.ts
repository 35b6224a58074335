/**
 * The typed face of the wire: encodes messages with the code generated from proto/dht.proto,
 * and reads them with a walker (scan.ts) that decodes each part only when it is used, so that
 * the cost of reading a message follows what it is worth, not what it holds.
 *
 * Strict where it matters, lenient where the spec is: an unknown message type or a
 * malformed message throws; a missing type is PUT_VALUE (proto3 drops zero values); a peer
 * entry with an unparsable id is dropped, an unparsable multiaddr skipped and a repeated one
 * kept once; an unreadable `timeReceived` (informational) is absent.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { equals } from 'uint8arrays/equals'
import { MAX_LISTED_PEERS, MAX_PEER_ADDRESSES } from '../defaults.ts'
import { InvalidMessageError, UnsupportedMessageTypeError } from '../errors.ts'
import { peerIdFromBytes } from '../utils/peer-id.ts'
import { kadmium } from './generated/dht.js'
import { walk } from './scan.ts'
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
  /** The peer's id. */
  id: PeerId
  /** Its addresses as the sender lists them. */
  multiaddrs: Multiaddr[]
  /** What the sender says of its connection to it. */
  connection?: ConnectionType
}

/** The libp2p record carried by PUT_VALUE and GET_VALUE. */
export interface WireRecord {
  /** The record's key (a namespaced key such as `/ipns/…`). */
  key: Uint8Array
  /** Its value, as the namespace's validator checks it. */
  value: Uint8Array
  /** RFC 3339, set by the node that stored it. */
  timeReceived?: string
}

/** A DHT message as it was read: its peer lists are read only as far as they are used. */
export interface Message {
  /** What it asks, or answers. */
  type: MessageType
  /** The key asked about: a peer id's or a CID's multihash, or a record key. */
  key?: Uint8Array
  /** The record stored (PUT_VALUE) or found (GET_VALUE). */
  record?: WireRecord
  /** Peers closer to the key than the sender (answers). */
  closer: PeerList
  /** Providers of the key (ADD_PROVIDER, GET_PROVIDERS). */
  providers: PeerList
  /** Obsolete; kept so a message round-trips. */
  clusterLevel?: number
}

/**
 * A DHT message to send. Peers may be given in their wire form already (see
 * {@link toEncodedPeer}), which is what a server does with peers it answers with often.
 */
export interface OutgoingMessage {
  /** What it asks, or answers. */
  type: MessageType
  /** The key asked about: a peer id's or a CID's multihash, or a record key. */
  key?: Uint8Array
  /** The record stored (PUT_VALUE) or found (GET_VALUE). */
  record?: WireRecord
  /** Peers closer to the key than the sender (answers). */
  closer?: Array<WirePeer | EncodedPeer>
  /** Providers of the key (ADD_PROVIDER, GET_PROVIDERS). */
  providers?: Array<WirePeer | EncodedPeer>
  /** Obsolete; kept so a message round-trips. */
  clusterLevel?: number
}

/** The wire form of a peer, ready to encode: `id` is the multihash bytes. */
export interface EncodedPeer {
  /** The peer id's multihash bytes. */
  id: Uint8Array
  /** Its multiaddrs' bytes. */
  addrs: Uint8Array[]
  /** What the sender says of its connection to it. */
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
 * Encodes a message.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage({ type: MessageType.FIND_NODE, key: peerId.toMultihash().bytes, closer: [], providers: [] })
 * ```
 */
export function encodeMessage (message: OutgoingMessage): Uint8Array {
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
 * {@link UnsupportedMessageTypeError} for a type outside the protocol. Its cost does not grow
 * with what its peer lists hold: they are only located here (at most {@link MAX_LISTED_PEERS}
 * entries of each) and read as they are used (see {@link PeerList}). A record's `timeReceived`
 * that is not UTF-8 text is informational: it reads as absent.
 */
export function decodeMessage (bytes: Uint8Array | Uint8ArrayList): Message {
  let type = MessageType.PUT_VALUE as number
  let key: Uint8Array | undefined
  let record: Uint8Array | undefined
  let clusterLevel = 0
  const closer = new PeerList()
  const providers = new PeerList()
  const data = bytes instanceof Uint8Array ? bytes : bytes.subarray()
  walk(data, (number, wireType, value, start, end) => {
    switch (number) {
      case 1:
        expectWireType(number, wireType, VARINT)
        type = value
        break
      case 2:
        expectWireType(number, wireType, LENGTH_DELIMITED)
        key = data.subarray(start, end)
        break
      case 3:
        expectWireType(number, wireType, LENGTH_DELIMITED)
        record = data.subarray(start, end)
        break
      case 8:
        expectWireType(number, wireType, LENGTH_DELIMITED)
        closer.list(data, start, end)
        break
      case 9:
        expectWireType(number, wireType, LENGTH_DELIMITED)
        providers.list(data, start, end)
        break
      case 10:
        expectWireType(number, wireType, VARINT)
        clusterLevel = value
        break
      default:
        // an unknown field is passed over
        break
    }
  })
  if (MessageType[type] == null) {
    throw new UnsupportedMessageTypeError(`unknown message type ${type}`)
  }
  const message: Message = { type, closer, providers }
  if (key != null && key.length > 0) {
    message.key = key
  }
  if (record != null) {
    message.record = decodeWireRecord(record)
  }
  // obsolete: kept when it is a plain positive int32, so a message round-trips
  if (clusterLevel > 0 && clusterLevel <= 0x7fffffff) {
    message.clusterLevel = clusterLevel
  }
  return message
}

const VARINT = 0
const LENGTH_DELIMITED = 2

/** Throws InvalidMessageError unless field `number` has the wire type it must have. */
function expectWireType (number: number, wireType: number, wanted: number): void {
  if (wireType !== wanted) {
    throw new InvalidMessageError(`malformed message: field ${number} has wire type ${wireType}`)
  }
}

function decodeWireRecord (bytes: Uint8Array): WireRecord {
  const record: WireRecord = { key: EMPTY, value: EMPTY }
  let time: Uint8Array | undefined
  walk(bytes, (number, wireType, _value, start, end) => {
    if (wireType !== LENGTH_DELIMITED) {
      return
    }
    if (number === 1) {
      record.key = bytes.subarray(start, end)
    } else if (number === 2) {
      record.value = bytes.subarray(start, end)
    } else if (number === 5) {
      time = bytes.subarray(start, end)
    }
  })
  const timeReceived = time == null ? undefined : utf8(time)
  if (timeReceived != null && timeReceived !== '') {
    record.timeReceived = timeReceived
  }
  return record
}

const EMPTY = new Uint8Array(0)
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The text of `bytes`, or undefined when they are not UTF-8. */
function utf8 (bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

function encodedPeer (peer: WirePeer | EncodedPeer): EncodedPeer {
  return peer.id instanceof Uint8Array ? peer as EncodedPeer : toEncodedPeer(peer as WirePeer)
}

/**
 * The peers a message lists, located when the message is read and decoded only as they are
 * asked for: an entry with an unreadable id is passed over, an unreadable address skipped, and
 * only the first {@link MAX_PEER_ADDRESSES} addresses of an entry are read. At most
 * {@link MAX_LISTED_PEERS} entries are kept; the rest of a longer list is not read at all.
 *
 * @example
 * ```ts
 * const answer = decodeMessage(bytes)
 * const closest = answer.closer.first(20)    // decodes about 20 entries, whatever the list holds
 * for (const provider of answer.providers) { ... }
 * ```
 */
export class PeerList implements Iterable<WirePeer> {
  /** Entries the sender listed, including those past the cap. */
  listed: number
  private readonly entries: Uint8Array[]
  /** Decoded entries by index; null where the entry is unreadable. */
  private readonly decoded: Array<WirePeer | null | undefined>

  constructor () {
    this.listed = 0
    this.entries = []
    this.decoded = []
  }

  /**
   * Counts one entry, and keeps a view of it (bytes `start` to `end` of `message`) while fewer
   * than {@link MAX_LISTED_PEERS} are kept. The codec calls this while reading a message.
   */
  list (message: Uint8Array, start: number, end: number): void {
    this.listed++
    if (this.entries.length < MAX_LISTED_PEERS) {
      this.entries.push(message.subarray(start, end))
    }
  }

  /** Entries kept to be read (at most {@link MAX_LISTED_PEERS}; unreadable ones included). */
  get kept (): number {
    return this.entries.length
  }

  /** The first `count` readable peers. */
  first (count: number): WirePeer[] {
    const out: WirePeer[] = []
    for (const peer of this) {
      if (out.length >= count) {
        break
      }
      out.push(peer)
    }
    return out
  }

  /** Every readable peer of the entries kept. */
  all (): WirePeer[] {
    return [...this]
  }

  /** The first readable entry whose id is `id` (multihash bytes), reading no other entry whole. */
  find (id: Uint8Array): WirePeer | undefined {
    for (let i = 0; i < this.entries.length; i++) {
      const entryId = readPeerId(this.entries[i])
      if (entryId != null && equals(entryId, id)) {
        const peer = this.at(i)
        if (peer != null) {
          return peer
        }
      }
    }
    return undefined
  }

  /** Entries kept whose id is not `id` (multihash bytes), counted without decoding them. */
  countOthers (id: Uint8Array): number {
    let others = 0
    for (const entry of this.entries) {
      const entryId = readPeerId(entry)
      if (entryId == null || !equals(entryId, id)) {
        others++
      }
    }
    return others
  }

  * [Symbol.iterator] (): Iterator<WirePeer> {
    for (let i = 0; i < this.entries.length; i++) {
      const peer = this.at(i)
      if (peer != null) {
        yield peer
      }
    }
  }

  private at (i: number): WirePeer | undefined {
    let peer = this.decoded[i]
    if (peer === undefined) {
      peer = decodePeer(this.entries[i]) ?? null
      this.decoded[i] = peer
    }
    return peer ?? undefined
  }
}

/** The id bytes of a peer entry, or undefined when the entry is malformed. */
function readPeerId (entry: Uint8Array): Uint8Array | undefined {
  let id: Uint8Array | undefined
  try {
    walk(entry, (number, wireType, _value, start, end) => {
      if (number === 1 && wireType === LENGTH_DELIMITED) {
        id = entry.subarray(start, end)
      }
    })
  } catch {
    return undefined
  }
  return id
}

/**
 * Decodes one peer entry; undefined when it is malformed or its id is unparsable. Unparsable
 * addresses are skipped, repeated ones kept once, and addresses past
 * {@link MAX_PEER_ADDRESSES} are not read.
 */
function decodePeer (entry: Uint8Array): WirePeer | undefined {
  let idBytes: Uint8Array | undefined
  let connection = 0
  const addrs: Uint8Array[] = []
  try {
    walk(entry, (number, wireType, value, start, end) => {
      if (number === 1 && wireType === LENGTH_DELIMITED) {
        idBytes = entry.subarray(start, end)
      } else if (number === 2 && wireType === LENGTH_DELIMITED) {
        if (addrs.length < MAX_PEER_ADDRESSES) {
          addrs.push(entry.subarray(start, end))
        }
      } else if (number === 3 && wireType === VARINT) {
        connection = value
      }
    })
  } catch {
    return undefined
  }
  const id = idBytes == null ? undefined : peerIdFromBytes(idBytes)
  if (id == null) {
    return undefined
  }
  const multiaddrs: Multiaddr[] = []
  for (const [i, bytes] of addrs.entries()) {
    // some senders list an address twice: every user of a decoded peer wants it once (among the
    // at most MAX_PEER_ADDRESSES read, so the comparisons stay bounded)
    if (addrs.findIndex(earlier => equals(earlier, bytes)) < i) {
      continue
    }
    try {
      multiaddrs.push(multiaddr(bytes))
    } catch {
      // an address we cannot parse is skipped; the peer stays
    }
  }
  const peer: WirePeer = { id, multiaddrs }
  if (connection !== 0 && ConnectionType[connection] != null) {
    peer.connection = connection
  }
  return peer
}
