/**
 * Provider store benchmark: fills a ProviderStore over a MemoryDatastore and prints a table of
 * insert and lookup rates, memory per record and timings.
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
import type { PeerId } from '@libp2p/interface'

const PEERS = 1_000
const HOT_KEYS = 100

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    'per-key': { type: 'string', default: '5' },
    lookups: { type: 'string', default: '200000' }
  }
})
const records = Number(values.records)
const perKey = Number(values['per-key'])
const lookups = Number(values.lookups)
if (![records, perKey, lookups].every(n => Number.isSafeInteger(n) && n > 0)) {
  throw new Error('--records, --per-key and --lookups take positive integers')
}
const keyCount = Math.ceil(records / perKey)

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

/** Resident and heap memory in bytes, after a full collection if the process allows one. */
function memory (): { rss: number, heap: number } {
  globalThis.gc?.()
  globalThis.gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heap: heapUsed }
}

function rate (count: number, ms: number): string {
  return `${Math.round(count / (ms / 1_000)).toLocaleString('en-US')}`
}

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

const gcNote = globalThis.gc == null ? ' (no --expose-gc: rough)' : ''
const rows: Array<[string, string]> = [
  ['records', `${added.toLocaleString('en-US')} (${keyCount.toLocaleString('en-US')} keys × ${perKey}, ${PEERS} peers)`],
  ['insert', `${rate(added, insertMs)} records/s`],
  ['lookup, random keys', `${rate(lookups, lookupMs)} gets/s`],
  [`lookup, ${HOT_KEYS} hot keys (cached)`, `${rate(lookups, hotMs)} gets/s`],
  ['sweep, nothing expired', `${(sweepMs / 1_000).toFixed(2)} s (${swept} deleted)`],
  ['load after restart', `${(loadMs / 1_000).toFixed(2)} s (${loaded.keys.toLocaleString('en-US')} keys, ${loaded.records.toLocaleString('en-US')} records)`],
  [`memory per record, rss${gcNote}`, `${Math.round((after.rss - before.rss) / added)} B`],
  [`memory per record, heap${gcNote}`, `${Math.round((after.heap - before.heap) / added)} B`],
  ['total time', `${(totalMs / 1_000).toFixed(1)} s`]
]
if (found === 0) {
  throw new Error('no lookup found a provider')
}
const width = Math.max(...rows.map(([name]) => name.length))
const valueWidth = Math.max(...rows.map(([, value]) => value.length))
process.stdout.write(`| ${'provider store'.padEnd(width)} | ${''.padEnd(valueWidth)} |\n`)
process.stdout.write(`| ${'-'.repeat(width)} | ${'-'.repeat(valueWidth)} |\n`)
for (const [name, value] of rows) {
  process.stdout.write(`| ${name.padEnd(width)} | ${value.padEnd(valueWidth)} |\n`)
}
