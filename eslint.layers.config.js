/**
 * The layering rules of src/ (run by `npm run lint` after aegir's own lint): no import cycle, and
 * no import that runs up a layer. The layers, bottom to top, are in {@link LAYERS}; a folder or
 * file may import from its own layer and the layers below it, never from one above. Folders side
 * by side in one layer that must not import each other are in {@link APART}. The pure parts
 * ({@link PURE}: the Kademlia logic that the simulator drives as it is) import no libp2p runtime
 * and nothing of kadmium's but other pure parts (types may come from anywhere), and hold no
 * `await` and no async function: they take what they need (asking a peer, the clock) as
 * functions.
 */
import tsParser from '@typescript-eslint/parser'
import importPlugin from 'eslint-plugin-import'
import tseslint from 'typescript-eslint'

/** The layers of src/, bottom first: each a list of folders and files. */
const LAYERS = [
  ['errors.ts', 'constants.ts', 'defaults.ts', 'keys.ts', 'clock.ts', 'events.ts', 'utils'],
  ['wire', 'storage'],
  ['network'],
  ['table'],
  ['query'],
  ['peers', 'values', 'providers'],
  ['mode.ts', 'metrics.ts', 'settings.ts'],
  ['assemble.ts', 'service.ts'],
  ['index.ts', 'compat', 'routing-v1']
]

/** Folders of one layer that do not import each other. */
const APART = [
  ['wire', 'storage'],
  ['peers', 'values', 'providers']
]

/** The pure parts, and the only packages they may import at run time besides one another. */
const PURE = [
  'keys.ts',
  'table/routing-table.ts', 'table/buckets.ts', 'table/group-limits.ts',
  'query/lookup.ts', 'query/stall.ts', 'query/table-lookup.ts',
  'providers/region-plan.ts', 'providers/optimistic.ts', 'providers/network-size.ts', 'providers/schedule.ts',
  'values/republish-schedule.ts'
]
const PURE_PACKAGES = ['@noble/hashes/', 'uint8arrays/']

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** What a pure part may import at run time: another pure part (by a relative path ending in its name) or a pure package. */
const pureImport = new RegExp(`^(${[
  ...PURE_PACKAGES.map(escape),
  ...PURE.map(file => `\\.{1,2}/(.*/)?${escape(file.split('/').at(-1))}$`)
].join('|')})`)

const path = (name) => `./src/${name}`

const zones = [
  ...LAYERS.flatMap((layer, i) => layer.map(target => ({ target: path(target), from: LAYERS.slice(i + 1).flat().map(path) }))),
  ...APART.flatMap(group => group.map(target => ({ target: path(target), from: group.filter(other => other !== target).map(path) })))
]

export default [
  {
    files: PURE.map(file => `src/${file}`),
    languageOptions: { parser: tsParser, parserOptions: { sourceType: 'module' } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ regex: `^(?!${pureImport.source.slice(1)})`, allowTypeImports: true, message: 'a pure part imports only other pure parts and pure packages at run time (types may come from anywhere)' }]
      }],
      'no-restricted-syntax': ['error',
        { selector: 'AwaitExpression', message: 'a pure part holds no await: take what it needs as functions, and let a driver await' },
        { selector: 'ForOfStatement[await=true]', message: 'a pure part holds no await' },
        { selector: ':function[async=true]', message: 'a pure part holds no async function' }
      ]
    }
  },
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
