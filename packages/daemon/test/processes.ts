/**
 * Daemons and CLI runs as child processes, each daemon on its own temporary data directory,
 * on loopback only.
 */
import { spawn, execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

/**
 * The command line beside these tests: its TypeScript source when the tests run from source (as
 * `aegir test -t node` runs them, stripping types), the compiled file when they run from dist.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts')
export const CLI = fileURLToPath(new URL(`../src/index.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url))

/** How node runs {@link CLI}: with type stripping when it is the source. */
const NODE_ARGS = FROM_SOURCE ? ['--experimental-strip-types', '--no-warnings=ExperimentalWarning', CLI] : [CLI]

/** The children's environment: without the test runner's NODE_OPTIONS (type transforms are slower). */
const ENV = { ...process.env, NODE_OPTIONS: '' }

/** A private protocol: the test daemons never look like Amino peers. */
export const TEST_PROTOCOL = '/kadmium-test/kad/1.0.0'

/** A daemon child process. */
export interface DaemonProcess {
  dir: string
  child: ChildProcess
  /** What it printed so far. */
  output(): string
  /** `http://127.0.0.1:<port>/rpc`. */
  url: string
  token: string
  peerId: string
  /** Its first listen address, with `/p2p/<id>`. */
  address: string
  /** Its Delegated Routing V1 HTTP API: `http://127.0.0.1:<port>/routing/v1`. */
  routingV1: string
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | string>
}

/** The result of one CLI run. */
export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

const children = new Set<ChildProcess>()
const dirs = new Set<string>()

/** A new temporary data directory, removed by {@link cleanUp}. */
export async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kadmium-daemon-'))
  dirs.add(dir)
  return dir
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Polls `check` until it returns a value; throws after `ms`. */
export async function until<T> (check: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) {
      return value
    }
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * Starts `kadmium daemon` on `dir` (loopback TCP unless `args` has `--listen`, the API and the
 * routing API on any port) and waits until it answers.
 */
export async function startDaemon (dir: string, args: string[] = []): Promise<DaemonProcess> {
  // loopback TCP unless the caller names its own listen addresses
  const listen = args.includes('--listen') ? [] : ['--listen', '/ip4/127.0.0.1/tcp/0']
  const child = spawn(process.execPath, [...NODE_ARGS, 'daemon', '--data-dir', dir, ...listen, '--api-port', '0', '--routing-port', '0', '--protocol', TEST_PROTOCOL, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ENV
  })
  children.add(child)
  let output = ''
  child.stdout?.on('data', (chunk) => { output += String(chunk) })
  child.stderr?.on('data', (chunk) => { output += String(chunk) })
  const exited = new Promise<number | string>(resolve => {
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve(code ?? signal ?? -1)
    })
  })
  let gone = false
  void exited.then(() => { gone = true })
  const api = await until(async () => {
    if (gone) {
      throw new Error(`the daemon exited before it was ready:\n${output}`)
    }
    try {
      const info = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8'))
      return info.pid === child.pid ? info : undefined
    } catch {
      return undefined
    }
  }, 20_000, 'the daemon to write api.json')
  const token = (await readFile(join(dir, 'api-token'), 'utf8')).trim()
  const info = await rpc(api.url, token, 'info')
  return {
    dir,
    child,
    output: () => output,
    url: api.url,
    token,
    peerId: info.result.peerId,
    address: info.result.addresses[0],
    routingV1: info.result.routingV1,
    exited
  }
}

/** Runs the CLI with `--data-dir dir` and `args`; never throws for a non-zero exit. */
export async function cli (dir: string, args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...NODE_ARGS, '--data-dir', dir, ...args], { timeout: 45_000, encoding: 'utf8', env: ENV }, (err: any, stdout, stderr) => {
      children.delete(child)
      let code = 0
      if (err != null) {
        code = typeof err.code === 'number' ? err.code : 1
      }
      resolve({ code, stdout, stderr })
    })
    children.add(child)
  })
}

/** Runs the CLI and parses its `--json` output; throws with its stderr when it failed. */
export async function cliJson (dir: string, args: string[]): Promise<any> {
  const run = await cli(dir, ['--json', ...args])
  if (run.code !== 0) {
    throw new Error(`kadmium ${args.join(' ')} exited with ${run.code}: ${run.stdout}${run.stderr}`)
  }
  return JSON.parse(run.stdout)
}

/** One raw JSON-RPC call over HTTP: the parsed body, with the HTTP status. */
export async function rpc (url: string, token: string | undefined, method: string, params?: unknown): Promise<any> {
  return post(url, token, JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))
}

/** A raw POST of `body`: the parsed answer (or the text, if not JSON), with `status`. */
export async function post (url: string, token: string | undefined, body: string): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token != null) {
    headers.authorization = `Bearer ${token}`
  }
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(20_000) })
  const text = await res.text()
  let parsed: any
  try {
    parsed = text === '' ? {} : JSON.parse(text)
  } catch {
    parsed = { text }
  }
  return Array.isArray(parsed) ? Object.assign(parsed, { status: res.status }) : { ...parsed, status: res.status }
}

/** Kills a daemon with SIGKILL, as a crash would, and waits until it is gone. */
export async function kill9 (daemon: DaemonProcess): Promise<void> {
  daemon.child.kill('SIGKILL')
  await daemon.exited
}

/** Kills every child still running and removes every temporary directory. */
export async function cleanUp (): Promise<void> {
  for (const child of children) {
    child.kill('SIGKILL')
  }
  children.clear()
  await sleep(100)
  await Promise.all([...dirs].map(async dir => rm(dir, { recursive: true, force: true })))
  dirs.clear()
}
