/**
 * @packageDocumentation
 *
 * `kadmium/routing-v1`: the Delegated Routing V1 HTTP API (ipfs/specs `http-routing-v1`, with
 * IPIPs 410, 476, 484 and 513) served over a kadmium DHT, as a fetch handler. It is what Helia
 * in a browser, and `@helia/delegated-routing-v1-http-api-client`, ask instead of joining the DHT:
 * a self-hosted someguy. The `kadmium daemon` serves it on its own port.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { kadDHT } from 'kadmium'
 * import { RoutingV1Server } from 'kadmium/routing-v1'
 *
 * const node = await createLibp2p({ ...transports, services: { identify: identify(), dht: kadDHT() } })
 * const routing = new RoutingV1Server(node.services.dht)
 *
 * // any server of the Fetch API: Deno.serve, Bun.serve, a worker's fetch event…
 * Deno.serve((request, info) => routing.fetch(request, { client: info.remoteAddr.hostname }))
 *
 * // then, in a page:
 * // const client = createDelegatedRoutingV1HttpApiClient('http://127.0.0.1:8000')
 * // for await (const provider of client.getProviders(cid)) { … }
 * ```
 */
export { RoutingV1Server } from './server.ts'
export type { RoutingV1Init, RoutingV1RequestInfo, RoutingV1Routing, RoutingV1Stats } from './server.ts'
export type { PeerRecord } from './records.ts'
export * from './constants.ts'
