/**
 * The typed event channel of a node's parts. The service builds each part once what it needs
 * exists, so dependencies point down; what must flow back up (the table's first peer, a sample
 * of the network size, a mode change, a peer a lookup discovered) is emitted here by the part
 * that sees it and heard by the parts above, which subscribe once they are built.
 */
import type { PeerInfo } from '@libp2p/interface'

/** What the parts of one node tell each other, by name, with what each event carries. */
export interface NodeEvents {
  /** The routing table got its first peer: the node has joined a network. */
  'first-peer': undefined
  /** A complete lookup added a sample to the network size estimate. */
  'network-size': undefined
  /** The node switched to being a server, or a client. */
  mode: 'server' | 'client'
  /** A lookup heard of a peer, with addresses, that the routing table does not hold. */
  discovered: PeerInfo
}

/** Where one part emits events of `E`. */
export interface Emitter<E> {
  emit<K extends keyof E>(type: K, detail: E[K]): void
}

/**
 * Listeners by event name. A listener runs at once, in the order listeners were added; one that
 * throws is told to `onError` and the others still run.
 *
 * @example
 * ```ts
 * const events = new Channel<NodeEvents>((err) => { log(err) })
 * const keeper = new TableKeeper({ ..., events })          // emits 'first-peer'
 * const refresher = new Refresher({ ... })                  // built later, above it
 * events.on('first-peer', () => { refresher.joined() })
 * ```
 */
export class Channel<E> implements Emitter<E> {
  private readonly listeners: Map<keyof E, Array<(detail: any) => void>>
  private readonly onError: (error: Error) => void

  constructor (onError: (error: Error) => void) {
    this.listeners = new Map()
    this.onError = onError
  }

  /** Calls `listener` with each event `type` from now on; returns the function that stops it. */
  on<K extends keyof E>(type: K, listener: (detail: E[K]) => void): () => void {
    const list = this.listeners.get(type) ?? []
    list.push(listener)
    this.listeners.set(type, list)
    return () => {
      const at = list.indexOf(listener)
      if (at >= 0) {
        list.splice(at, 1)
      }
    }
  }

  /** Tells every listener of `type`. */
  emit<K extends keyof E>(type: K, detail: E[K]): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) {
      try {
        listener(detail)
      } catch (err: any) {
        this.onError(err)
      }
    }
  }
}
