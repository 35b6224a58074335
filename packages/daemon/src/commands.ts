/**
 * The command line: `kadmium daemon` runs the node; every other command calls the running
 * daemon's API (found through the data directory) and prints what it answered, for people or,
 * with `--json`, for programs.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { Command, InvalidArgumentError, Option } from 'commander'
import { CID } from 'multiformats/cid'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { ApiClient } from './client.ts'
import { checkConfig, dataDir } from './config.ts'
import { Progress } from './progress.ts'
import type { ConfigFile } from './config.ts'

/** Options every command takes. */
interface GlobalOptions {
  dataDir?: string
  json?: boolean
  timeout?: number
  verbose?: boolean
}

/** What a command may print: to stdout, and notes to stderr. */
export interface Output {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
}

function integer (min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`)
    }
    return n
  }
}

function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** How a routing key given on the command line is read: a peer id, a CID, or else text. */
export function guessKeyEncoding (key: string): 'peer' | 'cid' | 'utf8' {
  try {
    peerIdFromString(key)
    return 'peer'
  } catch {
    // not a peer id
  }
  try {
    CID.parse(key)
    return 'cid'
  } catch {
    // not a CID: text
  }
  return 'utf8'
}

/** Builds the program; `run` is what the `daemon` command does (kept out to keep clients light). */
export function program (out: Output, runDaemon: (dir: string, options: ConfigFile) => Promise<void>): Command {
  const print = (text: string): void => { out.stdout.write(text.endsWith('\n') ? text : text + '\n') }
  const root = new Command('kadmium')
    .description('A Kademlia DHT node for libp2p, and the commands that drive it')
    .option('-d, --data-dir <dir>', 'the daemon\'s data directory (default: $KADMIUM_DATA_DIR or ~/.kadmium)')
    .option('--json', 'print machine-readable JSON')
    .option('--timeout <ms>', 'how long a call may take, in ms (default 60000 for network calls)', integer(1, 600_000))
    .option('-v, --verbose', 'print every progress event of a query on stderr')
    .showHelpAfterError()
    .configureOutput({
      writeOut: (text) => out.stdout.write(text),
      writeErr: (text) => out.stderr.write(text)
    })

  const globals = (command: Command): GlobalOptions => command.optsWithGlobals()

  /** Calls a method with progress; prints JSON or hands the result to `human`; returns it. */
  const call = async (command: Command, method: string, params: Record<string, unknown>, label: string, human: (result: any) => void): Promise<any> => {
    const options = globals(command)
    const client = await ApiClient.open(dataDir(options.dataDir))
    const progress = new Progress(out.stderr, label, options.verbose === true)
    let result: any
    try {
      result = await client.call(method, params, { timeout: options.timeout, onProgress: (event) => { progress.event(event) } })
    } finally {
      progress.stop()
    }
    if (options.json === true) {
      print(JSON.stringify(result, null, 2))
    } else {
      human(result)
    }
    return result
  }

  const peerLines = (peers: Array<{ id: string, addresses: string[] }>): void => {
    for (const peer of peers) {
      print([peer.id, ...peer.addresses].join('  '))
    }
  }

  root.command('daemon')
    .description('run the DHT node and its API (Ctrl-C stops it)')
    .argument('[peers...]', 'multiaddrs to dial at start, like --bootstrap')
    .option('--listen <multiaddr>', 'listen on this address, TCP or WebSocket: /ip4/0.0.0.0/tcp/4001, /ip6/::/tcp/4001, /ip4/0.0.0.0/tcp/4002/ws (repeatable; default /ip4/127.0.0.1/tcp/0)', collect)
    .option('--announce <multiaddr>', 'tell peers to dial this address instead of the listen addresses (repeatable)', collect)
    .option('--bootstrap <multiaddr>', 'dial this peer at start, with /p2p/<id>, or "amino" for the public Amino DHT\'s bootstrap peers (repeatable)', collect)
    .option('--protocol <id>', 'the DHT protocol: /ipfs/kad/1.0.0 (default) or a private network\'s')
    .option('--mode <mode>', 'server (answers requests; default) or client (only asks)')
    .addOption(new Option('--addresses <scope>', 'addresses shared and accepted: public, or all (LANs); kadmium\'s default by protocol').choices(['public', 'all']))
    .option('--random-walk', 'look up random keys now and then to keep the routing table fresh')
    .option('--accelerated', 'the accelerated client: a rolling crawl keeps every DHT server in one table, lookups take one hop (costs a visit of every server an hour, ~1.5 KB of memory each)')
    .option('--api-port <port>', 'the API port on 127.0.0.1, 0 for any free one (default 5101)', integer(0, 65535))
    .option('--metrics', 'collect metrics and serve them in Prometheus text format at GET /metrics on the API port (no token needed)')
    .option('--no-metrics', 'collect no metrics (the default, unless config.json says "metrics": true)')
    .option('--max-connections <n>', 'open connections at most (libp2p\'s default: 300)', integer(1, 1_000_000))
    .option('--max-incoming-pending <n>', 'inbound connections being set up at once, at most (libp2p\'s default: 10)', integer(1, 1_000_000))
    .option('--inbound-connection-threshold <n>', 'inbound connections one host may open per second (libp2p\'s default: 5)', integer(1, 1_000_000))
    .option('--max-parallel-dials <n>', 'dials under way at once, at most (libp2p\'s default: 100)', integer(1, 1_000_000))
    .option('--dial-timeout <ms>', 'how long one dial may take (libp2p\'s default: 10000)', integer(1, 600_000))
    .action(async (peers: string[], options, command: Command) => {
      const bootstrap = [...(options.bootstrap ?? []), ...peers]
      const given = checkConfig({
        listen: options.listen,
        bootstrap: bootstrap.length > 0 ? bootstrap : undefined,
        protocol: options.protocol,
        mode: options.mode,
        addresses: options.addresses,
        randomWalk: options.randomWalk,
        accelerated: options.accelerated,
        apiPort: options.apiPort,
        announce: options.announce,
        metrics: options.metrics,
        maxConnections: options.maxConnections,
        maxIncomingPendingConnections: options.maxIncomingPending,
        inboundConnectionThreshold: options.inboundConnectionThreshold,
        maxParallelDials: options.maxParallelDials,
        dialTimeout: options.dialTimeout
      }, 'options')
      await runDaemon(dataDir(globals(command).dataDir), given)
    })

  root.command('info')
    .description('the node: peer id, addresses, mode, protocol')
    .action(async (_, command: Command) => {
      await call(command, 'info', {}, 'info', (info) => {
        print(`peer id    ${info.peerId}`)
        print(`mode       ${info.mode}`)
        print(`protocol   ${info.protocol} (addresses shared: ${info.addressScope})`)
        print(`peers      ${info.connections} connected`)
        info.addresses.forEach((a: string, i: number) => { print(`${i === 0 ? 'addresses ' : '          '} ${a}`) })
        print(`data dir   ${info.dataDir}`)
      })
    })

  root.command('peers')
    .description('the routing table: each peer by bucket, with when it was last seen')
    .action(async (_, command: Command) => {
      await call(command, 'routingTable', {}, 'peers', (table) => {
        print(`${table.size} peer${table.size === 1 ? '' : 's'} in ${table.buckets.length} bucket${table.buckets.length === 1 ? '' : 's'}`)
        for (const bucket of table.buckets) {
          for (const peer of bucket.peers) {
            const seen = Math.round((Date.now() - peer.lastSeen) / 1000)
            print(`${String(bucket.index).padStart(3)}  ${peer.id}  seen ${seen} s ago${peer.connected === true ? '  connected' : ''}`)
          }
        }
      })
    })

  root.command('put')
    .description('store a value under a namespaced key (try /kadmium/<anything>) on the closest peers')
    .argument('<key>', 'the key, e.g. /kadmium/hello')
    .argument('<value>', 'the value: text, or base64 with --base64')
    .option('--base64', 'the value is base64')
    .option('--key-base64', 'the key is base64')
    .action(async (key: string, value: string, options, command: Command) => {
      await call(command, 'put', {
        key,
        value,
        keyEncoding: options.keyBase64 === true ? 'base64' : 'utf8',
        valueEncoding: options.base64 === true ? 'base64' : 'utf8'
      }, `put ${key}`, (result) => { print(`stored on ${result.stored} peer${result.stored === 1 ? '' : 's'}`) })
    })

  root.command('get')
    .description('the best value under a key, from the closest peers')
    .argument('<key>', 'the key, e.g. /kadmium/hello')
    .option('--quorum <n>', 'stop after this many valid answers', integer(1, 100))
    .option('--base64', 'print the value in base64')
    .option('--key-base64', 'the key is base64')
    .action(async (key: string, options, command: Command) => {
      await call(command, 'get', {
        key,
        quorum: options.quorum,
        keyEncoding: options.keyBase64 === true ? 'base64' : 'utf8',
        valueEncoding: options.base64 === true ? 'base64' : 'utf8'
      }, `get ${key}`, (result) => {
        if (result.encoding === 'base64' && options.base64 !== true) {
          // binary: the bytes as they are
          out.stdout.write(uint8ArrayFromString(result.value, 'base64pad'))
        } else {
          print(result.value)
        }
      })
    })

  root.command('provide')
    .description('announce that this node provides a CID (several at once share their lookups)')
    .argument('<cid...>')
    .action(async (cids: string[], _, command: Command) => {
      const peers = (n: number): string => `${n} peer${n === 1 ? '' : 's'}`
      if (cids.length === 1) {
        await call(command, 'provide', { cid: cids[0] }, `provide ${cids[0]}`, (result) => { print(`announced to ${peers(result.sent)}`) })
        return
      }
      const result = await call(command, 'provideMany', { cids }, `provide ${cids.length} CIDs`, (result) => {
        for (const r of result.results) {
          print(r.error == null ? `${r.cid} announced to ${peers(r.sent)}` : `${r.cid} not announced: ${r.error.name}: ${r.error.message}`)
        }
      })
      const missed = result.results.length - result.provided
      if (missed > 0) {
        out.stderr.write(`${missed} of ${result.results.length} CIDs were not announced\n`)
        process.exitCode = 1
      }
    })

  root.command('find-providers')
    .description('the peers that provide a CID')
    .argument('<cid>')
    .option('--count <n>', 'stop after this many providers (default 20)', integer(1, 1000))
    .action(async (cid: string, options, command: Command) => {
      await call(command, 'findProviders', { cid, count: options.count }, `find-providers ${cid}`, (result) => {
        if (result.providers.length === 0) {
          out.stderr.write('no providers found\n')
        }
        peerLines(result.providers)
      })
    })

  root.command('cancel-reprovide')
    .description('stop announcing a CID every 22 hours')
    .argument('<cid>')
    .action(async (cid: string, _, command: Command) => {
      await call(command, 'cancelReprovide', { cid }, 'cancel-reprovide', (result) => {
        print(result.cancelled === true ? `no longer providing ${result.cid}` : `${result.cid} was not being provided`)
      })
    })

  root.command('find-peer')
    .description('a peer\'s addresses')
    .argument('<peer-id>')
    .option('--no-cache', 'ask the network even when the daemon knows the peer\'s addresses already')
    .action(async (peer: string, options: { cache: boolean }, command: Command) => {
      await call(command, 'findPeer', { peer, useCache: options.cache }, `find-peer ${peer}`, (result) => {
        print(result.id)
        result.addresses.forEach((a: string) => { print(`  ${a}`) })
      })
    })

  root.command('closest')
    .description('the k peers closest to a key (a peer id, a CID, or text)')
    .argument('<key>')
    .addOption(new Option('--key-type <type>', 'how to read the key (default: a peer id or CID if it parses as one, else text)').choices(['utf8', 'base64', 'peer', 'cid']))
    .action(async (key: string, options, command: Command) => {
      const keyEncoding = options.keyType ?? guessKeyEncoding(key)
      await call(command, 'closestPeers', { key, keyEncoding }, `closest ${key}`, (result) => { peerLines(result.peers) })
    })

  root.command('find-node')
    .description('ask one peer (FIND_NODE) for the peers it knows closest to a key (default: our id)')
    .argument('<peer-id>')
    .argument('[key]')
    .addOption(new Option('--key-type <type>', 'how to read the key').choices(['utf8', 'base64', 'peer', 'cid']))
    .action(async (peer: string, key: string | undefined, options, command: Command) => {
      const params: Record<string, unknown> = { peer }
      if (key != null) {
        params.key = key
        params.keyEncoding = options.keyType ?? guessKeyEncoding(key)
      }
      await call(command, 'findNode', params, `find-node ${peer}`, (result) => { peerLines(result.peers) })
    })

  root.command('crawl')
    .description('crawl the DHT once from the routing table and print a census: servers found, answering, unreachable, agents, protocols (use --timeout for a large network)')
    .option('--concurrency <n>', 'servers visited at once, at most (default 32)', integer(1, 1_000))
    .action(async (options, command: Command) => {
      const params = options.concurrency == null ? {} : { concurrency: options.concurrency }
      await call(command, 'crawl', params, 'crawl', (census) => {
        print(`servers found       ${census.found}`)
        print(`answering           ${census.answering}`)
        print(`unreachable         ${census.unreachable}`)
        print(`requests            ${census.requests} (at most ${census.peakVisiting} servers at once)`)
        print(`took                ${(census.duration / 1000).toFixed(1)} s`)
        const top = (counts: Record<string, number>): Array<[string, number]> => Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 10)
        print('agents (identify)')
        top(census.agents).forEach(([name, n]) => { print(`  ${String(n).padStart(6)}  ${name}`) })
        print('protocols (identify)')
        top(census.protocols).forEach(([name, n]) => { print(`  ${String(n).padStart(6)}  ${name}`) })
      })
    })

  root.command('ping')
    .description('ping a peer (a peer id or a multiaddr)')
    .argument('<peer>')
    .action(async (peer: string, _, command: Command) => {
      await call(command, 'ping', { peer }, `ping ${peer}`, (result) => { print(`pong from ${result.peer} in ${result.rtt} ms`) })
    })

  root.command('stats')
    .description('what the node stores, and the requests it has sent and answered')
    .action(async (_, command: Command) => {
      const options = globals(command)
      const client = await ApiClient.open(dataDir(options.dataDir))
      const [store, counters, reprovide, accelerated] = await Promise.all([client.call('storeStats', { list: 10 }), client.call('counters'), client.call('reprovider'), client.call('accelerated')])
      if (options.json === true) {
        print(JSON.stringify({ store, counters, reprovide, accelerated }, null, 2))
        return
      }
      print(`records held        ${store.records}`)
      print(`provider records    ${store.providers.records} under ${store.providers.keys} keys`)
      print(`keys we provide     ${store.provided}`)
      if (reprovide.next != null) {
        print(`reprovide           ${reprovide.regions} regions a cycle; next ${reprovide.next.region === '' ? 'the whole keyspace' : reprovide.next.region} at ${new Date(reprovide.next.due).toISOString()}${reprovide.waiting == null ? '' : ` (waiting: ${reprovide.waiting})`}`)
      }
      print(`routing table       ${counters.routingTableSize} peers, ${counters.connections} connections`)
      if (accelerated != null) {
        const state = accelerated.ready ? 'ready' : `first pass: ${accelerated.visited} of ${accelerated.known} servers visited`
        print(`accelerated         ${accelerated.peers} servers in the full table, ${state}; ${accelerated.requests} crawl requests, sweep ${Math.round(accelerated.sweep * 100)} % of the round`)
      }
      const types = [...new Set([...Object.keys(counters.inbound), ...Object.keys(counters.outbound)])].sort()
      for (const type of types) {
        print(`${type.padEnd(20)}${String(counters.inbound[type] ?? 0).padStart(6)} in ${String(counters.outbound[type] ?? 0).padStart(6)} out`)
      }
      for (const [name, n] of Object.entries(counters.errors)) {
        print(`error ${name}: ${String(n)}`)
      }
      print(`requests held back by the rate limit: ${String(counters.throttled ?? 0)}`)
    })

  root.command('page')
    .description('the status page\'s address, with the API token')
    .action(async (_, command: Command) => {
      const options = globals(command)
      const client = await ApiClient.open(dataDir(options.dataDir))
      await client.call('info')
      const url = client.pageUrl()
      print(options.json === true ? JSON.stringify({ url }) : url)
    })

  root.command('rpc')
    .description('call any API method with JSON params, and print the JSON result')
    .argument('<method>')
    .argument('[params]', 'a JSON object', '{}')
    .action(async (method: string, params: string, _, command: Command) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(params)
      } catch (err: any) {
        command.error(`error: params are not JSON: ${err.message}`)
      }
      const options = globals(command)
      const client = await ApiClient.open(dataDir(options.dataDir))
      const progress = new Progress(out.stderr, method, options.verbose === true)
      try {
        print(JSON.stringify(await client.call(method, parsed as Record<string, unknown>, { timeout: options.timeout, onProgress: (e) => { progress.event(e) } }), null, 2))
      } finally {
        progress.stop()
      }
    })

  return root
}
