/**
 * Records for tests: signed IPNS records, `/pk/` records, and a small custom namespace.
 */
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { createIPNSRecord, createIPNSRecordWithExpiration, marshalIPNSRecord, multihashToIPNSRoutingKey } from 'ipns'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { concat } from 'uint8arrays/concat'
import type { Validator } from '../../src/index.ts'
import type { PrivateKey } from '@libp2p/interface'

const encoder = new TextEncoder()

/** A fresh Ed25519 key. */
export async function newKey (): Promise<PrivateKey> {
  return generateKeyPair('Ed25519')
}

/** The IPNS routing key of a private key's name. */
export function ipnsKey (key: PrivateKey): Uint8Array {
  return multihashToIPNSRoutingKey(key.publicKey.toMultihash())
}

/** A marshalled, signed IPNS record pointing at `path` with sequence `seq`, valid for a day. */
export async function ipnsRecord (key: PrivateKey, seq: number, path = '/ipfs/bafkqaaa'): Promise<Uint8Array> {
  return marshalIPNSRecord(await createIPNSRecord(key, path, seq, 24 * 60 * 60_000, { v1Compatible: false }))
}

/** A marshalled IPNS record whose validity ended an hour ago. */
export async function expiredIpnsRecord (key: PrivateKey, seq: number): Promise<Uint8Array> {
  const past = new Date(Date.now() - 60 * 60_000).toISOString()
  return marshalIPNSRecord(await createIPNSRecordWithExpiration(key, '/ipfs/bafkqaaa', seq, past, { v1Compatible: false }))
}

/** The `/pk/` key and value of a key pair. */
export function pkRecord (key: PrivateKey): { key: Uint8Array, value: Uint8Array } {
  return {
    key: concat([encoder.encode('/pk/'), key.publicKey.toMultihash().bytes]),
    value: publicKeyToProtobuf(key.publicKey)
  }
}

/** The raw-codec CID of a text. */
export async function cidOf (text: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(encoder.encode(text)))
}

/** A key in the test namespace `/v/`. */
export function vKey (name: string): Uint8Array {
  return encoder.encode(`/v/${name}`)
}

/** A value of the test namespace: a version byte and a payload. */
export function vValue (version: number, payload = 'x'): Uint8Array {
  return concat([new Uint8Array([version]), encoder.encode(payload)])
}

/**
 * The test namespace `/v/`: a value is a version byte (0–254; 255 is invalid) and a payload; the
 * highest version wins.
 */
export const vValidator: Validator = {
  validate: (_key, value) => {
    if (value.length === 0 || value[0] === 255) {
      throw new Error('not a valid versioned value')
    }
  },
  select: (_key, values) => values.reduce((best, value, index) => value[0] > values[best][0] ? index : best, 0)
}
