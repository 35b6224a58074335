import { expect } from 'aegir/chai'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import drain from 'it-drain'
import { MessageType } from '../../src/wire/codec.ts'
import { connect, eventually, jsNode, kadmiumNode, stopAll } from '../utils/nodes.ts'
import { ipnsKey, ipnsRecord, newKey, pkRecord, vKey, vValidator, vValue } from '../utils/records.ts'
import { rawRequest } from '../utils/wire.ts'
import type { AnyNode, JsNode, KadmiumNode } from '../utils/nodes.ts'

const jsValidators = {
  validators: {
    v: async (key: Uint8Array, value: Uint8Array) => { vValidator.validate(key, value) },
    ipns: ipnsValidator
  },
  selectors: {
    v: (key: Uint8Array, values: Uint8Array[]) => vValidator.select(key, values),
    ipns: ipnsSelector
  }
}

describe('interop: values in a mixed kadmium / `@libp2p/kad-dht` network', function () {
  this.timeout(120_000)
  let kadmium: KadmiumNode[] = []
  let js: JsNode[] = []
  let all: AnyNode[] = []

  before(async () => {
    kadmium = await Promise.all(Array.from({ length: 5 }, async () => kadmiumNode({ validators: { v: vValidator } })))
    js = await Promise.all(Array.from({ length: 5 }, async () => jsNode(jsValidators)))
    all = [...kadmium, ...js]
    // a ring plus a chord per node
    await Promise.all(all.map(async (node, i) => {
      await connect(node, all[(i + 1) % all.length])
      await connect(node, all[(i + 4) % all.length])
    }))
    for (const node of kadmium) {
      await drain(node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes))
    }
    await eventually(() => kadmium.every(n => n.services.dht.stats().routingTableSize >= 4), 10_000, 'kadmium tables')
  })

  after(async () => {
    await stopAll(all)
  })

  it('a custom namespace: kadmium puts, `@libp2p/kad-dht` gets; and back', async () => {
    const stored = await kadmium[0].services.dht.put(vKey('one'), vValue(1, 'from kadmium'))
    expect(stored).to.be.at.least(5)
    expect(await js[2].contentRouting.get(vKey('one'))).to.deep.equal(vValue(1, 'from kadmium'))

    await js[1].contentRouting.put(vKey('two'), vValue(1, 'from js'))
    expect(await kadmium[3].contentRouting.get(vKey('two'))).to.deep.equal(vValue(1, 'from js'))
  })

  it('GET_VALUE across implementations: a value only kadmium servers hold, and one only js servers hold', async () => {
    const onlyKadmium = vKey('only-kadmium')
    for (const node of kadmium) {
      await rawRequest(js[0], node.peerId, { type: MessageType.PUT_VALUE, key: onlyKadmium, record: { key: onlyKadmium, value: vValue(3) } })
    }
    expect(await js[4].contentRouting.get(onlyKadmium)).to.deep.equal(vValue(3))

    const onlyJs = vKey('only-js')
    for (const node of js) {
      await rawRequest(kadmium[0], node.peerId, { type: MessageType.PUT_VALUE, key: onlyJs, record: { key: onlyJs, value: vValue(4) } })
    }
    const progress: string[] = []
    expect(await kadmium[4].services.dht.get(onlyJs, { onProgress: e => progress.push(e.type) })).to.deep.equal(vValue(4))
    expect(progress.filter(type => type === 'kadmium:get:value').length).to.be.at.least(1)
  })

  it('a /pk/ record both ways', async () => {
    const a = pkRecord(await newKey())
    await kadmium[1].services.dht.put(a.key, a.value)
    expect(await js[0].contentRouting.get(a.key)).to.deep.equal(a.value)
    const b = pkRecord(await newKey())
    await js[3].contentRouting.put(b.key, b.value)
    expect(await kadmium[2].services.dht.get(b.key)).to.deep.equal(b.value)
  })

  it('a signed IPNS record both ways', async () => {
    const a = await newKey()
    const recordA = await ipnsRecord(a, 1, '/ipfs/bafkqaaa')
    await kadmium[4].services.dht.put(ipnsKey(a), recordA)
    expect(await js[4].contentRouting.get(ipnsKey(a))).to.deep.equal(recordA)
    const b = await newKey()
    const recordB = await ipnsRecord(b, 3)
    await js[2].contentRouting.put(ipnsKey(b), recordB)
    expect(await kadmium[0].services.dht.get(ipnsKey(b), { quorum: 2 })).to.deep.equal(recordB)
  })

  it('an IPNS record with a lower sequence number does not replace the higher one on a kadmium server', async () => {
    const name = await newKey()
    const high = await ipnsRecord(name, 10)
    const low = await ipnsRecord(name, 9)
    const server = kadmium[2]
    const key = ipnsKey(name)
    await rawRequest(js[0], server.peerId, { type: MessageType.PUT_VALUE, key, record: { key, value: high } })
    const before = server.services.dht.stats().errors.StaleRecordError ?? 0
    await expect(rawRequest(js[0], server.peerId, { type: MessageType.PUT_VALUE, key, record: { key, value: low } })).to.eventually.be.rejected()
    expect(server.services.dht.stats().errors.StaleRecordError).to.equal(before + 1)
    // a js node publishing the old record does not change what the kadmium server serves
    await js[1].contentRouting.put(key, low).catch(() => {})
    const answer = await rawRequest(js[0], server.peerId, { type: MessageType.GET_VALUE, key })
    expect(answer.record?.value).to.deep.equal(high)
  })

  it('a stale record held by `@libp2p/kad-dht` nodes is corrected by a kadmium get', async () => {
    const key = vKey('stale')
    // every node holds version 1
    await js[0].contentRouting.put(key, vValue(1, 'old'))
    for (const node of js) {
      expect((await rawRequest(kadmium[0], node.peerId, { type: MessageType.GET_VALUE, key })).record?.value).to.deep.equal(vValue(1, 'old'))
    }
    // one kadmium node alone learns version 2
    await rawRequest(js[0], kadmium[1].peerId, { type: MessageType.PUT_VALUE, key, record: { key, value: vValue(2, 'new') } })
    // another kadmium node reads: it picks version 2 and corrects the rest
    expect(await kadmium[3].services.dht.get(key)).to.deep.equal(vValue(2, 'new'))
    const reader = kadmium[0]
    await Promise.all(js.map(async node => {
      await eventually(async () => {
        const answer = await rawRequest(reader, node.peerId, { type: MessageType.GET_VALUE, key })
        return answer.record?.value?.[0] === 2
      }, 10_000, `the correction of ${node.peerId}`)
    }))
  })
})
