/**
 * The records the API answers with: the spec's Peer Schema, and the IPIP-484 filters over them.
 * Pure: nothing here waits or touches the network.
 */
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * A record of the spec's Peer Schema, as it goes on the wire. `ID` is the base58btc peer id
 * (the npm client drops a record whose `ID` is another encoding); `Protocols` lists the transfer
 * protocols known (a DHT knows none, so it is empty: "unknown" to the filters).
 */
export interface PeerRecord {
  /** Always `'peer'`. */
  Schema: 'peer'
  /** The peer id, base58btc. */
  ID: string
  /** Its multiaddrs, as strings; empty when unknown. */
  Addrs: string[]
  /** Its transfer protocols (`transport-bitswap`…); empty when unknown. */
  Protocols: string[]
}

/** What routing yields for a peer: an id and the addresses known for it. */
export interface FoundPeer {
  /** The peer. */
  id: PeerId
  /** Its addresses (possibly none). */
  multiaddrs: Multiaddr[]
}

/** The filters of one request (IPIP-484), in any case; undefined or empty: no filter. */
export interface RecordFilters {
  /** Transports: an address passes when it holds one of these protocols and none of the `!` ones. */
  addrs?: string[]
  /** Transfer protocols: a record passes when it lists one (`unknown`: when it lists none). */
  protocols?: string[]
}

/** The name that stands for "none known" in both filters. */
const UNKNOWN = 'unknown'

/** A found peer as a Peer Schema record. */
export function peerRecord (peer: FoundPeer): PeerRecord {
  return { Schema: 'peer', ID: peer.id.toString(), Addrs: peer.multiaddrs.map(ma => ma.toString()), Protocols: [] }
}

/** The names of the protocols an address is made of (`ip4`, `tcp`, `ws`, `p2p`…), lower-cased. */
function protocolNames (address: Multiaddr): Set<string> {
  return new Set(address.getComponents().map(component => component.name.toLowerCase()))
}

/**
 * Applies the IPIP-484 filters to one found peer: the record with only the addresses that pass,
 * or undefined when the record is left out. An address passes when it holds none of the
 * `!name` protocols and, if positive names are given, at least one of them. A peer with no
 * known address passes the address filter only when it lists `unknown`; one with addresses, none
 * of which pass, is left out. The protocol filter keeps a record that lists one of the names, or
 * none when `unknown` is named; a record that passes keeps all its protocols.
 *
 * @example
 * ```ts
 * filterRecord(peer, { addrs: ['ws', '!ip6'], protocols: ['unknown', 'transport-bitswap'] })
 * ```
 */
export function filterRecord (peer: FoundPeer, filters: RecordFilters): PeerRecord | undefined {
  const record = peerRecord(peer)
  const wantedProtocols = (filters.protocols ?? []).map(name => name.toLowerCase())
  if (wantedProtocols.length > 0) {
    const listed = record.Protocols.map(p => p.toLowerCase())
    const passes = wantedProtocols.some(name => name === UNKNOWN ? listed.length === 0 : listed.includes(name))
    if (!passes) {
      return undefined
    }
  }
  const wantedAddrs = (filters.addrs ?? []).map(name => name.toLowerCase())
  if (wantedAddrs.length === 0) {
    return record
  }
  if (peer.multiaddrs.length === 0) {
    return wantedAddrs.includes(UNKNOWN) ? record : undefined
  }
  const negative = wantedAddrs.filter(name => name.startsWith('!')).map(name => name.slice(1))
  const positive = wantedAddrs.filter(name => !name.startsWith('!'))
  const kept = peer.multiaddrs.filter(address => {
    const names = protocolNames(address)
    if (negative.some(name => names.has(name))) {
      return false
    }
    // `unknown` names no protocol: a list of it alone keeps no address
    return positive.length === 0 || positive.some(name => names.has(name))
  })
  if (kept.length === 0) {
    return undefined
  }
  record.Addrs = kept.map(ma => ma.toString())
  return record
}
