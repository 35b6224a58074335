/**
 * What the routing API tests ask about: CIDs of texts, signed IPNS records, and the closest
 * peers of a key by brute force (kadmium's keyspace: SHA-256, XOR distance).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createIPNSRecord, marshalIPNSRecord } from 'ipns'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { PeerId, PrivateKey } from '@libp2p/interface'

/** The raw-codec CID of a text. */
export async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

/** A fresh Ed25519 key. */
export async function newKey (): Promise<PrivateKey> {
  return generateKeyPair('Ed25519')
}

/** A marshalled, signed IPNS record with sequence `seq`, valid for a day. */
export async function ipnsRecord (key: PrivateKey, seq: number): Promise<Uint8Array> {
  return marshalIPNSRecord(await createIPNSRecord(key, '/ipfs/bafkqaaa', seq, 24 * 60 * 60_000, { v1Compatible: false }))
}

/** `peers` (base58btc), closest to `key` (multihash bytes) first. */
export async function closestFirst (peers: PeerId[], key: Uint8Array): Promise<string[]> {
  const position = async (bytes: Uint8Array): Promise<Uint8Array> => (await sha256.digest(bytes)).digest
  const target = await position(key)
  const placed = await Promise.all(peers.map(async peer => ({ id: peer.toString(), at: await position(peer.toMultihash().bytes) })))
  const distance = (at: Uint8Array): string => Array.from(at, (byte, i) => (byte ^ target[i]).toString(16).padStart(2, '0')).join('')
  return placed.sort((a, b) => distance(a.at) < distance(b.at) ? -1 : 1).map(p => p.id)
}
