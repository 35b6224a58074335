import { expect } from 'aegir/chai'
import { commonPrefixLength, kadId } from '../../src/keys.ts'
import { keyInBucket } from '../../src/table/trial-hash.ts'

describe('routing/trial-hash', () => {
  it('finds by trial hashing a key whose SHA-256 falls in the asked bucket', async () => {
    const self = kadId(new TextEncoder().encode('self'))
    for (const bucket of [0, 1, 5, 10]) {
      const key = await keyInBucket(self, bucket)
      expect(commonPrefixLength(kadId(key), self)).to.equal(bucket)
    }
  })

  it('gives up when aborted', async () => {
    const self = kadId(new TextEncoder().encode('self'))
    await expect(keyInBucket(self, 200, { signal: AbortSignal.timeout(50) })).to.eventually.be.rejected()
  })
})
