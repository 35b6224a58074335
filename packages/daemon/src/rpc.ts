/**
 * JSON-RPC 2.0 without the transport: checking requests, calling methods under a deadline,
 * batches, and turning kadmium's errors into JSON-RPC error codes.
 *
 * Error codes: JSON-RPC's own (-32700 parse error, -32600 invalid request, -32601 method not
 * found, -32602 invalid params, -32603 internal error) and kadmium's, in the range JSON-RPC
 * leaves to servers (see {@link ErrorCode}). Every error carries `data.name`, the name of the
 * error behind it.
 */
import { TimeoutError } from 'kadmium'
import { INVALID_PARAMS, Params, RpcError } from './params.ts'

/** Every error code the API answers with. */
export const ErrorCode = {
  /** The body is not JSON. */
  PARSE_ERROR: -32700,
  /** Not a JSON-RPC 2.0 request object (or an empty or too large batch). */
  INVALID_REQUEST: -32600,
  /** No such method. */
  METHOD_NOT_FOUND: -32601,
  /** Params missing, of the wrong type, unknown, or not a peer id, CID or multiaddr. */
  INVALID_PARAMS,
  /** A failure of the daemon itself. */
  INTERNAL_ERROR: -32603,
  /** Any other failure (a peer that cannot be dialled, say); `data.name` tells which. */
  SERVER_ERROR: -32000,
  /** Nothing was found: no record under the key, no such peer (NotFoundError). */
  NOT_FOUND: -32001,
  /** A record key without a `/namespace/`, or too long (InvalidKeyError). */
  INVALID_KEY: -32002,
  /** A record key in a namespace no validator is registered for (UnknownNamespaceError). */
  UNKNOWN_NAMESPACE: -32003,
  /** The namespace's validator refused the value, or it is too large (InvalidRecordError). */
  INVALID_RECORD: -32004,
  /** A better record is already stored under the key (StaleRecordError). */
  STALE_RECORD: -32005,
  /** No peer stored the record or was told about the provider (NotStoredError). */
  NOT_STORED: -32006,
  /** The call did not end within its timeout (TimeoutError). */
  TIMEOUT: -32007,
  /** No bearer token, or a wrong one (answered with HTTP 401). */
  UNAUTHORIZED: -32008,
  /** A store is full and refuses new entries (StoreFullError). */
  STORE_FULL: -32009,
  /** Too many calls are running; try again later. */
  BUSY: -32010
} as const

const BY_NAME: Record<string, number> = {
  NotFoundError: ErrorCode.NOT_FOUND,
  InvalidKeyError: ErrorCode.INVALID_KEY,
  UnknownNamespaceError: ErrorCode.UNKNOWN_NAMESPACE,
  InvalidRecordError: ErrorCode.INVALID_RECORD,
  StaleRecordError: ErrorCode.STALE_RECORD,
  NotStoredError: ErrorCode.NOT_STORED,
  TimeoutError: ErrorCode.TIMEOUT,
  StoreFullError: ErrorCode.STORE_FULL,
  InvalidParametersError: ErrorCode.INVALID_PARAMS
}

/** A progress notification of a running call, as JSON. */
export interface ProgressJson {
  type: string
  [detail: string]: unknown
}

/** What a method gets besides its params. */
export interface CallContext {
  /** Aborts at the call's deadline or when the caller goes away. */
  signal: AbortSignal
  /** Reports progress to a caller that streams it (a no-op otherwise). */
  progress(event: ProgressJson): void
}

/** A method: reads its params (through {@link Params}) and resolves to a JSON-able result. */
export interface Method {
  run(params: Params, context: CallContext): Promise<unknown>
  /** Whether it goes to the network (a longer default timeout). */
  network: boolean
}

/** A JSON-RPC response object. */
export interface RpcResponse {
  jsonrpc: '2.0'
  id: string | number | null
  result?: unknown
  error?: { code: number, message: string, data?: Record<string, unknown> }
}

/** Limits of a {@link Dispatcher}. */
export interface DispatcherInit {
  /** The default timeout of a call that goes to the network, in ms. */
  networkTimeout?: number
  /** The default timeout of a local call, in ms. */
  localTimeout?: number
  /** The longest timeout a call may ask for, in ms. */
  maxTimeout?: number
  /** Calls running at once; more are refused with BUSY. */
  maxInFlight?: number
  /** Requests in one batch. */
  maxBatch?: number
}

/** Turns any thrown value into a JSON-RPC error object. */
export function toRpcError (err: any): Required<Pick<RpcResponse, 'error'>>['error'] {
  if (err instanceof RpcError) {
    return { code: err.code, message: err.message, data: { name: err.name, ...err.data } }
  }
  const name = typeof err?.name === 'string' ? err.name : 'Error'
  const message = typeof err?.message === 'string' && err.message !== '' ? err.message : String(err)
  return { code: BY_NAME[name] ?? ErrorCode.SERVER_ERROR, message, data: { name } }
}

function response (id: RpcResponse['id'], error: RpcResponse['error']): RpcResponse {
  return { jsonrpc: '2.0', id, error }
}

function validId (id: unknown): id is string | number | null {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

/**
 * Calls methods by name under a deadline, one request or a batch at a time.
 *
 * @example
 * ```ts
 * const rpc = new Dispatcher({ echo: { network: false, run: async (p) => p.string('text') } })
 * await rpc.handle(JSON.parse(body), { signal })   // a response, an array of them, or undefined
 * ```
 */
export class Dispatcher {
  private readonly methods: Map<string, Method>
  private readonly networkTimeout: number
  private readonly localTimeout: number
  private readonly maxTimeout: number
  private readonly maxInFlight: number
  private readonly maxBatch: number
  private inFlight: number

  constructor (methods: Record<string, Method>, init: DispatcherInit = {}) {
    this.methods = new Map(Object.entries(methods))
    this.networkTimeout = init.networkTimeout ?? 60_000
    this.localTimeout = init.localTimeout ?? 10_000
    this.maxTimeout = init.maxTimeout ?? 600_000
    this.maxInFlight = init.maxInFlight ?? 64
    this.maxBatch = init.maxBatch ?? 32
    this.inFlight = 0
  }

  /** The method names. */
  get names (): string[] {
    return [...this.methods.keys()]
  }

  /** Whether `body` is one request (not a batch) that expects an answer: one that may stream. */
  static streamable (body: unknown): boolean {
    return body != null && typeof body === 'object' && !Array.isArray(body) && (body as any).id !== undefined
  }

  /**
   * Answers a parsed body: a response for a request, an array for a batch, undefined when
   * everything was a notification (a request without `id`).
   */
  async handle (body: unknown, options: { signal: AbortSignal, progress?(event: ProgressJson): void }): Promise<RpcResponse | RpcResponse[] | undefined> {
    if (!Array.isArray(body)) {
      return this.call(body, options)
    }
    if (body.length === 0 || body.length > this.maxBatch) {
      return response(null, { code: ErrorCode.INVALID_REQUEST, message: `a batch holds 1 to ${this.maxBatch} requests`, data: { name: 'InvalidRequest' } })
    }
    const answers = await Promise.all(body.map(async request => this.call(request, { signal: options.signal })))
    const out = answers.filter((a): a is RpcResponse => a != null)
    return out.length > 0 ? out : undefined
  }

  /** Answers one request; undefined for a notification. */
  async call (request: unknown, options: { signal: AbortSignal, progress?(event: ProgressJson): void }): Promise<RpcResponse | undefined> {
    if (request == null || typeof request !== 'object' || Array.isArray(request)) {
      return response(null, { code: ErrorCode.INVALID_REQUEST, message: 'a request must be a JSON object', data: { name: 'InvalidRequest' } })
    }
    const { jsonrpc, method, params, id } = request as Record<string, unknown>
    const notification = id === undefined
    if (!notification && !validId(id)) {
      return response(null, { code: ErrorCode.INVALID_REQUEST, message: '"id" must be a string, a number or null', data: { name: 'InvalidRequest' } })
    }
    const answerId = (id ?? null) as RpcResponse['id']
    const answer = async (): Promise<RpcResponse> => {
      if (jsonrpc !== '2.0') {
        return response(answerId, { code: ErrorCode.INVALID_REQUEST, message: '"jsonrpc" must be "2.0"', data: { name: 'InvalidRequest' } })
      }
      if (typeof method !== 'string') {
        return response(answerId, { code: ErrorCode.INVALID_REQUEST, message: '"method" must be a string', data: { name: 'InvalidRequest' } })
      }
      const spec = this.methods.get(method)
      if (spec == null) {
        return response(answerId, { code: ErrorCode.METHOD_NOT_FOUND, message: `no method "${method}" (methods: ${this.names.join(', ')})`, data: { name: 'MethodNotFound' } })
      }
      if (this.inFlight >= this.maxInFlight) {
        return response(answerId, { code: ErrorCode.BUSY, message: `${this.inFlight} calls are running: try again later`, data: { name: 'Busy' } })
      }
      this.inFlight++
      try {
        return { jsonrpc: '2.0', id: answerId, result: await this.run(spec, params, options) }
      } catch (err) {
        return response(answerId, toRpcError(err))
      } finally {
        this.inFlight--
      }
    }
    const out = await answer()
    return notification ? undefined : out
  }

  private async run (spec: Method, rawParams: unknown, options: { signal: AbortSignal, progress?(event: ProgressJson): void }): Promise<unknown> {
    const params = new Params(rawParams)
    const timeout = params.integer('timeout', 1, this.maxTimeout) ?? (spec.network ? this.networkTimeout : this.localTimeout)
    const timer = new AbortController()
    const expiry = setTimeout(() => { timer.abort(new TimeoutError(`the call took more than ${timeout} ms`)) }, timeout)
    const call = { signal: AbortSignal.any([options.signal, timer.signal]) }
    try {
      const running = spec.run(params, { signal: call.signal, progress: options.progress ?? (() => {}) })
      // a method that ignores its signal still gets an answer at the deadline
      running.catch(() => {})
      const stopped = new Promise<never>((resolve, reject) => {
        const fail = (): void => { reject(call.signal.reason) }
        if (call.signal.aborted) {
          fail()
        }
        call.signal.addEventListener('abort', fail, { once: true })
        void running.finally(() => { call.signal.removeEventListener('abort', fail) }).catch(() => {})
      })
      stopped.catch(() => {})
      return await Promise.race([running, stopped])
    } catch (err: any) {
      // what an operation throws after our deadline is the deadline's doing
      throw call.signal.aborted ? call.signal.reason : err
    } finally {
      clearTimeout(expiry)
    }
  }
}
