/**
 * The daemon's pieces that need no process: the JSON-RPC dispatcher, params, the config and the
 * /kadmium/ namespace.
 */
import { expect } from 'aegir/chai'
import { NotFoundError } from 'kadmium'
import { AMINO_BOOTSTRAP } from '../src/bootstrap.ts'
import { ConfigError, checkConfig, mergeConfig } from '../src/config.ts'
import { kadmiumValidator } from '../src/namespace.ts'
import { decodeBytes, displayKey, encodeBytes } from '../src/params.ts'
import { QueryLog } from '../src/queries.ts'
import { Dispatcher, ErrorCode, toRpcError } from '../src/rpc.ts'
import type { Method } from '../src/rpc.ts'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('daemon: JSON-RPC dispatcher', () => {
  const never = new AbortController().signal
  const methods: Record<string, Method> = {
    echo: {
      network: false,
      run: async (params) => {
        const text = params.string('text')
        params.done()
        return { text }
      }
    },
    hang: { network: true, run: async () => new Promise(() => {}) },
    missing: { network: false, run: async () => { throw new NotFoundError('nothing here') } },
    chatty: {
      network: true,
      run: async (params, context) => {
        params.done()
        context.progress({ type: 'kadmium:lookup:ask', peer: 'x' })
        return 'done'
      }
    }
  }

  it('answers a request, and refuses bad ones with the standard codes', async () => {
    const rpc = new Dispatcher(methods)
    expect(await rpc.handle({ jsonrpc: '2.0', id: 7, method: 'echo', params: { text: 'hi' } }, { signal: never }))
      .to.deep.equal({ jsonrpc: '2.0', id: 7, result: { text: 'hi' } })
    const code = async (body: unknown): Promise<number | undefined> => ((await rpc.handle(body, { signal: never })) as any).error?.code
    expect(await code({ jsonrpc: '2.0', id: 1, method: 'nope' })).to.equal(ErrorCode.METHOD_NOT_FOUND)
    expect(await code({ jsonrpc: '2.0', id: 1, method: 'toString' })).to.equal(ErrorCode.METHOD_NOT_FOUND)
    expect(await code({ jsonrpc: '2.0', id: 1, method: 'echo' })).to.equal(ErrorCode.INVALID_PARAMS)
    expect(await code({ jsonrpc: '2.0', id: 1, method: 'echo', params: { text: 'x', extra: 1 } })).to.equal(ErrorCode.INVALID_PARAMS)
    expect(await code({ jsonrpc: '2.0', id: 1, method: 'echo', params: { text: 'x', timeout: -1 } })).to.equal(ErrorCode.INVALID_PARAMS)
    expect(await code({ jsonrpc: '2.0', id: {}, method: 'echo' })).to.equal(ErrorCode.INVALID_REQUEST)
    expect(await code({ id: 1, method: 'echo' })).to.equal(ErrorCode.INVALID_REQUEST)
    expect(await code(null)).to.equal(ErrorCode.INVALID_REQUEST)
    expect(await code([])).to.equal(ErrorCode.INVALID_REQUEST)
    expect(await code({ jsonrpc: '2.0', id: 1, method: 'missing' })).to.equal(ErrorCode.NOT_FOUND)
  })

  it('ends a call that hangs at its timeout, and one whose caller went away', async () => {
    const rpc = new Dispatcher(methods)
    const started = Date.now()
    const answer: any = await rpc.handle({ jsonrpc: '2.0', id: 1, method: 'hang', params: { timeout: 50 } }, { signal: never })
    expect(answer.error).to.include({ code: ErrorCode.TIMEOUT })
    expect(answer.error.data.name).to.equal('TimeoutError')
    expect(Date.now() - started).to.be.below(1_000)
    const gone = new AbortController()
    const pending = rpc.handle({ jsonrpc: '2.0', id: 2, method: 'hang' }, { signal: gone.signal })
    gone.abort(new Error('gone'))
    expect(((await pending) as any).error.message).to.equal('gone')
  })

  it('refuses calls past the in-flight limit', async () => {
    const rpc = new Dispatcher(methods, { maxInFlight: 1 })
    const gone = new AbortController()
    const first = rpc.handle({ jsonrpc: '2.0', id: 1, method: 'hang' }, { signal: gone.signal })
    expect(((await rpc.handle({ jsonrpc: '2.0', id: 2, method: 'echo', params: { text: 'x' } }, { signal: never })) as any).error.code).to.equal(ErrorCode.BUSY)
    gone.abort()
    await first
    expect(((await rpc.handle({ jsonrpc: '2.0', id: 3, method: 'echo', params: { text: 'x' } }, { signal: never })) as any).result).to.deep.equal({ text: 'x' })
  })

  it('answers batches request by request, and notifications not at all', async () => {
    const rpc = new Dispatcher(methods)
    const answers = await rpc.handle([
      { jsonrpc: '2.0', id: 'a', method: 'echo', params: { text: 'one' } },
      { jsonrpc: '2.0', method: 'echo', params: { text: 'notified' } },
      42
    ], { signal: never }) as any[]
    expect(answers).to.have.length(2)
    expect(answers[0]).to.deep.equal({ jsonrpc: '2.0', id: 'a', result: { text: 'one' } })
    expect(answers[1].error.code).to.equal(ErrorCode.INVALID_REQUEST)
    expect(await rpc.handle({ jsonrpc: '2.0', method: 'echo', params: { text: 'x' } }, { signal: never })).to.equal(undefined)
    expect(Dispatcher.streamable({ id: 1 })).to.equal(true)
    expect(Dispatcher.streamable([{ id: 1 }])).to.equal(false)
  })

  it('passes progress on to a streaming caller', async () => {
    const rpc = new Dispatcher(methods)
    const seen: unknown[] = []
    await rpc.handle({ jsonrpc: '2.0', id: 1, method: 'chatty' }, { signal: never, progress: (e) => seen.push(e) })
    expect(seen).to.deep.equal([{ type: 'kadmium:lookup:ask', peer: 'x' }])
  })

  it('maps kadmium error names to codes', () => {
    for (const [name, code] of Object.entries({
      InvalidKeyError: ErrorCode.INVALID_KEY,
      UnknownNamespaceError: ErrorCode.UNKNOWN_NAMESPACE,
      InvalidRecordError: ErrorCode.INVALID_RECORD,
      StaleRecordError: ErrorCode.STALE_RECORD,
      NotStoredError: ErrorCode.NOT_STORED,
      TimeoutError: ErrorCode.TIMEOUT,
      StoreFullError: ErrorCode.STORE_FULL,
      DialError: ErrorCode.SERVER_ERROR
    })) {
      const err = Object.assign(new Error('x'), { name })
      expect(toRpcError(err)).to.deep.equal({ code, message: 'x', data: { name } })
    }
  })
})

describe('daemon: params, config, namespace and query log', () => {
  it('reads bytes as text or strict base64, and shows them back', () => {
    expect(decodeBytes('aGk=', 'base64', 'v')).to.deep.equal(bytes('hi'))
    expect(() => decodeBytes('aGk', 'base64', 'v')).to.throw().with.property('code', ErrorCode.INVALID_PARAMS)
    expect(encodeBytes(bytes('héllo'), 'utf8')).to.deep.equal({ text: 'héllo', encoding: 'utf8' })
    expect(encodeBytes(new Uint8Array([0xff, 0xfe]), 'utf8')).to.deep.equal({ text: '//4=', encoding: 'base64' })
    expect(displayKey(bytes('/kadmium/hello'))).to.equal('/kadmium/hello')
    expect(displayKey(new Uint8Array([...bytes('/ipns/'), 0, 36]))).to.match(/^\/ipns\/[1-9A-Za-z]+$/)
  })

  it('checks config settings and puts options over the file over the defaults', () => {
    expect(() => checkConfig({ lsiten: [] }, 'config.json')).to.throw(ConfigError, /unknown setting "lsiten"/)
    expect(() => checkConfig({ listen: ['not an address'] }, 'config.json')).to.throw(ConfigError, /"listen"/)
    expect(() => checkConfig({ apiPort: 70000 }, 'config.json')).to.throw(ConfigError, /"apiPort"/)
    expect(() => checkConfig({ routingPort: -1 }, 'config.json')).to.throw(ConfigError, /"routingPort"/)
    expect(() => checkConfig({ routingListen: 'http://0.0.0.0/' }, 'config.json')).to.throw(ConfigError, /"routingListen"/)
    expect(() => checkConfig([], 'config.json')).to.throw(ConfigError)
    const file = checkConfig({ protocol: '/lan/kad/1.0.0', apiPort: 6000, randomWalk: true }, 'config.json')
    const config = mergeConfig(file, checkConfig({ apiPort: 0, mode: undefined }, 'options'))
    expect(config).to.deep.equal({
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1'],
      announce: [],
      bootstrap: [],
      protocol: '/lan/kad/1.0.0',
      mode: 'server',
      addresses: undefined,
      randomWalk: true,
      accelerated: false,
      apiPort: 0,
      metrics: false,
      routingPort: 5102,
      routingListen: '127.0.0.1',
      routingTrustProxy: false
    })
  })

  it('takes a bootstrap profile for multiaddrs, and connection limits', () => {
    expect(() => checkConfig({ bootstrap: ['amnio'] }, 'config.json')).to.throw(ConfigError, /"bootstrap"/)
    expect(() => checkConfig({ maxConnections: 0 }, 'config.json')).to.throw(ConfigError, /"maxConnections" must be a positive integer/)
    const peer = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8'
    const config = mergeConfig(checkConfig({ bootstrap: ['amino', peer], maxConnections: 50 }, 'config.json'), checkConfig({ dialTimeout: 5000 }, 'options'))
    expect(config.bootstrap).to.deep.equal([...AMINO_BOOTSTRAP, peer])
    expect(config.bootstrap.filter(a => a.startsWith('/dnsaddr/'))).to.have.length(5)
    expect(config).to.include({ maxConnections: 50, dialTimeout: 5000 })
    expect(config).to.not.have.property('maxParallelDials')
  })

  it('/kadmium/ prefers the value that sorts last', () => {
    const key = bytes('/kadmium/k')
    expect(kadmiumValidator.select(key, [bytes('2025-01-01 a'), bytes('2025-02-01 b'), bytes('2024-12-31 c')])).to.equal(1)
    expect(kadmiumValidator.select(key, [bytes('ab'), bytes('abc')])).to.equal(1)
    expect(kadmiumValidator.select(key, [bytes('same'), bytes('same')])).to.equal(0)
  })

  it('keeps the last queries, newest first', () => {
    const log = new QueryLog(3)
    for (let i = 0; i < 5; i++) {
      const tally = log.start('get', `/kadmium/${i}`)
      tally.count('kadmium:lookup:ask')
      tally.count('kadmium:lookup:ask')
      tally.count('kadmium:lookup:fail')
      tally.end(i === 4 ? new NotFoundError('no') : undefined)
    }
    const running = log.start('put', 'x'.repeat(100))
    const list = log.list()
    expect(list).to.have.length(3)
    expect(list[0]).to.include({ method: 'put', outcome: 'running' })
    expect(list[0].target.length).to.be.below(100)
    expect(list[1]).to.include({ target: '/kadmium/4', asked: 2, failed: 1, outcome: 'NotFoundError' })
    expect(list.map(q => q.target).slice(1)).to.deep.equal(['/kadmium/4', '/kadmium/3'])
    expect(log.list(10).map(q => q.target).slice(1)).to.deep.equal(['/kadmium/4', '/kadmium/3', '/kadmium/2'])
    running.end()
  })
})
