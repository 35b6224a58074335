/**
 * The inbound side: reads requests from a DHT stream one after another, hands each to the
 * handler of its type and writes the answer back. A malformed message, an oversize frame, an
 * unknown type or a handler that refuses resets the stream and is counted; the node serves on.
 * A peer over the rate limit has its requests held back, and its stream reset when it keeps on.
 */
import { pipe } from 'it-pipe'
import { realClock, sleep } from '../clock.ts'
import { TimeoutError, UnsupportedMessageTypeError } from '../errors.ts'
import { MessageType, decodeMessage, encodeMessage } from '../wire/codec.ts'
import { frame, readFrames } from '../wire/framing.ts'
import { streamSink, streamSource } from './stream-source.ts'
import type { Counters } from './counters.ts'
import type { RateLimiter } from './rate-limit.ts'
import type { Message, OutgoingMessage } from '../wire/codec.ts'
import type { ComponentLogger, Connection, Logger, PeerId, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** The answer a handler gives; peers may be given in their wire form. */
export type Answer = OutgoingMessage

/**
 * Handles one request. Returns the answer, or undefined to send none (ADD_PROVIDER); throws to
 * refuse it, which resets the stream.
 */
export type RequestHandler = (from: PeerId, request: Message) => Answer | undefined | Promise<Answer | undefined>

/** The handlers by message type. A type without one is refused. */
export type Handlers = Partial<Record<MessageType, RequestHandler>>

/** How the server reads. */
export interface ServerInit {
  maxMessageSize: number
  messageTimeout: number
  idleTimeout: number
  counters: Counters
  logPrefix: string
  /** The per-peer limit on inbound requests, if any. */
  rateLimiter?: RateLimiter
  /**
   * A request is charged to the rate limit as one request per this many bytes it holds (at
   * least one), so that one large message costs what many small ones do.
   */
  bytesPerRequest: number
  /** Told about each request before it is handled (to mark the sender alive, say). */
  onRequest?(from: PeerId, request: Message): void
}

/**
 * Serves DHT streams.
 */
export class Server {
  private readonly init: ServerInit
  private readonly handlers: Handlers
  private readonly log: Logger
  private readonly streams: Set<Stream>

  constructor (components: { logger: ComponentLogger }, init: ServerInit, handlers: Handlers) {
    this.init = init
    this.handlers = handlers
    this.log = components.logger.forComponent(`${init.logPrefix}:server`)
    this.streams = new Set()
  }

  /** The libp2p stream handler. */
  readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const from = connection.remotePeer
    const { counters, rateLimiter } = this.init
    this.streams.add(stream)
    // a request held back by the rate limit stops waiting when its stream closes (or is
    // aborted on stop)
    let closed: AbortSignal | undefined
    // the type of the request being served, if one was read: a failure is counted against it
    let serving: MessageType | undefined
    const peer = from.toString()
    if (rateLimiter != null) {
      const ended = new AbortController()
      stream.addEventListener('close', () => { ended.abort(new Error('the stream closed')) }, { once: true })
      closed = ended.signal
    }
    const answers = async function * (this: Server, requests: AsyncIterable<Uint8ArrayList>): AsyncGenerator<Uint8ArrayList> {
      for await (const bytes of requests) {
        // admitted first, charged by its size, then read: a peer over its rate costs no decoding
        const wait = rateLimiter?.reserve(peer, requestCost(bytes.byteLength, this.init.bytesPerRequest)) ?? 0
        if (wait > 0) {
          counters.throttled()
          await sleep(realClock, wait, closed)
        }
        const request = decodeMessage(bytes)
        serving = request.type
        counters.request(request.type, 'inbound')
        this.init.onRequest?.(from, request)
        const handler = this.handlers[request.type]
        if (handler == null) {
          throw new UnsupportedMessageTypeError(`${MessageType[request.type]} is not served`)
        }
        const answer = await handler(from, request)
        if (answer != null) {
          yield frame(encodeMessage(answer))
        }
        serving = undefined
      }
    }.bind(this)
    let idle = false
    try {
      await pipe(
        streamSource(stream),
        (source) => readFrames(source, {
          maxMessageSize: this.init.maxMessageSize,
          messageTimeout: this.init.messageTimeout,
          idleTimeout: this.init.idleTimeout,
          onIdle: () => { idle = true }
        }),
        answers,
        async (source) => { await streamSink(stream, source) }
      )
      if (idle) {
        // a stream kept open but unused gives its slot back at once: a close would wait for
        // the remote to close its side, which a peer keeping streams for reuse never does
        stream.abort(new TimeoutError('the stream was idle'))
      } else {
        await stream.close()
      }
    } catch (err: any) {
      counters.error(err, serving, 'inbound')
      this.log('resetting stream from %p: %s', from, err.message)
      stream.abort(err)
    } finally {
      this.streams.delete(stream)
    }
  }

  /** Aborts every stream being served (on stop). */
  closeAll (): void {
    for (const stream of this.streams) {
      stream.abort(new Error('the DHT is stopping'))
    }
    this.streams.clear()
  }
}

/** What a request of `bytes` bytes is charged: one request per `bytesPerRequest`, at least one. */
export function requestCost (bytes: number, bytesPerRequest: number): number {
  return 1 + Math.floor(bytes / bytesPerRequest)
}
