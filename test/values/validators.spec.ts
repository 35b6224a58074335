import { expect } from 'aegir/chai'
import { concat } from 'uint8arrays/concat'
import { RecordValidator, namespaceOf } from '../../src/values/validators.ts'
import { expiredIpnsRecord, ipnsKey, ipnsRecord, newKey, pkRecord, vKey, vValidator, vValue } from '../utils/records.ts'
import type { Validator } from '../../src/values/validators.ts'

const encoder = new TextEncoder()

describe('records/validators', () => {
  const validator = new RecordValidator({ v: vValidator })

  it('takes the namespace from the first path segment', () => {
    expect(namespaceOf(encoder.encode('/ipns/abc'))).to.equal('ipns')
    for (const bad of ['ipns/abc', '/ipns', '//x', '', '/']) {
      expect(() => namespaceOf(encoder.encode(bad)), bad).to.throw().with.property('name', 'InvalidKeyError')
    }
    expect(() => namespaceOf(new Uint8Array(300).fill(0x2f))).to.throw().with.property('name', 'InvalidKeyError')
  })

  it('refuses keys with no namespace or an unknown one', async () => {
    await expect(validator.validate(encoder.encode('no-namespace'), vValue(1))).to.eventually.be.rejected.with.property('name', 'InvalidKeyError')
    await expect(validator.validate(encoder.encode('/nope/x'), vValue(1))).to.eventually.be.rejected.with.property('name', 'UnknownNamespaceError')
    expect(() => validator.check(encoder.encode('/nope/x'))).to.throw().with.property('name', 'UnknownNamespaceError')
  })

  it('pk: accepts the public key under its own multihash, refuses a mismatch', async () => {
    const a = pkRecord(await newKey())
    const b = pkRecord(await newKey())
    await validator.validate(a.key, a.value)
    await expect(validator.validate(a.key, b.value)).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    await expect(validator.validate(a.key, new Uint8Array([1, 2, 3]))).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
  })

  it('ipns: accepts a signed record, refuses a tampered, expired or misplaced one', async () => {
    const key = await newKey()
    const other = await newKey()
    const good = await ipnsRecord(key, 1)
    await validator.validate(ipnsKey(key), good)
    const tampered = good.slice()
    tampered[tampered.length - 10] ^= 0xff
    await expect(validator.validate(ipnsKey(key), tampered)).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    await expect(validator.validate(ipnsKey(key), await expiredIpnsRecord(key, 2))).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    await expect(validator.validate(ipnsKey(other), good)).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
  })

  it('ipns: selects the higher sequence number', async () => {
    const key = await newKey()
    const one = await ipnsRecord(key, 1)
    const five = await ipnsRecord(key, 5)
    const three = await ipnsRecord(key, 3)
    expect(await validator.select(ipnsKey(key), [one, five, three])).to.equal(1)
    expect(await validator.select(ipnsKey(key), [five, one])).to.equal(0)
  })

  it('refuses values over the size limit: 16 KiB, or what the namespace says', async () => {
    const value = concat([vValue(1), new Uint8Array(20_000)])
    await expect(validator.validate(vKey('big'), value)).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    const roomy = new RecordValidator({ v: { ...vValidator, maxValueBytes: 30_000 } })
    await roomy.validate(vKey('big'), value)
    await expect(roomy.validate(vKey('big'), concat([value, new Uint8Array(10_000)]))).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
  })

  it('custom namespaces add to the defaults, and their selector is checked', async () => {
    await validator.validate(vKey('a'), vValue(3))
    await expect(validator.validate(vKey('a'), vValue(255))).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    expect(await validator.select(vKey('a'), [vValue(1), vValue(9), vValue(4)])).to.equal(1)
    const broken = new RecordValidator({ v: { validate: () => {}, select: () => 7 } })
    await expect(broken.select(vKey('a'), [vValue(1), vValue(2)])).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
  })

  it('looks the validators up at each use: a namespace added later counts, and a selector may be async', async () => {
    const given: Record<string, Validator> = {}
    const live = new RecordValidator(given)
    expect(() => live.check(vKey('a'))).to.throw().with.property('name', 'UnknownNamespaceError')
    expect(() => live.check(encoder.encode('/toString/x'))).to.throw().with.property('name', 'UnknownNamespaceError')
    given.v = { validate: vValidator.validate, select: async (key, values) => vValidator.select(key, values) }
    live.check(vKey('a'))
    expect(await live.select(vKey('a'), [vValue(1), vValue(9), vValue(4)])).to.equal(1)
  })
})
