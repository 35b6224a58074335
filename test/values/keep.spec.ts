import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { MessageType } from '../../src/wire/codec.ts'
import { TestClock } from '../utils/clock.ts'
import { connect, eventually, kadmiumNode, persistentKadmiumNode, stoppedAfterEach } from '../utils/nodes.ts'
import { ipnsKey, ipnsRecord, newKey, vKey, vValidator, vValue } from '../utils/records.ts'
import { rawRequest } from '../utils/wire.ts'
import type { RepublishProgressEvents } from '../../src/index.ts'
import type { KadmiumNode } from '../utils/nodes.ts'

const HOUR = 60 * 60_000

describe('values: keeping what we put alive', function () {
  this.timeout(60_000)
  const track = stoppedAfterEach()

  it('puts a kept IPNS record again before it expires, byte for byte, on the node\'s clock', async () => {
    // the owner's DHT runs on a clock the test moves; the peer that stores the record on the real one
    const clock = new TestClock(Date.now())
    const events: RepublishProgressEvents[] = []
    const owner = await track(kadmiumNode({ clock, refresh: { enabled: false }, republish: { onProgress: (event) => { events.push(event) } } }))
    const holder = await track(kadmiumNode())
    await connect(owner, holder)
    await drain(owner.services.dht.getClosestPeers(owner.peerId.toMultihash().bytes))
    const name = await newKey()
    const key = ipnsKey(name)
    const record = await ipnsRecord(name, 3)
    expect(await owner.services.dht.put(key, record, { keep: true })).to.equal(1)
    const first = await rawRequest(owner, holder, { type: MessageType.GET_VALUE, key })
    expect(await owner.services.dht.isKept(key)).to.equal(true)

    // nothing happens before the key's time, which comes 6 to 18 h after the put
    const [kept] = await owner.services.dht.listKept(10)
    expect(kept).to.deep.include({ key, bytes: record.length })
    expect(kept.due - clock.now()).to.be.within(6 * HOUR, 18 * HOUR)
    await clock.advance(kept.due - clock.now() - 60_000)
    expect(owner.services.dht.stats().republish.republished).to.equal(0)
    await clock.advance(60_000)
    await eventually(() => owner.services.dht.stats().republish.republished === 1)

    // the holder got it again: a later receive time, the same bytes (signed once, by its owner)
    const again = await rawRequest(owner, holder, { type: MessageType.GET_VALUE, key })
    expect(again.record?.value).to.deep.equal(record)
    expect(Date.parse(again.record?.timeReceived ?? '')).to.be.above(Date.parse(first.record?.timeReceived ?? ''))
    expect(events.filter(e => e.type === 'kadmium:republish:sent')).to.have.length(1)
    expect((await owner.services.dht.listKept(10))[0].due - clock.now()).to.be.within(6 * HOUR, 18 * HOUR)
  })

  it('keeps what it keeps across a restart, and stops once told to forget', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kadmium-keep-'))
    try {
      const privateKey = await generateKeyPair('Ed25519')
      const start = async (): Promise<KadmiumNode> => persistentKadmiumNode(dir, privateKey, { validators: { v: vValidator } })
      const first = await start()
      // alone: no peer stores them, but they are kept all the same, due as soon as a peer is there
      for (const name of ['a', 'b']) {
        await expect(first.services.dht.put(vKey(name), vValue(1), { keep: true })).to.eventually.be.rejected.with.property('name', 'NotStoredError')
      }
      await first.services.dht.put(vKey('c'), vValue(1)).catch(() => {})
      expect(await first.services.dht.isKept(vKey('c'))).to.equal(false)
      await first.stop()

      const second = await track(start())
      // the count is known once the kept list was read from the datastore, just after the start
      await eventually(() => second.services.dht.stats().republish.keys !== undefined)
      expect(second.services.dht.stats().republish.keys).to.equal(2)
      expect((await second.services.dht.listStored(10)).keptKeys).to.deep.equal([vKey('a'), vKey('b')])
      // a put under a kept key changes what is kept
      await second.services.dht.put(vKey('a'), vValue(2)).catch(() => {})
      expect(await second.services.dht.forget(vKey('b'))).to.equal(true)
      expect(await second.services.dht.forget(vKey('b'))).to.equal(false)

      // a peer comes: what is kept goes out at once, as it was last given
      const peer = await track(kadmiumNode({ validators: { v: vValidator } }))
      await connect(second, peer)
      await eventually(() => second.services.dht.stats().republish.republished === 1)
      const answer = await rawRequest(second, peer, { type: MessageType.GET_VALUE, key: vKey('a') })
      expect(answer.record?.value).to.deep.equal(vValue(2))
      const forgotten = await rawRequest(second, peer, { type: MessageType.GET_VALUE, key: vKey('b') })
      expect(forgotten.record).to.equal(undefined)
      expect(second.services.dht.stats().republish).to.deep.include({ keys: 1, failed: 0 })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
