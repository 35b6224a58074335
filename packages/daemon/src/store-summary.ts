/**
 * What the node stores, as the DHT lists it: the records and provider records it holds for
 * others, the keys it provides itself and the values it keeps alive, with a short list of each
 * for the status page.
 */
import { displayKey, displayMultihash } from './params.ts'
import type { KadDHT, ProviderStoreStats } from 'kadmium'

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
  /** Values this node keeps alive (put with `keep`, put again every 12 h on average). */
  kept: number
  /** The first `list` records, by datastore order. */
  recordList?: RecordSummary[]
  /** The first `list` keys with provider records (base58btc multihashes: CIDv0 for SHA-256). */
  providerKeys?: string[]
  /** The first `list` keys this node provides. */
  providedKeys?: string[]
  /** The first `list` keys of the values this node keeps alive. */
  keptKeys?: string[]
}

/** Counts and, when `list` > 0, lists what the node stores. */
export async function storeSummary (dht: KadDHT, options: { records: number, providers: ProviderStoreStats, list: number, signal?: AbortSignal }): Promise<StoreSummary> {
  const { list, signal } = options
  const stored = await dht.listStored(list, { signal })
  const summary: StoreSummary = { records: options.records, providers: options.providers, provided: stored.provided, kept: stored.kept }
  if (list > 0) {
    summary.recordList = stored.records.map(record => ({ key: displayKey(record.key), bytes: record.bytes, received: record.received?.toISOString() ?? null }))
    summary.providerKeys = stored.providerKeys.map(displayMultihash)
    summary.providedKeys = stored.providedKeys.map(displayMultihash)
    summary.keptKeys = stored.keptKeys.map(displayKey)
  }
  return summary
}
