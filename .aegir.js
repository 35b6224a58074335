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
    ignore: ['node']
  }
}
