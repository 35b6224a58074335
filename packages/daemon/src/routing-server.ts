/**
 * The daemon's public listener for the Delegated Routing V1 HTTP API (`kadmium/routing-v1`): a
 * `node:http` server of its own, apart from the token-guarded JSON-RPC API, that hands each
 * request to the fetch handler as a `Request` (with the caller's address as the client) and
 * writes its `Response` back, streaming. Each address may hold a bounded number of connections;
 * a request on a connection past that bound is answered 429 and the connection closed. Behind a
 * reverse proxy (`trustProxy`), the client is the address the proxy names last in
 * `X-Forwarded-For`, and the proxy's connections are not bounded per address.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import { Readable } from 'node:stream'
import { ROUTING_V1_PATH, RETRY_AFTER_CLIENT, RoutingV1Server } from 'kadmium/routing-v1'
import type { RoutingV1Init, RoutingV1Routing } from 'kadmium/routing-v1'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** Connections open at once, at most; Node closes further ones as they arrive. */
export const ROUTING_MAX_CONNECTIONS = 2_048

/**
 * Connections one address may hold open. A browser opens at most 6 to one origin over HTTP/1.1;
 * twice the per-client request bound leaves room for idle keep-alive connections.
 */
export const ROUTING_MAX_CONNECTIONS_PER_CLIENT = 32

/** The largest request head (request line and headers) read, in bytes. */
export const ROUTING_MAX_HEADER_BYTES = 8 * 1024

/** How long a client may take to send its whole request, in ms (an answer may take longer). */
export const ROUTING_REQUEST_TIMEOUT = 10_000

/** What the listener needs. */
export interface RoutingListenerInit extends RoutingV1Init {
  /** The routing it serves: the daemon's DHT. */
  routing: RoutingV1Routing
  /** The TCP port; 0 for any free one. */
  port: number
  /** The host to listen on. */
  host: string
  /**
   * Whether a reverse proxy forwards every request: the client is then the last address of
   * `X-Forwarded-For` (the one the proxy saw), and connections are not bounded per address.
   */
  trustProxy?: boolean
}

/** The running listener. */
export interface RoutingListener {
  /** The handler it serves (for its counters). */
  server: RoutingV1Server
  /** The port it listens on. */
  port: number
  /** Where the API is: `http://<host>:<port>/routing/v1`. */
  url: string
  close(): Promise<void>
}

/** A socket, with whether it is past its address's bound of connections. */
interface CountedSocket extends Socket {
  /** Whether it is past its address's bound: its requests are answered 429. */
  over?: boolean
}

/** Who sent a request: the socket's address, or behind a trusted proxy the last `X-Forwarded-For` entry. */
function clientOf (req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = req.headersDistinct['x-forwarded-for']?.join(',').split(',').pop()?.trim()
    if (forwarded != null && forwarded !== '') {
      return forwarded
    }
  }
  return req.socket.remoteAddress
}

/** The request as the Fetch API's `Request`: its body streamed, its signal aborted when the caller goes away. */
function toRequest (req: IncomingMessage, origin: string, signal: AbortSignal): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headersDistinct)) {
    for (const one of value ?? []) {
      headers.append(name, one)
    }
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS'
  return new Request(new URL(req.url ?? '/', origin), {
    method: req.method,
    headers,
    signal,
    body: hasBody ? Readable.toWeb(req) as ReadableStream<Uint8Array> : undefined,
    // @ts-expect-error Node's fetch needs to be told that a streamed body is sent whole before the answer
    duplex: hasBody ? 'half' : undefined
  })
}

/** Writes `response` to `res`, streaming its body with backpressure; stops if the caller goes away. */
async function writeResponse (response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers))
  if (response.body == null) {
    res.end()
    return
  }
  const reader = response.body.getReader()
  try {
    while (true) {
      const { done, value } = await reader.read()
      if (done) {
        break
      }
      if (res.destroyed) {
        return
      }
      if (!res.write(value)) {
        await Promise.race([once(res, 'drain'), once(res, 'close')])
      }
    }
    res.end()
  } finally {
    // when the caller left mid-stream, this ends the lookup's reading
    await reader.cancel().catch(() => {})
  }
}

/** Answers a request on a connection past its address's bound, and closes the connection. */
function refuse (res: ServerResponse): void {
  res.writeHead(429, {
    'access-control-allow-origin': '*',
    'retry-after': String(RETRY_AFTER_CLIENT),
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close'
  })
  res.end(`too many connections from one address: at most ${ROUTING_MAX_CONNECTIONS_PER_CLIENT}\n`)
}

/** Starts the listener; resolves once it listens. */
export async function startRoutingListener (init: RoutingListenerInit): Promise<RoutingListener> {
  const routing = new RoutingV1Server(init.routing, init)
  const trustProxy = init.trustProxy === true
  const perClient = new Map<string, number>()
  let origin = ''

  const server: Server = createServer({ maxHeaderSize: ROUTING_MAX_HEADER_BYTES }, (req, res) => {
    const socket = req.socket as CountedSocket
    if (socket.over === true) {
      refuse(res)
      return
    }
    const gone = new AbortController()
    res.on('close', () => { gone.abort(new Error('the caller closed the connection')) })
    void (async () => {
      const response = await routing.fetch(toRequest(req, origin, gone.signal), { client: clientOf(req, trustProxy) })
      await writeResponse(response, res)
    })().catch((err: any) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'access-control-allow-origin': '*', 'content-type': 'text/plain; charset=utf-8' })
      }
      res.end(`internal error: ${err?.message ?? err}\n`)
    })
  })
  server.maxConnections = ROUTING_MAX_CONNECTIONS
  server.requestTimeout = ROUTING_REQUEST_TIMEOUT
  server.headersTimeout = ROUTING_REQUEST_TIMEOUT
  server.on('connection', (socket: CountedSocket) => {
    const client = socket.remoteAddress
    if (client == null || trustProxy) {
      return
    }
    const count = (perClient.get(client) ?? 0) + 1
    perClient.set(client, count)
    socket.over = count > ROUTING_MAX_CONNECTIONS_PER_CLIENT
    socket.once('close', () => {
      const left = (perClient.get(client) ?? 1) - 1
      if (left === 0) {
        perClient.delete(client)
      } else {
        perClient.set(client, left)
      }
    })
  })
  server.on('clientError', (err, socket) => {
    if (socket.writable) {
      const status = (err as any).code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
      socket.end(`HTTP/1.1 ${status}\r\naccess-control-allow-origin: *\r\nconnection: close\r\n\r\n`)
    } else {
      socket.destroy(err)
    }
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  origin = `http://${host}:${address.port}`
  return {
    server: routing,
    port: address.port,
    url: `${origin}${ROUTING_V1_PATH}`,
    close: async () => {
      await new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    }
  }
}
