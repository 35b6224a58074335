/**
 * Long runs (`--hours H`): the network lives H hours of the run's clock (virtual by default) with
 * its upkeep on its own schedules (kadmium's refresh, js's self-query and table refresh,
 * reprovides, record expiry, libp2p's connection monitor), and is sampled at the end of every
 * hour: memory, connections, streams, timers and datastore keys per node, the CPU that hour cost,
 * the streams it carried. A soak that does more each hour (nodes replaced or restarted, records
 * checked) passes its hooks: `live` lives the hour in its place, `check` runs before the sample
 * is taken and adds its figures to it.
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

/** What a long run does besides living its hours (a soak). */
export interface HourHooks {
  /** Lives hour `hour` in place of a plain sleep: resolves once the hour has passed; may return figures for the sample. */
  live?(hour: number): Promise<Partial<HourSample>>
  /** Runs after each hour, and at hour 0 first: its figures go into the sample. */
  check?(hour: number): Promise<Partial<HourSample>>
}

/**
 * Lets `world` live `hours` hours; after each, calls `sample` with that hour's figures. With a
 * `check` hook, hour 0 is sampled first (its CPU is the check's).
 */
export async function liveHours (world: World, hours: number, progress: Progress, sample: (hour: HourSample) => void, hooks: HourHooks = {}): Promise<void> {
  for (let hour = hooks.check == null ? 1 : 0; hour <= hours; hour++) {
    const cpu = process.cpuUsage()
    const s = streams()
    const p = pings()
    let lived: Partial<HourSample> = {}
    if (hour > 0 && hooks.live != null) {
      lived = await hooks.live(hour)
    } else if (hour > 0) {
      await sleep(HOUR)
    }
    const extra = { ...lived, ...await hooks.check?.(hour) }
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
      heapTotalPerNode: now.heapTotal / n,
      externalPerNode: now.external / n,
      arrayBuffersPerNode: now.arrayBuffers / n,
      connectionsPerNode: mean(servers.map(node => node.getConnections().length)),
      streamsPerNode: mean(servers.map(node => node.getConnections().reduce((sum, conn) => sum + conn.streams.length, 0))),
      timersPerNode: (virtualTime()?.stats().pending ?? NaN) / n,
      datastoreKeysPerNode: mean(keys),
      tableMean: mean(servers.map(tableSize)),
      cpuMsPerNode: cpuMs / n,
      dhtStreams: streams() - s,
      pings: pings() - p,
      ...extra
    }
    sample(hourSample)
    const found = hourSample.cidsFound == null ? '' : `, CIDs found ${(hourSample.cidsFound * 100).toFixed(0)} %, values got ${((hourSample.valuesGot ?? NaN) * 100).toFixed(0)} %`
    progress(`hour ${hour}: ${(hourSample.rssPerNode / 2 ** 20).toFixed(1)} MB, ${hourSample.connectionsPerNode.toFixed(1)} connections, ${hourSample.cpuMsPerNode.toFixed(0)} CPU ms per node${found}`)
  }
}
