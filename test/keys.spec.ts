import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { sha256 } from 'multiformats/hashes/sha2'
import { KAD_ID_BITS, commonPrefixLength, compareDistance, kadId } from '../src/keys.ts'

const key = fc.uint8Array({ minLength: 32, maxLength: 32 })

/** The distance as a bigint, the plain definition. */
function distance (a: Uint8Array, b: Uint8Array): bigint {
  let out = 0n
  for (let i = 0; i < 32; i++) {
    out = (out << 8n) | BigInt(a[i] ^ b[i])
  }
  return out
}

describe('keys', () => {
  it('kadId is the SHA-256 of the bytes', async () => {
    const bytes = new TextEncoder().encode('hello')
    expect(kadId(bytes)).to.deep.equal((await sha256.digest(bytes)).digest)
    expect(kadId(bytes)).to.have.length(32)
  })

  it('compareDistance orders as the XOR distance does', () => {
    fc.assert(fc.property(key, key, key, (a, b, t) => {
      const da = distance(a, t)
      const db = distance(b, t)
      const expected = Number(da > db) - Number(da < db)
      expect(Math.sign(compareDistance(a, b, t))).to.equal(expected)
    }))
  })

  it('commonPrefixLength counts the shared leading bits', () => {
    fc.assert(fc.property(key, key, (a, b) => {
      const d = distance(a, b)
      const expected = d === 0n ? KAD_ID_BITS : KAD_ID_BITS - d.toString(2).length
      expect(commonPrefixLength(a, b)).to.equal(expected)
    }))
  })

  it('commonPrefixLength of keys differing in the first and the last bit', () => {
    const a = new Uint8Array(32)
    const b = new Uint8Array(32)
    b[0] = 0x80
    expect(commonPrefixLength(a, b)).to.equal(0)
    b[0] = 0
    b[31] = 1
    expect(commonPrefixLength(a, b)).to.equal(255)
    expect(commonPrefixLength(a, a)).to.equal(256)
  })
})
