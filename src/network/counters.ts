/**
 * Plain counters of what the network layer saw: requests by type, errors by name.
 */
import { MessageType } from '../wire/codec.ts'

/** The node's counts of requests and errors so far. */
export interface CounterSnapshot {
  /** Inbound requests by message type name (FIND_NODE, PING, …). */
  inbound: Record<string, number>
  /** Outbound requests by message type name. */
  outbound: Record<string, number>
  /** Errors by error name (InvalidMessageError, MessageTooLargeError, TimeoutError, …). */
  errors: Record<string, number>
  /** Inbound requests held back by the per-peer rate limit (those refused count as errors). */
  throttled: number
  /** Inbound requests that failed (their stream was reset), by message type name. */
  inboundFailed: Record<string, number>
  /** Outbound requests that failed (no answer, a bad one, a dial failure), by message type name. */
  outboundFailed: Record<string, number>
}

/** Counts requests and errors. */
export class Counters {
  private readonly inbound = new Map<string, number>()
  private readonly outbound = new Map<string, number>()
  private readonly errors = new Map<string, number>()
  private readonly inboundFailed = new Map<string, number>()
  private readonly outboundFailed = new Map<string, number>()
  private throttledCount = 0

  /** Counts one inbound request. */
  request (type: MessageType, direction: 'inbound' | 'outbound'): void {
    const map = direction === 'inbound' ? this.inbound : this.outbound
    const name = MessageType[type] ?? `UNKNOWN_${type}`
    map.set(name, (map.get(name) ?? 0) + 1)
  }

  /** Counts one error by its name, and as a failed request of `type` when it ended one. */
  error (err: unknown, type?: MessageType, direction: 'inbound' | 'outbound' = 'outbound'): void {
    const name = (err as Error)?.name ?? 'Error'
    this.errors.set(name, (this.errors.get(name) ?? 0) + 1)
    if (type != null) {
      const map = direction === 'inbound' ? this.inboundFailed : this.outboundFailed
      const typeName = MessageType[type] ?? `UNKNOWN_${type}`
      map.set(typeName, (map.get(typeName) ?? 0) + 1)
    }
  }

  /** Counts one inbound request held back by the rate limit. */
  throttled (): void {
    this.throttledCount++
  }

  /** The counts so far. */
  snapshot (): CounterSnapshot {
    return {
      inbound: Object.fromEntries(this.inbound),
      outbound: Object.fromEntries(this.outbound),
      errors: Object.fromEntries(this.errors),
      throttled: this.throttledCount,
      inboundFailed: Object.fromEntries(this.inboundFailed),
      outboundFailed: Object.fromEntries(this.outboundFailed)
    }
  }
}
