import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { RecordValidator } from '../../src/values/validators.ts'
import { ValueStore } from '../../src/values/value-store.ts'
import { ipnsKey, ipnsRecord, newKey, vKey, vValidator, vValue } from '../utils/records.ts'

const HOUR = 60 * 60_000

describe('records/value-store', () => {
  let clock: { now: number }
  let datastore: MemoryDatastore
  let store: ValueStore
  const validator = new RecordValidator({ v: vValidator })

  beforeEach(async () => {
    clock = { now: Date.UTC(2026, 10, 21) }
    datastore = new MemoryDatastore()
    store = new ValueStore({ datastore, validator, now: () => clock.now, maxAge: 48 * HOUR, maxRecords: 3 })
    await store.load()
  })

  it('stores a valid record stamped with the time received, and refuses an invalid one', async () => {
    const record = await store.put(vKey('a'), vValue(1))
    expect(record.timeReceived?.getTime()).to.equal(clock.now)
    expect((await store.get(vKey('a')))?.value).to.deep.equal(vValue(1))
    await expect(store.put(vKey('b'), vValue(255))).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    await expect(store.put(new TextEncoder().encode('/unknown/b'), vValue(1))).to.eventually.be.rejected.with.property('name', 'UnknownNamespaceError')
    expect(await store.get(vKey('b'))).to.equal(undefined)
    expect(store.size).to.equal(1)
  })

  it('stores each record in bytes of its own (a small encoding on Node 24 is a view into a 64 KiB pool)', async () => {
    await store.put(vKey('a'), vValue(1))
    await store.put(vKey('b'), vValue(2))
    for await (const { value } of datastore.query({})) {
      expect(value.buffer.byteLength).to.equal(value.byteLength)
    }
  })

  it('serves a record until 48 h after it was received, never at or after', async () => {
    await store.put(vKey('a'), vValue(1))
    clock.now += 48 * HOUR - 1
    expect(await store.get(vKey('a'))).to.not.equal(undefined)
    clock.now += 1
    expect(await store.get(vKey('a'))).to.equal(undefined)
    expect(store.size).to.equal(0)
  })

  it('validates a stored record again only once its revalidation interval has passed, and drops it if no longer valid', async () => {
    let validations = 0
    let valid = true
    const counting = new RecordValidator({ c: { validate: () => { validations++; if (!valid) { throw new Error('expired') } }, select: () => 0 } })
    const cached = new ValueStore({ datastore, validator: counting, now: () => clock.now, revalidateInterval: HOUR })
    const key = new TextEncoder().encode('/c/x')
    await cached.put(key, vValue(1))
    expect(validations).to.equal(1)
    for (let i = 0; i < 10; i++) {
      expect(await cached.get(key)).to.not.equal(undefined)
    }
    // served ten times on the strength of the validation at put
    expect(validations).to.equal(1)
    clock.now += HOUR
    valid = false
    expect(await cached.get(key)).to.equal(undefined)
    expect(validations).to.equal(2)
    // a store over the same datastore (a restart) validates before it serves
    valid = true
    await cached.put(key, vValue(1))
    const restarted = new ValueStore({ datastore, validator: counting, now: () => clock.now, revalidateInterval: HOUR })
    expect(await restarted.get(key)).to.not.equal(undefined)
    expect(validations).to.equal(4)
  })

  it('never replaces a record with a worse one, whoever sends it', async () => {
    await store.put(vKey('a'), vValue(5, 'five'))
    await expect(store.put(vKey('a'), vValue(4, 'four'))).to.eventually.be.rejected.with.property('name', 'StaleRecordError')
    expect((await store.get(vKey('a')))?.value).to.deep.equal(vValue(5, 'five'))
    // an equal record refreshes the receive time; a better one replaces
    clock.now += HOUR
    expect((await store.put(vKey('a'), vValue(5, 'five'))).timeReceived?.getTime()).to.equal(clock.now)
    await store.put(vKey('a'), vValue(6, 'six'))
    expect((await store.get(vKey('a')))?.value).to.deep.equal(vValue(6, 'six'))
  })

  it('an older IPNS sequence number cannot overwrite a newer one', async () => {
    const key = await newKey()
    const seven = await ipnsRecord(key, 7)
    await store.put(ipnsKey(key), seven)
    await expect(store.put(ipnsKey(key), await ipnsRecord(key, 6))).to.eventually.be.rejected.with.property('name', 'StaleRecordError')
    expect((await store.get(ipnsKey(key)))?.value).to.deep.equal(seven)
  })

  it('concurrent puts of different versions end with the best one', async () => {
    await Promise.allSettled([4, 9, 2, 7].map(async v => store.put(vKey('race'), vValue(v))))
    expect((await store.get(vKey('race')))?.value).to.deep.equal(vValue(9))
  })

  it('sweeps expired records and keeps the rest', async () => {
    await store.put(vKey('old'), vValue(1))
    clock.now += 24 * HOUR
    await store.put(vKey('new'), vValue(1))
    clock.now += 24 * HOUR
    expect(await store.sweep()).to.equal(1)
    expect(store.size).to.equal(1)
    expect(await store.get(vKey('new'))).to.not.equal(undefined)
  })

  it('refuses new keys when full, but still takes better records for held keys', async () => {
    await store.put(vKey('a'), vValue(1))
    await store.put(vKey('b'), vValue(1))
    await store.put(vKey('c'), vValue(1))
    await expect(store.put(vKey('d'), vValue(1))).to.eventually.be.rejected.with.property('name', 'StoreFullError')
    await store.put(vKey('a'), vValue(2))
    expect(store.size).to.equal(3)
  })

  it('counts what the datastore already holds after a restart', async () => {
    await store.put(vKey('a'), vValue(1))
    await store.put(vKey('b'), vValue(1))
    const restarted = new ValueStore({ datastore, validator, now: () => clock.now })
    await restarted.load()
    expect(restarted.size).to.equal(2)
    expect((await restarted.get(vKey('b')))?.value).to.deep.equal(vValue(1))
  })
})
