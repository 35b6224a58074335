/**
 * Values and providers benchmark alone: put/get and provide/findProviders in N-node networks of
 * kadmium and of `@libp2p/kad-dht` (see bench/network.ts for how the networks are built and what
 * is measured).
 *
 * ```
 * npm run build
 * node --expose-gc dist/bench/values-providers.js [--nodes 50,150] [--ops 10] [--seed 1]
 * ```
 */
import { isMain } from './lib/main.ts'
import { networkArgs, runNetworkBench } from './network.ts'

if (isMain(import.meta.url)) {
  await runNetworkBench(networkArgs(process.argv.slice(2), ['values', 'providers', 'batch']))
  process.exit(0)
}
