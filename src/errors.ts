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
  readonly name = 'NotFoundError'
}

/** A message could not be decoded or does not fit the protocol. */
export class InvalidMessageError extends Error {
  static readonly name = 'InvalidMessageError'
  readonly name = 'InvalidMessageError'
}

/** A message declared a length over the frame limit. */
export class MessageTooLargeError extends Error {
  static readonly name = 'MessageTooLargeError'
  readonly name = 'MessageTooLargeError'
}

/** A message of a type this node does not serve. */
export class UnsupportedMessageTypeError extends Error {
  static readonly name = 'UnsupportedMessageTypeError'
  readonly name = 'UnsupportedMessageTypeError'
}

/** Something did not happen in time. */
export class TimeoutError extends Error {
  static readonly name = 'TimeoutError'
  readonly name = 'TimeoutError'
}

/** A stream ended before the expected message arrived. */
export class UnexpectedEndError extends Error {
  static readonly name = 'UnexpectedEndError'
  readonly name = 'UnexpectedEndError'
}

/** An option given to {@link kadDHT}, or to one of its parts, is out of range. */
export class InvalidParametersError extends Error {
  static readonly name = 'InvalidParametersError'
  readonly name = 'InvalidParametersError'
}
