import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { commonPrefixLength, compareDistance } from '../../src/keys.ts'
import { RoutingTable } from '../../src/table/routing-table.ts'
import type { TableEntry } from '../../src/table/routing-table.ts'

const K = 20
const key = fc.uint8Array({ minLength: 32, maxLength: 32 })

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

interface Harness {
  table: RoutingTable<string>
  clock: { now: number }
  /** Every peer the table asked to have checked, in order. */
  pings: string[]
  alive: Set<string>
  /** Answers the checks asked for so far: a peer in `alive` passes. */
  runChecks(): void
}

function harness (localKey: Uint8Array, kBucketSize = K, freshness = 0): Harness {
  const clock = { now: 1_000 }
  const pings: string[] = []
  const queued: Array<TableEntry<string>> = []
  const alive = new Set<string>()
  const table = new RoutingTable<string>({
    localKey,
    kBucketSize,
    freshness,
    maxFailures: 1,
    now: () => clock.now,
    onCheck: (entry) => {
      pings.push(entry.id)
      queued.push(entry)
    }
  })
  const runChecks = (): void => {
    for (const entry of queued.splice(0)) {
      table.checked(entry.id, alive.has(entry.id))
    }
  }
  return { table, clock, pings, alive, runChecks }
}

/** A key in bucket `index` of `local`: flip bit `index`, randomise the bits after it. */
function keyInBucket (local: Uint8Array, index: number, seed: number): Uint8Array {
  const out = local.slice()
  const byte = index >> 3
  out[byte] ^= 0x80 >> (index & 7)
  for (let i = byte + 1; i < 32; i++) {
    out[i] = (seed * 31 + i * 17) & 0xff
  }
  // keep the bits after `index` in its byte varied too
  const low = (0x80 >> (index & 7)) - 1
  out[byte] = (out[byte] & ~low) | (seed & low)
  return out
}

describe('table/routing-table', () => {
  it('never holds more than k regular peers per bucket, nor our own key; its overflow peers are at most k, all among our k closest', () => {
    fc.assert(fc.property(key, fc.array(key, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (local, keys, k) => {
      const { table } = harness(local, k)
      keys.forEach(kk => table.add(hex(kk), kk, hex(kk)))
      table.add('self', local, 'self')
      expect(table.has('self')).to.equal(false)
      const near = new Set(table.closest(local, k).map(e => e.id))
      let overflow = 0
      for (const bucket of table.info()) {
        expect(bucket.peers.filter(peer => !peer.overflow).length).to.be.at.most(k)
        for (const peer of bucket.peers) {
          expect(commonPrefixLength(local, peer.key)).to.equal(bucket.index)
          if (peer.overflow) {
            overflow++
            expect(near.has(peer.id)).to.equal(true)
          }
        }
      }
      expect(overflow).to.be.at.most(k)
    }))
  })

  it('always holds the k closest peers offered to it, even when their bucket is full of far ones', () => {
    fc.assert(fc.property(key, fc.array(key, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (local, keys, k) => {
      const { table } = harness(local, k)
      keys.forEach(kk => table.add(hex(kk), kk, hex(kk)))
      const offered = [...new Map(keys.filter(kk => hex(kk) !== hex(local)).map(kk => [hex(kk), kk])).values()]
      const expected = offered.sort((a, b) => compareDistance(a, b, local)).slice(0, k).map(hex)
      expect(table.closest(local, k).map(e => e.id)).to.deep.equal(expected)
    }))
  })

  it('overflow peers: taken into a full bucket when among our k closest, pushed out by closer ones, made regular when room opens', () => {
    // every peer in bucket 0 (first bit set), arriving farthest first, k = 2
    const local = new Uint8Array(32)
    const at = (byte: number): Uint8Array => { const kk = new Uint8Array(32); kk[0] = byte; return kk }
    const { table } = harness(local, 2)
    const add = (kk: Uint8Array): string => table.add(hex(kk), kk, hex(kk))
    expect([add(at(0xf0)), add(at(0xe0))]).to.deep.equal(['added', 'added'])
    // a far newcomer to the full bucket waits on a check; a nearer one is held as overflow
    expect(add(at(0xff))).to.equal('pending')
    expect(add(at(0xa0))).to.equal('added')
    expect(add(at(0x90))).to.equal('added')
    const flags = (): Record<string, boolean> => Object.fromEntries(table.info()[0].peers.map(p => [p.key[0].toString(16), p.overflow]))
    expect(flags()).to.deep.equal({ f0: false, e0: false, a0: true, 90: true })
    // a closer one pushes the farthest overflow peer out of our 2 closest, and out of the table
    expect(add(at(0x80))).to.equal('added')
    expect(flags()).to.deep.equal({ f0: false, e0: false, 90: true, 80: true })
    // a regular peer leaves: the overflow peer that has been there longest takes its place
    table.remove(hex(at(0xf0)))
    expect(flags()).to.deep.equal({ e0: false, 90: false, 80: true })
  })

  it('closest(key, n) equals a brute-force sort of the whole table', () => {
    fc.assert(fc.property(key, fc.array(key, { maxLength: 300 }), key, fc.integer({ min: 0, max: 40 }), (local, keys, target, n) => {
      const { table } = harness(local)
      keys.forEach(kk => table.add(hex(kk), kk, hex(kk)))
      const all = [...table.entries()]
      const expected = all.sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, n).map(e => e.id)
      expect(table.closest(target, n).map(e => e.id)).to.deep.equal(expected)
    }))
  })

  it('closest works for targets deep in our own neighbourhood and for our own key', () => {
    const local = new Uint8Array(32).fill(0x5a)
    const { table } = harness(local)
    for (let index = 0; index < 40; index++) {
      for (let s = 0; s < 3; s++) {
        const kk = keyInBucket(local, index, s + index * 7)
        table.add(hex(kk), kk, hex(kk))
      }
    }
    for (const target of [local, keyInBucket(local, 30, 99), keyInBucket(local, 2, 5)]) {
      const expected = [...table.entries()].sort((a, b) => compareDistance(a.key, b.key, target)).slice(0, 20).map(e => e.id)
      expect(table.closest(target, 20).map(e => e.id)).to.deep.equal(expected)
    }
  })

  it('an older live peer is never evicted for a newer one', () => {
    fc.assert(fc.property(key, fc.array(key, { minLength: 1, maxLength: 120 }), (local, keys) => {
      const h = harness(local, 4)
      const firstIn = new Set<string>()
      for (const kk of keys) {
        const id = hex(kk)
        if (h.table.add(id, kk, id) === 'added' && h.table.info().some(b => b.peers.some(p => p.id === id && !p.overflow))) {
          firstIn.add(id)
          h.alive.add(id) // every peer answers its checks
        }
        h.clock.now += 1_000
        h.runChecks()
      }
      // all regular peers that ever entered are still there: none was evicted
      for (const id of firstIn) {
        expect(h.table.has(id)).to.equal(true)
      }
    }), { numRuns: 50 })
  })

  it('a full bucket checks its least-recently-seen peer and replaces it only if it fails', () => {
    const local = new Uint8Array(32)
    const h = harness(local, 2)
    const a = keyInBucket(local, 0, 1)
    const b = keyInBucket(local, 0, 2)
    const c = keyInBucket(local, 0, 3)
    const d = keyInBucket(local, 0, 4)
    expect(h.table.add('a', a, 'a')).to.equal('added')
    h.clock.now += 10
    expect(h.table.add('b', b, 'b')).to.equal('added')
    h.alive.add('a')
    // a is the least recently seen: checked, alive, kept; c turned away
    expect(h.table.add('c', c, 'c')).to.equal('pending')
    h.runChecks()
    expect(h.pings).to.deep.equal(['a'])
    expect(h.table.has('a')).to.equal(true)
    expect(h.table.has('c')).to.equal(false)
    // now b is the least recently seen; it does not answer, so d takes its place
    expect(h.table.add('d', d, 'd')).to.equal('pending')
    h.runChecks()
    expect(h.pings).to.deep.equal(['a', 'b'])
    expect(h.table.has('b')).to.equal(false)
    expect(h.table.has('d')).to.equal(true)
  })

  it('a newcomer is turned away without a check when the oldest peer was seen recently', () => {
    const local = new Uint8Array(32)
    const h = harness(local, 1, 60_000)
    h.table.add('a', keyInBucket(local, 0, 1), 'a')
    h.clock.now += 1_000
    expect(h.table.add('b', keyInBucket(local, 0, 2), 'b')).to.equal('rejected')
    h.runChecks()
    expect(h.pings).to.deep.equal([])
    h.clock.now += 60_000
    expect(h.table.add('b', keyInBucket(local, 0, 2), 'b')).to.equal('pending')
    h.runChecks()
    expect(h.pings).to.deep.equal(['a'])
    expect(h.table.has('b')).to.equal(true)
  })

  it('a newcomer waiting on a check takes the place of the checked peer if that peer leaves first', () => {
    const local = new Uint8Array(32)
    const h = harness(local, 1)
    h.table.add('a', keyInBucket(local, 0, 1), 'a')
    h.clock.now += 1
    expect(h.table.add('b', keyInBucket(local, 0, 2), 'b')).to.equal('pending')
    // a fails a request while its check runs: it leaves, and b enters at once
    expect(h.table.failed('a')).to.equal(true)
    expect(h.table.has('b')).to.equal(true)
    // the late outcome of the check changes nothing
    h.alive.add('a')
    h.runChecks()
    expect([h.table.has('a'), h.table.has('b')]).to.deep.equal([false, true])
    // and the bucket can ask for a check again
    h.clock.now += 1
    expect(h.table.add('c', keyInBucket(local, 0, 3), 'c')).to.equal('pending')
    expect(h.pings).to.deep.equal(['a', 'b'])
  })

  it('touch moves a peer to the most-recently-seen end; remove forgets it', () => {
    const local = new Uint8Array(32)
    const h = harness(local, 3)
    for (const [id, s] of [['a', 1], ['b', 2], ['c', 3]] as const) {
      h.clock.now += 1
      h.table.add(id, keyInBucket(local, 0, s), id)
    }
    h.clock.now += 1
    h.table.touch('a')
    expect(h.table.info()[0].peers.map(p => p.id)).to.deep.equal(['b', 'c', 'a'])
    expect(h.table.get('a')?.lastSeen).to.equal(h.clock.now)
    expect(h.table.remove('b')).to.equal(true)
    expect(h.table.remove('b')).to.equal(false)
    expect(h.table.size).to.equal(2)
  })
})

describe('table/routing-table: diversity filter', () => {
  /** Peers carry their address group as their value. */
  function diverseTable (perBucket: number, perTable: number): RoutingTable<string> {
    return new RoutingTable<string>({
      localKey: new Uint8Array(32),
      kBucketSize: 20,
      freshness: 0,
      maxFailures: 1,
      now: () => 0,
      onCheck: () => {},
      groups: (group) => [group],
      maxPerGroupPerBucket: perBucket,
      maxPerGroupInTable: perTable
    })
  }

  it('refuses the peer past the limit from one /16 and accepts it from another', () => {
    const table = diverseTable(2, 10)
    const local = new Uint8Array(32)
    expect(table.add('a', keyInBucket(local, 0, 1), 'ip4/1.2')).to.equal('added')
    expect(table.add('b', keyInBucket(local, 0, 2), 'ip4/1.2')).to.equal('added')
    expect(table.add('c', keyInBucket(local, 0, 3), 'ip4/1.2')).to.equal('rejected')
    expect(table.add('c', keyInBucket(local, 0, 3), 'ip4/1.3')).to.equal('added')
    // the same /16 is welcome in another bucket
    expect(table.add('d', keyInBucket(local, 1, 4), 'ip4/1.2')).to.equal('added')
    // a peer that leaves frees its place
    table.remove('a')
    expect(table.add('e', keyInBucket(local, 0, 5), 'ip4/1.2')).to.equal('added')
  })

  it('caps one group across the whole table', () => {
    const table = diverseTable(2, 3)
    const local = new Uint8Array(32)
    const results = [0, 1, 2, 3, 4].map(bucket => table.add(`p${bucket}`, keyInBucket(local, bucket, bucket + 1), 'ip6/2001:db8'))
    expect(results).to.deep.equal(['added', 'added', 'added', 'rejected', 'rejected'])
    expect(table.size).to.equal(3)
  })
})

describe('table/routing-table: failures', () => {
  it('a peer leaves after maxFailures failures in a row; being seen resets the count', () => {
    const table = new RoutingTable<string>({ localKey: new Uint8Array(32), kBucketSize: 20, freshness: 0, maxFailures: 2, now: () => 0, onCheck: () => {} })
    const key = new Uint8Array(32)
    key[0] = 0x80
    table.add('a', key, 'a')
    expect(table.failed('a')).to.equal(false)
    table.touch('a')
    expect(table.failed('a')).to.equal(false)
    expect(table.failed('a')).to.equal(true)
    expect(table.has('a')).to.equal(false)
  })
})

describe('routing table: the peers named in answers', () => {
  it('leaves out a peer whose last request from us went unanswered, the next closest taking its place, until it proves alive again', () => {
    const local = new Uint8Array(32)
    const table = new RoutingTable<string>({ localKey: local, kBucketSize: K, freshness: 0, maxFailures: 2, now: () => 0, onCheck: () => {} })
    const keys = Array.from({ length: 40 }, (_, i) => keyInBucket(local, 1 + (i % 8), i))
    keys.forEach((k, i) => table.add(`p${i}`, k, `p${i}`))
    const target = keys[3]
    const closest = table.closest(target, 21).map(e => e.id)
    expect(table.answerable(target, 20).map(e => e.id)).to.deep.equal(closest.slice(0, 20))
    // the closest one stayed silent until our lookup ended, the third failed once (it stays: maxFailures 2)
    table.unanswered(closest[0])
    expect(table.failed(closest[2])).to.equal(false)
    expect(table.has(closest[2])).to.equal(true)
    expect(table.answerable(target, 20).map(e => e.id)).to.deep.equal(closest.filter((_, i) => i !== 0 && i !== 2).concat(table.closest(target, 22).map(e => e.id).slice(21)).slice(0, 20))
    expect(table.answerable(target, 20).map(e => e.id)).to.include(closest[20])
    // and those the caller skips
    expect(table.answerable(target, 3, e => e.id === closest[1]).map(e => e.id)).to.deep.equal([closest[3], closest[4], closest[5]])
    // both answer again: named again
    table.add(closest[0], table.closest(target, 1)[0].key, closest[0])
    table.touch(closest[2])
    expect(table.answerable(target, 20).map(e => e.id)).to.deep.equal(closest.slice(0, 20))
  })
})
