/**
 * The command line's API client: finds the running daemon through `api.json` and its token in
 * the data directory, calls one method, and reads progress lines when it asks for them.
 */
import { request } from 'node:http'
import { readApiInfo, readToken } from './config.ts'
import type { ProgressJson, RpcResponse } from './rpc.ts'

/** An error the API answered with, or a failure to reach it. */
export class ApiError extends Error {
  readonly name = 'ApiError'
  /** The JSON-RPC error code; 0 when the daemon could not be reached. */
  readonly code: number
  readonly data?: Record<string, unknown>

  constructor (code: number, message: string, data?: Record<string, unknown>) {
    super(message)
    this.code = code
    this.data = data
  }
}

/** Options of one call. */
export interface CallOptions {
  /** Streams the call's progress events (newline-delimited JSON) to this function. */
  onProgress?(event: ProgressJson): void
  /** The call's timeout in ms, sent as the `timeout` param; the daemon's default otherwise. */
  timeout?: number
}

/** Extra time the client waits past the call's own timeout for the daemon's answer, in ms. */
const GRACE = 10_000

/** The daemon's default timeout of a call that goes to the network, in ms. */
const DEFAULT_TIMEOUT = 60_000

/** A client of one daemon's API. */
export class ApiClient {
  readonly url: string
  private readonly token: string
  private nextId: number

  constructor (url: string, token: string) {
    this.url = url
    this.token = token
    this.nextId = 1
  }

  /** The client of the daemon running on the data directory `dir`. */
  static async open (dir: string): Promise<ApiClient> {
    const [info, token] = await Promise.all([readApiInfo(dir), readToken(dir)])
    return new ApiClient(info.url, token)
  }

  /** The status page's address, with the token. */
  pageUrl (): string {
    return `${new URL('/', this.url).toString()}?token=${encodeURIComponent(this.token)}`
  }

  /** Calls `method`; resolves to its result, rejects with {@link ApiError}. */
  async call (method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<any> {
    const id = this.nextId++
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method,
      params: options.timeout == null ? params : { ...params, timeout: options.timeout }
    })
    const streaming = options.onProgress != null
    const wait = (options.timeout ?? DEFAULT_TIMEOUT) + GRACE
    const answer = await new Promise<RpcResponse>((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          accept: streaming ? 'application/x-ndjson' : 'application/json'
        },
        timeout: wait
      }, (res) => {
        res.setEncoding('utf8')
        let buffered = ''
        let last: RpcResponse | undefined
        const line = (text: string): void => {
          if (text.trim() === '') {
            return
          }
          let message: any
          try {
            message = JSON.parse(text)
          } catch {
            reject(new ApiError(0, `the daemon answered something that is not JSON (HTTP ${res.statusCode})`))
            return
          }
          if (message.method === 'progress' && message.params != null) {
            options.onProgress?.(message.params)
          } else {
            last = message
          }
        }
        res.on('data', (chunk: string) => {
          buffered += chunk
          let at: number
          while ((at = buffered.indexOf('\n')) >= 0) {
            line(buffered.slice(0, at))
            buffered = buffered.slice(at + 1)
          }
        })
        res.on('end', () => {
          line(buffered)
          if (last == null) {
            reject(new ApiError(0, `the daemon gave no answer (HTTP ${res.statusCode})`))
          } else {
            resolve(last)
          }
        })
        res.on('error', (err) => { reject(new ApiError(0, `the answer broke off: ${err.message}`)) })
      })
      req.on('timeout', () => { req.destroy(new Error(`no answer within ${wait} ms`)) })
      req.on('error', (err: any) => {
        reject(new ApiError(0, err.code === 'ECONNREFUSED'
          ? `the daemon is not running (nothing answers at ${this.url}); start it with \`kadmium daemon\``
          : `cannot reach the daemon at ${this.url}: ${err.message}`))
      })
      req.end(body)
    })
    if (answer.error != null) {
      throw new ApiError(answer.error.code, answer.error.message, answer.error.data)
    }
    return answer.result
  }
}
