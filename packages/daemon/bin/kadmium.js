#!/usr/bin/env node
// The `kadmium` command: the built CLI (dist/src/index.js). It is a file of its own so that npm
// links the command at install, before the first build.
try {
  await import('../dist/src/index.js')
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/index.js')) {
    process.stderr.write('kadmium is not built yet: run `npm run build` (or `npm start`) in the repository first\n')
    process.exit(1)
  }
  throw err
}
