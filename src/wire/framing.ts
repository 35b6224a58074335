/**
 * Message framing: an unsigned-varint length prefix before each protobuf message
 * (it-length-prefixed), a frame limit, and the two timeouts of an inbound stream: a message
 * whose length has arrived must arrive whole in time, and a stream with no new message is
 * closed after an idle period.
 */
import * as lp from 'it-length-prefixed'
import { InvalidMessageError, MessageTooLargeError, TimeoutError, UnexpectedEndError } from '../errors.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Bounds of {@link readFrames}. */
export interface FrameOptions {
  /** The largest message body, in bytes. */
  maxMessageSize: number
  /** Once a length prefix has arrived, the body must arrive within this many ms. */
  messageTimeout?: number
  /** With no message under way, the next must begin within this many ms, or the read ends. */
  idleTimeout?: number
  /** Told when the read ends because the source went idle (rather than because it ended). */
  onIdle?(): void
}

type Chunk = Uint8Array | Uint8ArrayList

/** Prefixes one message with its length. */
export function frame (message: Uint8Array): Uint8ArrayList {
  return lp.encode.single(message)
}

/**
 * Reads length-prefixed messages from a byte source until it ends.
 *
 * Throws {@link MessageTooLargeError} for a length over the limit, {@link InvalidMessageError}
 * for a malformed length, {@link UnexpectedEndError} when the source ends inside a message and
 * {@link TimeoutError} when a deadline passes. An idle stream ends the read quietly: a peer
 * that stopped asking is not an error.
 */
export async function * readFrames (source: AsyncIterable<Chunk>, options: FrameOptions): AsyncGenerator<Uint8ArrayList> {
  const { messageTimeout, idleTimeout } = options
  let inMessage = false
  let deadline = idleTimeout == null ? Infinity : Date.now() + idleTimeout
  const frames = lp.decode(timed(source, () => deadline, () => inMessage, options.onIdle), {
    maxDataLength: options.maxMessageSize,
    onLength: () => {
      inMessage = true
      deadline = messageTimeout == null ? Infinity : Date.now() + messageTimeout
    },
    onData: () => {
      inMessage = false
      deadline = idleTimeout == null ? Infinity : Date.now() + idleTimeout
    }
  })
  try {
    for await (const message of frames) {
      yield message
    }
  } catch (err: any) {
    throw typedFrameError(err)
  }
}

/** Thrown inside {@link timed} when a stream went idle: ends the read quietly. */
class IdleEnd extends Error {}

/** The next chunk of `iterator`, or a rejection once `at` (a Date.now() time) has passed. */
async function nextBefore (iterator: AsyncIterator<Chunk>, at: number, inMessage: () => boolean): Promise<IteratorResult<Chunk>> {
  if (at === Infinity) {
    return iterator.next()
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((resolve, reject) => {
    timer = setTimeout(() => {
      reject(inMessage() ? new TimeoutError('message not received in time') : new IdleEnd())
    }, Math.max(0, at - Date.now()))
  })
  try {
    return await Promise.race([iterator.next(), late])
  } finally {
    clearTimeout(timer)
  }
}

async function * timed (source: AsyncIterable<Chunk>, deadline: () => number, inMessage: () => boolean, onIdle?: () => void): AsyncGenerator<Chunk> {
  const iterator = source[Symbol.asyncIterator]()
  let finished = false
  try {
    while (true) {
      const result = await nextBefore(iterator, deadline(), inMessage)
      if (result.done === true) {
        finished = true
        return
      }
      yield result.value
    }
  } catch (err) {
    if (!(err instanceof IdleEnd)) {
      throw err
    }
    onIdle?.()
  } finally {
    if (!finished) {
      // a read still pending on a timed-out source is not awaited: the caller closes the stream
      Promise.resolve(iterator.return?.()).catch(() => {})
    }
  }
}

function typedFrameError (err: any): Error {
  switch (err?.name) {
    case 'InvalidDataLengthError':
      return new MessageTooLargeError(err.message)
    case 'InvalidDataLengthLengthError':
    case 'InvalidMessageLengthError':
      return new InvalidMessageError(err.message)
    case 'UnexpectedEOFError':
      return new UnexpectedEndError(err.message)
    default:
      return err
  }
}
