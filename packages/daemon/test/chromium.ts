/**
 * Debian's headless Chromium for tests, driven by playwright-core (which never downloads a
 * browser): `.ci/run` installs it; tests skip where it is missing.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Page } from 'playwright-core'

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium'

/** In a `before` hook: skips the suite, saying why, when Chromium is not installed. */
export function skipWithoutChromium (context: Mocha.Context): void {
  if (!existsSync(CHROMIUM)) {
    // eslint-disable-next-line no-console
    console.log(`      skipped: no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
    context.skip()
  }
}

/** A running headless Chromium with one tab and what went wrong in it. */
export interface Chromium {
  context: BrowserContext
  tab: Page
  /** Uncaught page errors, failed requests and console errors, in order. */
  problems: string[]
  /** Closes the browser and removes its profile. */
  close(): Promise<void>
}

/**
 * Starts headless Chromium on a new, empty profile, with the flags this machine needs (no
 * sandbox as root; no GPU, QUIC, sync or background requests, which its closed network refuses).
 */
export async function launchChromium (): Promise<Chromium> {
  const { chromium } = await import('playwright-core')
  const profile = await mkdtemp(join(tmpdir(), 'kadmium-chromium-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync']
    })
  } catch (err) {
    await rm(profile, { recursive: true, force: true })
    throw err
  }
  const tab = context.pages()[0] ?? await context.newPage()
  const problems: string[] = []
  tab.on('console', (message) => {
    if (message.type() === 'error') {
      problems.push(`console: ${message.text()}`)
    }
  })
  tab.on('pageerror', (err) => { problems.push(`page error: ${err.message}`) })
  tab.on('requestfailed', (request) => { problems.push(`request failed: ${request.url()}`) })
  return {
    context,
    tab,
    problems,
    close: async () => {
      await context.close().catch(() => {})
      await rm(profile, { recursive: true, force: true })
    }
  }
}

/**
 * Bundles a page script for the browser, as a user's bundler would: `name` beside the calling
 * test (`import.meta.url`), as `name.ts` when the tests run from the TypeScript sources and
 * `name.js` when they run from dist/.
 */
export async function bundlePage (caller: string, name: string): Promise<string> {
  const here = fileURLToPath(caller)
  const result = await build({
    entryPoints: [join(dirname(here), `${name}${extname(here)}`)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error'
  })
  return result.outputFiles[0].text
}

/** Serves a page that runs `script` on 127.0.0.1 (a secure context, as the Web Crypto API needs). */
export async function servePage (script: string): Promise<{ server: Server, url: string }> {
  const server = createServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    } else {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/page.js"></script>')
    }
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }
}
