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

/** What every command shares: where it prints, the global options, and calling the daemon's API. */
class Cli {
  readonly out: Output

  constructor (out: Output) {
    this.out = out
  }

  /** Prints a line to stdout. */
  print (text: string): void {
    this.out.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }

  /** The options of the command and of the program. */
  globals (command: Command): GlobalOptions {
    return command.optsWithGlobals()
  }

  /** The client of the daemon on the command's data directory. */
  async client (command: Command): Promise<ApiClient> {
    return ApiClient.open(dataDir(this.globals(command).dataDir))
  }

  /** Calls a method with progress; prints JSON or hands the result to `human`; returns it. */
  async call (command: Command, method: string, params: Record<string, unknown>, label: string, human: (result: any) => void): Promise<any> {
    const options = this.globals(command)
    const client = await this.client(command)
    const progress = new Progress(this.out.stderr, label, options.verbose === true)
    let result: any
    try {
      result = await client.call(method, params, { timeout: options.timeout, onProgress: (event) => { progress.event(event) } })
    } finally {
      progress.stop()
    }
    if (options.json === true) {
      this.print(JSON.stringify(result, null, 2))
    } else {
      human(result)
    }
    return result
  }

  /** Prints peers, one a line: the id, then the addresses. */
  peerLines (peers: Array<{ id: string, addresses: string[] }>): void {
    for (const peer of peers) {
      this.print([peer.id, ...peer.addresses].join('  '))
    }
  }
}

/** Builds the program; `runDaemon` is what the `daemon` command does (kept out to keep clients light). */
export function program (out: Output, runDaemon: (dir: string, options: ConfigFile) => Promise<void>): Command {
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
  const cli = new Cli(out)
  daemonCommand(root, runDaemon)
  nodeCommands(root, cli)
  valueCommands(root, cli)
  providerCommands(root, cli)
  peerCommands(root, cli)
  return root
}

/** `daemon`: runs the node. */
function daemonCommand (root: Command, runDaemon: (dir: string, options: ConfigFile) => Promise<void>): void {
  root.command('daemon')
    .description('run the DHT node and its API (Ctrl-C stops it)')
    .argument('[peers...]', 'multiaddrs to dial at start, like --bootstrap')
    .option('--listen <multiaddr>', 'listen on this address, TCP, QUIC or WebSocket: /ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/udp/4001/quic-v1, /ip6/::/tcp/4001, /ip4/0.0.0.0/tcp/4002/ws (repeatable; default TCP and QUIC on 127.0.0.1, any port)', collect)
    .option('--announce <multiaddr>', 'tell peers to dial this address instead of the listen addresses (repeatable)', collect)
    .option('--bootstrap <multiaddr>', 'dial this peer at start, with /p2p/<id>, or "amino" for the public Amino DHT\'s bootstrap peers (repeatable)', collect)
    .option('--protocol <id>', 'the DHT protocol: /ipfs/kad/1.0.0 (default) or a private network\'s')
    .option('--mode <mode>', 'server (answers requests; default) or client (only asks)')
    .addOption(new Option('--addresses <scope>', 'addresses shared and accepted: public, or all (LANs); kadmium\'s default by protocol').choices(['public', 'all']))
    .option('--random-walk', 'look up random keys now and then to keep the routing table fresh')
    .option('--api-port <port>', 'the API port on 127.0.0.1, 0 for any free one (default 5101)', integer(0, 65535))
    .option('--routing-port <port>', 'the Delegated Routing V1 HTTP API\'s port (/routing/v1, public, no token), 0 for any free one (default 5102)', integer(0, 65535))
    .option('--routing-listen <host>', 'the host the Delegated Routing V1 HTTP API listens on: 0.0.0.0 or :: serves the world (default 127.0.0.1)')
    .option('--routing-trust-proxy', 'a reverse proxy forwards every request to the Delegated Routing V1 HTTP API: tell callers apart by X-Forwarded-For')
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
        apiPort: options.apiPort,
        routingPort: options.routingPort,
        routingListen: options.routingListen,
        routingTrustProxy: options.routingTrustProxy,
        announce: options.announce,
        metrics: options.metrics,
        maxConnections: options.maxConnections,
        maxIncomingPendingConnections: options.maxIncomingPending,
        inboundConnectionThreshold: options.inboundConnectionThreshold,
        maxParallelDials: options.maxParallelDials,
        dialTimeout: options.dialTimeout
      }, 'options')
      await runDaemon(dataDir(command.optsWithGlobals().dataDir), given)
    })
}

/** What the node is and holds: `info`, `peers`, `stats`, `page`, and `rpc` for any method. */
function nodeCommands (root: Command, cli: Cli): void {
  root.command('info')
    .description('the node: peer id, addresses, mode, protocol')
    .action(async (_, command: Command) => {
      await cli.call(command, 'info', {}, 'info', (info) => {
        cli.print(`peer id    ${info.peerId}`)
        cli.print(`mode       ${info.mode}`)
        cli.print(`protocol   ${info.protocol} (addresses shared: ${info.addressScope})`)
        cli.print(`peers      ${info.connections} connected`)
        info.addresses.forEach((a: string, i: number) => { cli.print(`${i === 0 ? 'addresses ' : '          '} ${a}`) })
        cli.print(`data dir   ${info.dataDir}`)
        if (info.routingV1 != null) {
          cli.print(`routing v1 ${info.routingV1}`)
        }
      })
    })

  root.command('peers')
    .description('the routing table: each peer by bucket, with when it was last seen')
    .action(async (_, command: Command) => {
      await cli.call(command, 'routingTable', {}, 'peers', (table) => {
        cli.print(`${table.size} peer${table.size === 1 ? '' : 's'} in ${table.buckets.length} bucket${table.buckets.length === 1 ? '' : 's'}`)
        for (const bucket of table.buckets) {
          for (const peer of bucket.peers) {
            const seen = Math.round((Date.now() - peer.lastSeen) / 1000)
            cli.print(`${String(bucket.index).padStart(3)}  ${peer.id}  seen ${seen} s ago${peer.connected === true ? '  connected' : ''}`)
          }
        }
      })
    })

  root.command('stats')
    .description('what the node stores, and the requests it has sent and answered')
    .action(async (_, command: Command) => {
      const options = cli.globals(command)
      const client = await cli.client(command)
      const [store, counters, reprovide, kept] = await Promise.all([client.call('storeStats', { list: 10 }), client.call('counters'), client.call('reprovider'), client.call('kept', { limit: 1 })])
      if (options.json === true) {
        cli.print(JSON.stringify({ store, counters, reprovide, republish: { ...kept, kept: undefined } }, null, 2))
        return
      }
      cli.print(`records held        ${store.records}`)
      cli.print(`provider records    ${store.providers.records} under ${store.providers.keys} keys`)
      cli.print(`keys we provide     ${store.provided}`)
      if (reprovide.next != null) {
        cli.print(`reprovide           ${reprovide.regions} regions a cycle; next ${reprovide.next.region === '' ? 'the whole keyspace' : reprovide.next.region} at ${new Date(reprovide.next.due).toISOString()}${reprovide.waiting == null ? '' : ` (waiting: ${reprovide.waiting})`}`)
      }
      cli.print(`values kept alive   ${store.kept}${kept.next == null ? '' : `; next ${kept.next.key} at ${new Date(kept.next.due).toISOString()}`}; ${kept.republished} put again, ${kept.failed} failed${kept.waiting == null ? '' : ` (waiting: ${kept.waiting})`}`)
      cli.print(`routing table       ${counters.routingTableSize} peers, ${counters.connections} connections`)
      const types = [...new Set([...Object.keys(counters.inbound), ...Object.keys(counters.outbound)])].sort()
      for (const type of types) {
        cli.print(`${type.padEnd(20)}${String(counters.inbound[type] ?? 0).padStart(6)} in ${String(counters.outbound[type] ?? 0).padStart(6)} out`)
      }
      for (const [name, n] of Object.entries(counters.errors)) {
        cli.print(`error ${name}: ${String(n)}`)
      }
      cli.print(`requests held back by the rate limit: ${String(counters.throttled ?? 0)}`)
    })

  root.command('page')
    .description('the status page\'s address, with the API token')
    .action(async (_, command: Command) => {
      const options = cli.globals(command)
      const client = await cli.client(command)
      await client.call('info')
      const url = client.pageUrl()
      cli.print(options.json === true ? JSON.stringify({ url }) : url)
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
      const options = cli.globals(command)
      const client = await cli.client(command)
      const progress = new Progress(cli.out.stderr, method, options.verbose === true)
      try {
        cli.print(JSON.stringify(await client.call(method, parsed as Record<string, unknown>, { timeout: options.timeout, onProgress: (e) => { progress.event(e) } }), null, 2))
      } finally {
        progress.stop()
      }
    })
}

/** Values: `put`, `get`, `kept`, `forget`. */
function valueCommands (root: Command, cli: Cli): void {
  root.command('put')
    .description('store a value under a namespaced key (try /kadmium/<anything>) on the closest peers')
    .argument('<key>', 'the key, e.g. /kadmium/hello')
    .argument('<value>', 'the value: text, or base64 with --base64')
    .option('--base64', 'the value is base64')
    .option('--key-base64', 'the key is base64')
    .option('--keep', 'keep it alive: put it again every 12 h on average, also after a restart, until `kadmium forget`')
    .action(async (key: string, value: string, options, command: Command) => {
      await cli.call(command, 'put', {
        key,
        value,
        keyEncoding: options.keyBase64 === true ? 'base64' : 'utf8',
        valueEncoding: options.base64 === true ? 'base64' : 'utf8',
        keep: options.keep === true
      }, `put ${key}`, (result) => {
        cli.print(result.stored === 0
          ? `stored on this node only: no peer stored it (see \`kadmium peers\` for the routing table)${result.kept === true ? '; kept: it goes out once the node has peers' : ''}`
          : `stored here and on ${result.stored} peer${result.stored === 1 ? '' : 's'}${result.kept === true ? '; kept alive: put again every 12 h on average' : ''}`)
      })
    })

  root.command('kept')
    .description('the values this node keeps alive, with when each was last put and is next put')
    .option('--limit <n>', 'list at most this many', integer(1, 1000))
    .action(async (options, command: Command) => {
      await cli.call(command, 'kept', { limit: options.limit }, 'kept', (result) => {
        cli.print(`${result.keys ?? 0} value${result.keys === 1 ? '' : 's'} kept alive, each put again every ${Math.round(result.interval / 3_600_000)} h on average; ${result.republished} put${result.republished === 1 ? '' : 's'} since the start, ${result.failed} failed${result.waiting == null ? '' : ` (waiting: ${result.waiting})`}`)
        for (const kept of result.kept) {
          cli.print(`${kept.key}  ${kept.bytes} bytes  last put ${kept.put == null ? 'never (no peer yet)' : new Date(kept.put).toISOString()}  next ${new Date(kept.due).toISOString()}`)
        }
      })
    })

  root.command('forget')
    .description('stop keeping a value alive (the records already out live out their 48 h)')
    .argument('<key>', 'the key, e.g. /kadmium/hello')
    .option('--key-base64', 'the key is base64')
    .action(async (key: string, options, command: Command) => {
      await cli.call(command, 'forget', { key, keyEncoding: options.keyBase64 === true ? 'base64' : 'utf8' }, 'forget', (result) => {
        cli.print(result.forgotten === true ? `no longer keeping ${result.key} alive` : `${result.key} was not kept`)
      })
    })

  root.command('get')
    .description('the best value under a key, from the closest peers')
    .argument('<key>', 'the key, e.g. /kadmium/hello')
    .option('--quorum <n>', 'stop after this many valid answers', integer(1, 100))
    .option('--base64', 'print the value in base64')
    .option('--key-base64', 'the key is base64')
    .action(async (key: string, options, command: Command) => {
      await cli.call(command, 'get', {
        key,
        quorum: options.quorum,
        keyEncoding: options.keyBase64 === true ? 'base64' : 'utf8',
        valueEncoding: options.base64 === true ? 'base64' : 'utf8'
      }, `get ${key}`, (result) => {
        if (result.encoding === 'base64' && options.base64 !== true) {
          // binary: the bytes as they are
          cli.out.stdout.write(uint8ArrayFromString(result.value, 'base64pad'))
        } else {
          cli.print(result.value)
        }
      })
    })
}

/** Providers: `provide`, `find-providers`, `cancel-reprovide`. */
function providerCommands (root: Command, cli: Cli): void {
  root.command('provide')
    .description('announce that this node provides a CID (several at once share their lookups)')
    .argument('<cid...>')
    .action(async (cids: string[], _, command: Command) => {
      const peers = (n: number): string => `${n} peer${n === 1 ? '' : 's'}`
      if (cids.length === 1) {
        await cli.call(command, 'provide', { cid: cids[0] }, `provide ${cids[0]}`, (result) => { cli.print(`announced to ${peers(result.sent)}`) })
        return
      }
      const result = await cli.call(command, 'provideMany', { cids }, `provide ${cids.length} CIDs`, (result) => {
        for (const r of result.results) {
          cli.print(r.error == null ? `${r.cid} announced to ${peers(r.sent)}` : `${r.cid} not announced: ${r.error.name}: ${r.error.message}`)
        }
      })
      const missed = result.results.length - result.provided
      if (missed > 0) {
        cli.out.stderr.write(`${missed} of ${result.results.length} CIDs were not announced\n`)
        process.exitCode = 1
      }
    })

  root.command('find-providers')
    .description('the peers that provide a CID')
    .argument('<cid>')
    .option('--count <n>', 'stop after this many providers (default 20)', integer(1, 1000))
    .action(async (cid: string, options, command: Command) => {
      await cli.call(command, 'findProviders', { cid, count: options.count }, `find-providers ${cid}`, (result) => {
        if (result.providers.length === 0) {
          cli.out.stderr.write('no providers found\n')
        }
        cli.peerLines(result.providers)
      })
    })

  root.command('cancel-reprovide')
    .description('stop announcing a CID every 22 hours')
    .argument('<cid>')
    .action(async (cid: string, _, command: Command) => {
      await cli.call(command, 'cancelReprovide', { cid }, 'cancel-reprovide', (result) => {
        cli.print(result.cancelled === true ? `no longer providing ${result.cid}` : `${result.cid} was not being provided`)
      })
    })
}

/** Peers: `find-peer`, `closest`, `find-node`, `ping`. */
function peerCommands (root: Command, cli: Cli): void {
  root.command('find-peer')
    .description('a peer\'s addresses')
    .argument('<peer-id>')
    .option('--no-cache', 'ask the network even when the daemon knows the peer\'s addresses already')
    .action(async (peer: string, options: { cache: boolean }, command: Command) => {
      await cli.call(command, 'findPeer', { peer, useCache: options.cache }, `find-peer ${peer}`, (result) => {
        cli.print(result.id)
        result.addresses.forEach((a: string) => { cli.print(`  ${a}`) })
      })
    })

  root.command('closest')
    .description('the k peers closest to a key (a peer id, a CID, or text)')
    .argument('<key>')
    .addOption(new Option('--key-type <type>', 'how to read the key (default: a peer id or CID if it parses as one, else text)').choices(['utf8', 'base64', 'peer', 'cid']))
    .action(async (key: string, options, command: Command) => {
      const keyEncoding = options.keyType ?? guessKeyEncoding(key)
      await cli.call(command, 'closestPeers', { key, keyEncoding }, `closest ${key}`, (result) => { cli.peerLines(result.peers) })
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
      await cli.call(command, 'findNode', params, `find-node ${peer}`, (result) => { cli.peerLines(result.peers) })
    })

  root.command('ping')
    .description('ping a peer (a peer id or a multiaddr)')
    .argument('<peer>')
    .action(async (peer: string, _, command: Command) => {
      await cli.call(command, 'ping', { peer }, `ping ${peer}`, (result) => { cli.print(`pong from ${result.peer} in ${result.rtt} ms`) })
    })
}
