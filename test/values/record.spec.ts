import { expect } from 'aegir/chai'
import { decodeRecord, encodeRecord, formatTime, parseTime } from '../../src/values/record.ts'
import { kadmium } from '../../src/wire/generated/dht.js'

describe('records/record', () => {
  it('round-trips a record with its receive time', () => {
    const record = { key: new Uint8Array([1, 2]), value: new Uint8Array([3]), timeReceived: new Date('2026-11-21T05:00:00.123Z') }
    expect(decodeRecord(encodeRecord(record))).to.deep.equal(record)
  })

  it('writes RFC 3339 and reads go-style nanosecond times and offsets', () => {
    expect(formatTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).to.equal('2026-01-02T03:04:05.006Z')
    expect(parseTime('2026-01-02T03:04:05.123456789Z')?.toISOString()).to.equal('2026-01-02T03:04:05.123Z')
    expect(parseTime('2026-01-02T03:04:05+01:00')?.toISOString()).to.equal('2026-01-02T02:04:05.000Z')
    expect(parseTime('yesterday')).to.equal(undefined)
    expect(parseTime('')).to.equal(undefined)
  })

  it('ignores the obsolete author and signature fields', () => {
    // fields 3 and 4 as go once wrote them
    const bytes = kadmium.Record.encode({ key: new Uint8Array([1]), value: new Uint8Array([2]) }).finish()
    const withObsolete = new Uint8Array([...bytes, 0x1a, 0x01, 0x09, 0x22, 0x01, 0x08])
    expect(decodeRecord(withObsolete)).to.deep.equal({ key: new Uint8Array([1]), value: new Uint8Array([2]) })
  })
})
