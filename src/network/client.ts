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
 *
 * With `protocolFirst`, a new stream's protocol goes out with its first message
 * (src/network/protocol-first.ts): a request costs one round trip on an open connection, not
 * two. A peer that resets or ends such a stream during its first exchange is asked again on a
 * stream negotiated in full, and from then on always so.
 */
import { isPeerId } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { deadline, realClock } from '../clock.ts'
import { UnexpectedEndError } from '../errors.ts'
import { decodeMessage, encodeMessage } from '../wire/codec.ts'
import { frame, readFrames } from '../wire/framing.ts'
import { checkConfirmation, openUnnegotiated, proposal } from './protocol-first.ts'
import { streamSource } from './stream-source.ts'
import type { Counters } from './counters.ts'
import type { Message, MessageType, OutgoingMessage } from '../wire/codec.ts'
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
  /** An answer must arrive within this many ms of its request. */
  readTimeout: number
  /** A stream is kept for the next request to its peer until idle this many ms; 0 keeps none. */
  idleTimeout: number
  /** The most streams kept at once; past it a stream is closed after its answer. */
  maxKept: number
  /**
   * Whether a new stream's protocol goes out with its first message instead of being negotiated
   * first (a round trip less per new stream); off unless told.
   */
  protocolFirst?: boolean
  /** The most outbound streams of the protocol on one connection (libp2p's limit of `newStream`). */
  maxOutboundStreams?: number
}

/** A request to send. */
export type Request = OutgoingMessage

/** Options of {@link Client.request}. */
export interface RequestOptions extends AbortOptions {
  /** Called once the request is on the wire (after any dial and stream negotiation). */
  onSent?(): void
}

/** An outbound stream and the reader of its answers, which lives as long as the stream. */
interface OpenStream {
  stream: Stream
  answers: AsyncGenerator<Uint8ArrayList>
  /**
   * A protocol-first stream: `'propose'` until its first message went out with the proposal,
   * `'confirm'` until the listener's confirmation was read; absent once negotiated.
   */
  negotiation?: 'propose' | 'confirm'
  /** Whether its protocol went out with its first message. */
  protocolFirst?: boolean
  /** The peer's id, when the dial target named it. */
  peer?: string
}

/** How a listener that takes no bytes before it confirmed the protocol fails a protocol-first stream. */
const REFUSED = new Set(['StreamResetError', 'UnexpectedEndError'])

/** Peers remembered as needing streams negotiated in full (the oldest forgotten past this many). */
const MAX_FULL_NEGOTIATION_PEERS = 1_024

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
  /** Peers that failed a protocol-first stream before confirming the protocol: theirs are negotiated in full. */
  private readonly negotiateFully: Set<string>

  constructor (components: ClientComponents, init: ClientInit) {
    this.components = components
    this.init = init
    this.log = components.logger.forComponent(`${init.logPrefix}:client`)
    this.kept = new Map()
    this.negotiateFully = new Set()
  }

  /**
   * Sends a request and resolves to the answer. Rejects on a dial failure, a malformed answer,
   * a stream that ends without one, no answer within the read timeout (`TimeoutError`), or when
   * `signal` aborts (with its reason).
   */
  async request (target: DialTarget, request: Request, options: RequestOptions = {}): Promise<Message> {
    const { signal, onSent } = options
    signal?.throwIfAborted()
    this.init.counters.request(request.type, 'outbound')
    const peer = this.init.idleTimeout > 0 ? peerOf(target) : undefined
    try {
      const kept = peer == null ? undefined : this.take(peer)
      if (kept != null) {
        try {
          const answer = await this.exchange(kept, request, signal, true, onSent) as Message
          this.keep(peer as string, kept)
          return answer
        } catch (err: any) {
          if (signal?.aborted === true || err.name === 'TimeoutError') {
            throw err
          }
          this.log.trace('kept stream to %s failed (%s): a new stream', peer, err.message)
        }
      }
      return await this.onNewStream(target, signal, async open => await this.exchange(open, request, signal, true, onSent) as Message, (open) => {
        if (peer == null) {
          closeQuietly(open.stream)
        } else {
          this.keep(peer, open)
        }
      })
    } catch (err: any) {
      throw this.failed(err, request, target, signal)
    }
  }

  /** Sends a message that gets no answer (ADD_PROVIDER), on a stream of its own. */
  async send (target: DialTarget, message: Request, options: AbortOptions = {}): Promise<void> {
    const { signal } = options
    signal?.throwIfAborted()
    this.init.counters.request(message.type, 'outbound')
    try {
      await this.onNewStream(target, signal, async open => { await this.exchange(open, message, signal, false) })
    } catch (err: any) {
      throw this.failed(err, message, target, signal)
    }
  }

  /** Closes every kept stream (when the service stops). */
  closeAll (): void {
    for (const peer of [...this.kept.keys()]) {
      const kept = this.take(peer)
      if (kept != null) {
        closeQuietly(kept.stream)
      }
    }
  }

  /**
   * Runs `use` on a new stream to `target`, then `after` with the stream. When the peer resets
   * or ends a protocol-first stream during its first exchange (a listener that takes no bytes
   * before it confirmed the protocol), it is asked once more on a stream negotiated in full, as
   * it will be from then on.
   */
  private async onNewStream<T> (target: DialTarget, signal: AbortSignal | undefined, use: (open: OpenStream) => Promise<T>, after?: (open: OpenStream) => void): Promise<T> {
    const peer = peerOf(target)
    let open = await this.open(target, peer, signal)
    let result: T
    try {
      result = await use(open)
    } catch (err: any) {
      if (open.protocolFirst !== true || signal?.aborted === true || !REFUSED.has(err.name)) {
        throw err
      }
      this.log('%s refused a protocol-first stream (%s): negotiating in full', peer, err.message)
      if (peer != null) {
        this.rememberFullNegotiation(peer)
      }
      open = await this.open(target, peer, signal, true)
      result = await use(open)
    }
    after?.(open)
    return result
  }

  private async open (target: DialTarget, peer: string | undefined, signal?: AbortSignal, negotiateFully = false): Promise<OpenStream> {
    const { init } = this
    let stream: Stream | undefined
    if (init.protocolFirst === true && !negotiateFully && (peer == null || !this.negotiateFully.has(peer))) {
      const connection = await this.components.connectionManager.openConnection(target, { signal })
      stream = await openUnnegotiated(connection, init.protocol, init.maxOutboundStreams ?? Infinity)
      if (stream == null) {
        stream = await connection.newStream(init.protocol, { signal })
      } else {
        return { ...reader(stream, init.maxMessageSize), negotiation: 'propose', protocolFirst: true, peer }
      }
    }
    stream ??= await this.components.connectionManager.openStream(target, init.protocol, { signal })
    return reader(stream, init.maxMessageSize)
  }

  private rememberFullNegotiation (peer: string): void {
    this.negotiateFully.delete(peer)
    this.negotiateFully.add(peer)
    if (this.negotiateFully.size > MAX_FULL_NEGOTIATION_PEERS) {
      this.negotiateFully.delete(this.negotiateFully.values().next().value as string)
    }
  }

  /**
   * Writes one request and reads its answer (or, with `expectAnswer` false, closes the stream
   * after it). On a protocol-first stream the proposal goes out with the request and the
   * listener's confirmation is read before the answer (with no answer expected, after the close,
   * without waiting for it). Any failure aborts the stream.
   */
  private async exchange (open: OpenStream, request: Request, signal?: AbortSignal, expectAnswer = true, onSent?: () => void): Promise<Message | undefined> {
    const { stream, answers } = open
    const limit = deadline(realClock, this.init.readTimeout, `no answer within ${this.init.readTimeout} ms`, signal)
    const onAbort = (): void => { stream.abort(limit.signal.reason) }
    limit.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const message = frame(encodeMessage(request))
      const bytes = open.negotiation === 'propose' ? new Uint8ArrayList(proposal(this.init.protocol), message) : message
      if (open.negotiation === 'propose') {
        open.negotiation = 'confirm'
      }
      if (!stream.send(bytes)) {
        await stream.onDrain({ signal: limit.signal })
      }
      onSent?.()
      if (!expectAnswer) {
        await stream.close({ signal: limit.signal })
        if (open.negotiation === 'confirm') {
          this.confirmLater(open, request.type, open.peer)
        }
        return undefined
      }
      if (open.negotiation === 'confirm') {
        await this.confirm(open)
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

  /** Reads the listener's confirmation of a protocol-first stream (its first two lines). */
  private async confirm (open: OpenStream): Promise<void> {
    const lines: Uint8ArrayList[] = []
    while (lines.length < 2) {
      const line = await open.answers.next()
      if (line.done === true) {
        throw new UnexpectedEndError('the stream ended before the protocol was confirmed')
      }
      lines.push(line.value)
    }
    checkConfirmation(lines, this.init.protocol)
    open.negotiation = undefined
  }

  /**
   * Reads the confirmation of a protocol-first stream that expects no answer, in the background,
   * and counts a refusal as a failed request; the stream ends when the listener closes it.
   */
  private confirmLater (open: OpenStream, type: MessageType, peer?: string): void {
    const limit = deadline(realClock, this.init.readTimeout, `no confirmation within ${this.init.readTimeout} ms`)
    const onAbort = (): void => { open.stream.abort(limit.signal.reason) }
    limit.signal.addEventListener('abort', onAbort, { once: true })
    void (async () => {
      await this.confirm(open)
      // nothing follows but the listener's close
      for await (const extra of open.answers) {
        void extra
      }
    })().catch((err: Error) => {
      this.init.counters.error(err, type, 'outbound')
      this.log('protocol-first message %s to %s not confirmed: %s', type, peer, err.message)
      if (peer != null && REFUSED.has(err.name)) {
        this.rememberFullNegotiation(peer)
      }
    }).finally(() => {
      limit.signal.removeEventListener('abort', onAbort)
      limit.clear()
    })
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

/** The reader of a new stream's answers: reading starts before the request goes out, so no byte of the answer is missed. */
function reader (stream: Stream, maxMessageSize: number): OpenStream {
  return { stream, answers: readFrames(streamSource(stream), { maxMessageSize }) }
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
