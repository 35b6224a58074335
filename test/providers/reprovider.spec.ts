import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { Reprovider } from '../../src/providers/reprovider.ts'

const HOUR = 60 * 60_000

describe('providers/reprovider', () => {
  let clock: { now: number }
  let datastore: MemoryDatastore
  let provided: string[]
  let batches: number[]
  let failing: Set<string>
  let reprovider: Reprovider

  const key = (name: string): Uint8Array => new TextEncoder().encode(name)
  const name = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

  function make (): Reprovider {
    return new Reprovider({
      datastore,
      interval: 22 * HOUR,
      checkInterval: HOUR,
      prefix: '/test/provided',
      now: () => clock.now,
      publish: async function * (keys) {
        batches.push(keys.length)
        for (const k of keys) {
          if (failing.has(name(k))) {
            yield { item: k, error: new Error('no peers') }
          } else {
            provided.push(name(k))
            yield { item: k }
          }
        }
      }
    })
  }

  beforeEach(() => {
    clock = { now: 1_000_000 }
    datastore = new MemoryDatastore()
    provided = []
    batches = []
    failing = new Set()
    reprovider = make()
  })

  afterEach(async () => {
    await reprovider.stop()
  })

  it('provides a key again once 22 h have passed since its last provide, not before', async () => {
    await reprovider.track(key('a'))
    clock.now += 22 * HOUR - 1
    expect(await reprovider.reprovideDue()).to.equal(0)
    expect(provided).to.deep.equal([])
    clock.now += 1
    expect(await reprovider.reprovideDue()).to.equal(1)
    expect(provided).to.deep.equal(['a'])
    // and the clock starts again from that provide
    clock.now += HOUR
    expect(await reprovider.reprovideDue()).to.equal(0)
  })

  it('provides all the keys due at one check as one batch, and only those', async () => {
    await reprovider.track(key('a'))
    await reprovider.track(key('b'))
    clock.now += HOUR
    await reprovider.track(key('later'))
    clock.now += 22 * HOUR - HOUR
    expect(await reprovider.reprovideDue()).to.equal(2)
    expect(batches).to.deep.equal([2])
    expect(provided.sort()).to.deep.equal(['a', 'b'])
    // nothing due: no batch at all
    expect(await reprovider.reprovideDue()).to.equal(0)
    expect(batches).to.deep.equal([2])
  })

  it('forgets a key on cancel', async () => {
    await reprovider.track(key('a'))
    await reprovider.track(key('b'))
    expect(await reprovider.forget(key('a'))).to.equal(true)
    expect(await reprovider.forget(key('a'))).to.equal(false)
    clock.now += 23 * HOUR
    await reprovider.reprovideDue()
    expect(provided).to.deep.equal(['b'])
  })

  it('retries a key whose provide failed at the next check', async () => {
    await reprovider.track(key('a'))
    failing.add('a')
    clock.now += 23 * HOUR
    expect(await reprovider.reprovideDue()).to.equal(0)
    failing.delete('a')
    expect(await reprovider.reprovideDue()).to.equal(1)
    expect(provided).to.deep.equal(['a'])
  })

  it('keeps its list in the datastore: a restarted node goes on', async () => {
    await reprovider.track(key('kept'))
    const restarted = make()
    const listed: string[] = []
    for await (const entry of restarted.list()) {
      listed.push(name(entry.key))
    }
    expect(listed).to.deep.equal(['kept'])
    clock.now += 22 * HOUR
    expect(await restarted.reprovideDue()).to.equal(1)
  })

  it('start checks at once, and stop leaves no timer running', async () => {
    await reprovider.track(key('a'))
    clock.now += 22 * HOUR
    reprovider.start()
    await reprovider.reprovideDue()
    expect(provided).to.deep.equal(['a'])
    await reprovider.stop()
    clock.now += 22 * HOUR
    // a stopped reprovider's sweep is aborted before it provides anything
    await reprovider.reprovideDue().catch(() => {})
    expect(provided).to.deep.equal(['a'])
  })
})
