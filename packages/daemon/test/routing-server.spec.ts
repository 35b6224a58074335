/**
 * The daemon's routing listener in this process, over a routing whose lookups last until the test
 * ends them: who counts as one client, directly and behind a trusted reverse proxy.
 */
import { get } from 'node:http'
import { expect } from 'aegir/chai'
import { startRoutingListener } from '../src/routing-server.ts'
import { cidOf } from './records.ts'
import type { RoutingListener } from '../src/routing-server.ts'
import type { RoutingV1Routing } from 'kadmium/routing-v1'

/** A routing whose provider lookups find nothing and end only when `release` is called (or they are aborted). */
function heldRouting (): { routing: RoutingV1Routing, release(): void } {
  let release = (): void => {}
  const released = new Promise<void>(resolve => { release = resolve })
  const routing = {
    findProviders: async function * (_cid: unknown, options: { signal: AbortSignal }) {
      await Promise.race([released, new Promise(resolve => options.signal.addEventListener('abort', resolve, { once: true }))])
      // and finds no provider
      yield * []
    }
  } as unknown as RoutingV1Routing
  return { routing, release }
}

/** The status of a GET on a connection of its own, with `headers`. */
async function status (url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).once('error', reject)
  })
}

describe('daemon: the routing listener tells clients apart', function () {
  this.timeout(20_000)
  let listener: RoutingListener | undefined
  let held: ReturnType<typeof heldRouting>

  beforeEach(() => {
    held = heldRouting()
  })

  afterEach(async () => {
    held.release()
    await listener?.close()
  })

  it('by address: a header cannot make one address many clients', async () => {
    listener = await startRoutingListener({ routing: held.routing, port: 0, host: '127.0.0.1' })
    const server = listener.server
    const url = async (i: number): Promise<string> => `${listener?.url}/providers/${await cidOf(`direct ${i}`)}`
    const waiting = Array.from({ length: 16 }, async (_, i) => status(await url(i), { 'x-forwarded-for': `198.51.100.${i}` }))
    while (server.stats().inFlight < 16) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    expect(await status(await url(16), { 'x-forwarded-for': '198.51.100.99' })).to.equal(429)
    held.release()
    expect(await Promise.all(waiting)).to.deep.equal(Array(16).fill(200))
  })

  it('behind a trusted proxy: by the last X-Forwarded-For address, with no bound on the proxy\'s connections', async () => {
    listener = await startRoutingListener({ routing: held.routing, port: 0, host: '127.0.0.1', trustProxy: true })
    const server = listener.server
    const url = async (i: number): Promise<string> => `${listener?.url}/providers/${await cidOf(`proxied ${i}`)}`
    // one client behind the proxy, which appended its address last
    const waiting = Array.from({ length: 16 }, async (_, i) => status(await url(i), { 'x-forwarded-for': `192.0.2.7, 203.0.113.${i}, 198.51.100.1` }))
    while (server.stats().inFlight < 16) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    expect(await status(await url(16), { 'x-forwarded-for': '198.51.100.1' })).to.equal(429)
    // another client, and more than 32 connections from the proxy's one address, are served
    const others = Array.from({ length: 20 }, async (_, i) => status(await url(100 + i), { 'x-forwarded-for': `198.51.100.${2 + i}` }))
    while (server.stats().inFlight < 36) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    held.release()
    expect(await Promise.all([...waiting, ...others])).to.deep.equal(Array(36).fill(200))
  })
})
