/**
 * Joining benchmark alone: networks of N kadmium and of `@libp2p/kad-dht` nodes formed with
 * libp2p's defaults (connection monitor on), then nodes joining them one after another (see
 * bench/network.ts for how the networks are built and what is measured).
 *
 * ```
 * npm run build
 * node --expose-gc dist/bench/join.js [--nodes 40,150] [--joins 5] [--degree 4] [--seed 1]
 * ```
 */
import { isMain } from './lib/main.ts'
import { networkArgs, runNetworkBench } from './network.ts'

if (isMain(import.meta.url)) {
  await runNetworkBench({ sizes: [40, 150], defaults: true, ...networkArgs(process.argv.slice(2), ['join']) })
  process.exit(0)
}
