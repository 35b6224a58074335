/**
 * Long runs (`--hours H`): the network lives H hours of the run's clock (virtual by default) with
 * its upkeep on its own schedules (kadmium's refresh, js's self-query and table refresh,
 * reprovides, record expiry, libp2p's connection monitor), and is sampled at the end of every
 * hour: memory, connections, streams, timers and datastore keys per node, the CPU that hour cost,
 * the streams it carried. A soak that does more each hour (nodes replaced or restarted, records
 * checked) passes `each`, which runs before the sample is taken.
 */
import { tableSize } from '../lib/nodes.ts'
import { cpuMsSince, mean, memory } from '../lib/stats.ts'
import { virtualTime } from '../lib/virtual-time.ts'
import { pings, sleep, streams } from './operations.ts'
import type { Progress } from './child.ts'
import type { HourSample } from './report.ts'
import type { World } from './world.ts'
import type { BenchNode } from '../lib/nodes.ts'

const HOUR = 3_600_000

/** The keys in a node's datastore (libp2p's datastore component: records, providers, the peer store). */
async function datastoreKeys (node: BenchNode): Promise<number> {
  // the components are not part of libp2p's public interface
  const datastore = (node as any).components?.datastore
  if (datastore == null) {
    return NaN
  }
  let keys = 0
  for await (const key of datastore.queryKeys({})) {
    keys += key == null ? 0 : 1
  }
  return keys
}

/**
 * Lets `world` live `hours` hours; after each, runs `each(hour)` (if given) and calls `sample`
 * with that hour's figures.
 */
export async function liveHours (world: World, hours: number, progress: Progress, sample: (hour: HourSample) => void, each?: (hour: number) => Promise<void>): Promise<void> {
  for (let hour = 1; hour <= hours; hour++) {
    const cpu = process.cpuUsage()
    const s = streams()
    const p = pings()
    await sleep(HOUR)
    await each?.(hour)
    const cpuMs = cpuMsSince(cpu)
    const servers = world.servers
    const n = servers.length
    const now = memory()
    const keys = await Promise.all(servers.map(datastoreKeys))
    const hourSample: HourSample = {
      hour,
      servers: n,
      // the memory of the whole process (every node made, and the baseline before the hours), per server
      rssPerNode: now.rss / n,
      heapPerNode: now.heap / n,
      connectionsPerNode: mean(servers.map(node => node.getConnections().length)),
      streamsPerNode: mean(servers.map(node => node.getConnections().reduce((sum, conn) => sum + conn.streams.length, 0))),
      timersPerNode: (virtualTime()?.stats().pending ?? NaN) / n,
      datastoreKeysPerNode: mean(keys),
      tableMean: mean(servers.map(tableSize)),
      cpuMsPerNode: cpuMs / n,
      dhtStreams: streams() - s,
      pings: pings() - p
    }
    sample(hourSample)
    progress(`hour ${hour}: ${(hourSample.rssPerNode / 2 ** 20).toFixed(1)} MB, ${hourSample.connectionsPerNode.toFixed(1)} connections, ${hourSample.cpuMsPerNode.toFixed(0)} CPU ms per node`)
  }
}
