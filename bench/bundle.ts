/**
 * Bundle size: what a DHT adds to a browser bundle of a libp2p node, minified and gzipped.
 *
 * esbuild bundles three pages for the browser (platform `browser`, minified, ESM, no shims): a
 * libp2p node with WebSockets, noise, yamux and identify and no DHT (the baseline), the same
 * with kadmium (the built `dist/src/index.js`, as the package exports it) and the same with
 * `@libp2p/kad-dht`. A DHT's share is its bundle less the baseline. The second table splits
 * kadmium's share by where the bytes come from, read from esbuild's metafile (bytes of minified
 * output per input file, before gzip; gzip does not split by file).
 *
 * ```
 * npm run build
 * node dist/bench/bundle.js
 * ```
 */
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { isMain } from './lib/main.ts'
import { table } from './lib/stats.ts'
import type { Metafile } from 'esbuild'

/** The project's root: this file runs as dist/bench/bundle.js. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

const BASE_IMPORTS = `
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
`

/** A page that makes a browser libp2p node, with `dht` (an expression) as a service if given. */
function page (imports: string, dht?: string): string {
  return `${BASE_IMPORTS}${imports}
export const node = () => createLibp2p({
  transports: [webSockets()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
  services: { identify: identify()${dht == null ? '' : `, dht: ${dht}`} }
})
`
}

const PAGES = {
  baseline: page(''),
  kadmium: page("import { kadDHT } from './dist/src/index.js'", "kadDHT({ mode: 'client' })"),
  '@libp2p/kad-dht': page("import { kadDHT } from '@libp2p/kad-dht'", 'kadDHT({ clientMode: true })')
}

/** One bundle: its minified and gzipped sizes and the minified bytes of each input file. */
export interface Bundle {
  minified: number
  gzipped: number
  inputs: Map<string, number>
}

/** Bundles `source` (ESM, resolved from the project root) for the browser, minified. */
export async function bundleForBrowser (source: string): Promise<Bundle> {
  const result = await build({
    stdin: { contents: source, resolveDir: ROOT, loader: 'js', sourcefile: 'page.js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    outfile: 'page.js',
    logLevel: 'error'
  })
  const code = result.outputFiles[0].contents
  return { minified: code.byteLength, gzipped: gzipSync(code).byteLength, inputs: inputSizes(result.metafile) }
}

function inputSizes (metafile: Metafile): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      sizes.set(path, (sizes.get(path) ?? 0) + bytesInOutput)
    }
  }
  return sizes
}

/**
 * Where an input file's bytes belong: kadmium's own code, protobufjs (with long, its 64-bit
 * integers), the `ipns` package with the copies of packages nested under it, or the package
 * (with its version's place in node_modules) otherwise.
 */
export function origin (path: string): string {
  if (path.startsWith('dist/src/')) {
    return 'kadmium (own code)'
  }
  const parts = path.split('node_modules/').slice(1).map(p => p.split('/').slice(0, p.startsWith('@') ? 2 : 1).join('/'))
  if (parts.length === 0) {
    return 'other'
  }
  if (parts[0] === 'ipns') {
    return parts.length === 1 ? 'ipns' : 'ipns: nested copies (' + [...new Set(parts.slice(1))].join(', ') + ')'
  }
  if (['protobufjs', 'long'].includes(parts[0]) || parts[0].startsWith('@protobufjs/')) {
    return 'protobufjs + long'
  }
  return parts.length === 1 ? parts[0] : `${parts.join(' > ')} (nested copy)`
}

/** The bytes a bundle has beyond the baseline, by origin, largest first. */
export function share (bundle: Bundle, baseline: Bundle): Array<[string, number]> {
  const groups = new Map<string, number>()
  for (const [path, bytes] of bundle.inputs) {
    const extra = bytes - (baseline.inputs.get(path) ?? 0)
    if (extra !== 0) {
      const group = origin(relative(ROOT, join(ROOT, path)))
      groups.set(group, (groups.get(group) ?? 0) + extra)
    }
  }
  return [...groups].sort((a, b) => b[1] - a[1])
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(1)

/** Bundles the three pages and prints the two tables. */
export async function runBundle (): Promise<void> {
  const baseline = await bundleForBrowser(PAGES.baseline)
  const bundles = {
    kadmium: await bundleForBrowser(PAGES.kadmium),
    '@libp2p/kad-dht': await bundleForBrowser(PAGES['@libp2p/kad-dht'])
  }
  const rows = [['baseline (libp2p, WebSockets, noise, yamux, identify)', kib(baseline.minified), kib(baseline.gzipped), '', '']]
  for (const [name, bundle] of Object.entries(bundles)) {
    rows.push([`baseline + ${name}`, kib(bundle.minified), kib(bundle.gzipped), kib(bundle.minified - baseline.minified), kib(bundle.gzipped - baseline.gzipped)])
  }
  process.stdout.write(table('Browser bundle (esbuild, minified, ESM), KiB', ['bundle', 'minified', 'gzipped', 'DHT share minified', 'DHT share gzipped'], rows))
  const parts = share(bundles.kadmium, baseline)
  const total = bundles.kadmium.minified - baseline.minified
  process.stdout.write(table('What kadmium\'s share is made of (minified KiB, before gzip)', ['from', 'KiB', 'of the share'],
    parts.filter(([, bytes]) => Math.abs(bytes) >= 512).map(([group, bytes]) => [group, kib(bytes), `${(100 * bytes / total).toFixed(0)} %`])
      .concat([[`${parts.filter(([, bytes]) => Math.abs(bytes) < 512).length} more packages under 0.5 KiB each`, kib(parts.filter(([, bytes]) => Math.abs(bytes) < 512).reduce((sum, [, b]) => sum + b, 0)), '']])))
}

if (isMain(import.meta.url)) {
  await runBundle()
}
