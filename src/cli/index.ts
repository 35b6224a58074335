#!/usr/bin/env node
/**
 * `kadmium [--listen <multiaddr>]… [<multiaddr to dial>]…`
 *
 * Starts one server-mode DHT node on TCP (127.0.0.1 unless told otherwise) with noise, yamux
 * and identify, prints its peer id and addresses, and dials the multiaddrs given. Ctrl-C stops
 * it.
 */
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { kadDHT } from '../index.ts'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    listen: { type: 'string', multiple: true, default: ['/ip4/127.0.0.1/tcp/0'] },
    help: { type: 'boolean', short: 'h' }
  }
})

if (values.help === true) {
  process.stdout.write('usage: kadmium [--listen <multiaddr>]... [<multiaddr to dial>]...\n')
  process.exit(0)
}

const node = await createLibp2p({
  addresses: { listen: values.listen },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    // @libp2p/kad-dht admits a peer to its table only after a libp2p ping
    ping: ping(),
    // listening on loopback by default, so loopback and private addresses are shared
    dht: kadDHT({ mode: 'server', addresses: 'all' })
  }
})

process.stdout.write(`peer id: ${node.peerId.toString()}\n`)
for (const ma of node.getMultiaddrs()) {
  process.stdout.write(`listening on: ${ma.toString()}\n`)
}

for (const address of positionals) {
  try {
    const connection = await node.dial(multiaddr(address))
    process.stdout.write(`connected to: ${connection.remotePeer.toString()}\n`)
  } catch (err: any) {
    process.stderr.write(`could not dial ${address}: ${err.message}\n`)
  }
}

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) {
    return
  }
  stopping = true
  await node.stop()
  process.exit(0)
}
process.on('SIGINT', () => { void stop() })
process.on('SIGTERM', () => { void stop() })
