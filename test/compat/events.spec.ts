/**
 * The compat entry without a network: how kadmium's progress events become query events, in
 * which order, and how `@libp2p/kad-dht`'s options become kadmium's.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { CustomProgressEvent } from 'progress-events'
import { QueryFeed } from '../../src/compat/events.ts'
import { passthroughMapper, removePrivateAddressesMapper, removePublicAddressesMapper } from '../../src/compat/mappers.ts'
import { kadmiumInit } from '../../src/compat/service.ts'
import { MessageType } from '../../src/compat/types.ts'
import type { KadmiumProgressEvent } from '../../src/compat/events.ts'
import type { QueryEvent } from '../../src/compat/types.ts'
import type { PeerId } from '@libp2p/interface'

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Runs `work` through a feed and collects the events as `name from/to`. */
async function trace (feed: QueryFeed, work: (progress: (event: KadmiumProgressEvent) => void) => Promise<void>, names: Map<string, string>): Promise<string[]> {
  const out: string[] = []
  const label = (id: PeerId): string => names.get(id.toString()) ?? '?'
  for await (const event of feed.run({}, async () => { await work(feed.onProgress) })) {
    out.push(line(event, label))
  }
  return out
}

function line (event: QueryEvent, label: (id: PeerId) => string): string {
  switch (event.name) {
    case 'SEND_QUERY': return `SEND_QUERY ${event.messageName} ${label(event.to)}`
    case 'PEER_RESPONSE': return `PEER_RESPONSE ${event.messageName} ${label(event.from)} closer=${event.closer.map(p => label(p.id)).join(',')} providers=${event.providers.map(p => label(p.id)).join(',')}${event.record != null ? ` record=${new TextDecoder().decode(event.record.value)}` : ''}`
    case 'FINAL_PEER': return `FINAL_PEER ${label(event.peer.id)} from ${label(event.from)} addrs=${event.peer.multiaddrs.length}`
    case 'QUERY_ERROR': return `QUERY_ERROR ${label(event.from)} ${event.error.message}`
    case 'PROVIDER': return `PROVIDER ${label(event.from)} ${event.providers.map(p => label(p.id)).join(',')}`
    case 'VALUE': return `VALUE ${label(event.from)} ${new TextDecoder().decode(event.value)}`
    default: return event.name
  }
}

describe('kad-dht/events', () => {
  let self: PeerId, a: PeerId, b: PeerId, c: PeerId, x: PeerId
  let names: Map<string, string>
  const addr = multiaddr('/ip4/1.2.3.4/tcp/4001')
  const encode = (text: string): Uint8Array => new TextEncoder().encode(text)

  before(async () => {
    [self, a, b, c, x] = await Promise.all([peer(), peer(), peer(), peer(), peer()])
    names = new Map([[self, 'self'], [a, 'a'], [b, 'b'], [c, 'c'], [x, 'x']].map(([id, name]) => [id.toString(), name as string]))
  })

  it('findProviders: our own providers first as our own response, then each answer with the providers it added', async () => {
    const feed = new QueryFeed({ self, lookup: MessageType.GET_PROVIDERS, mapper: passthroughMapper })
    const lines = await trace(feed, async (progress) => {
      progress(new CustomProgressEvent('kadmium:providers:found', { provider: { id: self, multiaddrs: [addr], routing: 'kadmium' }, from: undefined }))
      progress(new CustomProgressEvent('kadmium:lookup:ask', { peer: a }))
      progress(new CustomProgressEvent('kadmium:lookup:ask', { peer: b }))
      progress(new CustomProgressEvent('kadmium:providers:found', { provider: { id: x, multiaddrs: [addr], routing: 'kadmium' }, from: a }))
      progress(new CustomProgressEvent('kadmium:lookup:answer', { peer: a, closer: [c], closerPeers: [{ id: c, multiaddrs: [addr] }], elapsed: 1 }))
      progress(new CustomProgressEvent('kadmium:lookup:fail', { peer: b, error: new Error('gone'), elapsed: 1 }))
      // the count was reached inside c's answer: the lookup ended before its answer event
      progress(new CustomProgressEvent('kadmium:providers:found', { provider: { id: b, multiaddrs: [], routing: 'kadmium' }, from: c }))
    }, names)
    expect(lines).to.deep.equal([
      'PEER_RESPONSE GET_PROVIDERS self closer= providers=self',
      'PROVIDER self self',
      'SEND_QUERY GET_PROVIDERS a',
      'SEND_QUERY GET_PROVIDERS b',
      'PEER_RESPONSE GET_PROVIDERS a closer=c providers=x',
      'PROVIDER a x',
      'QUERY_ERROR b gone',
      'PEER_RESPONSE GET_PROVIDERS c closer= providers=b',
      'PROVIDER c b'
    ])
  })

  it('get: a record in its holder\'s response, a refused one as a QUERY_ERROR alone, and the VALUE from the holder of the best', async () => {
    const feed = new QueryFeed({ self, lookup: MessageType.GET_VALUE, mapper: passthroughMapper, key: encode('/v/k') })
    const lines = await trace(feed, async (progress) => {
      progress(new CustomProgressEvent('kadmium:lookup:ask', { peer: a }))
      progress(new CustomProgressEvent('kadmium:lookup:ask', { peer: b }))
      progress(new CustomProgressEvent('kadmium:get:value', { peer: a, value: encode('best') }))
      progress(new CustomProgressEvent('kadmium:lookup:answer', { peer: a, closer: [], closerPeers: [], elapsed: 1 }))
      progress(new CustomProgressEvent('kadmium:get:invalid', { peer: b, error: new Error('bad record') }))
      progress(new CustomProgressEvent('kadmium:lookup:answer', { peer: b, closer: [], closerPeers: [], elapsed: 1 }))
      feed.value(encode('best'))
    }, names)
    expect(lines).to.deep.equal([
      'SEND_QUERY GET_VALUE a',
      'SEND_QUERY GET_VALUE b',
      'PEER_RESPONSE GET_VALUE a closer= providers= record=best',
      'QUERY_ERROR b bad record',
      'VALUE a best'
    ])
    // a value no peer sent was our own
    const local = new QueryFeed({ self, lookup: MessageType.GET_VALUE, mapper: passthroughMapper })
    expect(await trace(local, async () => { local.value(encode('mine')) }, names)).to.deep.equal(['VALUE self mine'])
  })

  it('put: each closest peer as a FINAL_PEER with the addresses it was listed with, its request, and its response or error', async () => {
    const feed = new QueryFeed({ self, lookup: MessageType.FIND_NODE, mapper: passthroughMapper, key: encode('/v/k'), value: encode('v') })
    const lines = await trace(feed, async (progress) => {
      progress(new CustomProgressEvent('kadmium:lookup:ask', { peer: a }))
      progress(new CustomProgressEvent('kadmium:lookup:answer', { peer: a, closer: [b], closerPeers: [{ id: b, multiaddrs: [addr] }], elapsed: 1 }))
      progress(new CustomProgressEvent('kadmium:put:stored', { peer: b }))
      progress(new CustomProgressEvent('kadmium:put:failed', { peer: a, error: new Error('refused') }))
    }, names)
    expect(lines).to.deep.equal([
      'SEND_QUERY FIND_NODE a',
      'PEER_RESPONSE FIND_NODE a closer=b providers=',
      'FINAL_PEER b from self addrs=1',
      'SEND_QUERY PUT_VALUE b',
      'PEER_RESPONSE PUT_VALUE b closer= providers= record=v',
      'FINAL_PEER a from self addrs=0',
      'SEND_QUERY PUT_VALUE a',
      'QUERY_ERROR a refused'
    ])
  })

  it('a failed call ends the events with its error; a caller that stops early aborts it', async () => {
    const failing = new QueryFeed({ self, lookup: MessageType.FIND_NODE, mapper: passthroughMapper })
    await expect(trace(failing, async () => { throw Object.assign(new Error('no peer knows it'), { name: 'NotFoundError' }) }, names))
      .to.eventually.be.rejected.with.property('name', 'NotFoundError')

    const feed = new QueryFeed({ self, lookup: MessageType.FIND_NODE, mapper: passthroughMapper })
    let aborted: Promise<void> | undefined
    const events = feed.run({}, async (signal) => {
      aborted = new Promise(resolve => { signal.addEventListener('abort', () => { resolve() }) })
      feed.onProgress(new CustomProgressEvent('kadmium:lookup:ask', { peer: a }))
      await aborted
    })
    expect((await events.next()).value).to.have.property('name', 'SEND_QUERY')
    await events.return(undefined)
    await aborted
  })

  it('maps `@libp2p/kad-dht`\'s options onto kadmium\'s', () => {
    expect(kadmiumInit({}, undefined)).to.include({ mode: 'auto', addresses: 'public' })
    expect(kadmiumInit({ clientMode: true }, undefined)).to.include({ mode: 'client' })
    expect(kadmiumInit({ clientMode: false, peerInfoMapper: passthroughMapper }, undefined)).to.include({ mode: 'server', addresses: 'all' })
    expect(kadmiumInit({ peerInfoMapper: removePrivateAddressesMapper }, undefined)).to.include({ addresses: 'public' })
    expect(kadmiumInit({ peerInfoMapper: removePublicAddressesMapper }, undefined)).to.include({ addresses: 'all' })
    const mapped = kadmiumInit({ protocol: '/lan/kad/1.0.0', kBucketSize: 10, alpha: 4, querySelfInterval: 60_000, metricsPrefix: 'lan', kadmium: { alpha: 5, beta: 2 } }, undefined)
    expect(mapped).to.deep.include({ protocol: '/lan/kad/1.0.0', kBucketSize: 10, alpha: 5, beta: 2, refresh: { interval: 60_000 }, metricsPrefix: 'lan' })
  })
})
