import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import drain from 'it-drain'
import { MessageType } from '../src/wire/codec.ts'
import { stoppedAfterEach, persistentKadmiumNode, connect, jsNode, kadmiumNode } from './utils/nodes.ts'
import { vKey, vValidator, vValue } from './utils/records.ts'
import { rawRequest } from './utils/wire.ts'
import type { KadDHTInit } from '../src/index.ts'
import type { KadmiumNode } from './utils/nodes.ts'

describe('values', function () {
  this.timeout(60_000)
  const track = stoppedAfterEach()

  /** `count` kadmium nodes in a line, each knowing its neighbours, tables filled by self-lookups. */
  async function line (count: number, init: KadDHTInit = {}): Promise<KadmiumNode[]> {
    const list = await Promise.all(Array.from({ length: count }, async () => track(kadmiumNode({ validators: { v: vValidator }, ...init }))))
    for (let i = 1; i < list.length; i++) {
      await connect(list[i - 1], list[i])
    }
    for (const node of list) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
    return list
  }

  it('put refuses a bad value before sending anything', async () => {
    const [a] = await line(2)
    const events: string[] = []
    const onProgress = (event: { type: string }): void => { events.push(event.type) }
    await expect(a.services.dht.put(vKey('x'), vValue(255), { onProgress })).to.eventually.be.rejected.with.property('name', 'InvalidRecordError')
    await expect(a.services.dht.put(new TextEncoder().encode('/nope/x'), vValue(1), { onProgress })).to.eventually.be.rejected.with.property('name', 'UnknownNamespaceError')
    // no lookup was started and nothing was sent
    expect(events).to.deep.equal([])
    expect(a.services.dht.stats().outbound.PUT_VALUE).to.equal(undefined)
  })

  it('put resolves to how many peers stored it, and throws NotStoredError when none did', async () => {
    const list = await line(4)
    expect(await list[0].services.dht.put(vKey('x'), vValue(1))).to.equal(3)
    const alone = await track(kadmiumNode({ validators: { v: vValidator } }))
    await expect(alone.services.dht.put(vKey('x'), vValue(1))).to.eventually.be.rejected.with.property('name', 'NotStoredError')
    // it is kept locally all the same
    expect(await alone.services.dht.get(vKey('x'))).to.deep.equal(vValue(1))
  })

  it('get throws NotFoundError for a missing value and UnknownNamespaceError for a foreign key', async () => {
    const [a] = await line(3)
    await expect(a.services.dht.get(vKey('missing'))).to.eventually.be.rejected.with.property('name', 'NotFoundError')
    await expect(a.services.dht.get(new TextEncoder().encode('/nope/x'))).to.eventually.be.rejected.with.property('name', 'UnknownNamespaceError')
  })

  it('get ignores and counts invalid answers, and picks the best valid one', async () => {
    const list = await line(4)
    const key = vKey('mixed')
    // a js server with no validator for /v/ at all would refuse; a js server that accepts anything lies
    const liar = await track(jsNode({ validators: { v: async () => {} }, selectors: { v: () => 0 } }))
    await connect(liar, list[3])
    await rawRequest(list[0], liar.peerId, { type: MessageType.PUT_VALUE, key, record: { key, value: vValue(255, 'invalid') } })
    await rawRequest(list[0], list[2].peerId, { type: MessageType.PUT_VALUE, key, record: { key, value: vValue(2) } })
    await rawRequest(list[0], list[3].peerId, { type: MessageType.PUT_VALUE, key, record: { key, value: vValue(1) } })
    await drain(list[0].services.dht.getClosestPeers(liar.peerId.toMultihash().bytes))
    const invalidBefore = list[0].services.dht.stats().errors.InvalidRecordError ?? 0
    expect(await list[0].services.dht.get(key)).to.deep.equal(vValue(2))
    expect(list[0].services.dht.stats().errors.InvalidRecordError).to.equal(invalidBefore + 1)
  })

  it('quorum stops the lookup once enough valid answers arrived', async () => {
    // one request in flight at a time, so stopping early shows in the count
    const list = await line(6, { alpha: 1 })
    await list[0].services.dht.put(vKey('q'), vValue(1))
    const asked = (node: KadmiumNode): number => node.services.dht.stats().outbound.GET_VALUE ?? 0
    const reader = list[5]
    const before = asked(reader)
    expect(await reader.services.dht.get(vKey('q'), { quorum: 2 })).to.deep.equal(vValue(1))
    const withQuorum = asked(reader) - before
    expect(await reader.services.dht.get(vKey('q'))).to.deep.equal(vValue(1))
    const withoutQuorum = asked(reader) - before - withQuorum
    expect(withQuorum).to.be.below(withoutQuorum)
  })

  it('records in a persistent datastore are served after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kadmium-values-'))
    try {
      const privateKey = await generateKeyPair('Ed25519')
      const start = async (): Promise<KadmiumNode> => persistentKadmiumNode(dir, privateKey, { validators: { v: vValidator } })
      const first = await start()
      await first.services.dht.put(vKey('kept'), vValue(7)).catch(() => {})
      expect(first.services.dht.stats().records).to.equal(1)
      await first.stop()

      const second = await track(start())
      expect(second.peerId.equals(first.peerId)).to.equal(true)
      expect(second.services.dht.stats().records).to.equal(1)
      const reader = await track(jsNode({ validators: { v: async () => {} }, selectors: { v: () => 0 } }))
      await connect(reader, second)
      const answer = await rawRequest(reader, second.peerId, { type: MessageType.GET_VALUE, key: vKey('kept') })
      expect(answer.record?.value).to.deep.equal(vValue(7))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
