/**
 * The libp2p record that PUT_VALUE and GET_VALUE carry: a key, a value and the RFC 3339 time at
 * which the storing node received it. The same protobuf form is what the value store keeps.
 */
import { compact } from '../utils/bytes.ts'
import { kadmium } from '../wire/generated/dht.js'

/** A record with its receive time, if known. */
export interface DHTRecord {
  key: Uint8Array
  value: Uint8Array
  /** When the storing node received it. */
  timeReceived?: Date
}

/** Formats a time as RFC 3339 in UTC, as the record's `timeReceived` field wants it. */
export function formatTime (date: Date): string {
  return date.toISOString()
}

/**
 * Parses an RFC 3339 time (any number of fractional digits, `Z` or an offset); undefined when it
 * is not one.
 */
export function parseTime (text: string | undefined): Date | undefined {
  if (text == null || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    return undefined
  }
  // Date parses at most millisecond precision: trim finer fractions (go writes nanoseconds)
  const date = new Date(text.replace(/(\.\d{3})\d+/, '$1'))
  return Number.isNaN(date.getTime()) ? undefined : date
}

/** Encodes a record in its protobuf form, in bytes of their own (they are stored: see {@link compact}). */
export function encodeRecord (record: DHTRecord): Uint8Array {
  return compact(kadmium.Record.encode({
    key: record.key,
    value: record.value,
    timeReceived: record.timeReceived == null ? undefined : formatTime(record.timeReceived)
  }).finish())
}

/** Decodes a record from its protobuf form; throws on malformed bytes. */
export function decodeRecord (bytes: Uint8Array): DHTRecord {
  const raw = kadmium.Record.decode(bytes)
  const record: DHTRecord = {
    key: raw.key ?? new Uint8Array(0),
    value: raw.value ?? new Uint8Array(0)
  }
  const time = parseTime(raw.timeReceived)
  if (time != null) {
    record.timeReceived = time
  }
  return record
}
