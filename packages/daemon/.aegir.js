/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  test: {
    target: ['node'],
    timeout: 60_000
  },
  dependencyCheck: {
    productionIgnorePatterns: ['/dist', '/test', '.aegir.js']
  }
}
