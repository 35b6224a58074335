import { expect } from 'aegir/chai'
import { fromString } from 'uint8arrays/from-string'
import { MAX_CBOR_DEPTH, decodeCbor } from '../../src/values/cbor.ts'

const hex = (text: string): Uint8Array => fromString(text, 'base16')

describe('records: the DAG-CBOR reader', () => {
  it('reads the examples of RFC 8949 appendix A that DAG-CBOR allows', () => {
    expect(decodeCbor(hex('17'))).to.equal(23n)
    expect(decodeCbor(hex('1903e8'))).to.equal(1000n)
    expect(decodeCbor(hex('1bffffffffffffffff'))).to.equal(18446744073709551615n)
    expect(decodeCbor(hex('3863'))).to.equal(-100n)
    expect(decodeCbor(hex('fb3ff199999999999a'))).to.equal(1.1)
    expect(decodeCbor(hex('f4'))).to.equal(false)
    expect(decodeCbor(hex('f6'))).to.equal(null)
    expect(decodeCbor(hex('4401020304'))).to.deep.equal(Uint8Array.of(1, 2, 3, 4))
    expect(decodeCbor(hex('62c3bc'))).to.equal('ü')
    expect(decodeCbor(hex('8301820203820405'))).to.deep.equal([1n, [2n, 3n], [4n, 5n]])
    expect(decodeCbor(hex('a26161016162820203'))).to.deep.equal(new Map<string, unknown>([['a', 1n], ['b', [2n, 3n]]]))
    expect(decodeCbor(hex('d82a4400010203'))).to.deep.equal({ tag: 42n, value: Uint8Array.of(0, 1, 2, 3) })
  })

  it('refuses what DAG-CBOR forbids and what is malformed', () => {
    const refused = {
      'indefinite-length array': '9f01ff',
      'indefinite-length bytes': '5f42010243030405ff',
      undefined: 'f7',
      'half-precision float': 'f93c00',
      'single-precision float': 'fa47c35000',
      'a map key that is not a string': 'a10102',
      'a duplicate map key': 'a2616101616102',
      'trailing bytes': '0102',
      'a length past the end': '45010203',
      'reserved additional information': '1c',
      'invalid UTF-8': '62c328',
      'nothing at all': ''
    }
    for (const [what, bytes] of Object.entries(refused)) {
      expect(() => decodeCbor(hex(bytes)), what).to.throw()
    }
  })

  it(`refuses arrays nested deeper than ${MAX_CBOR_DEPTH}`, () => {
    const nested = (depth: number): Uint8Array => new Uint8Array([...new Array(depth).fill(0x81), 0x01])
    expect(() => decodeCbor(nested(MAX_CBOR_DEPTH))).to.not.throw()
    expect(() => decodeCbor(nested(MAX_CBOR_DEPTH + 1))).to.throw(/too deep/)
  })
})
