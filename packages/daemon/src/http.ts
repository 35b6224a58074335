/**
 * The API's HTTP server on 127.0.0.1: `POST /rpc` takes JSON-RPC 2.0 (one request or a batch),
 * `GET /` serves the status page, and `GET /metrics` the Prometheus metrics when the daemon
 * collects them. Every request but `/metrics` needs the bearer token: in the
 * `Authorization: Bearer <token>` header, or as `?token=` for the page. The metrics need none, as
 * a Prometheus scraper is set up most simply so; they hold counts, never a key, a value or a peer
 * id, and the port is reachable only from this host.
 *
 * A request that sends `Accept: application/x-ndjson` gets newline-delimited JSON: progress
 * notifications (`{"jsonrpc":"2.0","method":"progress","params":{"id":…,"type":…}}`) as the call
 * runs, then its response as the last line.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import { Dispatcher, ErrorCode } from './rpc.ts'
import { statusPage } from './status-page.ts'
import type { ProgressJson, RpcResponse } from './rpc.ts'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The largest request body read, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024

/** How long a client may take to send its request, in ms. */
export const REQUEST_TIMEOUT = 15_000

/** Progress lines held for a slow reader before newer ones are dropped, in bytes. */
const MAX_BUFFERED_PROGRESS = 256 * 1024

/** What the server needs. */
export interface ApiServerInit {
  dispatcher: Dispatcher
  token: string
  /** The TCP port on 127.0.0.1; 0 for any free one. */
  port: number
  /** Told about failures that are not a caller's fault. */
  log(message: string): void
  /** The metrics in Prometheus text format, when they are served. */
  metrics?(): Promise<{ contentType: string, text: string }>
}

/** The running server. */
export interface ApiServer {
  /** The port it listens on. */
  port: number
  /** `http://127.0.0.1:<port>`. */
  origin: string
  close(): Promise<void>
}

class HttpError extends Error {
  readonly status: number
  readonly code: number

  constructor (status: number, code: number, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

function sameToken (given: string | null | undefined, token: string): boolean {
  if (given == null) {
    return false
  }
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function bearer (req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  const match = header == null ? null : /^Bearer\s+(\S+)$/i.exec(header)
  return match?.[1]
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(413, ErrorCode.INVALID_REQUEST, `the request body is larger than ${MAX_BODY_BYTES} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store'
  })
  res.end(text)
}

function sendError (res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end()
    return
  }
  for (const [name, value] of Object.entries(headers)) {
    res.setHeader(name, value)
  }
  let name = 'InvalidRequest'
  if (status === 401) {
    name = 'Unauthorized'
  } else if (code === ErrorCode.PARSE_ERROR) {
    name = 'ParseError'
  }
  sendJson(res, status, { jsonrpc: '2.0', id: null, error: { code, message, data: { name } } } satisfies RpcResponse)
}

/** Answers `POST /rpc`: one request or a batch, or newline-delimited JSON with progress when asked for. */
async function answerRpc (dispatcher: Dispatcher, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = await readBody(req)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err: any) {
    sendError(res, 200, ErrorCode.PARSE_ERROR, `the body is not JSON: ${err.message}`)
    return
  }
  // the caller going away aborts its calls
  const gone = new AbortController()
  res.on('close', () => { gone.abort(new Error('the caller closed the connection')) })
  const streaming = Dispatcher.streamable(body) && (req.headers.accept ?? '').includes('application/x-ndjson')
  if (!streaming) {
    const answer = await dispatcher.handle(body, { signal: gone.signal })
    if (answer == null) {
      res.writeHead(204).end()
    } else {
      sendJson(res, 200, answer)
    }
    return
  }
  const id = (body as { id: unknown }).id
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' })
  const progress = (event: ProgressJson): void => {
    // a slow reader loses progress lines, never the query's pace
    if (res.writableLength < MAX_BUFFERED_PROGRESS && !res.writableEnded) {
      res.write(JSON.stringify({ jsonrpc: '2.0', method: 'progress', params: { id, ...event } }) + '\n')
    }
  }
  const answer = await dispatcher.handle(body, { signal: gone.signal, progress })
  res.end(JSON.stringify(answer) + '\n')
}

/** Answers `GET /`: the status page, for the holder of the token. */
function servePage (token: string, req: IncomingMessage, res: ServerResponse, url: URL): void {
  if (!sameToken(url.searchParams.get('token') ?? bearer(req), token)) {
    res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
    res.end('The status page needs the API token: run `kadmium page` for its address with the token.\n')
    return
  }
  const nonce = randomBytes(16).toString('base64')
  const html = statusPage(nonce)
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // everything is inline: nothing may load from anywhere else
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
  })
  res.end(html)
}

/** Sends each request to what answers it. */
async function route (init: ApiServerInit, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  if (url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
    servePage(init.token, req, res, url)
    return
  }
  if (url.pathname === '/metrics' && init.metrics != null && req.method === 'GET') {
    const { contentType, text } = await init.metrics()
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
    res.end(text)
    return
  }
  if (url.pathname !== '/rpc') {
    sendError(res, 404, ErrorCode.INVALID_REQUEST, `not found: the API is POST /rpc, the status page GET /${init.metrics == null ? ' (and GET /metrics with --metrics)' : ', the metrics GET /metrics'}`)
    return
  }
  if (req.method !== 'POST') {
    sendError(res, 405, ErrorCode.INVALID_REQUEST, 'the API takes POST requests', { allow: 'POST' })
    return
  }
  if (!sameToken(bearer(req), init.token)) {
    sendError(res, 401, ErrorCode.UNAUTHORIZED, 'missing or wrong API token: send "Authorization: Bearer <token>" (the token is in the data directory, in api-token)', { 'www-authenticate': 'Bearer' })
    return
  }
  await answerRpc(init.dispatcher, req, res)
}

/** Starts the API server; resolves once it listens. */
export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const server: Server = createServer((req, res) => {
    route(init, req, res).catch((err: any) => {
      if (res.destroyed || res.writableEnded) {
        // the caller went away mid-request: nobody to answer
        return
      }
      if (err instanceof HttpError) {
        sendError(res, err.status, err.code, err.message, { connection: 'close' })
        return
      }
      init.log(`API request failed: ${err?.stack ?? err}`)
      sendError(res, 500, ErrorCode.INTERNAL_ERROR, 'internal error')
    })
  })
  server.requestTimeout = REQUEST_TIMEOUT
  server.headersTimeout = REQUEST_TIMEOUT
  server.on('clientError', (err, socket) => {
    if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
    } else {
      socket.destroy(err)
    }
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    }
  }
}
