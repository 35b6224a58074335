/**
 * Asking one peer one FIND_NODE: the peers it knows closest to a key, straight from its answer
 * (no lookup), for looking at what a single peer says.
 */
import { MAX_MESSAGE_SIZE } from '../constants.ts'
import { UnexpectedEndError } from '../errors.ts'
import { streamSource } from '../network/stream-source.ts'
import { MessageType, decodeMessage, encodeMessage } from '../wire/codec.ts'
import { frame, readFrames } from '../wire/framing.ts'
import type { AbortOptions, Libp2p, PeerId, PeerInfo, Stream } from '@libp2p/interface'

/** Sends FIND_NODE for `key` to `peer` on `protocol`; resolves to the peers it answered with. */
export async function askFindNode (node: Libp2p, peer: PeerId, protocol: string, key: Uint8Array, options: AbortOptions): Promise<PeerInfo[]> {
  const { signal } = options
  let stream: Stream | undefined
  const onAbort = (): void => { stream?.abort(signal?.reason ?? new Error('aborted')) }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    stream = await node.dialProtocol(peer, protocol, { signal })
    const source = streamSource(stream)
    if (!stream.send(frame(encodeMessage({ type: MessageType.FIND_NODE, key })))) {
      await stream.onDrain({ signal })
    }
    const first = await readFrames(source, { maxMessageSize: MAX_MESSAGE_SIZE }).next()
    if (first.done === true) {
      throw new UnexpectedEndError(`${peer} closed the stream without an answer`)
    }
    const answer = decodeMessage(first.value)
    await stream.close({ signal }).catch(() => {})
    return answer.closer.all().map(p => ({ id: p.id, multiaddrs: p.multiaddrs }))
  } catch (err) {
    if (stream?.status === 'open') {
      stream.abort(err as Error)
    }
    throw signal?.aborted === true ? signal.reason : err
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}
