/**
 * The API's methods: what each reads from its params and what it answers. Calls that go to the
 * network are tallied in the recent-queries log and report their progress events.
 */
import { constants } from 'kadmium'
import { decodeBytes, displayKey, encodeBytes, parseCid, parseMultiaddr, parsePeerId, peerJson, routingKey, RpcError, INVALID_PARAMS } from './params.ts'
import { storeSummary } from './store-summary.ts'
import type { Params, Encoding, KeyEncoding } from './params.ts'
import type { QueryLog, QueryTally } from './queries.ts'
import type { CallContext, Method, ProgressJson } from './rpc.ts'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { KadDHT } from 'kadmium'

/** The libp2p node the daemon runs. */
export type DaemonNode = Libp2p<{ identify: Identify, ping: Ping, dht: KadDHT }>

/** What the methods work on. */
export interface MethodsInit {
  node: DaemonNode
  dataDir: string
  /** When the daemon started, in ms since the epoch. */
  started: number
  queries: QueryLog
  /** Where the Delegated Routing V1 HTTP API is served: `http://<host>:<port>/routing/v1`. */
  routingV1?: string
}

const ENCODINGS = ['utf8', 'base64'] as const
const KEY_ENCODINGS = ['utf8', 'base64', 'peer', 'cid'] as const
/** The most CIDs one `provideMany` call takes. */
const MAX_PROVIDE_MANY = 10_000
/** The most kept values one `kept` call lists. */
const MAX_KEPT_LIST = 1_000

/** A progress event of kadmium as JSON: its type and its detail with peers as strings. */
export function progressJson (event: { type: string, detail?: any }): ProgressJson {
  const detail = event.detail ?? {}
  const out: ProgressJson = { type: event.type }
  if (detail.peer != null) {
    out.peer = detail.peer.toString()
  }
  if (Array.isArray(detail.closer)) {
    out.closer = detail.closer.length
  }
  if (typeof detail.elapsed === 'number') {
    out.elapsed = detail.elapsed
  }
  if (detail.error != null) {
    out.error = `${detail.error.name ?? 'Error'}: ${detail.error.message ?? ''}`
  }
  if (detail.value instanceof Uint8Array) {
    out.bytes = detail.value.length
  }
  if (detail.provider != null) {
    out.provider = peerJson(detail.provider)
    out.from = detail.from?.toString() ?? null
  }
  return out
}

/** Runs a network call with a tally in the query log and progress going to the caller. */
async function tallied<T> (init: MethodsInit, method: string, target: string, context: CallContext, fn: (options: { signal: AbortSignal, onProgress(event: any): void }, tally: QueryTally) => Promise<T>): Promise<T> {
  const tally = init.queries.start(method, target)
  const onProgress = (event: any): void => {
    tally.count(event.type)
    context.progress(progressJson(event))
  }
  try {
    const result = await fn({ signal: context.signal, onProgress }, tally)
    tally.end()
    return result
  } catch (err: any) {
    tally.end(context.signal.aborted ? context.signal.reason : err)
    throw err
  }
}

/** A method that reads its params with `read` (refusing unknown ones), then runs. */
function method<A> (network: boolean, read: (params: Params) => A, run: (args: A, context: CallContext) => Promise<unknown>): Method {
  return {
    network,
    run: async (params, context) => {
      const args = read(params)
      params.done()
      return run(args, context)
    }
  }
}

async function connected (node: DaemonNode, id: PeerId): Promise<boolean> {
  return node.getConnections(id).length > 0
}

/** Every method of the API, by name. */
export function methods (init: MethodsInit): Record<string, Method> {
  return { ...nodeMethods(init), ...peerMethods(init), ...valueMethods(init), ...providerMethods(init) }
}

/** What the node is and holds: info, routingTable, storeStats, counters, reprovider, recentQueries. */
function nodeMethods (init: MethodsInit): Record<string, Method> {
  const { node } = init
  const dht = (): KadDHT => node.services.dht
  return {
    info: method(false, () => ({}), async () => ({
      peerId: node.peerId.toString(),
      addresses: node.getMultiaddrs().map(String),
      mode: dht().getMode(),
      protocol: dht().protocol,
      addressScope: dht().addressScope,
      connections: node.getConnections().length,
      dataDir: init.dataDir,
      routingV1: init.routingV1,
      started: init.started,
      uptime: Date.now() - init.started
    })),

    routingTable: method(false, () => ({}), async () => {
      const buckets = await Promise.all(dht().routingTableInfo().map(async bucket => ({
        index: bucket.index,
        peers: await Promise.all(bucket.peers.map(async entry => ({
          ...peerJson({ id: entry.peer.peerId, multiaddrs: entry.peer.multiaddrs }),
          added: entry.added,
          lastSeen: entry.lastSeen,
          connected: await connected(node, entry.peer.peerId)
        })))
      })))
      return { size: dht().stats().routingTableSize, kBucketSize: constants.K_BUCKET_SIZE, buckets }
    }),

    storeStats: method(false, p => ({ list: p.integer('list', 0, 100) ?? 0 }), async ({ list }, { signal }) => {
      const stats = dht().stats()
      return storeSummary(dht(), { records: stats.records, providers: stats.providers, list, signal })
    }),

    counters: method(false, () => ({}), async () => {
      const { inbound, outbound, errors, throttled, routingTableSize } = dht().stats()
      return { inbound, outbound, errors, throttled, routingTableSize, connections: node.getConnections().length }
    }),

    reprovider: method(false, () => ({}), async () => {
      const { reprovide, networkSize } = dht().stats()
      return { ...reprovide, interval: constants.REPROVIDE_INTERVAL, networkSize: networkSize ?? null }
    }),

    recentQueries: method(false, p => ({ limit: p.integer('limit', 1, 50) }), async ({ limit }) => ({
      queries: init.queries.list(limit)
    }))
  }
}

/** Peers: ping, findNode, closestPeers, findPeer. */
function peerMethods (init: MethodsInit): Record<string, Method> {
  const { node } = init
  const dht = (): KadDHT => node.services.dht
  return {
    ping: method(true, p => ({ peer: p.string('peer') }), async ({ peer }, context) => {
      const target = peer.startsWith('/') ? parseMultiaddr(peer, 'peer') : parsePeerId(peer, 'peer')
      return tallied(init, 'ping', peer, context, async ({ signal }, tally) => {
        tally.count('kadmium:lookup:ask')
        const rtt = await node.services.ping.ping(target, { signal })
        tally.count('kadmium:lookup:answer')
        return { peer, rtt }
      })
    }),

    findNode: method(true, p => ({
      peer: parsePeerId(p.string('peer'), 'peer'),
      key: p.optionalString('key'),
      keyEncoding: p.choice<KeyEncoding>('keyEncoding', KEY_ENCODINGS, 'utf8')
    }), async ({ peer, key, keyEncoding }, context) => {
      const bytes = key == null ? node.peerId.toMultihash().bytes : routingKey(key, keyEncoding, 'key')
      return tallied(init, 'findNode', peer.toString(), context, async ({ signal }, tally) => {
        tally.count('kadmium:lookup:ask')
        const peers = await dht().findNode(peer, bytes, { signal })
        tally.count('kadmium:lookup:answer')
        return { peer: peer.toString(), peers: peers.map(peerJson) }
      })
    }),

    closestPeers: method(true, p => {
      const keyEncoding = p.choice<KeyEncoding>('keyEncoding', KEY_ENCODINGS, 'utf8')
      const key = p.string('key')
      return { key, bytes: routingKey(key, keyEncoding, 'key') }
    }, async ({ key, bytes }, context) => tallied(init, 'closestPeers', key, context, async (options) => {
      const peers = []
      for await (const peer of dht().getClosestPeers(bytes, options)) {
        peers.push(peerJson(peer))
      }
      return { key, peers }
    })),

    findPeer: method(true, p => ({ peer: parsePeerId(p.string('peer'), 'peer'), useCache: p.boolean('useCache', true) }), async ({ peer, useCache }, context) =>
      tallied(init, 'findPeer', peer.toString(), context, async (options) => peerJson(await dht().findPeer(peer, { ...options, useCache }))))
  }
}

/** Values: put, get, kept, forget. */
function valueMethods (init: MethodsInit): Record<string, Method> {
  const { node } = init
  const dht = (): KadDHT => node.services.dht
  const keyParam = (p: Params): { key: string, keyBytes: Uint8Array } => {
    const keyEncoding = p.choice<Encoding>('keyEncoding', ENCODINGS, 'utf8')
    const key = p.string('key')
    return { key, keyBytes: decodeBytes(key, keyEncoding, 'key') }
  }
  return {
    put: method(true, p => {
      const key = keyParam(p)
      const valueEncoding = p.choice<Encoding>('valueEncoding', ENCODINGS, 'utf8')
      const value = p.optionalString('value')
      if (value == null) {
        throw new RpcError(INVALID_PARAMS, '"value" must be a string')
      }
      return { ...key, value: decodeBytes(value, valueEncoding, 'value'), keep: p.boolean('keep', false) }
    }, async ({ key, keyBytes, value, keep }, context) => tallied(init, 'put', key, context, async (options) => {
      try {
        return { key, stored: await dht().put(keyBytes, value, { ...options, keep }), kept: keep }
      } catch (err: any) {
        if (err.name !== 'NotStoredError') {
          throw err
        }
        // kadmium stored it here before it looked for peers (and keeps it, when asked): say so, not that it failed
        return { key, stored: 0, kept: keep }
      }
    })),

    kept: method(false, p => ({ limit: p.integer('limit', 1, MAX_KEPT_LIST) ?? 100 }), async ({ limit }, { signal }) => {
      const { republish } = dht().stats()
      const kept = await dht().listKept(limit, { signal })
      return {
        ...republish,
        next: republish.next == null ? null : { key: displayKey(republish.next.key), due: republish.next.due },
        last: republish.last == null ? null : { ...republish.last, key: displayKey(republish.last.key) },
        kept: kept.map(k => ({ key: displayKey(k.key), bytes: k.bytes, put: k.put ?? null, due: k.due }))
      }
    }),

    forget: method(false, keyParam, async ({ key, keyBytes }, { signal }) => ({
      key,
      forgotten: await dht().forget(keyBytes, { signal })
    })),

    get: method(true, p => {
      const keyEncoding = p.choice<Encoding>('keyEncoding', ENCODINGS, 'utf8')
      const key = p.string('key')
      return {
        key,
        keyBytes: decodeBytes(key, keyEncoding, 'key'),
        quorum: p.integer('quorum', 1, 100),
        valueEncoding: p.choice<Encoding>('valueEncoding', ENCODINGS, 'utf8')
      }
    }, async ({ key, keyBytes, quorum, valueEncoding }, context) => tallied(init, 'get', key, context, async (options) => {
      const { text, encoding } = encodeBytes(await dht().get(keyBytes, { ...options, quorum }), valueEncoding)
      return { key, value: text, encoding }
    }))
  }
}

/** Providers: provide, provideMany, findProviders, cancelReprovide. */
function providerMethods (init: MethodsInit): Record<string, Method> {
  const { node } = init
  const dht = (): KadDHT => node.services.dht
  return {
    provide: method(true, p => ({ cid: parseCid(p.string('cid'), 'cid') }), async ({ cid }, context) =>
      tallied(init, 'provide', cid.toString(), context, async (options) => ({
        cid: cid.toString(),
        sent: await dht().provide(cid, options)
      }))),

    provideMany: method(true, p => ({ cids: p.strings('cids', MAX_PROVIDE_MANY).map(text => parseCid(text, 'cids')) }), async ({ cids }, context) =>
      tallied(init, 'provideMany', `${cids.length} CIDs`, context, async (options) => {
        const results = []
        for await (const { cid, sent, error } of dht().provideMany(cids, options)) {
          results.push(error == null ? { cid: cid.toString(), sent } : { cid: cid.toString(), sent, error: { name: error.name, message: error.message } })
        }
        return { results, provided: results.filter(r => r.error == null).length }
      })),

    findProviders: method(true, p => ({
      cid: parseCid(p.string('cid'), 'cid'),
      count: p.integer('count', 1, 1000)
    }), async ({ cid, count }, context) => tallied(init, 'findProviders', cid.toString(), context, async (options) => {
      const providers = []
      for await (const provider of dht().findProviders(cid, { ...options, count })) {
        providers.push(peerJson(provider))
      }
      return { cid: cid.toString(), providers }
    })),

    cancelReprovide: method(false, p => ({ cid: parseCid(p.string('cid'), 'cid') }), async ({ cid }, { signal }) => ({
      cid: cid.toString(),
      cancelled: await dht().cancelReprovide(cid, { signal })
    }))
  }
}
