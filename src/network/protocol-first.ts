/**
 * Streams whose protocol goes out with their first message: multistream-select's header, the
 * protocol and the first request in one write, the listener's confirmation read back in front
 * of the answer. A stream negotiated in full waits a round trip for that confirmation before
 * the request can go; this saves it (0 round trips to open a stream instead of 1).
 *
 * libp2p 3 documents `negotiateFully: false` for this but no longer does it (libp2p 3.3,
 * `@libp2p/multistream-select` 7: `select` always waits for the answer), so kadmium writes the
 * proposal itself, on a stream it opens on the connection's muxer. The listeners of js-libp2p,
 * go-libp2p and rust-libp2p read the proposal and leave the bytes after it to the protocol's
 * handler; one that does not support the protocol answers `na`, and the request fails with
 * libp2p's `UnsupportedProtocolError`, as a stream negotiated in full would.
 *
 * The muxer is not part of libp2p's `Connection` interface: when a connection does not expose
 * one (another libp2p, a limited relayed connection, a connection whose muxer is closing),
 * {@link openUnnegotiated} returns nothing and the caller negotiates in full.
 */
import { UnsupportedProtocolError } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { fromString } from 'uint8arrays/from-string'
import { toString } from 'uint8arrays/to-string'
import { InvalidMessageError } from '../errors.ts'
import { frame } from '../wire/framing.ts'
import type { Connection, Stream, StreamMuxer } from '@libp2p/interface'

/** multistream-select's protocol id, the first line each side writes. */
export const MULTISTREAM = '/multistream/1.0.0'

/** The header and the protocol proposal, each a length-prefixed line: what goes before the first message. */
export function proposal (protocol: string): Uint8ArrayList {
  return new Uint8ArrayList(frame(fromString(`${MULTISTREAM}\n`)), frame(fromString(`${protocol}\n`)))
}

/**
 * Checks the listener's two lines (its header, then the protocol echoed or `na`). Throws
 * `UnsupportedProtocolError` when it declined the protocol and {@link InvalidMessageError} when
 * it said something else.
 */
export function checkConfirmation (lines: Uint8ArrayList[], protocol: string): void {
  const [header, answer] = lines.map(line => toString(line.subarray()))
  if (header !== `${MULTISTREAM}\n`) {
    throw new InvalidMessageError(`expected the multistream-select header, got ${JSON.stringify(header?.slice(0, 64))}`)
  }
  if (answer === 'na\n') {
    throw new UnsupportedProtocolError(`the peer does not speak ${protocol}`)
  }
  if (answer !== `${protocol}\n`) {
    throw new InvalidMessageError(`expected ${protocol} confirmed, got ${JSON.stringify(answer?.slice(0, 64))}`)
  }
}

/**
 * A new outbound stream on `connection` with no protocol negotiated yet (it is labelled with
 * `protocol`, which the caller proposes with its first write), or undefined when the
 * connection's muxer is out of reach or the connection cannot carry it; past `maxOutbound`
 * outbound streams of `protocol` on the connection, none either (libp2p's own limit on
 * `newStream`, so that the caller's fallback throws libp2p's error).
 */
export async function openUnnegotiated (connection: Connection, protocol: string, maxOutbound: number): Promise<Stream | undefined> {
  // libp2p's Connection keeps its muxer in a field its interface does not declare
  const muxer: StreamMuxer | undefined = (connection as { muxer?: StreamMuxer }).muxer
  if (muxer == null || typeof muxer.createStream !== 'function' || muxer.status !== 'open' ||
    connection.status !== 'open' || connection.limits != null) {
    return undefined
  }
  const open = connection.streams.filter(s => s.direction === 'outbound' && s.protocol === protocol).length
  if (open >= maxOutbound) {
    return undefined
  }
  const stream = await muxer.createStream()
  stream.protocol = protocol
  return stream
}
