/**
 * Client and server mode. A server handles the protocol (and identify advertises it); a client
 * registers nothing and only asks. `'auto'` is a server while the node has a *confirmed* address
 * the address scope counts as reachable, a client otherwise, and follows the node's addresses.
 *
 * Confirmed is libp2p's word: the address manager marks an address verified once something
 * vouched for it. A public address (on an interface, mapped by UPnP, or seen by peers through
 * identify) is verified when AutoNAT (`@libp2p/autonat`) had peers dial it back; a private one
 * (a LAN's, loopback) is taken as it is, which is what the `'all'` scope of a LAN wants. An
 * address given in libp2p's `announce` list is listed as verified on the user's word alone, so it
 * does not count here: a node that only announces stays a client unless its mode is pinned. This
 * is how go-libp2p-kad-dht decides (from AutoNAT's reachability), not `@libp2p/kad-dht`'s "has a
 * public address".
 */
import { inScope } from './network/addresses.ts'
import type { Emitter, NodeEvents } from './events.ts'
import type { AddressScope } from './network/addresses.ts'
import type { Libp2pEvents, Logger, StreamHandler, StreamHandlerOptions, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, Registrar } from '@libp2p/interface-internal'

/** A requested mode: pinned to `'server'` or `'client'`, or `'auto'`. */
export type Mode = 'server' | 'client' | 'auto'

/** What the node is now. */
export type ActiveMode = 'server' | 'client'

/** The multiaddr code of `/p2p-circuit`: a relayed address does not make a node reachable. */
const CIRCUIT_CODE = 0x0122

/** The events after which the node's addresses may have changed. */
const ADDRESS_EVENTS = ['self:peer:update', 'transport:listening', 'transport:close'] as const

/** What the mode controller needs. */
export interface ModeInit {
  registrar: Registrar
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  protocol: string
  handler: StreamHandler
  handlerOptions: StreamHandlerOptions
  addresses: AddressScope
  log: Logger
  /** Where it tells that the node switched. */
  channel: Emitter<Pick<NodeEvents, 'mode'>>
}

/** Switches between client and server. */
export class ModeController {
  private readonly init: ModeInit
  private requested: Mode
  private active: ActiveMode
  private running: boolean
  private applying: Promise<void>
  private pending?: ReturnType<typeof setTimeout>

  constructor (init: ModeInit, requested: Mode) {
    this.init = init
    this.requested = requested
    this.active = 'client'
    this.running = false
    this.applying = Promise.resolve()
  }

  /** What the node is now. */
  get mode (): ActiveMode {
    return this.active
  }

  /** What was asked for. */
  get request (): Mode {
    return this.requested
  }

  async start (): Promise<void> {
    this.running = true
    for (const event of ADDRESS_EVENTS) {
      this.init.events.addEventListener(event, this.onAddresses)
    }
    await this.apply()
  }

  /** Looks at the addresses again (libp2p calls this once every transport listens). */
  async check (): Promise<void> {
    await this.apply()
  }

  async stop (): Promise<void> {
    this.running = false
    for (const event of ADDRESS_EVENTS) {
      this.init.events.removeEventListener(event, this.onAddresses)
    }
    clearTimeout(this.pending)
    this.pending = undefined
    await this.apply()
  }

  /** Pins the mode, or lets it follow the addresses with `'auto'`. */
  async set (mode: Mode): Promise<void> {
    this.requested = mode
    await this.apply()
  }

  /** Whether the node has a confirmed, direct address the scope counts as reachable. */
  reachable (): boolean {
    const confirmed = this.init.addressManager.getAddressesWithMetadata()
      .filter(address => address.verified && address.type !== 'announce' && !address.multiaddr.getComponents().some(c => c.code === CIRCUIT_CODE))
      .map(address => address.multiaddr)
    return inScope(this.init.addresses, confirmed).length > 0
  }

  private readonly onAddresses = (): void => {
    if (this.requested !== 'auto' || this.pending != null) {
      return
    }
    // look once the event's other listeners (the address manager) have taken it in
    this.pending = setTimeout(() => {
      this.pending = undefined
      void this.apply().catch(err => { this.init.log('mode switch failed: %s', err.message) })
    }, 0)
  }

  private desired (): ActiveMode {
    if (!this.running) {
      return 'client'
    }
    if (this.requested === 'auto') {
      return this.reachable() ? 'server' : 'client'
    }
    return this.requested
  }

  /** Brings the registration in line with the desired mode; one change at a time. */
  private async apply (): Promise<void> {
    this.applying = this.applying.catch(() => {}).then(async () => {
      const target = this.desired()
      if (target === this.active) {
        return
      }
      if (target === 'server') {
        await this.init.registrar.handle(this.init.protocol, this.init.handler, this.init.handlerOptions)
      } else {
        await this.init.registrar.unhandle(this.init.protocol)
      }
      this.active = target
      this.init.log('now in %s mode', target)
      if (this.running) {
        this.init.channel.emit('mode', target)
      }
    })
    return this.applying
  }
}
