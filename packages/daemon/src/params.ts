/**
 * Reading JSON-RPC params strictly (a misspelt param is an error, not silently ignored) and
 * turning API strings into bytes, peer ids, CIDs and multiaddrs, and back.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { PeerId, PeerInfo } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A JSON-RPC error code and message, thrown by methods and turned into the error response. */
export class RpcError extends Error {
  readonly name = 'RpcError'
  readonly code: number
  readonly data?: Record<string, unknown>

  constructor (code: number, message: string, data?: Record<string, unknown>) {
    super(message)
    this.code = code
    this.data = data
  }
}

/** The code of bad params (JSON-RPC's own). */
export const INVALID_PARAMS = -32602

/** How bytes travel as strings: UTF-8 text, or base64 for binary. */
export type Encoding = 'utf8' | 'base64'

/** How a routing key is given: as bytes (text or base64), or as a peer id or CID whose multihash is the key. */
export type KeyEncoding = Encoding | 'peer' | 'cid'

function invalid (message: string): RpcError {
  return new RpcError(INVALID_PARAMS, message)
}

/**
 * The params of one call, by name. Each getter marks its param as read; {@link Params.done}
 * refuses any param no getter read.
 */
export class Params {
  private readonly raw: Record<string, unknown>
  private readonly read: Set<string>

  constructor (raw: unknown) {
    if (raw === undefined) {
      raw = {}
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw invalid('params must be an object of named params')
    }
    this.raw = raw as Record<string, unknown>
    this.read = new Set()
  }

  private take (name: string): unknown {
    this.read.add(name)
    return this.raw[name]
  }

  /** A string param that must be present and non-empty. */
  string (name: string): string {
    const value = this.take(name)
    if (typeof value !== 'string' || value === '') {
      throw invalid(`"${name}" must be a non-empty string`)
    }
    return value
  }

  /** A param that must be a list of 1 to `max` non-empty strings. */
  strings (name: string, max: number): string[] {
    const value = this.take(name)
    if (!Array.isArray(value) || value.length === 0 || value.length > max || value.some(v => typeof v !== 'string' || v === '')) {
      throw invalid(`"${name}" must be a list of 1 to ${max} non-empty strings`)
    }
    return value
  }

  /** An optional string param. */
  optionalString (name: string): string | undefined {
    const value = this.take(name)
    if (value === undefined || value === null) {
      return undefined
    }
    if (typeof value !== 'string') {
      throw invalid(`"${name}" must be a string`)
    }
    return value
  }

  /** An optional integer param within [min, max]. */
  integer (name: string, min: number, max: number): number | undefined {
    const value = this.take(name)
    if (value === undefined || value === null) {
      return undefined
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(`"${name}" must be an integer from ${min} to ${max}`)
    }
    return value
  }

  /** An optional true/false param. */
  boolean (name: string, fallback: boolean): boolean {
    const value = this.take(name)
    if (value === undefined || value === null) {
      return fallback
    }
    if (typeof value !== 'boolean') {
      throw invalid(`"${name}" must be true or false`)
    }
    return value
  }

  /** An optional param that must be one of `choices`. */
  choice<T extends string> (name: string, choices: readonly T[], fallback: T): T {
    const value = this.take(name)
    if (value === undefined || value === null) {
      return fallback
    }
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      throw invalid(`"${name}" must be one of ${choices.map(c => `"${c}"`).join(', ')}`)
    }
    return value as T
  }

  /** Throws for any param that was given but not read. */
  done (): void {
    const unknown = Object.keys(this.raw).filter(name => !this.read.has(name))
    if (unknown.length > 0) {
      throw invalid(`unknown param${unknown.length > 1 ? 's' : ''}: ${unknown.map(n => `"${n}"`).join(', ')}`)
    }
  }
}

/** Bytes from a string in `encoding`; base64 must be canonical. */
export function decodeBytes (text: string, encoding: Encoding, name: string): Uint8Array {
  if (encoding === 'utf8') {
    return uint8ArrayFromString(text)
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw invalid(`"${name}" is not valid base64`)
  }
  return uint8ArrayFromString(text, 'base64pad')
}

/** Bytes as UTF-8 text when they are valid UTF-8 (and `utf8` was asked), else base64. */
export function encodeBytes (bytes: Uint8Array, wanted: Encoding): { text: string, encoding: Encoding } {
  if (wanted === 'utf8') {
    try {
      return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf8' }
    } catch {
      // not text: fall back to base64
    }
  }
  return { text: uint8ArrayToString(bytes, 'base64pad'), encoding: 'base64' }
}

/** A peer id param. */
export function parsePeerId (text: string, name: string): PeerId {
  try {
    return peerIdFromString(text)
  } catch {
    throw invalid(`"${name}" is not a peer id: ${text}`)
  }
}

/** A CID param. */
export function parseCid (text: string, name: string): CID {
  try {
    return CID.parse(text)
  } catch {
    throw invalid(`"${name}" is not a CID: ${text}`)
  }
}

/** A multiaddr param. */
export function parseMultiaddr (text: string, name: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch {
    throw invalid(`"${name}" is not a multiaddr: ${text}`)
  }
}

/** The bytes of a routing key given as text, base64, a peer id or a CID. */
export function routingKey (text: string, encoding: KeyEncoding, name: string): Uint8Array {
  switch (encoding) {
    case 'peer': return parsePeerId(text, name).toMultihash().bytes
    case 'cid': return parseCid(text, name).multihash.bytes
    default: return decodeBytes(text, encoding, name)
  }
}

/** A peer as the API shows it. */
export interface PeerJson {
  id: string
  addresses: string[]
}

/** A peer and its addresses as the API shows them. */
export function peerJson (peer: Pick<PeerInfo, 'id' | 'multiaddrs'>): PeerJson {
  return { id: peer.id.toString(), addresses: peer.multiaddrs.map(ma => ma.toString()) }
}

/**
 * A record key for display: its `/namespace/` as text, the rest as text when it is printable
 * UTF-8, otherwise in base58btc (which shows an `/ipns/` or `/pk/` key's peer id).
 */
export function displayKey (key: Uint8Array): string {
  const end = key.indexOf(0x2f, 1)
  const head = end > 0 ? key.subarray(0, end + 1) : new Uint8Array(0)
  const rest = key.subarray(head.length)
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(rest)
    if (!/[\p{Cc}]/u.test(text)) {
      return new TextDecoder().decode(head) + text
    }
  } catch {
    // binary
  }
  return new TextDecoder().decode(head) + base58btc.baseEncode(rest)
}

/** A provider key (a multihash) for display: base58btc, which is a CIDv0 for SHA-256. */
export function displayMultihash (bytes: Uint8Array): string {
  return base58btc.baseEncode(bytes)
}
