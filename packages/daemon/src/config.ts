/**
 * The daemon's data directory: where it is, the optional config file in it, the private key,
 * the API token and the `api.json` that tells the command line where the running daemon listens.
 *
 * ```
 * ~/.kadmium/
 *   config.json   optional settings (see {@link DaemonConfig}); command-line options win
 *   key           the node's private key (libp2p protobuf form), mode 0600, made once
 *   api-token     the API's bearer token (64 hex digits), mode 0600, made once
 *   api.json      { url, port, pid, peerId } of the running daemon, removed when it stops
 *   datastore/    LevelDB: records, provider records, the reprovide list, the peer store
 * ```
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { expandBootstrap, isBootstrapProfile } from './bootstrap.ts'
import type { PrivateKey } from '@libp2p/interface'

/** The API port unless told otherwise. */
export const DEFAULT_API_PORT = 5101

/** The Delegated Routing V1 HTTP API's port unless told otherwise: beside the API's. */
export const DEFAULT_ROUTING_PORT = 5102

/** The Delegated Routing V1 HTTP API's host unless told otherwise: loopback (`0.0.0.0` serves the world). */
export const DEFAULT_ROUTING_LISTEN = '127.0.0.1'

/** The listen addresses unless told otherwise: TCP and QUIC on loopback, ports the system picks. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1']

/** What the daemon can be told, by `config.json` or by command-line options. */
export interface DaemonConfig {
  /**
   * Multiaddrs to listen on: TCP (`/ip4/0.0.0.0/tcp/4001`, `/ip6/::/tcp/4001`), QUIC
   * (`/ip4/0.0.0.0/udp/4001/quic-v1`) or WebSocket (`/ip4/0.0.0.0/tcp/4002/ws`), on any address.
   */
  listen: string[]
  /**
   * Multiaddrs other peers are told to dial instead of the listen addresses (a port forward's,
   * say). Taken on the user's word: in `auto` mode they do not make the node a server.
   */
  announce: string[]
  /** Multiaddrs (with `/p2p/<id>`) dialled at start, or a profile name (`amino`). */
  bootstrap: string[]
  /** The DHT protocol: a private network's; kadmium's default (the Amino DHT's) when unset. */
  protocol?: string
  /** The DHT mode, passed to kadmium as it is (`server`, `client`, `auto`). */
  mode: string
  /** Which addresses are shared and accepted; kadmium's default when unset. */
  addresses?: 'public' | 'all'
  /** Ask kadmium to walk the keyspace at random to keep its table fresh. */
  randomWalk: boolean
  /** Run kadmium's accelerated client: a rolling crawl keeps every server in one table, lookups take one hop. */
  accelerated: boolean
  /** The API's TCP port on 127.0.0.1 (0: any free port). */
  apiPort: number
  /** Collect libp2p's and kadmium's metrics and serve them at `GET /metrics` on the API port. */
  metrics: boolean
  /** The Delegated Routing V1 HTTP API's TCP port (0: any free port). */
  routingPort: number
  /** The host the Delegated Routing V1 HTTP API listens on (`0.0.0.0` or `::` serves the world). */
  routingListen: string
  /**
   * A reverse proxy forwards every request to the Delegated Routing V1 HTTP API: each caller is
   * told apart by the last address of `X-Forwarded-For`.
   */
  routingTrustProxy: boolean
  /** The connection manager's limit on open connections (libp2p's default when unset). */
  maxConnections?: number
  /** Inbound connections still being upgraded at once, at most (libp2p's default when unset). */
  maxIncomingPendingConnections?: number
  /** Inbound connections one host may open per second (libp2p's default when unset). */
  inboundConnectionThreshold?: number
  /** Dials under way at once, at most (libp2p's default when unset). */
  maxParallelDials?: number
  /** How long one dial may take, in ms (libp2p's default when unset). */
  dialTimeout?: number
}

/** The connection manager's limits a config may set. */
export const CONNECTION_LIMITS = ['maxConnections', 'maxIncomingPendingConnections', 'inboundConnectionThreshold', 'maxParallelDials', 'dialTimeout'] as const

/** The settings a config file may hold, all optional. */
export type ConfigFile = Partial<DaemonConfig>

const port = (v: unknown): string | undefined => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? undefined : 'a port number from 0 to 65535'

const positiveInteger = (v: unknown): string | undefined => Number.isSafeInteger(v) && (v as number) > 0 ? undefined : 'a positive integer'

const KEYS: Record<keyof DaemonConfig, (value: unknown) => string | undefined> = {
  listen: (v) => multiaddrList(v),
  announce: (v) => multiaddrList(v),
  bootstrap: (v) => multiaddrList(v, isBootstrapProfile),
  protocol: (v) => typeof v === 'string' && v.startsWith('/') ? undefined : 'a protocol id that begins with /',
  mode: (v) => typeof v === 'string' && v !== '' ? undefined : 'a mode name such as "server" or "client"',
  addresses: (v) => v === 'public' || v === 'all' ? undefined : '"public" or "all"',
  randomWalk: (v) => typeof v === 'boolean' ? undefined : 'true or false',
  accelerated: (v) => typeof v === 'boolean' ? undefined : 'true or false',
  apiPort: port,
  metrics: (v) => typeof v === 'boolean' ? undefined : 'true or false',
  routingPort: port,
  routingListen: (v) => typeof v === 'string' && /^[\w.:-]+$/.test(v) ? undefined : 'a host: an IP address such as "0.0.0.0" or a name',
  routingTrustProxy: (v) => typeof v === 'boolean' ? undefined : 'true or false',
  maxConnections: positiveInteger,
  maxIncomingPendingConnections: positiveInteger,
  inboundConnectionThreshold: positiveInteger,
  maxParallelDials: positiveInteger,
  dialTimeout: positiveInteger
}

/** Checks a list of multiaddrs, in which `named` entries (profile names) may stand instead. */
function multiaddrList (value: unknown, named?: (text: string) => boolean): string | undefined {
  if (!Array.isArray(value) || value.some(v => typeof v !== 'string')) {
    return 'a list of multiaddr strings'
  }
  for (const text of value as string[]) {
    if (named?.(text) === true) {
      continue
    }
    try {
      multiaddr(text)
    } catch {
      return `a list of multiaddrs, and ${JSON.stringify(text)} is not one`
    }
  }
  return undefined
}

/** A configuration mistake: the daemon prints it and exits. */
export class ConfigError extends Error {
  readonly name = 'ConfigError'
}

/** The data directory: the one given, else `$KADMIUM_DATA_DIR`, else `~/.kadmium`. */
export function dataDir (given?: string): string {
  return resolve(given ?? process.env.KADMIUM_DATA_DIR ?? join(homedir(), '.kadmium'))
}

/** Checks every setting of `input`; throws {@link ConfigError} naming the first bad one. */
export function checkConfig (input: unknown, where: string): ConfigFile {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${where}: expected a JSON object`)
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(KEYS, key)) {
      throw new ConfigError(`${where}: unknown setting "${key}" (known: ${Object.keys(KEYS).join(', ')})`)
    }
    if (value === undefined) {
      continue
    }
    const problem = KEYS[key as keyof DaemonConfig](value)
    if (problem != null) {
      throw new ConfigError(`${where}: "${key}" must be ${problem}`)
    }
    out[key] = value
  }
  return out as ConfigFile
}

/** Reads `config.json` from the data directory; an absent file is an empty config. */
export async function readConfigFile (dir: string): Promise<ConfigFile> {
  const path = join(dir, 'config.json')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') {
      return {}
    }
    throw new ConfigError(`cannot read ${path}: ${err.message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError(`${path} is not valid JSON: ${err.message}`)
  }
  return checkConfig(parsed, path)
}

/** The settings in force: command-line options over the config file over the defaults. */
export function mergeConfig (file: ConfigFile, options: ConfigFile): DaemonConfig {
  const pick = <K extends keyof DaemonConfig>(key: K, fallback: DaemonConfig[K]): DaemonConfig[K] =>
    options[key] ?? file[key] ?? fallback
  const config: DaemonConfig = {
    listen: pick('listen', DEFAULT_LISTEN),
    announce: pick('announce', []),
    bootstrap: expandBootstrap(pick('bootstrap', [])),
    protocol: options.protocol ?? file.protocol,
    mode: pick('mode', 'server'),
    addresses: options.addresses ?? file.addresses,
    randomWalk: pick('randomWalk', false),
    accelerated: pick('accelerated', false),
    apiPort: pick('apiPort', DEFAULT_API_PORT),
    metrics: pick('metrics', false),
    routingPort: pick('routingPort', DEFAULT_ROUTING_PORT),
    routingListen: pick('routingListen', DEFAULT_ROUTING_LISTEN),
    routingTrustProxy: pick('routingTrustProxy', false)
  }
  for (const key of CONNECTION_LIMITS) {
    const value = options[key] ?? file[key]
    if (value != null) {
      config[key] = value
    }
  }
  return config
}

/** Makes the data directory (mode 0700) if it is missing. */
export async function ensureDataDir (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
}

/** Writes a file that only its owner may read, failing if it exists (`wx`). */
async function writeSecret (path: string, bytes: Uint8Array | string): Promise<void> {
  await writeFile(path, bytes, { mode: 0o600, flag: 'wx' })
}

/** The node's private key: read from `key`, or made (Ed25519) and written there the first time. */
export async function loadOrCreateKey (dir: string): Promise<PrivateKey> {
  const path = join(dir, 'key')
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err: any) {
    if (err.code !== 'ENOENT') {
      throw new ConfigError(`cannot read the private key in ${path}: ${err.message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeSecret(path, privateKeyToProtobuf(key))
  return key
}

/** The API token: read from `api-token`, or made (32 random bytes, hex) the first time. */
export async function loadOrCreateToken (dir: string): Promise<string> {
  const path = join(dir, 'api-token')
  try {
    const token = (await readFile(path, 'utf8')).trim()
    if (token.length > 0) {
      return token
    }
    throw new ConfigError(`${path} is empty: delete it and a new token is made`)
  } catch (err: any) {
    if (err.code !== 'ENOENT') {
      throw err instanceof ConfigError ? err : new ConfigError(`cannot read ${path}: ${err.message}`)
    }
  }
  const token = randomBytes(32).toString('hex')
  await writeSecret(path, token)
  return token
}

/** Reads the API token for a client; throws with advice when there is none. */
export async function readToken (dir: string): Promise<string> {
  try {
    return (await readFile(join(dir, 'api-token'), 'utf8')).trim()
  } catch (err: any) {
    throw new ConfigError(err.code === 'ENOENT'
      ? `no API token in ${dir}: no daemon has run with this data directory (start one with \`kadmium daemon --data-dir ${dir}\`)`
      : `cannot read the API token in ${dir}: ${err.message}`)
  }
}

/** What `api.json` tells clients about the running daemon. */
export interface ApiInfo {
  /** The JSON-RPC endpoint, `http://127.0.0.1:<port>/rpc`. */
  url: string
  port: number
  pid: number
  peerId: string
}

/** Writes `api.json` whole (through a temporary file and a rename, so no reader sees half of it). */
export async function writeApiInfo (dir: string, info: ApiInfo): Promise<void> {
  const path = join(dir, 'api.json')
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify(info, null, 2) + '\n', { mode: 0o644 })
  await rename(temporary, path)
}

/** Reads `api.json`; throws with advice when no daemon has written one. */
export async function readApiInfo (dir: string): Promise<ApiInfo> {
  let text: string
  try {
    text = await readFile(join(dir, 'api.json'), 'utf8')
  } catch (err: any) {
    throw new ConfigError(err.code === 'ENOENT'
      ? `no daemon is running with the data directory ${dir} (start one with \`kadmium daemon --data-dir ${dir}\`)`
      : `cannot read ${join(dir, 'api.json')}: ${err.message}`)
  }
  try {
    const info = JSON.parse(text)
    if (typeof info.url !== 'string') {
      throw new Error('no url')
    }
    return info
  } catch (err: any) {
    throw new ConfigError(`${join(dir, 'api.json')} is damaged (${err.message}): restart the daemon`)
  }
}

/** Removes `api.json` if it is this process's. */
export async function removeApiInfo (dir: string): Promise<void> {
  try {
    const info = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8'))
    if (info.pid === process.pid) {
      await rm(join(dir, 'api.json'), { force: true })
    }
  } catch {
    // gone already, or another daemon's
  }
}
