/**
 * The emulated WAN: `@libp2p/memory` connections that take a pair's round-trip time to open and
 * deliver every chunk half a round trip after it was sent, between nodes that may be made
 * unreachable.
 *
 * Why not the memory transport's own `latency` option: in `@libp2p/memory` 2.0.15 it is the
 * listener's value, applied once on dial and then to every chunk a connection carries in
 * either direction, one chunk after another (each chunk waits for the previous chunk's delay to
 * end: `it-map` over the incoming pushable awaits `delay(latency)` per chunk). A burst of n chunks
 * therefore arrives after n × latency: in a calibration run at latency 50 ms, one FIND_NODE on an
 * open connection took 514–565 ms (5 round trips) and opening a stream 680 ms. That is a link of
 * a few chunks per round trip, not a latency, and every number measured over it would be a
 * count of chunks. So the nodes here use the memory transport with latency 0 and this wrapper
 * adds the delay instead: each chunk is handed to the connection `oneWay` ms after it was sent
 * (chunks overtake nothing: one timer duration per connection and direction keeps them in order,
 * and the end of the stream is delayed the same way so it never overtakes data).
 *
 * A dial costs one round trip before the connection exists (a TCP handshake: SYN, SYN-ACK), then
 * libp2p's upgrade runs over the delayed connection as it would over TCP. A dial to a node marked
 * unreachable (gone, or behind a NAT) never connects: it waits until the dialer gives up, as a
 * dial to a dropped SYN does.
 */
import { memory } from '@libp2p/memory'
import { CODE_P2P } from '@multiformats/multiaddr'
import type { ComponentLogger, MultiaddrConnection, PeerId, Transport, Upgrader } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** One node of the emulated WAN. */
interface WanNode {
  /** The node's latency factor (see bench/wan/latency.ts). */
  factor: number
  /** False: dials to it hang until the dialer gives up. */
  reachable: boolean
}

/** The nodes of an emulated WAN and the round-trip time between any two of them. */
export class WanNetwork {
  private readonly nodes = new Map<string, WanNode>()
  private readonly byAddress = new Map<string, string>()
  private readonly dialWatchers = new Set<(from: string, to: string) => void>()
  /** Dials each node has under way now, and the most it had at once, by peer id. */
  readonly dials = new Map<string, { now: number, peak: number }>()
  /** The round-trip time in ms between two nodes, from their factors. */
  readonly pairRtt: (a: number, b: number) => number

  constructor (pairRtt: (a: number, b: number) => number) {
    this.pairRtt = pairRtt
  }

  /** Registers a node by its peer id and memory address (`/memory/name`). */
  add (peerId: string, address: string, factor: number): void {
    this.nodes.set(peerId, { factor, reachable: true })
    this.byAddress.set(address, peerId)
  }

  /** Makes a node reachable or not (a dial to an unreachable node hangs). */
  setReachable (peerId: string, reachable: boolean): void {
    const node = this.nodes.get(peerId)
    if (node != null) {
      node.reachable = reachable
    }
  }

  reachable (peerId: string): boolean {
    return this.nodes.get(peerId)?.reachable === true
  }

  /**
   * The round-trip time in ms between two registered nodes, as the transport applies it: twice
   * the one-way delay, rounded to whole ms (timers of one duration fire in the order they were
   * set, which keeps a connection's chunks in order).
   */
  rtt (a: string, b: string): number {
    const x = this.nodes.get(a)
    const y = this.nodes.get(b)
    if (x == null || y == null) {
      throw new Error(`no latency for ${a} ↔ ${b}: a node is not registered`)
    }
    return 2 * Math.max(1, Math.round(this.pairRtt(x.factor, y.factor) / 2))
  }

  /** Calls `watcher(from, to)` whenever a node starts dialling another; returns how to stop. */
  watchDials (watcher: (from: string, to: string) => void): () => void {
    this.dialWatchers.add(watcher)
    return () => { this.dialWatchers.delete(watcher) }
  }

  /** Tells the dial watchers (the transport calls it). */
  dialling (from: string, to: string): void {
    this.dialWatchers.forEach(watcher => { watcher(from, to) })
  }

  /** The peer id a dialled multiaddr names: its /p2p part, else the node listening there. */
  peerOf (ma: Multiaddr): string | undefined {
    const id = ma.getComponents().find(c => c.code === CODE_P2P)?.value
    return id ?? this.byAddress.get(ma.decapsulate('/p2p').toString())
  }

  /** The transport of one node: the memory transport with this network's latencies. */
  transport (): (components: { peerId: PeerId, logger: ComponentLogger }) => Transport {
    return (components) => wanTransport(this, components)
  }
}

/** The two calls through which the memory transport hands a connection what it received. */
export interface Receiver {
  onData(data: unknown): void
  onTransportClosed(err?: Error): void
}

/**
 * Hands each incoming chunk (and the end of the stream) to `maConn` `oneWay` ms late, in order:
 * chunks sent together arrive together (a latency, not a rate).
 */
export function delayIncoming (conn: Receiver, oneWay: number): void {
  const onData = conn.onData.bind(conn)
  const onTransportClosed = conn.onTransportClosed.bind(conn)
  conn.onData = (data) => { setTimeout(onData, oneWay, data) }
  conn.onTransportClosed = (err) => { setTimeout(onTransportClosed, oneWay, err) }
}

/** Waits `ms` (forever when undefined) or until `signal` aborts, then throws its reason. */
async function sleep (ms: number | undefined, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const timer = ms == null
      ? undefined
      : setTimeout(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** `upgrader` with one method replaced (a proxy: the upgrader's own methods keep their `this`). */
function override (upgrader: Upgrader, method: 'upgradeInbound' | 'upgradeOutbound', replacement: (...args: any[]) => Promise<any>): Upgrader {
  return new Proxy(upgrader, {
    get (target, prop) {
      if (prop === method) {
        return replacement
      }
      const value = Reflect.get(target, prop)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

function wanTransport (net: WanNetwork, components: { peerId: PeerId, logger: ComponentLogger }): Transport {
  const self = components.peerId.toString()
  // the memory transport's factory takes more components than it uses (peerId and logger)
  const inner = memory()(components as any)
  const innerDial = inner.dial.bind(inner)
  const innerListener = inner.createListener.bind(inner)
  inner.dial = async (ma, options) => {
    const remote = net.peerOf(ma)
    if (remote != null) {
      net.dialling(self, remote)
    }
    const count = net.dials.get(self) ?? { now: 0, peak: 0 }
    net.dials.set(self, count)
    count.now++
    count.peak = Math.max(count.peak, count.now)
    try {
      if (remote == null || !net.reachable(remote)) {
        // a dropped SYN: nothing happens until the dialer gives up
        await sleep(undefined, options.signal)
      }
      const rtt = net.rtt(self, remote as string)
      await sleep(rtt, options.signal)
      const upgrader = override(options.upgrader, 'upgradeOutbound', async (maConn: MultiaddrConnection, opts: any) => {
        delayIncoming(maConn as unknown as Receiver, rtt / 2)
        return options.upgrader.upgradeOutbound(maConn, opts)
      })
      return await innerDial(ma, { ...options, upgrader })
    } finally {
      count.now--
    }
  }
  inner.createListener = (options) => {
    const upgrader = override(options.upgrader, 'upgradeInbound', async (maConn: MultiaddrConnection, opts: any) => {
      const remote = net.peerOf(maConn.remoteAddr)
      delayIncoming(maConn as unknown as Receiver, remote == null ? 0 : net.rtt(self, remote) / 2)
      return options.upgrader.upgradeInbound(maConn, opts)
    })
    return innerListener({ ...options, upgrader })
  }
  return inner
}
