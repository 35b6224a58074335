/**
 * PUT_VALUE and GET_VALUE.
 *
 * PUT_VALUE: the message key must equal the record key; the record is validated and kept only
 * if it is at least as good as the stored one; the request is echoed on success, and any
 * failure resets the stream. GET_VALUE: the stored record, if valid and not expired (a `/pk/`
 * key may be answered from the peer store), and the closer peers.
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { equals } from 'uint8arrays/equals'
import { InvalidMessageError } from '../errors.ts'
import { peerIdFromBytes } from '../utils/peer-id.ts'
import { MessageType } from '../wire/codec.ts'
import { formatTime } from './record.ts'
import { PK_PREFIX } from './validators.ts'
import type { ValueStore } from './value-store.ts'
import type { RequestHandler } from '../network/server.ts'
import type { CloserPeers } from '../table/closer-peers.ts'
import type { WireRecord } from '../wire/codec.ts'
import type { PeerStore } from '@libp2p/interface'

/** Makes the PUT_VALUE handler. */
export function putValueHandler (store: ValueStore): RequestHandler {
  return async (_from, request) => {
    const { key, record } = request
    if (key == null || record == null) {
      throw new InvalidMessageError('PUT_VALUE needs a key and a record')
    }
    if (!equals(key, record.key)) {
      throw new InvalidMessageError('the record key differs from the message key')
    }
    await store.put(key, record.value)
    return { type: MessageType.PUT_VALUE, key, record, clusterLevel: request.clusterLevel }
  }
}

/** What the GET_VALUE handler needs. */
export interface GetValueInit {
  store: ValueStore
  peerStore: PeerStore
  closer: CloserPeers
}

/** Makes the GET_VALUE handler. */
export function getValueHandler (init: GetValueInit): RequestHandler {
  return async (from, request) => {
    const { key } = request
    if (key == null) {
      throw new InvalidMessageError('GET_VALUE without a key')
    }
    const stored = await init.store.get(key)
    let record: WireRecord | undefined = stored == null
      ? undefined
      : { key: stored.key, value: stored.value, timeReceived: stored.timeReceived == null ? undefined : formatTime(stored.timeReceived) }
    record ??= await publicKeyRecord(init.peerStore, key)
    return { type: MessageType.GET_VALUE, key, record, closer: await init.closer(from, key), clusterLevel: request.clusterLevel }
  }
}

/** A `/pk/` record made from a public key the peer store holds, if it does. */
async function publicKeyRecord (peerStore: PeerStore, key: Uint8Array): Promise<WireRecord | undefined> {
  if (key.length <= PK_PREFIX.length || !equals(key.subarray(0, PK_PREFIX.length), PK_PREFIX)) {
    return undefined
  }
  const peerId = peerIdFromBytes(key.subarray(PK_PREFIX.length))
  if (peerId == null) {
    return undefined
  }
  try {
    const publicKey = peerId.publicKey ?? (await peerStore.get(peerId)).id.publicKey
    return publicKey == null ? undefined : { key, value: publicKeyToProtobuf(publicKey) }
  } catch {
    return undefined
  }
}
