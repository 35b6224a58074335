/**
 * The options of {@link kadDHT}, checked and filled with their defaults.
 */
import { boundClock, realClock } from './clock.ts'
import * as C from './constants.ts'
import * as D from './defaults.ts'
import { InvalidParametersError } from './errors.ts'
import { finiteNumber, positiveInteger } from './utils/numbers.ts'
import type { AcceleratedSettings } from './accelerated/accelerated.ts'
import type { Clock } from './clock.ts'
import type { Mode } from './mode.ts'
import type { AddressScope } from './network/addresses.ts'
import type { ReprovideProgressEvents } from './providers/reprovider.ts'
import type { StallOptions } from './query/stall.ts'
import type { RepublishProgressEvents } from './values/republisher.ts'
import type { Validator } from './values/validators.ts'

/** Options of {@link kadDHT}. */
export interface KadDHTInit {
  /**
   * The protocol spoken. A private network uses its own.
   *
   * @default '/ipfs/kad/1.0.0'
   */
  protocol?: string
  /**
   * `'server'` answers requests and advertises the protocol through identify; `'client'`
   * registers nothing and only asks; `'auto'` is a server while the node has a confirmed address
   * the `addresses` scope counts as reachable, a client otherwise, and switches as the node's
   * addresses change. For `/ipfs/kad/1.0.0` that is a public address that peers dialled back
   * (add `@libp2p/autonat` to the node's services); announced addresses are not checked, so
   * they do not count (pin `'server'` for them).
   *
   * @default 'auto'
   */
  mode?: Mode
  /**
   * Peers per k-bucket, and peers returned by a closest-peers query (k).
   *
   * @default 20
   */
  kBucketSize?: number
  /**
   * Requests a lookup keeps in flight at once (α).
   *
   * @default 10
   */
  alpha?: number
  /**
   * How many of the closest peers must have answered before a `findProviders` lookup that has
   * not found its `count` ends (β), at most `kBucketSize`. A closest-peers lookup (and so put,
   * get, provide and findPeer) waits for the closest k. go-libp2p-kad-dht and the IPFS spec use 3
   * (`constants.BETA`); kadmium waits for the k closest by default, since peers that joined near
   * the key after its last provide hold no record of it.
   *
   * @default kBucketSize
   */
  beta?: number
  /**
   * An inbound DHT stream that sends no new request for this many ms is reset, which frees its
   * place among the connection's 32 inbound DHT streams at once (a peer may keep a stream open to
   * reuse it, as go-libp2p-kad-dht does).
   *
   * @default 60000
   */
  streamIdleTimeout?: number
  /**
   * How long a whole query may take, in milliseconds.
   *
   * @default 30000
   */
  queryTimeout?: number
  /**
   * Which peer addresses are shared and accepted: `'public'` (no loopback or private ranges)
   * or `'all'` (LANs and tests).
   *
   * @default 'public' for '/ipfs/kad/1.0.0', 'all' for any other protocol
   */
  addresses?: AddressScope
  /**
   * Validators by namespace, added to (or replacing) the defaults `pk` and `ipns`. A record
   * whose key has no namespace, or one not listed here, is refused. The object is read at each
   * use: a namespace added to it later is accepted from then on.
   *
   * @example
   * ```ts
   * kadDHT({ validators: { greeting: { validate: (key, value) => {}, select: () => 0 } } })
   * ```
   */
  validators?: Record<string, Validator>
  /**
   * Bucket refresh, on unless `enabled: false`: every `interval` ms (10 min) our own id is looked
   * up, peers not heard from are checked, and each bucket that saw no lookup in that time and
   * holds fewer than k peers is looked up until it holds k (buckets nearer us than our k-th
   * closest peer are left out: the self-lookup saw them whole). `queryTimeout` bounds each
   * refresh lookup. When the table gets its first peer (the node joins a network) our own id is
   * looked up 250 ms later, and each bucket that lookup left short gets its lookup at a random
   * moment within `joinWindow` ms (10 minutes).
   */
  refresh?: {
    /** Whether buckets are refreshed. */
    enabled?: boolean
    /** How often, in ms. */
    interval?: number
    /** The longest one refresh lookup may take, in ms. */
    queryTimeout?: number
    /** After joining, each short bucket's lookup starts at a random moment within this many ms. */
    joinWindow?: number
  }
  /**
   * The random walk, off unless `enabled: true`: a lookup of a random key every `interval` ms
   * (1 min); every server that answers joins the routing table.
   */
  randomWalk?: {
    /** Whether the walk runs. */
    enabled?: boolean
    /** How often a random key is looked up, in ms. */
    interval?: number
  }
  /**
   * The IP-diversity filter of the routing table: at most `maxPerBucket` (2) peers of one IPv4
   * /16 or IPv6 /32 per bucket and `maxPerTable` (10) in the table. `true` or an object turns it
   * on, `false` off.
   *
   * @default true for the 'public' address scope, false for 'all'
   */
  diversity?: boolean | {
    /** Peers of one address group per bucket, at most. */
    maxPerBucket?: number
    /** Peers of one address group in the table, at most. */
    maxPerTable?: number
  }
  /**
   * The per-peer limit on inbound requests: a peer may send `burst` (200) requests at once and
   * `perSecond` (50) sustained. A request costs one per 16 KiB it holds; one that costs more
   * than `burst` (a large record) goes as soon as the peer's bucket is full, and leaves the rest
   * as a debt that its next requests wait off. Requests over the rate wait their turn (a peer
   * asking one request after another is just slowed down); one that would wait more than
   * `maxDelay` ms (5000), which takes requests queued on parallel streams, resets its stream
   * instead, counted as `RateLimitedError`. `stats().throttled` counts the requests held back.
   * `false` turns the limit off.
   *
   * @default { perSecond: 50, burst: 200, maxDelay: 5000 }
   */
  rateLimit?: false | {
    /** Requests one peer may send per second, sustained. */
    perSecond?: number
    /** Requests one peer may send at once after a quiet spell. */
    burst?: number
    /** The longest a request may be held back, in ms, before its stream is reset. */
    maxDelay?: number
  }
  /**
   * Stall detection in lookups. A request with no answer by its stall deadline stops holding
   * one of the α slots, and the lookup no longer waits for it (another peer is asked), but its
   * answer is still taken if it comes within the 10 s request timeout and before the lookup
   * ends; a lookup that ends first aborts it without counting it against the peer. The deadline
   * is `initial` ms (2000) until the lookup's first answer, then `factor` (3) times the median
   * answer time, at least `min` ms (1000) and at most the request timeout. Once the node has
   * measured round trips, a request's deadline is `factor` times the round trips still ahead of
   * it (until it is sent a dial 3 and a stream 1, or the stream; once sent the request's 1),
   * set again when it is sent: at its peer's own round trip and at least `minSent` ms (250)
   * when that was measured, at the node's typical one and at least `min` ms otherwise; a request
   * whose dial was late but which is then sent is waited for again. At most α stalled
   * requests stay open besides the α live ones. `true` or an object turns it on, `false` off
   * (every request is waited for until it answers or times out). The accelerated client's crawl
   * uses the same deadlines: a re-visit of a server whose connection is not made by twice its
   * dial's deadline (or twice what its last connection took) gives the server up for this visit.
   *
   * @default true
   */
  stall?: boolean | {
    /** The deadline before a lookup's first answer, in ms. */
    initial?: number
    /** The deadline as a multiple of the lookup's median answer time. */
    factor?: number
    /** The shortest deadline, in ms. */
    min?: number
    /** The shortest deadline of a request to a peer whose own round trip was measured, in ms. */
    minSent?: number
  }
  /**
   * The prefix of the metric names, when libp2p is given a `metrics` implementation (see
   * `@libp2p/prometheus-metrics`). Two DHTs in one process need two prefixes.
   *
   * @default 'libp2p_kadmium'
   */
  metricsPrefix?: string
  /**
   * What kadmium does with libp2p's connections (see the README, "What kadmium does with
   * connections"). `tableTag` (5) is the value of the connection-manager tag `kadmium-peer` on
   * every routing-table peer, so libp2p's pruner closes connections opened only for a lookup
   * first; `closeTag` (50) the value of the tag `kadmium-close` on our k closest table peers.
   * With `keepAlive` (true) those also carry libp2p's `keep-alive-kadmium` tag, and libp2p dials
   * them again when their connection drops (also after a restart on a persistent peer store).
   * `checkInterval` (10 min) is how often a client looks up its own id to stay connected to its
   * k closest servers, through which other nodes find it (0: never). An outbound stream is kept
   * for the next request to the same peer until it has been idle `outboundIdleTimeout` ms (5 s;
   * 0 opens a stream for every request). With `protocolFirst` (true) a new DHT stream's protocol
   * goes out with its first request instead of being negotiated first: a request costs one round
   * trip on an open connection instead of two (a peer that fails such a stream before confirming
   * the protocol is asked again, and from then on, on streams negotiated in full).
   *
   * A tag value of 0 leaves that tag off.
   *
   * @example
   * ```ts
   * kadDHT({ connections: { closeTag: 80, checkInterval: 5 * 60_000, outboundIdleTimeout: 2_000 } })
   * ```
   */
  connections?: {
    /** The value of the `kadmium-peer` tag on every routing-table peer (0: no tag). */
    tableTag?: number
    /** The value of the `kadmium-close` tag on our k closest table peers (0: no tag). */
    closeTag?: number
    /** Whether our k closest also carry libp2p's keep-alive tag. */
    keepAlive?: boolean
    /** How often a client looks up its own id to stay connected to its closest servers, in ms (0: never). */
    checkInterval?: number
    /** How long an outbound stream is kept after its last answer, in ms (0: a stream per request). */
    outboundIdleTimeout?: number
    /** Whether a new DHT stream's protocol goes out with its first request (no round trip to negotiate it). */
    protocolFirst?: boolean
  }
  /**
   * Optimistic providing: `provide` sends the record during its lookup to each peer that is, with
   * 90 % confidence given the network size, among the k closest of the key, stops the lookup
   * once the closest peers heard of are as close as the true k closest would be and the 3
   * closest of them answered, and resolves once 15 of the 20 records were sent (or failed); the
   * other sends finish in the background. The network size is estimated from the lookups the
   * node makes anyway; until five of them ran (and in networks of k peers or fewer), `provide`
   * waits for its full lookup. `false`: always the full lookup, then every send.
   *
   * @default true
   */
  optimisticProvide?: boolean
  /**
   * The reprovide schedule: every provided key is provided again each 22 h, keyspace region by
   * region, the regions due at even times over the 22 h. `onProgress` is told about each step:
   * a region due (`kadmium:reprovide:due`), each key sent or failed, the region done, and when
   * the schedule waits (no DHT peer).
   *
   * @example
   * ```ts
   * kadDHT({ reprovide: { onProgress: (event) => { if (event.type === 'kadmium:reprovide:done') console.log(event.detail) } } })
   * ```
   */
  reprovide?: {
    /** Told about each step of the schedule. */
    onProgress?(event: ReprovideProgressEvents): void
  }
  /**
   * Republishing the values this node keeps (`put(key, value, { keep: true })`): each is put
   * again every `interval` ms on average (12 h), at its own phase of the interval, between half
   * an interval and one and a half after its last put, so its records never expire (they live
   * 48 h); at most 32 h (a put 48 h after the last would come too late). `onProgress` is told
   * about each step: the keys due (`kadmium:republish:due`), each value put or failed, and when
   * it waits for a DHT peer.
   *
   * @example
   * ```ts
   * kadDHT({ republish: { interval: 4 * 60 * 60_000, onProgress: (event) => { if (event.type === 'kadmium:republish:failed') console.warn(event.detail.error) } } })
   * ```
   */
  republish?: {
    /** How often a kept value is put again, on average, in ms. */
    interval?: number
    /** Told about each step. */
    onProgress?(event: RepublishProgressEvents): void
  }
  /**
   * The clock every timer of the DHT runs on: lookups and their deadlines, the routing-table
   * upkeep, the reprovide schedule, the tags, the stores' sweeps. A simulation or an emulation
   * in virtual time passes its own; the timeouts of socket I/O stay on the host's timers.
   *
   * @default the host's clock (`Date.now` and `setTimeout`)
   */
  clock?: Clock
  /**
   * The accelerated client (go's fullrt, Kubo's `AcceleratedDHTClient`), off unless `true` or an
   * object: a rolling crawl keeps every DHT server in one full table, and every operation starts
   * from the key's closest peers in it, so a lookup is one round of requests instead of ~4 hops,
   * and `provideMany` and the reprovider send records straight to each key's closest peers. The
   * node's mode and its own routing table stay as they are. Until the crawl's first pass is over
   * (minutes on a large network), operations run the normal lookups.
   *
   * It costs a visit of every server once per `crawlInterval` (about 12 requests each, spread
   * evenly over the round; at most `crawlConcurrency` at once) and about 1.5 KB of memory per
   * server, `maxPeers` at most.
   *
   * @example
   * ```ts
   * kadDHT({ accelerated: { crawlInterval: 30 * 60_000, crawlConcurrency: 16 } })
   * ```
   */
  accelerated?: boolean | {
    /** The rolling crawl's round, in ms: each server is visited once per round (1 h). */
    crawlInterval?: number
    /** Crawl visits (each one connection) under way at once, at most (32). */
    crawlConcurrency?: number
    /** Servers the full table holds at most (100,000). */
    maxPeers?: number
  }
}

/** Every option resolved; 0 turns a periodic task off. */
export interface Settings {
  protocol: string
  /** The prefix of kadmium's metric names. */
  metricsPrefix: string
  mode: Mode
  addresses: AddressScope
  kBucketSize: number
  alpha: number
  beta: number
  queryTimeout: number
  requestTimeout: number
  streamIdleTimeout: number
  /** When a lookup request stalls, or undefined when stall detection is off. */
  stall?: StallOptions
  refreshInterval: number
  refreshQueryTimeout: number
  joinWindow: number
  randomWalkInterval: number
  /** Tag values (0: no tag), keep-alive, the client's check and the outbound stream idle time (0: off). */
  connections: { tableTag: number, closeTag: number, keepAlive: boolean, checkInterval: number, outboundIdleTimeout: number, protocolFirst: boolean }
  /** The per-peer inbound request limit, or undefined when it is off. */
  rateLimit?: { perSecond: number, burst: number, maxDelay: number }
  /** The diversity limits, or undefined when the filter is off. */
  diversity?: { maxPerBucket: number, maxPerTable: number }
  optimisticProvide: boolean
  onReprovideProgress?(event: ReprovideProgressEvents): void
  /** How often a kept value is put again, on average, in ms. */
  republishInterval: number
  onRepublishProgress?(event: RepublishProgressEvents): void
  /** The accelerated client's settings, or undefined when it is off. */
  accelerated?: AcceleratedSettings
  clock: Clock
}

/** Throws {@link InvalidParametersError} unless `mode` is one of the three. */
export function checkMode (mode: Mode): Mode {
  if (mode !== 'server' && mode !== 'client' && mode !== 'auto') {
    throw new InvalidParametersError(`mode must be 'auto', 'server' or 'client', got ${String(mode)}`)
  }
  return mode
}

/** Checks every option and fills in the defaults. */
export function resolveSettings (init: KadDHTInit): Settings {
  const protocol = init.protocol ?? C.PROTOCOL
  const addresses = init.addresses ?? (protocol === C.PROTOCOL ? 'public' : 'all')
  if (addresses !== 'public' && addresses !== 'all') {
    throw new InvalidParametersError(`addresses must be 'public' or 'all', got ${String(addresses)}`)
  }
  const queryTimeout = positiveInteger('queryTimeout', init.queryTimeout ?? D.QUERY_TIMEOUT)
  const kBucketSize = positiveInteger('kBucketSize', init.kBucketSize ?? C.K_BUCKET_SIZE)
  const beta = positiveInteger('beta', init.beta ?? kBucketSize)
  if (beta > kBucketSize) {
    // β counts peers among the k closest: a larger one cannot be met
    throw new InvalidParametersError(`beta must be at most kBucketSize (${kBucketSize}), got ${beta}`)
  }
  return {
    protocol,
    metricsPrefix: init.metricsPrefix ?? D.METRICS_PREFIX,
    mode: checkMode(init.mode ?? 'auto'),
    addresses,
    kBucketSize,
    alpha: positiveInteger('alpha', init.alpha ?? C.ALPHA),
    beta,
    queryTimeout,
    requestTimeout: Math.min(D.REQUEST_TIMEOUT, queryTimeout),
    streamIdleTimeout: positiveInteger('streamIdleTimeout', init.streamIdleTimeout ?? D.STREAM_IDLE_TIMEOUT),
    stall: resolveStall(init.stall),
    ...resolveUpkeep(init),
    rateLimit: resolveRateLimit(init.rateLimit),
    connections: resolveConnections(init.connections),
    diversity: resolveDiversity(init.diversity ?? addresses === 'public'),
    optimisticProvide: init.optimisticProvide ?? true,
    onReprovideProgress: init.reprovide?.onProgress,
    republishInterval: republishInterval(init.republish?.interval),
    onRepublishProgress: init.republish?.onProgress,
    clock: init.clock == null ? realClock : boundClock(init.clock),
    accelerated: resolveAccelerated(init.accelerated)
  }
}

function resolveAccelerated (given: KadDHTInit['accelerated']): Settings['accelerated'] {
  if (given == null || given === false) {
    return undefined
  }
  const options = given === true ? {} : given
  return {
    crawlInterval: positiveInteger('accelerated.crawlInterval', options.crawlInterval ?? D.CRAWL_INTERVAL),
    crawlConcurrency: positiveInteger('accelerated.crawlConcurrency', options.crawlConcurrency ?? D.CRAWL_CONCURRENCY),
    maxPeers: positiveInteger('accelerated.maxPeers', options.maxPeers ?? D.ACCELERATED_MAX_PEERS)
  }
}

function resolveUpkeep (init: KadDHTInit): Pick<Settings, 'refreshInterval' | 'refreshQueryTimeout' | 'joinWindow' | 'randomWalkInterval'> {
  const { refresh, randomWalk } = init
  return {
    refreshInterval: refresh?.enabled === false ? 0 : positiveInteger('refresh.interval', refresh?.interval ?? C.REFRESH_INTERVAL),
    refreshQueryTimeout: positiveInteger('refresh.queryTimeout', refresh?.queryTimeout ?? D.REFRESH_QUERY_TIMEOUT),
    joinWindow: finiteNumber('refresh.joinWindow', refresh?.joinWindow ?? D.JOIN_REFRESH_WINDOW, true),
    randomWalkInterval: randomWalk?.enabled === true ? positiveInteger('randomWalk.interval', randomWalk.interval ?? D.RANDOM_WALK_INTERVAL) : 0
  }
}

/** The republish interval: each put comes at most 1½ intervals after the last, inside a record's life. */
function republishInterval (given = D.REPUBLISH_INTERVAL): number {
  const interval = positiveInteger('republish.interval', given)
  const max = Math.floor(C.RECORD_MAX_AGE * 2 / 3)
  if (interval > max) {
    throw new InvalidParametersError(`republish.interval must be at most ${max} ms (a put 1½ intervals after the last must come before the record expires), got ${interval}`)
  }
  return interval
}

function resolveRateLimit (given: KadDHTInit['rateLimit']): Settings['rateLimit'] {
  if (given === false) {
    return undefined
  }
  return {
    perSecond: positiveInteger('rateLimit.perSecond', given?.perSecond ?? D.RATE_LIMIT_PER_SECOND),
    burst: positiveInteger('rateLimit.burst', given?.burst ?? D.RATE_LIMIT_BURST),
    maxDelay: positiveInteger('rateLimit.maxDelay', given?.maxDelay ?? D.RATE_LIMIT_MAX_DELAY)
  }
}

function resolveConnections (given: KadDHTInit['connections'] = {}): Settings['connections'] {
  for (const flag of ['keepAlive', 'protocolFirst'] as const) {
    if (given[flag] != null && typeof given[flag] !== 'boolean') {
      throw new InvalidParametersError(`connections.${flag} must be true or false, got ${String(given[flag])}`)
    }
  }
  return {
    tableTag: tagValue('connections.tableTag', given.tableTag ?? D.TABLE_TAG_VALUE),
    closeTag: tagValue('connections.closeTag', given.closeTag ?? D.CLOSE_TAG_VALUE),
    keepAlive: given.keepAlive ?? true,
    checkInterval: finiteNumber('connections.checkInterval', given.checkInterval ?? C.CLOSEST_CHECK_INTERVAL, true),
    outboundIdleTimeout: finiteNumber('connections.outboundIdleTimeout', given.outboundIdleTimeout ?? D.OUTBOUND_IDLE_TIMEOUT, true),
    protocolFirst: given.protocolFirst ?? true
  }
}

/** A connection-manager tag value: libp2p's peer store takes whole numbers from 0 to 100. */
function tagValue (name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 100) {
    throw new InvalidParametersError(`${name} must be a whole number from 0 to 100, got ${value}`)
  }
  return value
}

function resolveDiversity (given: NonNullable<KadDHTInit['diversity']>): Settings['diversity'] {
  if (given === false) {
    return undefined
  }
  const limits = typeof given === 'object' ? given : {}
  return {
    maxPerBucket: positiveInteger('diversity.maxPerBucket', limits.maxPerBucket ?? C.MAX_PEERS_PER_GROUP_PER_BUCKET),
    maxPerTable: positiveInteger('diversity.maxPerTable', limits.maxPerTable ?? C.MAX_PEERS_PER_GROUP_IN_TABLE)
  }
}

function resolveStall (stall: KadDHTInit['stall']): StallOptions | undefined {
  if (stall === false) {
    return undefined
  }
  const given = typeof stall === 'object' ? stall : {}
  return {
    initial: finiteNumber('stall.initial', given.initial ?? D.STALL_INITIAL_TIMEOUT),
    factor: finiteNumber('stall.factor', given.factor ?? D.STALL_RTT_FACTOR),
    min: finiteNumber('stall.min', given.min ?? D.STALL_MIN_TIMEOUT, true),
    minSent: finiteNumber('stall.minSent', given.minSent ?? D.STALL_MIN_SENT_TIMEOUT, true)
  }
}
