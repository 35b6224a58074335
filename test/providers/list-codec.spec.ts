import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { PROVIDER_LIST_VERSION, decodeProviders, encodeProviders } from '../../src/providers/list-codec.ts'

const entry = fc.record({
  multihash: fc.uint8Array({ minLength: 1, maxLength: 200 }),
  time: fc.maxSafeNat()
})

describe('providers/list-codec', () => {
  it('decodes what it encodes', () => {
    fc.assert(fc.property(fc.array(entry, { maxLength: 50 }), (entries) => {
      const decoded = decodeProviders(encodeProviders(entries))
      expect(decoded?.map(({ multihash, time }) => ({ multihash, time }))).to.deep.equal(entries)
    }))
  })

  it('spends about 45 bytes on an Ed25519 provider with a current time', () => {
    const bytes = encodeProviders([{ multihash: new Uint8Array(38), time: 1_700_000_000_000 }])
    expect(bytes).to.have.length(1 + 1 + 38 + 6)
  })

  it('reads a truncated, empty-multihash or other-version list as no list, without throwing', () => {
    fc.assert(fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.nat(), (entries, cut) => {
      const bytes = encodeProviders(entries)
      const truncated = bytes.subarray(0, 1 + (cut % (bytes.length - 1)))
      const decoded = decodeProviders(truncated)
      // a cut on an entry boundary is a shorter valid list; anywhere else it is not a list
      if (decoded != null) {
        expect(decoded.length).to.be.lessThan(entries.length)
      }
    }))
    expect(decodeProviders(Uint8Array.of(PROVIDER_LIST_VERSION, 0, 5))).to.equal(undefined)
    expect(decodeProviders(Uint8Array.of(PROVIDER_LIST_VERSION + 1))).to.equal(undefined)
    expect(decodeProviders(new Uint8Array(0))).to.equal(undefined)
    expect(decodeProviders(Uint8Array.of(PROVIDER_LIST_VERSION))).to.deep.equal([])
  })
})
