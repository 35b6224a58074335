/**
 * The soak (`--soak` with `--hours H`): do records live for days? At hour 0, `SOAK_KEEPERS`
 * servers that are never replaced provide `SOAK_CIDS` CIDs and put `SOAK_VALUES` values (kadmium
 * keeps them: `put(…, { keep: true })`; `@libp2p/kad-dht` has no such thing and puts them once).
 * Then, every hour, 5 % of the servers are replaced (a non-keeper leaves, a new server joins
 * through a random live one) and 10 % restart from their datastore (keepers too), each at a
 * random moment of the hour, down for 30 s to 5 min. At the end of every hour (and at hour 0)
 * every CID is looked for from a random server other than its provider (`findProviders`, the
 * first provider) and every value is read from a random server other than its owner.
 *
 * A value is read without writing: the reader looks the key up (its own getClosestPeers) and
 * asks each of the k closest it found for the record (one GET_VALUE each); the value counts as
 * got when one of them answers with it. Not the implementations' `get`: kadmium's stores the best
 * record on the closest peers that lack it (its correction), so an hourly read would keep a
 * value alive by itself, and the soak measures what republishing does.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { MAX_MESSAGE_SIZE } from '../../src/constants.ts'
import { streamSource } from '../../src/network/stream-source.ts'
import { MessageType, decodeMessage, encodeMessage } from '../../src/wire/codec.ts'
import { frame, readFrames } from '../../src/wire/framing.ts'
import { BENCH_PROTOCOL, pool } from '../lib/nodes.ts'
import { closest, findProvider, provide, sleep } from './operations.ts'
import type { Progress } from './child.ts'
import type { HourSample } from './report.ts'
import type { World } from './world.ts'
import type { BenchNode, Impl, JsBenchNode, KadmiumBenchNode } from '../lib/nodes.ts'
import type { Random } from '../lib/random.ts'
import type { PeerId } from '@libp2p/interface'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** CIDs provided at hour 0. */
export const SOAK_CIDS = 100
/** Values put (kept, by kadmium) at hour 0. */
export const SOAK_VALUES = 50
/** Servers that provide and put, and are never replaced (they do restart). */
export const SOAK_KEEPERS = 5
/** Share of the servers replaced every hour. */
export const SOAK_REPLACED = 0.05
/** Share of the servers restarted from their datastore every hour. */
export const SOAK_RESTARTED = 0.1
/** A restarted server is down for a random time between these, in ms. */
const DOWN_MS: [number, number] = [30_000, 5 * MINUTE]
/** Checks run at once. */
const CHECKS_AT_ONCE = 8
/** One GET_VALUE of a check, at most. */
const READ_TIMEOUT = 10_000

interface Provided { cid: CID, provider: string }
interface Put { key: Uint8Array, value: Uint8Array, owner: string }

/** A soak's state: who keeps what, and what happened to the servers. */
export class Soak {
  private readonly world: World
  private readonly impl: Impl
  private readonly random: Random
  private readonly progress: Progress
  /** The keepers' peer ids (a restarted keeper is a new node object with the same id). */
  private readonly keepers = new Set<string>()
  private readonly provided: Provided[] = []
  private readonly put: Put[] = []
  /** Nodes being replaced or restarted: no other event or check picks them. */
  private readonly busy = new Set<BenchNode>()

  constructor (world: World, random: Random, progress: Progress) {
    this.world = world
    this.impl = world.impl
    this.random = random
    this.progress = progress
  }

  /** Hour 0: the keepers provide the CIDs and put the values, one after another. */
  async start (seed: number): Promise<void> {
    const keepers = this.random.sample(this.world.servers.length, SOAK_KEEPERS).map(i => this.world.servers[i])
    keepers.forEach(node => this.keepers.add(node.peerId.toString()))
    for (let i = 0; i < SOAK_CIDS; i++) {
      const node = keepers[i % keepers.length]
      const cid = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`soak ${seed} cid ${i}`)))
      await provide(node, this.impl, cid).catch((err) => { this.progress(`provide ${i} failed: ${err.message}`) })
      this.provided.push({ cid, provider: node.peerId.toString() })
    }
    for (let i = 0; i < SOAK_VALUES; i++) {
      const node = keepers[i % keepers.length]
      const key = new TextEncoder().encode(`/bench/soak-${seed}-${i}`)
      const value = this.random.bytes(100)
      await this.keep(node, key, value).catch((err) => { this.progress(`put ${i} failed: ${err.message}`) })
      this.put.push({ key, value, owner: node.peerId.toString() })
    }
    this.progress(`hour 0: ${this.provided.length} CIDs provided and ${this.put.length} values put by ${keepers.length} keepers`)
  }

  /**
   * Lives one hour: `SOAK_REPLACED` of the servers replaced and `SOAK_RESTARTED` restarted, each
   * at a random moment; resolves at the end of the hour, once every restart is back up.
   */
  async live (servers: number): Promise<{ replaced: number, restarted: number }> {
    const end = performance.now() + HOUR
    const done = { replaced: 0, restarted: 0 }
    const events = [
      ...Array.from({ length: Math.round(servers * SOAK_REPLACED) }, () => ({ at: this.random.next() * HOUR, run: async () => { done.replaced += await this.replace() } })),
      ...Array.from({ length: Math.round(servers * SOAK_RESTARTED) }, () => ({ at: this.random.next() * HOUR, run: async () => { done.restarted += await this.restart() } }))
    ]
    const start = performance.now()
    await Promise.all(events.map(async ({ at, run }) => {
      await sleep(Math.max(0, start + at - performance.now()))
      await run()
    }))
    await sleep(Math.max(0, end - performance.now()))
    return done
  }

  /** Every CID looked for and every value read, each from a random server other than its owner: the shares found. */
  async check (): Promise<Pick<HourSample, 'cidsFound' | 'valuesGot'>> {
    let found = 0
    let got = 0
    await pool(this.provided, CHECKS_AT_ONCE, async ({ cid, provider }) => {
      const asker = this.pickServer(provider)
      if (asker != null && await findProvider(asker, this.impl, cid).catch(() => undefined) === provider) {
        found++
      }
    })
    await pool(this.put, CHECKS_AT_ONCE, async ({ key, value, owner }) => {
      const reader = this.pickServer(owner)
      if (reader != null && await this.read(reader, key, value)) {
        got++
      }
    })
    return { cidsFound: found / Math.max(1, this.provided.length), valuesGot: got / Math.max(1, this.put.length) }
  }

  /** kadmium keeps the value alive; js puts it once (it has no republishing). */
  private async keep (node: BenchNode, key: Uint8Array, value: Uint8Array): Promise<void> {
    if (this.impl === 'kadmium') {
      await (node as KadmiumBenchNode).services.dht.put(key, value, { keep: true, signal: AbortSignal.timeout(120_000) })
      return
    }
    for await (const event of (node as JsBenchNode).services.dht.put(key, value, { signal: AbortSignal.timeout(120_000) })) {
      void event
    }
  }

  /** Whether one of the k closest peers that `reader`'s lookup finds holds `value` under `key`. */
  private async read (reader: BenchNode, key: Uint8Array, value: Uint8Array): Promise<boolean> {
    const { ids } = await closest(reader, this.impl, key).catch(() => ({ ids: [] as string[] }))
    for (const id of ids) {
      if (await this.holds(reader, peerIdFromString(id), key, value)) {
        return true
      }
    }
    return false
  }

  /** One GET_VALUE to `peer`: whether it answers with `value`. */
  private async holds (reader: BenchNode, peer: PeerId, key: Uint8Array, value: Uint8Array): Promise<boolean> {
    const signal = AbortSignal.timeout(READ_TIMEOUT)
    try {
      const stream = await reader.dialProtocol(peer, BENCH_PROTOCOL, { signal })
      try {
        stream.send(frame(encodeMessage({ type: MessageType.GET_VALUE, key })))
        const answer = await readFrames(streamSource(stream), { maxMessageSize: MAX_MESSAGE_SIZE, messageTimeout: READ_TIMEOUT, idleTimeout: READ_TIMEOUT }).next()
        const record = answer.done === true ? undefined : decodeMessage(answer.value).record
        return record != null && equals(record.value, value)
      } finally {
        stream.abort(new Error('done'))
      }
    } catch {
      return false
    }
  }

  /** A random running server other than `not` (by peer id) and not busy. */
  private pickServer (not: string): BenchNode | undefined {
    const from = this.world.servers.filter(n => n.peerId.toString() !== not && !this.busy.has(n))
    return from.length === 0 ? undefined : from[this.random.int(from.length)]
  }

  /** A server that is not a keeper leaves; a new one joins through a random live server. */
  private async replace (): Promise<number> {
    const from = this.world.servers.filter(n => !this.keepers.has(n.peerId.toString()) && !this.busy.has(n))
    if (from.length === 0) {
      return 0
    }
    const node = from[this.random.int(from.length)]
    this.busy.add(node)
    try {
      await this.world.leave(node)
    } finally {
      this.busy.delete(node)
    }
    const joiner = await this.world.make()
    const bootstrap = this.pickServer('')
    await joiner.dial(bootstrap?.getMultiaddrs() ?? [], { signal: AbortSignal.timeout(30_000) }).catch(() => {})
    this.world.serve(joiner)
    return 1
  }

  /** A random server (keepers too) restarts from its datastore after a while down. */
  private async restart (): Promise<number> {
    const node = this.pickServer('')
    if (node == null) {
      return 0
    }
    this.busy.add(node)
    try {
      await this.world.restart(node, DOWN_MS[0] + this.random.next() * (DOWN_MS[1] - DOWN_MS[0]), this.random)
    } finally {
      this.busy.delete(node)
    }
    return 1
  }
}
