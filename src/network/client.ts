/**
 * The outbound side: one request, one stream, one answer (or none, for ADD_PROVIDER).
 */
import { UnexpectedEndError } from '../errors.ts'
import { decodeMessage, encodeMessage } from '../wire/codec.ts'
import { frame, readFrames } from '../wire/framing.ts'
import { streamSource } from './stream-source.ts'
import type { Counters } from './counters.ts'
import type { Message, OutgoingMessage } from '../wire/codec.ts'
import type { AbortOptions, ComponentLogger, DialTarget, Logger, Stream } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

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
}

/** A request to send. */
export type Request = OutgoingMessage

/**
 * Sends DHT requests to other peers.
 */
export class Client {
  private readonly components: ClientComponents
  private readonly init: ClientInit
  private readonly log: Logger

  constructor (components: ClientComponents, init: ClientInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent(`${init.logPrefix}:client`)
  }

  /**
   * Sends a request and resolves to the answer. Rejects on a dial failure, a malformed answer,
   * a stream that ends without one, or when `signal` aborts.
   */
  async request (target: DialTarget, request: Request, options: AbortOptions = {}): Promise<Message> {
    return this.exchange(target, request, true, options) as Promise<Message>
  }

  /** Sends a message that gets no answer (ADD_PROVIDER). */
  async send (target: DialTarget, message: Request, options: AbortOptions = {}): Promise<void> {
    await this.exchange(target, message, false, options)
  }

  private async exchange (target: DialTarget, request: Request, expectAnswer: boolean, options: AbortOptions): Promise<Message | undefined> {
    const { signal } = options
    signal?.throwIfAborted()
    this.init.counters.request(request.type, 'outbound')
    let stream: Stream | undefined
    const onAbort = (): void => { stream?.abort(signal?.reason ?? new Error('aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      stream = await this.components.connectionManager.openStream(target, this.init.protocol, { signal })
      // reading starts before the request goes out, so no byte of the answer is missed
      const source = streamSource(stream)
      if (!stream.send(frame(encodeMessage(request)))) {
        await stream.onDrain({ signal })
      }
      if (!expectAnswer) {
        await stream.close({ signal })
        return undefined
      }
      const first = await readFrames(source, { maxMessageSize: this.init.maxMessageSize }).next()
      if (first.done === true) {
        throw new UnexpectedEndError('the stream ended without an answer')
      }
      const answer = decodeMessage(first.value)
      const done = stream
      done.close().catch(err => { done.abort(err) })
      return answer
    } catch (err: any) {
      if (signal?.aborted !== true) {
        this.init.counters.error(err, request.type, 'outbound')
      }
      this.log.trace('request %s to %s failed: %s', request.type, target, err.message)
      if (stream != null && stream.status === 'open') {
        stream.abort(err)
      }
      throw signal?.aborted === true ? (signal.reason ?? err) : err
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }
}
