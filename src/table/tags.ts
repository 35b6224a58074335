/**
 * Connection-manager tags that follow the routing table. libp2p's pruner, over its connection
 * limit, closes the connections of the peers with the lowest total tag value first; a peer whose
 * tags include one named `keep-alive…` is dialled again when its connection drops.
 *
 * Every table peer carries `kadmium-peer`; our k closest table peers also carry `kadmium-close`
 * and (unless turned off) `keep-alive-kadmium`. A peer met only in a lookup carries none, so its
 * connection is the first to go. The tags are written to the peer store a moment after the
 * table changes, for every peer whose standing changed since the last write, from what the table
 * holds then: a peer that entered and left meanwhile ends untagged.
 */
import { KEEP_ALIVE } from '@libp2p/interface'
import { clockOf } from '../clock.ts'
import { CLOSE_TAG, TABLE_TAG } from '../defaults.ts'
import type { Cancel, Clock } from '../clock.ts'
import type { KadId } from '../keys.ts'
import type { RoutingTable } from './routing-table.ts'
import type { DHTPeer } from '../network/dht-peer.ts'
import type { Logger, PeerId, PeerStore } from '@libp2p/interface'

/** The keep-alive tag of our k closest peers. */
export const KEEP_ALIVE_TAG = `${KEEP_ALIVE}-kadmium`

/** What the tagger needs; its clock is the real one unless `now` and `schedule` are given. */
export interface PeerTagsInit extends Partial<Clock> {
  peerStore: PeerStore
  table: RoutingTable<DHTPeer>
  /** Our own place in the keyspace: our k closest are the table's closest to it. */
  selfKadId: KadId
  kBucketSize: number
  /** The value of the tag of every table peer; 0: none. */
  tableTag: number
  /** The value of the tag of our k closest; 0: none. */
  closeTag: number
  /** Whether our k closest also carry the keep-alive tag. */
  keepAlive: boolean
  /** How long after a change the tags are written, in ms. */
  delay: number
  log: Logger
}

/** Keeps the tags of table peers in step with the table. */
export class PeerTags {
  private readonly init: PeerTagsInit
  /** Peers whose tags may be out of step, by id. */
  private readonly dirty: Map<string, PeerId>
  /** Our k closest as last tagged. */
  private closest: Set<string>
  private readonly clock: Clock
  /** Calls the pending write off, while one is pending. */
  private timer?: Cancel
  private writing?: Promise<void>
  private running: boolean

  constructor (init: PeerTagsInit) {
    this.init = init
    this.clock = clockOf(init)
    this.dirty = new Map()
    this.closest = new Set()
    this.running = false
  }

  start (): void {
    this.running = true
  }

  /** Stops writing tags; what is written stays (libp2p redials the keep-alive peers after a restart). */
  async stop (): Promise<void> {
    this.running = false
    this.timer?.()
    this.timer = undefined
    await this.writing
  }

  /** A peer entered or left the table: its tags, and perhaps who our k closest are, changed. */
  changed (peerId: PeerId): void {
    this.dirty.set(peerId.toString(), peerId)
    this.schedule()
  }

  private schedule (): void {
    if (!this.running || this.timer != null) {
      return
    }
    this.timer = this.clock.schedule(this.init.delay, () => {
      this.timer = undefined
      if (this.writing != null) {
        // a write is under way: the changes since wait for it
        void this.writing.then(() => { this.schedule() })
        return
      }
      this.writing = this.write().finally(() => { this.writing = undefined })
    })
  }

  /** Writes the tags of every peer whose standing may have changed. */
  private async write (): Promise<void> {
    const { init } = this
    const closest = new Set<string>()
    for (const entry of init.table.closest(init.selfKadId, init.kBucketSize)) {
      closest.add(entry.id)
      if (!this.closest.has(entry.id)) {
        this.dirty.set(entry.id, entry.peer.peerId)
      }
    }
    for (const id of this.closest) {
      const entry = init.table.get(id)
      if (!closest.has(id) && entry != null) {
        this.dirty.set(id, entry.peer.peerId)
      }
    }
    this.closest = closest
    const peers = [...this.dirty.values()]
    this.dirty.clear()
    await Promise.all(peers.map(async peerId => {
      const id = peerId.toString()
      const inTable = init.table.has(id)
      const close = closest.has(id)
      try {
        await init.peerStore.merge(peerId, {
          tags: {
            [TABLE_TAG]: inTable && init.tableTag > 0 ? { value: init.tableTag } : undefined,
            [CLOSE_TAG]: close && init.closeTag > 0 ? { value: init.closeTag } : undefined,
            [KEEP_ALIVE_TAG]: close && init.keepAlive ? { value: 1 } : undefined
          }
        })
      } catch (err: any) {
        init.log('could not tag %p: %s', peerId, err.message)
      }
    }))
  }
}
