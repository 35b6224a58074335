/**
 * Typed errors. Each has a stable `name` callers can test, as libp2p's own errors do.
 *
 * @example
 * ```ts
 * try {
 *   await node.services.dht.findPeer(peerId)
 * } catch (err: any) {
 *   if (err.name === 'NotFoundError') { ... }
 * }
 * ```
 */

/** What was looked up does not exist on the network (or could not be reached). */
export class NotFoundError extends Error {
  static readonly name = 'NotFoundError'
  /** Always `'NotFoundError'`. */
  readonly name = 'NotFoundError'
}

/** A message could not be decoded or does not fit the protocol. */
export class InvalidMessageError extends Error {
  static readonly name = 'InvalidMessageError'
  /** Always `'InvalidMessageError'`. */
  readonly name = 'InvalidMessageError'
}

/** A message declared a length over the frame limit. */
export class MessageTooLargeError extends Error {
  static readonly name = 'MessageTooLargeError'
  /** Always `'MessageTooLargeError'`. */
  readonly name = 'MessageTooLargeError'
}

/** A message of a type this node does not serve. */
export class UnsupportedMessageTypeError extends Error {
  static readonly name = 'UnsupportedMessageTypeError'
  /** Always `'UnsupportedMessageTypeError'`. */
  readonly name = 'UnsupportedMessageTypeError'
}

/** Something did not happen in time. */
export class TimeoutError extends Error {
  static readonly name = 'TimeoutError'
  /** Always `'TimeoutError'`. */
  readonly name = 'TimeoutError'
}

/** A stream ended before the expected message arrived. */
export class UnexpectedEndError extends Error {
  static readonly name = 'UnexpectedEndError'
  /** Always `'UnexpectedEndError'`. */
  readonly name = 'UnexpectedEndError'
}

/** An option given to {@link kadDHT}, or to one of its parts, is out of range. */
export class InvalidParametersError extends Error {
  static readonly name = 'InvalidParametersError'
  /** Always `'InvalidParametersError'`. */
  readonly name = 'InvalidParametersError'
}

/** A record key without a `/namespace/` prefix, or longer than the limit. */
export class InvalidKeyError extends Error {
  static readonly name = 'InvalidKeyError'
  /** Always `'InvalidKeyError'`. */
  readonly name = 'InvalidKeyError'
}

/** A record key in a namespace no validator is registered for. */
export class UnknownNamespaceError extends Error {
  static readonly name = 'UnknownNamespaceError'
  /** Always `'UnknownNamespaceError'`. */
  readonly name = 'UnknownNamespaceError'
}

/** A record its namespace's validator refused, or one over the size limit. */
export class InvalidRecordError extends Error {
  static readonly name = 'InvalidRecordError'
  /** Always `'InvalidRecordError'`. */
  readonly name = 'InvalidRecordError'
}

/** A record worse than the one already stored (an older IPNS sequence number, say). */
export class StaleRecordError extends Error {
  static readonly name = 'StaleRecordError'
  /** Always `'StaleRecordError'`. */
  readonly name = 'StaleRecordError'
}

/** A store is full and refuses new entries. */
export class StoreFullError extends Error {
  static readonly name = 'StoreFullError'
  /** Always `'StoreFullError'`. */
  readonly name = 'StoreFullError'
}

/** No peer confirmed that it stored what was sent. */
export class NotStoredError extends Error {
  static readonly name = 'NotStoredError'
  /** Always `'NotStoredError'`. */
  readonly name = 'NotStoredError'
}

/**
 * An ADD_PROVIDER entry naming a peer other than the sender: ignored (a peer may only announce
 * itself), and counted under this name.
 */
export class ForeignProviderError extends Error {
  static readonly name = 'ForeignProviderError'
  /** Always `'ForeignProviderError'`. */
  readonly name = 'ForeignProviderError'
}

/**
 * A peer sent requests faster than the per-peer rate limit lets it, for longer than requests
 * may be held back: its stream is reset, and the refusal counted under this name.
 */
export class RateLimitedError extends Error {
  static readonly name = 'RateLimitedError'
  /** Always `'RateLimitedError'`. */
  readonly name = 'RateLimitedError'
}
