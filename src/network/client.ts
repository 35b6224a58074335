/**
 * The outbound side: one request, one answer (or none, for ADD_PROVIDER).
 *
 * A request goes on a stream kept from the last request to the same peer when there is one, and
 * on a new stream otherwise; after its answer the stream is kept for the peer's next request
 * until it has been idle `idleTimeout` ms, then closed (go-libp2p-kad-dht's message sender also
 * keeps one stream per peer). A request that fails on a kept stream without its signal aborting
 * or its answer timing out (the peer reset or closed the stream while it sat idle) is sent once
 * more on a new stream. Requests to one peer at the same time each get a stream, and one of them
 * is kept. ADD_PROVIDER, which gets no answer, always goes on a stream of its own, closed after
 * it: nothing would tell that a kept stream had been reset under it.
 */
import { isPeerId } from '@libp2p/interface'
import { deadline, realClock } from '../clock.ts'
import { InvalidMessageError, UnexpectedEndError } from '../errors.ts'
import { decodeMessage, encodeMessage } from '../wire/codec.ts'
import { frame, readFrames } from '../wire/framing.ts'
import { streamSource } from './stream-source.ts'
import type { Counters } from './counters.ts'
import type { Message, OutgoingMessage } from '../wire/codec.ts'
import type { AbortOptions, ComponentLogger, DialTarget, Logger, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Uint8ArrayList } from 'uint8arraylist'

/** What the client needs of libp2p. */
export interface ClientComponents {
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** How the client speaks. */
export interface ClientInit {
  protocol: string
  maxMessageSize: number
  counters: Counters
  logPrefix: string
  /** An answer must arrive within this many ms of its request. */
  readTimeout: number
  /** A stream is kept for the next request to its peer until idle this many ms; 0 keeps none. */
  idleTimeout: number
  /** The most streams kept at once; past it a stream is closed after its answer. */
  maxKept: number
}

/** A request to send. */
export type Request = OutgoingMessage

/** An outbound stream and the reader of its answers, which lives as long as the stream. */
interface OpenStream {
  stream: Stream
  answers: AsyncGenerator<Uint8ArrayList>
}

/** A stream kept for the next request to its peer. */
interface Kept extends OpenStream {
  timer: ReturnType<typeof setTimeout>
  onClose(): void
}

/**
 * Sends DHT requests to other peers.
 */
export class Client {
  private readonly components: ClientComponents
  private readonly init: ClientInit
  private readonly log: Logger
  /** The kept streams, by peer id. */
  private readonly kept: Map<string, Kept>

  constructor (components: ClientComponents, init: ClientInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent(`${init.logPrefix}:client`)
    this.kept = new Map()
  }

  /**
   * Sends a request and resolves to the answer. Rejects on a dial failure, a malformed answer,
   * a stream that ends without one, no answer within the read timeout (`TimeoutError`), or when
   * `signal` aborts (with its reason).
   */
  async request (target: DialTarget, request: Request, options: AbortOptions = {}): Promise<Message> {
    const { signal } = options
    signal?.throwIfAborted()
    this.init.counters.request(request.type, 'outbound')
    const peer = this.init.idleTimeout > 0 ? peerOf(target) : undefined
    try {
      const kept = peer == null ? undefined : this.take(peer)
      if (kept != null) {
        try {
          const answer = await this.exchange(kept, request, signal) as Message
          this.keep(peer as string, kept)
          return answer
        } catch (err: any) {
          if (signal?.aborted === true || err.name === 'TimeoutError') {
            throw err
          }
          this.log.trace('kept stream to %s failed (%s): a new stream', peer, err.message)
        }
      }
      const open = await this.open(target, signal)
      const answer = await this.exchange(open, request, signal) as Message
      if (peer == null) {
        closeQuietly(open.stream)
      } else {
        this.keep(peer, open)
      }
      return answer
    } catch (err: any) {
      throw this.failed(err, request, target, signal)
    }
  }

  /**
   * Sends a message that gets no answer (ADD_PROVIDER), on a stream of its own, and resolves once
   * it is written out; with `confirm`, once the peer ended its side of the stream too, which a
   * server does when it has handled the message (a sender of many to one peer then keeps to the
   * peer's pace, and piles up nothing its rate limit would refuse).
   */
  async send (target: DialTarget, message: Request, options: AbortOptions & { confirm?: boolean } = {}): Promise<void> {
    const { signal } = options
    signal?.throwIfAborted()
    this.init.counters.request(message.type, 'outbound')
    try {
      await this.exchange(await this.open(target, signal), message, signal, options.confirm === true ? 'end' : 'nothing')
    } catch (err: any) {
      throw this.failed(err, message, target, signal)
    }
  }

  /** Closes the stream kept for `peer` (a peer id string), if any: its asker has no more questions. */
  async release (peer: string): Promise<void> {
    const kept = this.take(peer)
    if (kept != null) {
      await kept.stream.close().catch(err => { kept.stream.abort(err) })
    }
  }

  /** Closes every kept stream (when the service stops). */
  closeAll (): void {
    for (const peer of [...this.kept.keys()]) {
      void this.release(peer)
    }
  }

  private async open (target: DialTarget, signal?: AbortSignal): Promise<OpenStream> {
    const stream = await this.components.connectionManager.openStream(target, this.init.protocol, { signal })
    // reading starts before the request goes out, so no byte of the answer is missed
    return { stream, answers: readFrames(streamSource(stream), { maxMessageSize: this.init.maxMessageSize }) }
  }

  /**
   * Writes one request and reads its answer; or closes the stream after it (`nothing` more), and
   * waits for the peer to end its side (`end`). Any failure aborts the stream.
   */
  private async exchange ({ stream, answers }: OpenStream, request: Request, signal?: AbortSignal, expect: 'answer' | 'nothing' | 'end' = 'answer'): Promise<Message | undefined> {
    const limit = deadline(realClock, this.init.readTimeout, `no answer within ${this.init.readTimeout} ms`, signal)
    const onAbort = (): void => { stream.abort(limit.signal.reason) }
    limit.signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (!stream.send(frame(encodeMessage(request)))) {
        await stream.onDrain({ signal: limit.signal })
      }
      if (expect !== 'answer') {
        await stream.close({ signal: limit.signal })
        if (expect === 'end') {
          await ended(answers)
        }
        return undefined
      }
      const first = await answers.next()
      if (first.done === true) {
        throw new UnexpectedEndError('the stream ended without an answer')
      }
      return decodeMessage(first.value)
    } catch (err: any) {
      if (stream.status === 'open') {
        stream.abort(err)
      }
      throw limit.signal.aborted ? limit.signal.reason : err
    } finally {
      limit.signal.removeEventListener('abort', onAbort)
      limit.clear()
    }
  }

  /** Counts and logs a failed request; the error to throw (the signal's reason once it aborted). */
  private failed (err: any, request: Request, target: DialTarget, signal?: AbortSignal): Error {
    if (signal?.aborted !== true) {
      this.init.counters.error(err, request.type, 'outbound')
    }
    this.log.trace('request %s to %s failed: %s', request.type, target, err.message)
    return signal?.aborted === true ? (signal.reason ?? err) : err
  }

  /** Keeps a stream whose answer came back for the peer's next request, or closes it. */
  private keep (peer: string, open: OpenStream): void {
    const { stream } = open
    if (this.kept.has(peer) || this.kept.size >= this.init.maxKept || !usable(stream)) {
      closeQuietly(stream)
      return
    }
    const kept: Kept = {
      ...open,
      timer: setTimeout(() => {
        if (this.kept.get(peer) === kept) {
          this.kept.delete(peer)
          closeQuietly(stream)
        }
      }, this.init.idleTimeout),
      // the peer reset or closed it, or the connection went: forget it
      onClose: () => {
        if (this.kept.get(peer) === kept) {
          this.kept.delete(peer)
          clearTimeout(kept.timer)
        }
      }
    }
    stream.addEventListener('close', kept.onClose, { once: true })
    this.kept.set(peer, kept)
  }

  /** The stream kept for a peer, if there is one still open both ways; it is no longer kept. */
  private take (peer: string): Kept | undefined {
    const kept = this.kept.get(peer)
    if (kept == null) {
      return undefined
    }
    this.kept.delete(peer)
    clearTimeout(kept.timer)
    kept.stream.removeEventListener('close', kept.onClose)
    if (!usable(kept.stream)) {
      closeQuietly(kept.stream)
      return undefined
    }
    return kept
  }
}

/**
 * Resolves when the peer ends its side of a stream that carried a message with no answer, once
 * our side is closed. `@libp2p/kad-dht` resets such a stream once it has handled the message (it
 * reads on past it and fails on the end of the stream): a reset now ends it too.
 */
async function ended (answers: AsyncGenerator<Uint8ArrayList>): Promise<void> {
  try {
    if ((await answers.next()).done !== true) {
      throw new InvalidMessageError('an answer to a message that has none')
    }
  } catch (err: any) {
    if (err.name !== 'StreamResetError') {
      throw err
    }
  }
}

/** Whether a request could go out and its answer come back on `stream`. */
function usable (stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable' &&
    (stream.readStatus === 'readable' || stream.readStatus === 'paused')
}

function closeQuietly (stream: Stream): void {
  stream.close().catch(err => { stream.abort(err) })
}

/** The peer id a dial target names, if it names one. */
function peerOf (target: DialTarget): string | undefined {
  if (isPeerId(target)) {
    return target.toString()
  }
  const first = Array.isArray(target) ? target[0] : target
  return first?.getComponents().find(c => c.name === 'p2p')?.value
}
