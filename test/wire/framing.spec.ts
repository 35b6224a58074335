import { expect } from 'aegir/chai'
import { pushable } from 'it-pushable'
import * as varint from 'uint8-varint'
import { frame, readFrames } from '../../src/wire/framing.ts'

async function collect (source: AsyncIterable<{ subarray(): Uint8Array }>): Promise<{ frames: number[][], error?: Error }> {
  const frames: number[][] = []
  try {
    for await (const f of source) {
      frames.push([...f.subarray()])
    }
    return { frames }
  } catch (error: any) {
    return { frames, error }
  }
}

describe('wire/framing', () => {
  it('reads several messages, whatever the chunking', async () => {
    const bytes = new Uint8Array([...frame(new Uint8Array([1, 2])).subarray(), ...frame(new Uint8Array([3])).subarray(), ...frame(new Uint8Array(0)).subarray()])
    const chunks = [...bytes].map(b => new Uint8Array([b]))
    const { frames, error } = await collect(readFrames((async function * () { yield * chunks })(), { maxMessageSize: 10 }))
    expect(error).to.equal(undefined)
    expect(frames).to.deep.equal([[1, 2], [3], []])
  })

  it('refuses a length over the limit before reading the body', async () => {
    const source = pushable<Uint8Array>()
    source.push(varint.encode(11))
    const { error } = await collect(readFrames(source, { maxMessageSize: 10 }))
    expect(error?.name).to.equal('MessageTooLargeError')
  })

  it('a source that ends inside a message is an UnexpectedEndError', async () => {
    const { error } = await collect(readFrames((async function * () { yield new Uint8Array([5, 1, 2]) })(), { maxMessageSize: 10 }))
    expect(error?.name).to.equal('UnexpectedEndError')
  })

  it('a message whose body does not arrive in time is a TimeoutError', async () => {
    const source = pushable<Uint8Array>()
    source.push(new Uint8Array([4, 1]))
    const started = Date.now()
    const { error } = await collect(readFrames(source, { maxMessageSize: 10, messageTimeout: 50, idleTimeout: 10_000 }))
    expect(error?.name).to.equal('TimeoutError')
    expect(Date.now() - started).to.be.below(5_000)
  })

  it('an idle source ends the read quietly, after the messages it sent', async () => {
    const source = pushable<Uint8Array>()
    source.push(frame(new Uint8Array([9])).subarray())
    const { frames, error } = await collect(readFrames(source, { maxMessageSize: 10, messageTimeout: 10_000, idleTimeout: 50 }))
    expect(error).to.equal(undefined)
    expect(frames).to.deep.equal([[9]])
  })
})
