/**
 * kadmium's own IPNS checks against the `ipns` package's (which js-libp2p and Helia use): the
 * same verdict on records that package makes, valid ones of every key type and broken ones,
 * on random corruptions, and the same choice among several valid records.
 */
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { createIPNSRecord, createIPNSRecordWithExpiration, marshalIPNSRecord, multihashToIPNSRoutingKey } from 'ipns'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import { MAX_IPNS_RECORD_BYTES, selectIpnsRecord, validateIpnsRecord } from '../../src/values/ipns.ts'
import type { PrivateKey } from '@libp2p/interface'

const DAY = 24 * 60 * 60_000

const keyOf = (key: PrivateKey): Uint8Array => multihashToIPNSRoutingKey(key.publicKey.toMultihash())

/** Whether a check accepts (true) or throws (the error's name and message). */
async function verdict (check: () => Promise<void>): Promise<true | string> {
  try {
    await check()
    return true
  } catch (err: any) {
    return `${err.name}: ${err.message}`
  }
}

/** kadmium's verdict and the `ipns` package's on the same record. */
async function both (key: Uint8Array, value: Uint8Array): Promise<{ kadmium: true | string, ipns: true | string }> {
  return {
    kadmium: await verdict(async () => { await validateIpnsRecord(key, value) }),
    ipns: await verdict(async () => { await ipnsValidator(key, value) })
  }
}

describe('records: IPNS records', function () {
  this.timeout(30_000)
  let ed25519: PrivateKey
  let other: PrivateKey
  let secp256k1: PrivateKey
  let rsa: PrivateKey

  before(async () => {
    [ed25519, other, secp256k1, rsa] = await Promise.all([
      generateKeyPair('Ed25519'), generateKeyPair('Ed25519'), generateKeyPair('secp256k1'), generateKeyPair('RSA', 1024)
    ])
  })

  it('accepts what the ipns package makes: V2 and V1+V2, Ed25519, secp256k1 and RSA (its key in the record)', async () => {
    for (const key of [ed25519, secp256k1, rsa]) {
      for (const v1Compatible of [false, true]) {
        const record = marshalIPNSRecord(await createIPNSRecord(key, '/ipfs/bafkqaaa', 3, DAY, { v1Compatible }))
        expect(await both(keyOf(key), record), `${key.type} v1Compatible ${v1Compatible}`).to.deep.equal({ kadmium: true, ipns: true })
      }
    }
  })

  it('refuses what the ipns package refuses: wrong name, expired, V1 copies that differ, no signature, too large', async () => {
    const made = await createIPNSRecord(ed25519, '/ipfs/bafkqaaa', 3, DAY, { v1Compatible: true })
    const rsaMade = await createIPNSRecord(rsa, '/ipfs/bafkqaaa', 3, DAY, { v1Compatible: false })
    // each case: the key, the record, and why kadmium refuses it
    const cases: Record<string, [Uint8Array, Uint8Array, RegExp]> = {
      'another name': [keyOf(other), marshalIPNSRecord(made), /signature does not verify/],
      expired: [keyOf(ed25519), marshalIPNSRecord(await createIPNSRecordWithExpiration(ed25519, '/ipfs/bafkqaaa', 3, new Date(Date.now() - 1000).toISOString())), /expired/],
      'V1 value differs': [keyOf(ed25519), marshalIPNSRecord({ ...made, value: '/ipfs/bafkqaba' }), /V1 fields differ/],
      'V1 sequence differs': [keyOf(ed25519), marshalIPNSRecord({ ...made, sequence: 4n }), /V1 fields differ/],
      'V1 validity differs': [keyOf(ed25519), marshalIPNSRecord({ ...made, validity: new Date(Date.now() + 2 * DAY).toISOString() }), /V1 fields differ/],
      'no signatureV2': [keyOf(ed25519), marshalIPNSRecord({ ...made, signatureV2: undefined as any }), /signatureV2 or data is missing/],
      'another key\'s signature': [keyOf(ed25519), marshalIPNSRecord({ ...made, signatureV2: (await createIPNSRecord(other, '/ipfs/bafkqaaa', 3, DAY)).signatureV2 }), /signature does not verify/],
      'RSA without its key in the record': [keyOf(rsa), marshalIPNSRecord({ ...rsaMade, pubKey: undefined }), /no public key/],
      'someone else\'s key in the record': [keyOf(rsa), marshalIPNSRecord({ ...rsaMade, pubKey: publicKeyToProtobuf(other.publicKey) }), /not the name's/],
      'over 10 KiB': [keyOf(ed25519), marshalIPNSRecord(await createIPNSRecord(ed25519, `/ipfs/${'a'.repeat(MAX_IPNS_RECORD_BYTES)}`, 3, DAY)), /at most 10240 bytes/],
      'not an IPNS key': [new TextEncoder().encode('/pk/abc'), marshalIPNSRecord(made), /begins with \/ipns\//]
    }
    for (const [name, [key, value, why]] of Object.entries(cases)) {
      const result = await both(key, value)
      expect(result.kadmium, name).to.match(/^InvalidRecordError/).and.to.match(why)
      expect(result.ipns, name).to.not.equal(true)
    }
  })

  it('on randomly corrupted records, accepts only what the ipns package accepts, and refuses more only for a stricter rule', async () => {
    const records = [
      marshalIPNSRecord(await createIPNSRecord(ed25519, '/ipfs/bafkqaaa', 7, DAY, { v1Compatible: true })),
      marshalIPNSRecord(await createIPNSRecord(ed25519, '/ipfs/bafkqaaa', 7, DAY, { v1Compatible: false }))
    ]
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...records), fc.nat(), fc.integer({ min: 1, max: 255 }),
      async (record, at, xor) => {
        const broken = record.slice()
        broken[at % broken.length] ^= xor
        const result = await both(keyOf(ed25519), broken)
        if (result.kadmium === true) {
          expect(result.ipns).to.equal(true)
        } else if (result.ipns === true) {
          // the ipns package reads a protobuf field whatever its wire type, and compares the V1
          // copies only when both value and signatureV1 are there (the spec says: either)
          expect(result.kadmium).to.match(/wire type|V1 fields/)
        }
      }), { numRuns: 300 })
  })

  it('selects the record the ipns package selects: the highest sequence, then the latest validity', async () => {
    const soon = Date.now() + DAY
    const records = await Promise.all([[1, 0], [2, 0], [2, 5_000], [3, 0], [3, 0], [1, 9_000]].map(async ([seq, later]) =>
      marshalIPNSRecord(await createIPNSRecordWithExpiration(ed25519, '/ipfs/bafkqaaa', seq, new Date(soon + later).toISOString()))))
    const key = keyOf(ed25519)
    fc.assert(fc.property(fc.shuffledSubarray(records, { minLength: 1 }), (values) => {
      expect(selectIpnsRecord(values)).to.equal(ipnsSelector(key, values))
    }), { numRuns: 200 })
  })
})
