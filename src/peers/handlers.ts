/**
 * FIND_NODE: the k peers we know closest to the key (see {@link closerPeers}). PING: answered
 * with the request echoed, as go-libp2p-kad-dht does; kadmium never sends it (the IPFS spec
 * deprecates it), its liveness checks use FIND_NODE.
 */
import { InvalidMessageError } from '../errors.ts'
import { MessageType } from '../wire/codec.ts'
import type { RequestHandler } from '../network/server.ts'
import type { CloserPeers } from '../table/closer-peers.ts'

/** Makes the FIND_NODE handler. */
export function findNodeHandler (closer: CloserPeers): RequestHandler {
  return async (from, request) => {
    if (request.key == null) {
      throw new InvalidMessageError('FIND_NODE without a key')
    }
    return { type: MessageType.FIND_NODE, clusterLevel: request.clusterLevel, closer: await closer(from, request.key) }
  }
}

/** Makes the PING handler. */
export function pingHandler (): RequestHandler {
  return (_from, request) => ({ type: request.type, key: request.key, clusterLevel: request.clusterLevel })
}
