/**
 * Reading Delegated Routing V1 requests: paths and their keys in every encoding the spec allows,
 * content negotiation, and the IPIP-484 filters, with the status each mistake is answered with.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { NDJSON_TYPE, JSON_TYPE, RequestError, checkAcceptsIpns, checkIpnsContentType, negotiateJson, parseFilter, parseRoute } from '../../src/routing-v1/request.ts'
import { cidOf } from '../utils/records.ts'

/** The status `fn` throws with, or undefined when it does not throw. */
function statusOf (fn: () => unknown): number | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).to.be.an.instanceOf(RequestError)
    return (err as RequestError).status
  }
  return undefined
}

describe('routing v1: reading requests', () => {
  it('reads a providers path in base32, base36 and as a CIDv0, to the same multihash', async () => {
    const cid = await cidOf('request parsing')
    for (const text of [cid.toString(), cid.toString(base36), CID.createV0(cid.multihash as any).toString()]) {
      const route = parseRoute('GET', `/routing/v1/providers/${text}`)
      expect(route.endpoint).to.equal('providers')
      expect(route.endpoint === 'providers' && route.cid.multihash.bytes).to.deep.equal(cid.multihash.bytes)
    }
  })

  it('reads a peer id as base58btc and as a libp2p-key CID in base36 and base32', async () => {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    for (const text of [peerId.toString(), peerId.toCID().toString(base36), peerId.toCID().toString()]) {
      for (const endpoint of ['peers', 'ipns'] as const) {
        const route = parseRoute('GET', `/routing/v1/${endpoint}/${text}`)
        expect(route.endpoint).to.equal(endpoint)
        expect((route as { peerId: typeof peerId }).peerId.equals(peerId)).to.equal(true)
      }
    }
  })

  it('reads a closest-peers key as a peer id or a CID, to the multihash bytes a lookup takes', async () => {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const cid = await cidOf('closest key')
    const cases: Array<[string, Uint8Array]> = [
      [peerId.toString(), peerId.toMultihash().bytes],
      [peerId.toCID().toString(base36), peerId.toMultihash().bytes],
      [cid.toString(), cid.multihash.bytes],
      // an arbitrary multihash wrapped in a raw CID, as IPIP-476 suggests
      [CID.createV1(0x55, cid.multihash).toString(base58btc), cid.multihash.bytes]
    ]
    for (const [text, key] of cases) {
      const route = parseRoute('GET', `/routing/v1/dht/closest/peers/${text}`)
      expect(route.endpoint === 'closest' && route.key).to.deep.equal(key)
    }
  })

  it('answers 400 for unknown paths and keys that do not parse, 501 for methods an endpoint does not serve', async () => {
    const cid = (await cidOf('bad paths')).toString()
    expect(statusOf(() => parseRoute('GET', '/'))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v2/providers/' + cid))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/providerz/' + cid))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/providers/'))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/providers/' + cid + '/more'))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/providers/not-a-cid'))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/peers/bafkqaaa'))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/ipns/12D3KooWnope'))).to.equal(400)
    expect(statusOf(() => parseRoute('GET', '/routing/v1/dht/closest/peers/%zz'))).to.equal(400)
    expect(statusOf(() => parseRoute('PUT', '/routing/v1/providers/' + cid))).to.equal(501)
    expect(statusOf(() => parseRoute('DELETE', '/routing/v1/ipns/' + cid))).to.equal(501)
  })

  it('answers JSON by default, NDJSON only when asked, and 406 when neither is accepted', () => {
    expect(negotiateJson(null)).to.equal(JSON_TYPE)
    expect(negotiateJson('*/*')).to.equal(JSON_TYPE)
    expect(negotiateJson('application/json')).to.equal(JSON_TYPE)
    expect(negotiateJson('text/html, application/*;q=0.5')).to.equal(JSON_TYPE)
    // what the npm client sends
    expect(negotiateJson('application/x-ndjson, application/json;q=0.8')).to.equal(NDJSON_TYPE)
    expect(negotiateJson('application/x-ndjson')).to.equal(NDJSON_TYPE)
    expect(negotiateJson('application/x-ndjson;q=0, application/json')).to.equal(JSON_TYPE)
    expect(statusOf(() => negotiateJson('text/html'))).to.equal(406)
  })

  it('accepts an IPNS GET that takes the record type or anything, and a PUT that sends it; 406 otherwise', () => {
    for (const accept of [null, '*/*', 'application/vnd.ipfs.ipns-record', 'application/*']) {
      expect(statusOf(() => { checkAcceptsIpns(accept) })).to.equal(undefined)
    }
    expect(statusOf(() => { checkAcceptsIpns('application/json') })).to.equal(406)
    expect(statusOf(() => { checkIpnsContentType('application/vnd.ipfs.ipns-record') })).to.equal(undefined)
    expect(statusOf(() => { checkIpnsContentType(null) })).to.equal(406)
    expect(statusOf(() => { checkIpnsContentType('application/octet-stream') })).to.equal(406)
  })

  it('reads filters comma-separated (encoded or not), and bounds them', () => {
    expect(parseFilter(new URLSearchParams('filter-addrs=WS,!ip6%2Ctls'), 'filter-addrs')).to.deep.equal(['WS', '!ip6', 'tls'])
    expect(parseFilter(new URLSearchParams(''), 'filter-addrs')).to.equal(undefined)
    expect(parseFilter(new URLSearchParams('filter-protocols='), 'filter-protocols')).to.deep.equal([])
    const many = Array.from({ length: 33 }, (_, i) => `p${i}`).join(',')
    expect(statusOf(() => parseFilter(new URLSearchParams(`filter-protocols=${many}`), 'filter-protocols'))).to.equal(400)
    expect(statusOf(() => parseFilter(new URLSearchParams(`filter-protocols=${'x'.repeat(64)}`), 'filter-protocols'))).to.equal(400)
  })
})
