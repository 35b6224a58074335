/**
 * Routing-table convergence: N kadmium nodes in one process over TCP loopback, each starting
 * with one contact (a random earlier node), bucket refresh on and the random walk on. Prints how
 * long it takes until every node's 20 closest known peers are the true 20 closest to it, how
 * many FIND_NODE requests that cost, and how many connections each node holds at the end.
 *
 * Run: `node dist/bench/convergence.js [--nodes 50] [--walk 3000] [--limit 300000]`
 */
import { parseArgs } from 'node:util'
import { kadId } from '../src/keys.ts'
import { connect, kadmiumNode, trueClosest } from '../test/utils/nodes.ts'
import type { KadmiumNode } from '../test/utils/nodes.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '50' },
    walk: { type: 'string', default: '3000' },
    limit: { type: 'string', default: '300000' }
  }
})
const count = Number(values.nodes)
const walk = Number(values.walk)
const limit = Number(values.limit)

const started = Date.now()
const nodes: KadmiumNode[] = []
for (let i = 0; i < count; i++) {
  nodes.push(await kadmiumNode({ randomWalk: { enabled: true, interval: walk } }))
}
for (let i = 1; i < nodes.length; i++) {
  await connect(nodes[i], nodes[Math.floor(Math.random() * i)])
}
const joined = Date.now()
const ids = nodes.map(n => n.peerId)
const truth = new Map(nodes.map(n => [n, trueClosest(ids, n.peerId.toMultihash().bytes, 20, n.peerId).join()]))
const converged = (node: KadmiumNode): boolean =>
  node.services.dht.routingTable.closest(kadId(node.peerId.toMultihash().bytes), 20).map(e => e.id).join() === truth.get(node)

const rows: string[] = []
let done = 0
while (Date.now() - joined < limit) {
  await new Promise(resolve => setTimeout(resolve, 1_000))
  const now = nodes.filter(converged).length
  if (now !== done) {
    done = now
    rows.push(`| ${((Date.now() - joined) / 1000).toFixed(1).padStart(8)} s | ${String(now).padStart(9)} |`)
  }
  if (now === nodes.length) {
    break
  }
}
const requests = nodes.reduce((sum, n) => sum + (n.services.dht.stats().outbound.FIND_NODE ?? 0), 0)
const connections = nodes.reduce((sum, n) => sum + n.getConnections().length, 0)
process.stdout.write(`\nrouting-table convergence: ${count} nodes, one contact each, refresh on, random walk every ${walk} ms\n\n`)
process.stdout.write('|    after   | converged |\n| ---------- | --------- |\n')
process.stdout.write(rows.join('\n') + '\n\n')
process.stdout.write(`set-up (start and first contacts): ${((joined - started) / 1000).toFixed(1)} s\n`)
process.stdout.write(`converged: ${done}/${count} nodes${done === count ? '' : ' (not all: limit reached)'}\n`)
process.stdout.write(`FIND_NODE requests sent by all nodes: ${requests} (${(requests / count).toFixed(1)} per node)\n`)
process.stdout.write(`connections per node at the end: ${(connections / count).toFixed(1)}\n`)
await Promise.all(nodes.map(async n => n.stop()))
