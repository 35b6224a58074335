/**
 * The layering rules of src/ (run by `npm run lint` after aegir's own lint): no import cycle, and
 * no import that runs up a layer. The layers, bottom to top, are in {@link LAYERS}; a folder or
 * file may import from its own layer and the layers below it, never from one above. Folders side
 * by side in one layer that must not import each other are in {@link APART}.
 */
import tsParser from '@typescript-eslint/parser'
import importPlugin from 'eslint-plugin-import'
import tseslint from 'typescript-eslint'

/** The layers of src/, bottom first: each a list of folders and files. */
const LAYERS = [
  ['errors.ts', 'constants.ts', 'keys.ts', 'utils'],
  ['wire', 'storage'],
  ['network'],
  ['table'],
  ['query'],
  ['peers', 'accelerated'],
  ['values', 'providers'],
  ['mode.ts', 'metrics.ts', 'settings.ts', 'handlers.ts'],
  ['assemble.ts', 'service.ts'],
  ['index.ts', 'compat', 'cli']
]

/** Folders of one layer that do not import each other. */
const APART = [
  ['wire', 'storage'],
  ['values', 'providers'],
  ['peers', 'accelerated']
]

/**
 * What table/ may still import from query/ until the clock has its own module: the real-clock
 * `setTimer` of query/run-lookup.ts, which the refresher uses.
 */
const EXCEPTIONS = { table: { from: 'query', except: ['./run-lookup.ts'] } }

const path = (name) => `./src/${name}`

const zones = [
  ...LAYERS.flatMap((layer, i) => layer.map(target => ({
    target: path(target),
    from: LAYERS.slice(i + 1).flat().filter(from => EXCEPTIONS[target]?.from !== from).map(path)
  }))),
  ...Object.entries(EXCEPTIONS).map(([target, { from, except }]) => ({ target: path(target), from: path(from), except })),
  ...APART.flatMap(group => group.map(target => ({ target: path(target), from: group.filter(other => other !== target).map(path) }))),
  // the accelerated client's pure parts (the full table, the crawl's state, the prefix keys)
  // import nothing of kadmium's but the keyspace, the errors and each other
  ...['full-table.ts', 'crawl.ts', 'prefix-keys.ts'].map(file => ({
    target: path(`accelerated/${file}`),
    from: './src',
    except: ['./keys.ts', './errors.ts', './accelerated/full-table.ts', './accelerated/crawl.ts', './accelerated/prefix-keys.ts']
  }))
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
