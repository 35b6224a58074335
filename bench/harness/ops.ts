/**
 * The operations of the benchmarks, each measured the same way for both implementations and
 * both transports: time, the floor from its trace (WAN only), the requests, streams and
 * connections it cost, its CPU, and whether it did what was asked. Over the WAN every operation
 * starts from a node with no open connection (see `coldStart`).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { compareDistance, kadId } from '../../src/keys.ts'
import { cpuMsSince } from '../lib/stats.ts'
import { lookupFloor } from '../wan/floor.ts'
import { closest, findPeer, findProvider, get, pings, provide, provideMany, put, sleep, streams, truth } from './operations.ts'
import { Trace, requestsSent } from './trace.ts'
import type { OnEvent } from './operations.ts'
import type { OpSample } from './report.ts'
import type { BenchNode, Impl, KadmiumBenchNode } from '../lib/nodes.ts'
import type { Goal } from '../wan/floor.ts'
import type { WanNetwork } from '../wan/transport.ts'
import type { CID } from 'multiformats/cid'

/**
 * How long after a provide returned (and its count pause) the servers' stores are read: the
 * sends an optimistic provide left under way need a connection first (4 round trips, 1.6 s at
 * the model's p99 RTT).
 */
const LANDING_PAUSE = 2_000

/** What the operations need to know of the network they run in. */
export interface OpContext {
  impl: Impl
  /** The emulated WAN, for the floors (none over the plain memory transport). */
  wan?: WanNetwork
  /** The servers that answer now: the truth of a closest-peers lookup is drawn from them. */
  live(): BenchNode[]
  /** How the operations are run (see `BenchOptions`). */
  readonly opOptions: { coldStart: boolean, countPauseMs: number }
}

/**
 * Closes every connection of `node`, so that its next operation pays for the connections it
 * needs, as a node of a network of thousands does: it is connected to few of the peers a lookup
 * asks.
 */
export async function coldStart (node: BenchNode): Promise<void> {
  const closing = node.getConnections()
  await Promise.all(closing.map(async conn => {
    await conn.close({ signal: AbortSignal.timeout(2_000) }).catch((err: Error) => { conn.abort(err) })
  }))
  // close() returns while the connection is still closing: wait until it is gone (others may
  // dial in meanwhile; those connections stay)
  const end = Date.now() + 3_000
  while (Date.now() < end && node.getConnections().some(conn => closing.includes(conn))) {
    await sleep(20)
  }
}

/** Closes every connection of `node` first when the operations start cold. */
async function start (ctx: OpContext, node: BenchNode): Promise<void> {
  if (ctx.opOptions.coldStart) {
    await coldStart(node)
  }
}

/** Runs `work` at `asker`, traced: its sample (without `ok`) and its value. */
async function measured<T> (ctx: OpContext, asker: BenchNode, work: (onEvent: OnEvent) => Promise<T>, goal: (trace: Trace, value: T | undefined) => Goal | undefined): Promise<{ sample: OpSample, value?: T }> {
  const self = asker.peerId.toString()
  const trace = new Trace(asker, ctx.impl, ctx.wan)
  const sent = requestsSent(asker, ctx.impl)
  const streams0 = streams()
  const pings0 = pings()
  const cpu = process.cpuUsage()
  const started = performance.now()
  let value: T | undefined
  let error: string | undefined
  try {
    value = await work(event => { trace.event(event) })
  } catch (err: any) {
    error = `${err.name}: ${err.message}`.slice(0, 200)
  }
  const ms = performance.now() - started
  const cpuMs = cpuMsSince(cpu)
  trace.end()
  await sleep(ctx.opOptions.countPauseMs)
  const g = goal(trace, value)
  const wan = ctx.wan
  const floor = g == null || wan == null ? undefined : lookupFloor(trace.ref, peer => wan.rtt(self, peer), g)
  return {
    value,
    sample: {
      ms,
      floorMs: floor?.ms ?? NaN,
      hops: floor?.hops ?? NaN,
      requests: requestsSent(asker, ctx.impl) - sent,
      distinct: trace.ref.asked.size,
      streams: streams() - streams0,
      pings: pings() - pings0,
      connections: trace.opened,
      failed: trace.failed,
      cpuMs,
      ok: error == null,
      // what it threw, and why its first requests failed
      error: error == null ? undefined : [error, ...trace.failures].join('; ')
    }
  }
}

/**
 * getClosestPeers (from a node with no connection open over the WAN), then the same lookup
 * again at once (warm: the connections it needs are open). Success: at least one peer returned; accuracy:
 * the share of the true k closest live servers (by brute force) among them.
 */
export async function closestPair (ctx: OpContext, asker: BenchNode, key: Uint8Array): Promise<[OpSample, OpSample]> {
  await start(ctx, asker)
  const once = async (): Promise<OpSample> => {
    const { sample, value } = await measured(ctx, asker, async on => closest(asker, ctx.impl, key, on), (_, v) => v == null ? undefined : { all: v.ids })
    const want = truth(ctx.live(), key, asker)
    const ids = value?.ids ?? []
    return { ...sample, ok: sample.ok && ids.length > 0, returned: ids.length, accuracy: ids.filter(id => want.has(id)).length / want.size }
  }
  const cold = await once()
  return [cold, await once()]
}

/**
 * findPeer of `target` through the network, from no open connection unless `cold` is false;
 * success: an address of it was found.
 */
export async function findPeerOp (ctx: OpContext, asker: BenchNode, target: BenchNode, cold = true): Promise<OpSample> {
  if (cold) {
    await start(ctx, asker)
  }
  const wanted = target.peerId.toString()
  const { sample, value } = await measured(ctx, asker, async on => findPeer(asker, ctx.impl, target.peerId, on), (trace) => ({
    // the lookup ends at the first answer that lists the target (or the target's own answer)
    any: [...trace.ref.answers].filter(([peer, closer]) => peer === wanted || closer.includes(wanted)).map(([peer]) => peer)
  }))
  return { ...sample, ok: sample.ok && (value ?? 0) > 0 }
}

/** Picks the node that reads what was stored, among nodes the record was not stored on. */
export type PickReader = (storedOn: Set<string>) => BenchNode

/** Where the records of a put or provide landed (`storedOn`), against the true k closest live servers. */
function landed (ctx: OpContext, writer: BenchNode, key: Uint8Array, storedOn: Set<string>): Pick<OpSample, 'onTrue' | 'reached'> {
  const want = truth(ctx.live(), key, writer)
  const on = [...storedOn].filter(id => want.has(id)).length
  return { onTrue: storedOn.size === 0 ? NaN : on / storedOn.size, reached: on / want.size }
}

/** The k peers closest to `key` among those that answered: the result of a lookup run to its end. */
function closestAnswered (trace: Trace, key: Uint8Array, k = 20): string[] {
  const target = kadId(key)
  return [...trace.ref.answers.keys()]
    .map(id => ({ id, key: kadId(peerIdFromString(id).toMultihash().bytes) }))
    .sort((a, b) => compareDistance(a.key, b.key, target))
    .slice(0, k)
    .map(p => p.id)
}

/**
 * put from `writer`, then get from a reader the record was not stored on (else it may answer
 * from its own store). put's floor: its lookup's, then one more round trip to the farthest peer
 * it stored on (PUT_VALUE is answered); get's: its lookup's (both implementations run it to the
 * end to pick the best record). Success: put did not throw; get returned the value put.
 */
export async function putGet (ctx: OpContext, writer: BenchNode, pickReader: PickReader, key: Uint8Array, value: Uint8Array): Promise<[OpSample, OpSample]> {
  await start(ctx, writer)
  const self = writer.peerId.toString()
  let storedOn = new Set<string>()
  const w = await measured(ctx, writer, async on => put(writer, ctx.impl, key, value, on), (trace) => {
    storedOn = trace.stored
    return { all: [...trace.stored], after: peer => ctx.wan?.rtt(self, peer) ?? 0 }
  })
  const reader = pickReader(storedOn)
  await start(ctx, reader)
  const r = await measured(ctx, reader, async on => get(reader, ctx.impl, key, on), (trace) => ({ all: closestAnswered(trace, key) }))
  const got = r.value
  return [{ ...w.sample, ...landed(ctx, writer, key, storedOn) }, { ...r.sample, ok: r.sample.ok && got != null && got.length === value.length && got.every((b, i) => b === value[i]) }]
}

/**
 * provide from `provider`, then find the first provider from a seeker the record was not sent
 * to. provide's floor: its lookup's (ADD_PROVIDER has no answer to wait for); findProviders':
 * the first answer with a provider. Success: provide did not throw; the provider found is
 * `provider`.
 */
export async function provideFind (ctx: OpContext, provider: BenchNode, pickSeeker: PickReader, cid: CID): Promise<[OpSample, OpSample]> {
  await start(ctx, provider)
  let storedOn = new Set<string>()
  const w = await measured(ctx, provider, async on => provide(provider, ctx.impl, cid, on), (trace) => {
    storedOn = trace.stored
    return { all: [...trace.stored] }
  })
  // an optimistic provide returns before its last sends, and kadmium reports nothing of them:
  // where the records landed is read from the servers' stores once those sends had time to land
  await sleep(LANDING_PAUSE)
  const holders = await providerHolders(ctx, cid, provider)
  const seeker = pickSeeker(new Set([...storedOn, ...holders]))
  await start(ctx, seeker)
  const r = await measured(ctx, seeker, async on => findProvider(seeker, ctx.impl, cid, on), (trace) => ({ any: [...trace.holders] }))
  return [{ ...w.sample, ...landed(ctx, provider, cid.multihash.bytes, holders) }, { ...r.sample, ok: r.sample.ok && r.value === provider.peerId.toString() }]
}

/** The live servers (other than the provider) whose provider store holds `provider` for `cid`. */
async function providerHolders (ctx: OpContext, cid: CID, provider: BenchNode): Promise<Set<string>> {
  const out = new Set<string>()
  for (const node of ctx.live()) {
    if (node === provider) {
      continue
    }
    // each implementation's own store, which neither exports
    const dht = node.services.dht as any
    const held: Array<{ equals(other: unknown): boolean }> = await (ctx.impl === 'kadmium'
      ? dht.layers.providerStore.get(cid.multihash.bytes)
      : dht.providers.getProviders(cid)).catch(() => [])
    if (held.some(p => p.equals(provider.peerId))) {
      out.add(node.peerId.toString())
    }
  }
  return out
}

/**
 * Provides `cids` from `provider`: with kadmium's provideMany (`many`), else one provide after
 * another (no floor: it is many lookups); then a random other node looks for the provider of the
 * first `check` of them (from no open connection over the WAN). Success: every CID reported
 * provided.
 */
export async function provideBatch (ctx: OpContext, provider: BenchNode, cids: CID[], many: boolean, seekers: () => BenchNode, check: number): Promise<OpSample> {
  await start(ctx, provider)
  const { sample, value } = await measured(ctx, provider, async () => {
    if (many) {
      return provideMany(provider as KadmiumBenchNode, cids)
    }
    let provided = 0
    for (const cid of cids) {
      provided += await provide(provider, ctx.impl, cid).then(() => 1, () => 0)
    }
    return provided
  }, () => undefined)
  let found = 0
  for (const cid of cids.slice(0, check)) {
    const seeker = seekers()
    await start(ctx, seeker)
    found += await findProvider(seeker, ctx.impl, cid).then(id => id === provider.peerId.toString() ? 1 : 0, () => 0)
  }
  const provided = value ?? 0
  return { ...sample, ok: sample.ok && provided === cids.length, cids: cids.length, provided, found, checked: Math.min(check, cids.length) }
}
