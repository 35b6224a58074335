/**
 * What the node stores, read from its datastore: the records and provider records it holds for
 * others, and the keys it provides itself, with a short list of each for the status page.
 */
import { PROVIDED_PREFIX, PROVIDERS_DATASTORE_PREFIX, RECORDS_PREFIX } from '../constants.ts'
import { keyOf } from '../storage/datastore-key.ts'
import { decodeRecord } from '../values/record.ts'
import { displayKey, displayMultihash } from './params.ts'
import type { ProviderStoreStats } from '../index.ts'
import type { Datastore } from 'interface-datastore'

/** A stored record as the API lists it. */
export interface RecordSummary {
  key: string
  bytes: number
  received: string | null
}

/** What `storeStats` answers. */
export interface StoreSummary {
  /** Records held for others. */
  records: number
  /** Provider records held: keys and (key, provider) records. */
  providers: ProviderStoreStats
  /** Keys this node provides (and provides again every 22 h). */
  provided: number
  /** The first `list` records, by datastore order. */
  recordList?: RecordSummary[]
  /** The first `list` keys with provider records (base58btc multihashes: CIDv0 for SHA-256). */
  providerKeys?: string[]
  /** The first `list` keys this node provides. */
  providedKeys?: string[]
}

async function listKeys (datastore: Datastore, prefix: string, limit: number, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = []
  for await (const key of datastore.queryKeys({ prefix, limit }, { signal })) {
    try {
      out.push(displayMultihash(keyOf(key)))
    } catch {
      // not one of ours
    }
  }
  return out
}

/** Counts and, when `list` > 0, lists what the datastore holds. */
export async function storeSummary (datastore: Datastore, options: { records: number, providers: ProviderStoreStats, list: number, signal?: AbortSignal }): Promise<StoreSummary> {
  const { list, signal } = options
  let provided = 0
  for await (const _ of datastore.queryKeys({ prefix: PROVIDED_PREFIX }, { signal })) { // eslint-disable-line @typescript-eslint/no-unused-vars
    provided++
  }
  const summary: StoreSummary = { records: options.records, providers: options.providers, provided }
  if (list > 0) {
    summary.recordList = []
    for await (const { value } of datastore.query({ prefix: RECORDS_PREFIX, limit: list }, { signal })) {
      try {
        const record = decodeRecord(value)
        summary.recordList.push({ key: displayKey(record.key), bytes: record.value.length, received: record.timeReceived?.toISOString() ?? null })
      } catch {
        // unreadable: the value store deletes it when it is next read
      }
    }
    summary.providerKeys = await listKeys(datastore, PROVIDERS_DATASTORE_PREFIX, list, signal)
    summary.providedKeys = await listKeys(datastore, PROVIDED_PREFIX, list, signal)
  }
  return summary
}
