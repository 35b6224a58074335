/**
 * FIND_NODE: the k peers we know closest to the key (see {@link closerPeers}).
 */
import { InvalidMessageError } from '../../errors.js'
import { MessageType } from '../../wire/codec.js'
import type { closerPeers } from './closer-peers.js'
import type { RequestHandler } from '../server.js'

/** Makes the FIND_NODE handler. */
export function findNodeHandler (closer: ReturnType<typeof closerPeers>): RequestHandler {
  return async (from, request) => {
    if (request.key == null) {
      throw new InvalidMessageError('FIND_NODE without a key')
    }
    return { type: MessageType.FIND_NODE, clusterLevel: request.clusterLevel, closer: await closer(from, request.key) }
  }
}
