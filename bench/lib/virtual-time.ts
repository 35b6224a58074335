/**
 * Virtual time for a whole process, the way the Shadow simulator runs real programs: every
 * source of time the libp2p stack reads goes through one clock, and the clock moves only when
 * the process has nothing left to run. Then the emulated network's round trips (timers of the
 * WAN transport) are the only thing time is made of: CPU load cannot turn into latency, and the
 * same seed gives the same times on any machine.
 *
 * What {@link installVirtualTime} replaces, before any module of the stack is loaded (it runs
 * from `node --import`, see bench/lib/virtual-install.ts):
 * - `setTimeout`, `setInterval` and their clears (the globals, `node:timers`,
 * `node:timers/promises` and `util.promisify(setTimeout)`): one heap of timers ordered by due
 * time, then by the order they were set (bench/lib/timer-heap.ts), so that timers of the same
 * duration keep their order, as the WAN transport's chunks must. Delays are Node's: a delay
 * under 1 ms (or not a number) is 1 ms, and fractions round up to whole ms, as libuv's do;
 * - `Date` (a constructor over the real one: `new Date()`, `Date.now()`; libp2p's rate limiter
 * and `@libp2p/kad-dht` do arithmetic on `new Date()`), `performance.now`, `process.hrtime`;
 * - `AbortSignal.timeout`, whose own implementation uses Node's internal timers, not the global
 * ones (libp2p calls it in the dialler, the upgrader, the registrar and the connection manager);
 * - randomness, seeded: `Math.random`, `crypto.getRandomValues`, `node:crypto`'s `randomBytes`,
 * `randomFill(Sync)`, `randomInt`, `randomUUID`, and X25519/Ed25519 key generation (noise's
 * ephemeral keys): libp2p's registrar and upgrader, `@libp2p/kad-dht`'s query manager, kadmium's refresher and
 * trial hashing steer on them.
 *
 * What stays real: `setImmediate`, `process.nextTick` and microtasks (they take no time).
 *
 * The driver runs on the real `setImmediate`: it fires one timer at a time, and only when no
 * immediate is pending, no request is pending in libuv (fs, dns, writes) and no call that runs on
 * the thread pool (webcrypto, `pbkdf2`, `scrypt`, `hkdf`, async key generation) is in flight;
 * those are invisible to `process.getActiveResourcesInfo()`, so they are counted by wrapping
 * them. The stack as the benchmark uses it makes none (the report says how many there were).
 *
 * What cannot be replaced, and is documented rather than handled (docs/benchmarks.md): a module
 * that keeps a reference to a real timer function taken before the install (none can: the
 * install runs first), Node's internal timers (sockets' timeouts, `http`; the memory transport
 * uses none), `monitorEventLoopDelay` (real, and meaningless here), unref'd immediates (not
 * seen as pending), and callbacks whose time depends on the garbage collector
 * (`FinalizationRegistry`; the stack has none). test/bench/virtual-time.spec.ts fails if a real
 * timer or a thread-pool call appears while a small network runs.
 */
import { createHook } from 'node:async_hooks'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { promisify } from 'node:util'
import { Random } from './random.ts'
import { TimerHeap } from './timer-heap.ts'
import type { HeapEntry } from './timer-heap.ts'

/** The environment variable that carries the seed to bench/lib/virtual-install.ts. */
export const SEED_VARIABLE = 'KADMIUM_VIRTUAL_SEED'

/** Set (to anything) to watch for escapes too (bench/lib/virtual-install.ts; slower: async hooks). */
export const ESCAPES_VARIABLE = 'KADMIUM_VIRTUAL_ESCAPES'

/** Async resources whose callbacks take no time: everything else that calls back is real work. */
const TIMELESS_RESOURCES = new Set(['PROMISE', 'Immediate', 'TickObject', 'Microtask'])

/** The wall-clock date at virtual time 0: fixed, so that dates (records' timeReceived) repeat too. */
export const VIRTUAL_EPOCH = Date.UTC(2026, 0, 1)

/** Node's largest timer delay; a larger one is 1 ms, as in Node. */
const TIMEOUT_MAX = 2 ** 31 - 1

/** libuv requests: while one is pending, the driver waits (its completion is work to run now). */
const WAITED_RESOURCES = new Set(['Immediate', 'FSReqCallback', 'FSReqPromise', 'GetAddrInfoReqWrap', 'GetNameInfoReqWrap', 'QueryReqWrap', 'WriteWrap', 'ShutdownWrap', 'ConnectWrap'])

const realPerformanceNow = performance.now.bind(performance)
const realSetImmediate = setImmediate
const RealDate = Date

/** Real monotonic milliseconds, whether virtual time is installed or not (for progress and deadlines). */
export function realNow (): number {
  return realPerformanceNow()
}

type Callback = (...args: any[]) => void

/** A timer, with the methods of Node's `Timeout`. */
class VirtualTimer implements HeapEntry {
  at = 0
  seq = 0
  index = -1
  cleared = false
  private refed = true
  private readonly time: VirtualTime
  readonly callback: Callback
  readonly args: unknown[]
  readonly delay: number
  readonly repeat: boolean

  constructor (time: VirtualTime, callback: Callback, delay: number, args: unknown[], repeat: boolean) {
    this.time = time
    this.callback = callback
    this.delay = delay
    this.args = args
    this.repeat = repeat
  }

  ref (): this { this.refed = true; return this }
  unref (): this { this.refed = false; return this }
  hasRef (): boolean { return this.refed }
  /** Sets it again for its delay from now (also after it fired, as Node does; not after a clear). */
  refresh (): this {
    if (!this.cleared) {
      this.time.arm(this)
    }
    return this
  }

  close (): this { this.time.clear(this); return this }
  [Symbol.toPrimitive] (): number { return this.time.idOf(this) }
  [Symbol.dispose] (): void { this.close() }
}

/** What ran on the virtual clock, to compare runs and to find escapes. */
export interface VirtualTimeStats {
  /** Virtual ms since the start. */
  now: number
  /** Timers fired. */
  fired: number
  /** Timers waiting. */
  pending: number
  /** A hash of the due time of every timer fired, in order: equal in two runs that did the same. */
  hash: string
  /** Times the driver waited for real work (an immediate, a libuv request, the thread pool). */
  waits: number
  /** Calls that ran on the thread pool (webcrypto, pbkdf2…): the driver waited for each. */
  threadPoolCalls: number
  /** Their names, once each. */
  threadPoolNames: string[]
  /** Real (ref'd) timers seen pending by the driver: an escape when not 0. */
  realTimersSeen: number
  /** What the escape watcher saw, when it was on (see {@link VirtualTime.watchEscapes}). */
  escapes?: Escapes
}

/**
 * Work that ran outside virtual time while the escape watcher was on: real timers made (by
 * anything: Node's internals, a module holding the real setTimeout), and callbacks of real work
 * (the thread pool, libuv requests, sockets) by async resource type. Crypto jobs that Node runs
 * synchronously (ed25519 signatures, x25519) make resources too but never call back, so they are
 * not counted.
 */
export interface Escapes {
  realTimers: number
  /** Where the first real timer was made. */
  firstRealTimer?: string
  callbacks: Record<string, number>
  /** `WeakRef`s and `FinalizationRegistry`s made outside Node's internals: what they see depends on the garbage collector. */
  weakRefs: number
  finalizationRegistries: number
}

/**
 * The process's virtual clock: timers, dates, randomness, and the driver that moves time. One
 * clock with timers at a time per process: two would each see the other's driver as pending
 * work and wait for ever.
 */
export class VirtualTime {
  /** Virtual ms since the start. */
  now = 0
  private readonly heap = new TimerHeap<VirtualTimer>()
  private fired = 0
  private hash = 0x811c9dc5
  private driving = false
  private waits = 0
  private realTimersSeen = 0
  private readonly ids = new Map<number, VirtualTimer>()
  private readonly idsOf = new WeakMap<VirtualTimer, number>()
  private nextId = 1
  private inFlight = 0
  private threadPoolCalls = 0
  private readonly threadPoolNames = new Set<string>()
  private escapes?: Escapes
  /** Math.random's generator and the bytes' generator, both from the seed. */
  readonly random: Random
  readonly bytes: Random

  constructor (seed: number) {
    this.random = new Random(seed * 7_919 + 101)
    this.bytes = new Random(seed * 7_919 + 103)
  }

  /** `Date.now()` in virtual time. */
  dateNow (): number {
    return VIRTUAL_EPOCH + Math.floor(this.now)
  }

  readonly setTimeout = (callback: Callback, delay?: number, ...args: unknown[]): VirtualTimer => this.add(callback, delay, args, false)
  readonly setInterval = (callback: Callback, delay?: number, ...args: unknown[]): VirtualTimer => this.add(callback, delay, args, true)
  readonly clearTimeout = (timer: unknown): void => { this.clear(timer) }

  /** Waits `ms` of virtual time (`node:timers/promises`' setTimeout). */
  readonly sleep = async <T = void>(ms?: number, value?: T, options: { signal?: AbortSignal } = {}): Promise<T> => {
    const signal = options.signal
    signal?.throwIfAborted()
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.clear(timer)
        reject(signal?.reason)
      }
      const timer = this.add(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve(value as T)
      }, ms, [], false)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** A signal that aborts with a TimeoutError after `ms` of virtual time (AbortSignal.timeout). */
  readonly timeoutSignal = (ms: number): AbortSignal => {
    const controller = new AbortController()
    this.add(() => { controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, ms, [], false).unref()
    return controller.signal
  }

  /** Counts a call that runs on the thread pool until `done` settles: the driver waits meanwhile. */
  threadPool<T> (name: string, run: () => Promise<T>): Promise<T> {
    this.inFlight++
    this.threadPoolCalls++
    this.threadPoolNames.add(name)
    return run().finally(() => { this.inFlight-- })
  }

  /** Counts a callback-style thread-pool call: wraps its callback. */
  threadPoolCallback (name: string, args: unknown[]): unknown[] {
    const last = args.length - 1
    const callback = args[last]
    if (typeof callback !== 'function') {
      return args
    }
    this.inFlight++
    this.threadPoolCalls++
    this.threadPoolNames.add(name)
    return [...args.slice(0, last), (...results: unknown[]) => {
      this.inFlight--
      callback(...results)
    }]
  }

  stats (): VirtualTimeStats {
    return {
      now: this.now,
      fired: this.fired,
      pending: this.heap.size,
      hash: (this.hash >>> 0).toString(16).padStart(8, '0'),
      waits: this.waits,
      threadPoolCalls: this.threadPoolCalls,
      threadPoolNames: [...this.threadPoolNames],
      realTimersSeen: this.realTimersSeen,
      escapes: this.escapes
    }
  }

  /**
   * Watches every async resource of the process from now on, and counts what escapes virtual
   * time (see {@link Escapes}). Costly (it turns on promise hooks): for tests and checks.
   */
  watchEscapes (): void {
    const escapes: Escapes = { realTimers: 0, callbacks: {}, weakRefs: 0, finalizationRegistries: 0 }
    this.escapes = escapes
    const g = globalThis as any
    for (const [name, field] of [['WeakRef', 'weakRefs'], ['FinalizationRegistry', 'finalizationRegistries']] as const) {
      const Real = g[name]
      g[name] = new Proxy(Real, {
        construct (target, args, newTarget) {
          escapes[field]++
          return Reflect.construct(target, args, newTarget)
        }
      })
    }
    const types = new Map<number, string>()
    createHook({
      init (id, type) {
        if (type === 'Timeout') {
          escapes.realTimers++
          escapes.firstRealTimer ??= new Error('a real timer').stack
        }
        if (!TIMELESS_RESOURCES.has(type)) {
          types.set(id, type)
        }
      },
      before (id) {
        const type = types.get(id)
        if (type != null) {
          escapes.callbacks[type] = (escapes.callbacks[type] ?? 0) + 1
        }
      },
      destroy (id) {
        types.delete(id)
      }
    }).enable()
  }

  /** Puts `timer` in the heap at now + its delay (out of it first if it was in). */
  arm (timer: VirtualTimer): void {
    this.heap.remove(timer)
    timer.at = this.now + timer.delay
    this.heap.push(timer)
    this.wake()
  }

  clear (timer: unknown): void {
    let t = timer
    if (typeof t === 'number' || typeof t === 'string') {
      t = this.ids.get(Number(t))
    }
    if (t instanceof VirtualTimer) {
      t.cleared = true
      this.heap.remove(t)
      this.forget(t)
    }
  }

  /** The timer's number (`+timer`), by which it can be cleared too, as in Node. */
  idOf (timer: VirtualTimer): number {
    let id = this.idsOf.get(timer)
    if (id == null) {
      id = this.nextId++
      this.idsOf.set(timer, id)
      this.ids.set(id, timer)
    }
    return id
  }

  private forget (timer: VirtualTimer): void {
    const id = this.idsOf.get(timer)
    if (id != null) {
      this.ids.delete(id)
    }
  }

  private add (callback: Callback, delay: unknown, args: unknown[], repeat: boolean): VirtualTimer {
    if (typeof callback !== 'function') {
      throw new TypeError('The "callback" argument must be of type function')
    }
    let ms = Number(delay)
    if (!(ms >= 1 && ms <= TIMEOUT_MAX)) {
      ms = 1
    }
    const timer = new VirtualTimer(this, callback, Math.ceil(ms), args, repeat)
    this.arm(timer)
    return timer
  }

  private wake (): void {
    if (!this.driving) {
      this.driving = true
      realSetImmediate(this.drive)
    }
  }

  /** Whether real work is pending: then time must not move. */
  private busy (): boolean {
    if (this.inFlight > 0) {
      return true
    }
    let busy = false
    for (const resource of process.getActiveResourcesInfo()) {
      if (WAITED_RESOURCES.has(resource)) {
        busy = true
      } else if (resource === 'Timeout') {
        this.realTimersSeen++
      }
    }
    return busy
  }

  private readonly drive = (): void => {
    this.driving = false
    if (this.heap.size === 0) {
      // nothing to run until a timer is set (wake() starts the driver again)
      return
    }
    if (this.busy()) {
      this.waits++
      this.wake()
      return
    }
    const timer = this.heap.pop() as VirtualTimer
    this.now = timer.at
    this.fired++
    this.mix(timer.at)
    if (timer.repeat) {
      timer.at = this.now + timer.delay
      this.heap.push(timer)
    } else {
      this.forget(timer)
    }
    // the driver goes on after this timer even when its callback throws
    this.wake()
    timer.callback.apply(timer, timer.args)
  }

  /** FNV-1a over the due time's two 32-bit halves. */
  private mix (at: number): void {
    let h = this.hash
    for (const word of [at >>> 0, Math.floor(at / 2 ** 32) >>> 0]) {
      for (let i = 0; i < 4; i++) {
        h ^= (word >>> (8 * i)) & 0xff
        h = Math.imul(h, 0x01000193)
      }
    }
    this.hash = h
  }
}

let installed: VirtualTime | undefined

/** The installed virtual time, if any. */
export function virtualTime (): VirtualTime | undefined {
  return installed
}

/** ASN.1 prefixes of a PKCS #8 private key of 32 bytes, by key type. */
const PKCS8_PREFIX: Record<string, string> = {
  x25519: '302e020100300506032b656e04220420',
  ed25519: '302e020100300506032b657004220420'
}

/**
 * Replaces every source of time and randomness of the process with a virtual clock seeded with
 * `seed` (see the module's comment); returns it. Call it before the stack is loaded.
 */
export function installVirtualTime (seed: number): VirtualTime {
  if (installed != null) {
    throw new Error('virtual time is installed already')
  }
  const time = new VirtualTime(seed)
  installed = time
  const g = globalThis as any
  const require = createRequire(import.meta.url)

  // timers
  const timers = require('node:timers')
  const timersPromises = require('node:timers/promises')
  const setTimeoutV: any = time.setTimeout
  setTimeoutV[promisify.custom] = time.sleep
  for (const target of [g, timers]) {
    target.setTimeout = setTimeoutV
    target.setInterval = time.setInterval
    target.clearTimeout = time.clearTimeout
    target.clearInterval = time.clearTimeout
  }
  timersPromises.setTimeout = time.sleep
  timersPromises.setInterval = () => { throw new Error('node:timers/promises setInterval is not supported under virtual time') }
  timersPromises.scheduler.wait = async (ms: number, options?: { signal?: AbortSignal }) => time.sleep(ms, undefined, options)
  AbortSignal.timeout = time.timeoutSignal

  // dates and clocks
  function VirtualDate (this: unknown, ...args: unknown[]): unknown {
    if (new.target === undefined) {
      return new RealDate(time.dateNow()).toString()
    }
    return Reflect.construct(RealDate, args.length === 0 ? [time.dateNow()] : args, new.target)
  }
  VirtualDate.prototype = RealDate.prototype
  Object.setPrototypeOf(VirtualDate, RealDate)
  ;(VirtualDate as any).now = () => time.dateNow()
  g.Date = VirtualDate
  Object.defineProperty(performance, 'now', { value: () => time.now, configurable: true, writable: true })
  const hrtime: any = (previous?: [number, number]): [number, number] => {
    const ns = Math.round(time.now * 1e6)
    let s = Math.floor(ns / 1e9)
    let n = ns % 1e9
    if (previous != null) {
      s -= previous[0]
      n -= previous[1]
      if (n < 0) {
        s--
        n += 1e9
      }
    }
    return [s, n]
  }
  hrtime.bigint = () => BigInt(Math.round(time.now * 1e6))
  process.hrtime = hrtime

  // randomness
  Math.random = () => time.random.next()
  const fill = <T extends ArrayBufferView | null>(view: T): T => {
    if (view != null) {
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(time.bytes.bytes(view.byteLength))
    }
    return view
  }
  const crypto = require('node:crypto')
  // node:crypto's getRandomValues is a getter of this one
  Object.defineProperty(g.crypto, 'getRandomValues', { value: fill, configurable: true, writable: true })
  crypto.randomFillSync = (view: ArrayBufferView, offset = 0, size?: number) => {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    fill(bytes.subarray(offset, size == null ? undefined : offset + size))
    return view
  }
  crypto.randomBytes = (size: number, callback?: (err: Error | null, buf: Buffer) => void) => {
    const buf = fill(Buffer.alloc(size))
    if (callback == null) {
      return buf
    }
    process.nextTick(callback, null, buf)
  }
  crypto.randomFill = (view: ArrayBufferView, ...rest: any[]) => {
    const callback = rest.pop()
    crypto.randomFillSync(view, ...rest)
    process.nextTick(callback, null, view)
  }
  crypto.randomInt = (a: number, b?: any, c?: any) => {
    const [min, max, callback] = typeof b === 'number' ? [a, b, c] : [0, a, b]
    const value = min + Math.floor(time.bytes.next() * (max - min))
    if (typeof callback !== 'function') {
      return value
    }
    process.nextTick(callback, null, value)
  }
  crypto.randomUUID = () => {
    const b = fill(new Uint8Array(16))
    b[6] = (b[6] & 0x0f) | 0x40
    b[8] = (b[8] & 0x3f) | 0x80
    const hex = Array.from(b, x => x.toString(16).padStart(2, '0')).join('')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }
  const generateKeyPairSync = crypto.generateKeyPairSync
  crypto.generateKeyPairSync = (type: string, options?: any) => {
    const prefix = PKCS8_PREFIX[type]
    if (prefix == null) {
      return generateKeyPairSync(type, options)
    }
    const privateKey = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from(prefix, 'hex'), fill(Buffer.alloc(32))]), format: 'der', type: 'pkcs8' })
    const publicKey = crypto.createPublicKey(privateKey)
    return {
      privateKey: options?.privateKeyEncoding == null ? privateKey : privateKey.export(options.privateKeyEncoding),
      publicKey: options?.publicKeyEncoding == null ? publicKey : publicKey.export(options.publicKeyEncoding)
    }
  }

  // work on the thread pool: counted, so that the driver waits for it
  const subtle = Object.getPrototypeOf(g.crypto.subtle)
  for (const name of ['encrypt', 'decrypt', 'sign', 'verify', 'digest', 'generateKey', 'deriveKey', 'deriveBits', 'importKey', 'exportKey', 'wrapKey', 'unwrapKey']) {
    const original = subtle[name]
    if (typeof original === 'function') {
      subtle[name] = function (this: unknown, ...args: unknown[]) {
        return time.threadPool(`subtle.${name}`, async () => original.apply(this, args))
      }
    }
  }
  for (const name of ['pbkdf2', 'scrypt', 'hkdf', 'generateKeyPair', 'generateKey', 'generatePrime', 'checkPrime']) {
    const original = crypto[name]
    if (typeof original === 'function') {
      crypto[name] = (...args: unknown[]) => original(...time.threadPoolCallback(name, args))
    }
  }
  syncBuiltinESMExports()
  return time
}
