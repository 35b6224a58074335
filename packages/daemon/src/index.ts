#!/usr/bin/env node
/**
 * `kadmium`: `kadmium daemon` runs a DHT node with its API and status page; `kadmium put|get|
 * provide|find-providers|find-peer|closest|info|peers|…` drive the running daemon. `kadmium
 * --help` lists every command.
 */
import { ApiError } from './client.ts'
import { program } from './commands.ts'
import { ConfigError } from './config.ts'
import type { ConfigFile } from './config.ts'

const out = { stdout: process.stdout, stderr: process.stderr }

/** Runs the daemon until SIGINT or SIGTERM. */
async function runDaemon (dir: string, options: ConfigFile): Promise<void> {
  // loaded only here: the other commands stay light and quick to start
  const { startDaemon } = await import('./daemon.ts')
  const { mergeConfig, readConfigFile } = await import('./config.ts')
  const config = mergeConfig(await readConfigFile(dir), options)
  const output = {
    info: (line: string) => { process.stdout.write(line + '\n') },
    warn: (line: string) => { process.stderr.write(line + '\n') }
  }
  // a daemon logs what escapes a request instead of dying of it
  process.on('unhandledRejection', (err: any) => { output.warn(`unhandled rejection: ${err?.stack ?? err}`) })
  const daemon = await startDaemon(dir, config, output)
  const { node, api, routing } = daemon
  output.info(`kadmium daemon (data directory ${dir})`)
  output.info(`peer id:   ${node.peerId.toString()}`)
  output.info(`mode:      ${node.services.dht.getMode()} on ${node.services.dht.protocol}`)
  for (const ma of node.getMultiaddrs()) {
    output.info(`listening: ${ma.toString()}`)
  }
  output.info(`api:       ${api.origin}/rpc`)
  output.info(`routing:   ${routing.url}`)
  if (config.metrics) {
    output.info(`metrics:   ${api.origin}/metrics`)
  }
  output.info('status:    run `kadmium page` for the status page\'s address with its token')

  let signals = 0
  const stop = (signal: string): void => {
    if (++signals > 1) {
      output.warn(`${signal} again: exiting at once`)
      process.exit(1)
    }
    output.info(`${signal}: stopping`)
    const force = setTimeout(() => {
      output.warn('stopping took too long: exiting')
      process.exit(1)
    }, 10_000)
    force.unref()
    daemon.stop().then(() => {
      output.info('stopped')
      process.exit(0)
    }, (err: any) => {
      output.warn(`stopping failed: ${err.message}`)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })
}

try {
  await program(out, runDaemon).parseAsync(process.argv)
} catch (err: any) {
  const json = process.argv.includes('--json')
  if (err instanceof ApiError) {
    if (json) {
      process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message, data: err.data } }, null, 2) + '\n')
    } else {
      process.stderr.write(`error: ${err.message}${err.code !== 0 ? ` (${err.data?.name ?? 'error'} ${err.code})` : ''}\n`)
    }
  } else if (err instanceof ConfigError) {
    process.stderr.write(`error: ${err.message}\n`)
  } else if (err?.code?.startsWith?.('commander.') === true) {
    // commander printed it already
  } else {
    process.stderr.write(`error: ${err?.stack ?? err}\n`)
  }
  process.exitCode = typeof err?.exitCode === 'number' ? err.exitCode : 1
}
