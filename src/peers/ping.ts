/**
 * PING: answered with the request echoed, as go-libp2p-kad-dht does. kadmium never sends it
 * (the IPFS spec deprecates it); liveness checks use FIND_NODE.
 */
import type { RequestHandler } from '../network/server.ts'

/** Makes the PING handler. */
export function pingHandler (): RequestHandler {
  return (_from, request) => ({ type: request.type, key: request.key, clusterLevel: request.clusterLevel })
}
