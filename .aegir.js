/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  lint: {
    // the generated codec (src/wire/generated) is not linted: it is never edited by hand
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/*.js', '*.js']
  },
  test: {
    target: ['node'],
    timeout: 60_000
  },
  dependencyCheck: {
    // node runs the scripts; long is the type protobufjs's generated declarations name;
    // playwright-core drives Chromium in test/browser through the daemon's chromium.ts
    ignore: ['node', 'long', 'playwright-core'],
    productionIgnorePatterns: ['/bench', '/dist', '/test', '/scripts', '.aegir.js', 'eslint.layers.config.js']
  }
}
