/**
 * The layering rules of src/ (run by `npm run lint` after aegir's own lint): no import cycle, and
 * no import that runs up a layer. The layers, top to bottom: index.ts; service.ts and
 * assemble.ts; settings.ts, mode.ts and metrics.ts; routing/ and accelerated/; network/, records/ and
 * providers/; wire/ and storage/; kademlia/; errors.ts, constants.ts and utils/. cli/ sits
 * beside index.ts: it may import anything, and
 * nothing in src imports it.
 */
import tsParser from '@typescript-eslint/parser'
import importPlugin from 'eslint-plugin-import'
import tseslint from 'typescript-eslint'

/** Each folder or file and what it may not import. */
const zones = [
  // the pure core imports nothing of kadmium's but errors.ts
  { target: './src/kademlia', from: './src', except: ['./kademlia', './errors.ts'] },
  // so do the accelerated client's pure parts: the full table, the crawl's state, the prefix keys
  ...['full-table.ts', 'crawl.ts', 'prefix-keys.ts'].map(file => ({
    target: `./src/accelerated/${file}`,
    from: './src',
    except: ['./kademlia', './errors.ts', './accelerated/full-table.ts', './accelerated/crawl.ts', './accelerated/prefix-keys.ts']
  })),
  // nothing below the service imports the package's face, the service, or the CLI
  ...['kademlia', 'wire', 'storage', 'records', 'providers', 'network', 'routing', 'accelerated', 'utils', 'errors.ts', 'constants.ts', 'settings.ts', 'mode.ts', 'metrics.ts']
    .map(target => ({ target: `./src/${target}`, from: ['./src/index.ts', './src/service.ts', './src/assemble.ts', './src/cli', './src/kad-dht'] })),
  // the lower layers do not import the layers above them
  ...['wire', 'storage', 'records', 'providers', 'network', 'utils', 'errors.ts', 'constants.ts']
    .map(target => ({ target: `./src/${target}`, from: ['./src/routing', './src/settings.ts', './src/mode.ts', './src/metrics.ts'] })),
  { target: './src/routing', from: './src/metrics.ts' },
  // the accelerated client sits beside routing/: it uses the network, never the lookups' layer
  { target: './src/accelerated', from: ['./src/routing', './src/settings.ts', './src/mode.ts', './src/metrics.ts'] },
  ...['wire', 'storage', 'utils', 'errors.ts', 'constants.ts']
    .map(target => ({ target: `./src/${target}`, from: ['./src/network', './src/records', './src/providers'] })),
  { target: './src/utils', from: ['./src/wire', './src/storage'] }
]

export default [
  {
    files: ['src/**/*.ts'],
    ignores: ['src/wire/generated/**'],
    languageOptions: { parser: tsParser, parserOptions: { sourceType: 'module' } },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    // typescript-eslint's plugin is loaded (no rule of it on) for the code's eslint-disable comments
    plugins: { import: importPlugin, '@typescript-eslint': tseslint.plugin },
    settings: { 'import/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      'import/no-cycle': ['error', { ignoreExternal: true }],
      'import/no-restricted-paths': ['error', { zones }]
    }
  }
]
