/**
 * Provider store benchmark: fills a ProviderStore over a MemoryDatastore and prints a table of
 * insert and lookup rates, memory per record and timings. Run alone it stores 1,000,000
 * records; bench/index.ts runs it smaller unless told otherwise.
 *
 * ```
 * npm run build
 * node --expose-gc dist/bench/provider-store.js [--records 1000000] [--per-key 5] [--lookups 200000]
 * ```
 *
 * Peer ids are 1,000 real Ed25519 ones reused across keys; keys are 32 pseudo-random bytes
 * derived from their index, so the harness itself holds no per-key memory.
 */
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { ProviderStore } from '../src/providers/provider-store.ts'
import { isMain } from './lib/main.ts'
import { memory, positiveInt, table } from './lib/stats.ts'
import type { PeerId } from '@libp2p/interface'

const PEERS = 1_000
const HOT_KEYS = 100

/** Options of the provider store benchmark. */
export interface ProviderStoreOptions {
  records: number
  perKey: number
  lookups: number
  out?(text: string): void
}

export const PROVIDER_STORE_DEFAULTS: ProviderStoreOptions = { records: 1_000_000, perKey: 5, lookups: 200_000 }

/** What a run measured. */
export interface ProviderStoreResult {
  records: number
  insertsPerSecond: number
  rssPerRecord: number
  heapPerRecord: number
}

/** The key of index `i`: 32 bytes from a xorshift seeded by `i`. */
function keyOf (i: number): Uint8Array {
  const key = new Uint8Array(32)
  let x = (i + 1) * 0x9e3779b1
  for (let j = 0; j < 32; j++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    key[j] = x & 0xff
  }
  return key
}

function rate (count: number, ms: number): string {
  return `${Math.round(count / (ms / 1_000)).toLocaleString('en-US')}`
}

/** Fills a provider store, reads it back, and prints the table. */
export async function runProviderStore (partial: Partial<ProviderStoreOptions> = {}): Promise<ProviderStoreResult> {
  const options = { ...PROVIDER_STORE_DEFAULTS, ...partial }
  const { records, perKey, lookups } = options
  const out = options.out ?? ((text: string) => { process.stdout.write(text) })
  const keyCount = Math.ceil(records / perKey)
  const started = performance.now()
  const peers: PeerId[] = await Promise.all(
    Array.from({ length: PEERS }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
  )
  const datastore = new MemoryDatastore()
  const store = new ProviderStore({ datastore })
  await store.start()
  const before = memory()

  let t = performance.now()
  let added = 0
  for (let i = 0; i < keyCount && added < records; i++) {
    const key = keyOf(i)
    for (let p = 0; p < perKey && added < records; p++) {
      await store.add(key, peers[(i * perKey + p) % PEERS])
      added++
    }
  }
  const insertMs = performance.now() - t
  const after = memory()

  t = performance.now()
  let found = 0
  for (let n = 0; n < lookups; n++) {
    found += (await store.get(keyOf(Math.floor(Math.random() * keyCount)))).length
  }
  const lookupMs = performance.now() - t

  t = performance.now()
  for (let n = 0; n < lookups; n++) {
    found += (await store.get(keyOf(n % HOT_KEYS))).length
  }
  const hotMs = performance.now() - t

  t = performance.now()
  const swept = await store.sweep()
  const sweepMs = performance.now() - t

  t = performance.now()
  const restarted = new ProviderStore({ datastore })
  const loaded = await restarted.load()
  const loadMs = performance.now() - t
  const totalMs = performance.now() - started

  if (found === 0) {
    throw new Error('no lookup found a provider')
  }
  const gcNote = globalThis.gc == null ? ' (no --expose-gc: rough)' : ''
  out(table(`Provider store: ${added.toLocaleString('en-US')} records in memory`, ['provider store', ''], [
    ['records', `${added.toLocaleString('en-US')} (${keyCount.toLocaleString('en-US')} keys × ${perKey}, ${PEERS} peers)`],
    ['insert', `${rate(added, insertMs)} records/s`],
    ['lookup, random keys', `${rate(lookups, lookupMs)} gets/s`],
    [`lookup, ${HOT_KEYS} hot keys (cached)`, `${rate(lookups, hotMs)} gets/s`],
    ['sweep, nothing expired', `${(sweepMs / 1_000).toFixed(2)} s (${swept} deleted)`],
    ['load after restart', `${(loadMs / 1_000).toFixed(2)} s (${loaded.keys.toLocaleString('en-US')} keys, ${loaded.records.toLocaleString('en-US')} records)`],
    [`memory per record, rss${gcNote}`, `${Math.round((after.rss - before.rss) / added)} B`],
    [`memory per record, heap${gcNote}`, `${Math.round((after.heap - before.heap) / added)} B`],
    ['total time', `${(totalMs / 1_000).toFixed(1)} s`]
  ]))
  return {
    records: added,
    insertsPerSecond: added / (insertMs / 1_000),
    rssPerRecord: (after.rss - before.rss) / added,
    heapPerRecord: (after.heap - before.heap) / added
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      'per-key': { type: 'string', default: '5' },
      lookups: { type: 'string', default: '200000' }
    }
  })
  await runProviderStore({
    records: positiveInt('records', values.records),
    perKey: positiveInt('per-key', values['per-key']),
    lookups: positiveInt('lookups', values.lookups)
  })
}
