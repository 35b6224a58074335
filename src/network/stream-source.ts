/**
 * The bytes of a libp2p stream as an async iterable, read through `byteStream` of
 * `@libp2p/utils`, which buffers from the moment it is made. `messageStreamToDuplex` drops a
 * message that arrives together with the remote's close of its write side (its source ends on
 * the close before the buffered bytes are delivered): an ADD_PROVIDER, sent and closed at once,
 * was lost that way about one time in twenty over the memory transport.
 */
import { byteStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Every chunk the remote sends until it closes its write side. */
export function streamSource (stream: Stream): AsyncGenerator<Uint8ArrayList> {
  const bytes = byteStream(stream)
  return (async function * () {
    while (true) {
      const chunk = await bytes.read()
      if (chunk == null) {
        return
      }
      yield chunk
    }
  })()
}

/** Writes each chunk, waiting for the stream to drain when its buffer is full. */
export async function streamSink (stream: Stream, chunks: AsyncIterable<Uint8Array | Uint8ArrayList>): Promise<void> {
  for await (const chunk of chunks) {
    if (!stream.send(chunk)) {
      await stream.onDrain()
    }
  }
}
