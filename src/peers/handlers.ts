/**
 * FIND_NODE: the k peers we know closest to the key (see {@link closerPeers}).
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
