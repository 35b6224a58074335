/**
 * Lookup benchmark alone: getClosestPeers in N-node networks of kadmium and of
 * `@libp2p/kad-dht` (see bench/network.ts for how the networks are built and what is measured).
 *
 * ```
 * npm run build
 * node --expose-gc dist/bench/lookup.js [--nodes 50,150,300] [--lookups 20] [--degree 4] [--seed 1]
 * ```
 */
import { isMain } from './lib/main.ts'
import { networkArgs, runNetworkBench } from './network.ts'

if (isMain(import.meta.url)) {
  await runNetworkBench(networkArgs(process.argv.slice(2), ['lookup']))
  process.exit(0)
}
