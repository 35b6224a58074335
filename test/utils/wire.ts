/**
 * Raw DHT requests from any libp2p node, for looking at exactly what a server answers.
 */
import * as lp from 'it-length-prefixed'
import { decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { TEST_PROTOCOL } from './nodes.ts'
import type { Message, OutgoingMessage, WirePeer } from '../../src/wire/codec.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A node is dialled at its addresses, a peer id through the peer store. */
function target (to: PeerId | Libp2p): PeerId | Multiaddr[] {
  return 'getMultiaddrs' in to ? to.getMultiaddrs() : to
}

/** A message read, with its peer lists read whole. */
export type ReadMessage = Omit<Message, 'closer' | 'providers'> & { closer: WirePeer[], providers: WirePeer[] }

/** Sends one request on a new stream; resolves to the answer, or rejects if the stream is reset. */
export async function rawRequest (from: Libp2p, to: PeerId | Libp2p, request: OutgoingMessage): Promise<ReadMessage> {
  const stream = await from.dialProtocol(target(to), TEST_PROTOCOL)
  stream.send(lp.encode.single(encodeMessage(request)))
  await stream.close()
  const first = await lp.decode(stream).next()
  if (first.done === true) {
    throw new Error('no answer')
  }
  const answer = decodeMessage(first.value)
  return { ...answer, closer: answer.closer.all(), providers: answer.providers.all() }
}

/** Sends one message that gets no answer (ADD_PROVIDER) and closes the stream. */
export async function rawSend (from: Libp2p, to: PeerId | Libp2p, message: OutgoingMessage): Promise<void> {
  const stream = await from.dialProtocol(target(to), TEST_PROTOCOL)
  stream.send(lp.encode.single(encodeMessage(message)))
  await stream.close()
}
