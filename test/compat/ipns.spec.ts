/**
 * `@helia/ipns` on the compat service: it installs its IPNS validator and selector in the
 * service's `validators` and `selectors` maps, kadmium validates the records it stores and
 * fetches with them, and names published on either kind of node resolve on the other.
 */
import { ipns } from '@helia/ipns'
import { ed25519Crypto } from '@ipshipyard/crypto'
import { keychain } from '@ipshipyard/keychain'
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { TypedEventEmitter } from 'main-event'
import { compatNode, connect, jsNode, stopAll } from '../utils/nodes.ts'
import { cidOf } from '../utils/records.ts'
import type { DHTNode } from './program.ts'
import type { CompatNode, JsNode } from '../utils/nodes.ts'
import type { HeliaEvents, Keychain, PublicKey, Routing } from '@helia/interface'
import type { IPNS } from '@helia/ipns'

/** What `@helia/ipns` needs of Helia, on a libp2p node: its routers (put and get are all IPNS uses), a keychain, a datastore. */
function heliaParts (node: DHTNode): { name: IPNS, keychain: Keychain } {
  const crypto = ed25519Crypto()
  const keys = keychain()({
    datastore: new MemoryDatastore(),
    getCrypto: (codeOrName) => {
      if (codeOrName !== crypto.code && codeOrName !== crypto.type) {
        throw new Error(`no crypto for ${codeOrName}`)
      }
      return crypto
    }
  })
  const routing = {
    put: async (key: Uint8Array, value: Uint8Array, options?: any) => { await node.contentRouting.put(key, value, options) },
    get: async (key: Uint8Array, options?: any) => node.contentRouting.get(key, options)
  } as unknown as Routing
  // `@helia/ipns` finds the DHT among the components' libp2p services
  const components = { datastore: new MemoryDatastore(), routing, logger: node.logger, keychain: keys, events: new TypedEventEmitter<HeliaEvents>(), libp2p: node }
  return { name: ipns(components), keychain: keys }
}

/** Counts the public keys `keys` loads: each IPNS record the installed validator checks loads one. */
function countLoads (keys: Keychain): () => number {
  let loads = 0
  const load = keys.loadPublicKeyFromProtobuf.bind(keys)
  keys.loadPublicKeyFromProtobuf = async (...args) => {
    loads++
    return load(...args)
  }
  return () => loads
}

/** The values a name resolves to, through the network (not the local cache). */
async function resolveAll (name: IPNS, key: PublicKey): Promise<string[]> {
  const values: string[] = []
  for await (const result of name.resolve(key, { nocache: true })) {
    values.push(result.value)
  }
  return values
}

describe('kad-dht: `@helia/ipns` on the compat service, in a network with `@libp2p/kad-dht` nodes', function () {
  this.timeout(60_000)
  let compat: CompatNode[] = []
  let js: JsNode[] = []

  before(async () => {
    compat = await Promise.all([compatNode(), compatNode()])
    js = await Promise.all([jsNode(), jsNode()])
    const all = [...compat, ...js]
    await Promise.all(all.map(async (node, i) => connect(node, all[(i + 1) % all.length])))
    await Promise.all([connect(all[0], all[2]), connect(all[1], all[3])])
  })

  after(async () => {
    await stopAll([...compat, ...js])
  })

  it('installs its validator on the compat service; names published on one kind resolve on the other', async () => {
    const ours = compat[0].services.dht.validators.ipns
    const [publisher, server] = compat.map(heliaParts)
    const [resolver, jsPublisher] = js.map(heliaParts)
    // the compat server publishes and resolves nothing: every key it loads is the installed
    // validator checking a record sent to it
    const checked = countLoads(server.keychain)
    expect(compat[0].services.dht.validators.ipns).to.be.a('function').and.not.equal(ours)
    expect(compat[1].services.dht.selectors.ipns).to.be.a('function')

    const cid = await cidOf('published on kadmium')
    const published = await publisher.name.publish('kadmium-key', cid)
    expect(await resolveAll(resolver.name, published.publicKey)).to.deep.equal([`/ipfs/${cid}`])
    expect(checked(), 'the compat server validated the record with `@helia/ipns`\'s validator').to.be.at.least(1)

    const other = await cidOf('published on kad-dht')
    const theirs = await jsPublisher.name.publish('js-key', other)
    expect(await resolveAll(publisher.name, theirs.publicKey)).to.deep.equal([`/ipfs/${other}`])
  })
})
