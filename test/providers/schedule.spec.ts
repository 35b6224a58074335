import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { leadingBits } from '../../src/keys.ts'
import { catchUp, dueTime, hexPrefixes, rankOf, regionBits, regionName, regionOf } from '../../src/providers/schedule.ts'

const HOUR = 60 * 60_000
const INTERVAL = 22 * HOUR
const key = fc.uint8Array({ minLength: 32, maxLength: 32 })

function hex (bytes: Uint8Array): string {
  return [...bytes.subarray(0, 8)].map(b => b.toString(16).padStart(2, '0')).join('')
}

describe('providers/schedule', () => {
  it('cuts the keyspace so that a region holds k peers or more on average', () => {
    expect(regionBits(10, 20)).to.equal(0)
    expect(regionBits(39, 20)).to.equal(0)
    expect(regionBits(40, 20)).to.equal(1)
    expect(regionBits(10_000, 20)).to.equal(8)
    expect(regionBits(20_000, 20)).to.equal(9)
    expect(regionBits(1e12, 20)).to.equal(24)
  })

  it('every rank of a cycle is one region, each due once, at even offsets, the first our own', () => {
    fc.assert(fc.property(key, fc.integer({ min: 0, max: 10 }), (self, bits) => {
      const state = { start: 1_000, cycle: 3, bits, next: 0 }
      const regions = new Set<number>()
      for (let rank = 0; rank < 2 ** bits; rank++) {
        const prefix = regionOf(rank, self, bits)
        regions.add(prefix)
        // a key with that prefix has that rank
        const position = self.slice()
        for (let bit = 0; bit < bits; bit++) {
          const mask = 0x80 >> (bit & 7)
          position[bit >> 3] = (position[bit >> 3] & ~mask) | (((prefix >> (bits - 1 - bit)) & 1) === 1 ? mask : 0)
        }
        expect(rankOf(position, self, bits)).to.equal(rank)
        expect(dueTime(state, rank, INTERVAL)).to.equal(1_000 + 3 * INTERVAL + Math.floor(rank * INTERVAL / 2 ** bits))
      }
      expect(regions.size).to.equal(2 ** bits)
      expect(rankOf(self, self, bits)).to.equal(0)
    }))
  })

  it('offsets nest: one bit more keeps every key within one region\'s time of where it was', () => {
    fc.assert(fc.property(key, key, fc.integer({ min: 0, max: 16 }), (self, position, bits) => {
      const coarse = dueTime({ start: 0, cycle: 0, bits, next: 0 }, rankOf(position, self, bits), INTERVAL)
      const fine = dueTime({ start: 0, cycle: 0, bits: bits + 1, next: 0 }, rankOf(position, self, bits + 1), INTERVAL)
      expect(fine - coarse).to.be.within(0, INTERVAL / 2 ** bits)
    }))
  })

  it('the hex prefixes of a region match exactly the positions in it', () => {
    fc.assert(fc.property(key, key, fc.integer({ min: 0, max: 24 }), (inside, other, bits) => {
      const prefixes = hexPrefixes(leadingBits(inside, bits), bits)
      const matches = (position: Uint8Array): boolean => prefixes.some(p => hex(position).startsWith(p))
      expect(matches(inside)).to.equal(true)
      expect(matches(other)).to.equal(leadingBits(other, bits) === leadingBits(inside, bits))
    }))
    expect(regionName(5, 4)).to.equal('0101')
    expect(regionName(0, 0)).to.equal('')
  })

  it('a schedule more than a cycle behind passes over whole cycles, keeping its next region', () => {
    const state = { start: 0, cycle: 2, bits: 4, next: 5 }
    const due = dueTime(state, 5, INTERVAL)
    expect(catchUp(state, due + INTERVAL - 1, INTERVAL)).to.equal(state)
    const caught = catchUp(state, due + 3 * INTERVAL + HOUR, INTERVAL)
    expect(caught).to.deep.equal({ ...state, cycle: 5 })
    expect(due + 3 * INTERVAL + HOUR - dueTime(caught, 5, INTERVAL)).to.be.below(INTERVAL)
  })
})
