/**
 * Protocol-first streams over real libp2p nodes on the emulated WAN in virtual time (100 ms round
 * trips; the times are exact): a request to a kadmium or a `@libp2p/kad-dht` server costs one
 * round trip on an open connection and four from none (a dial is three), one less than on a
 * stream negotiated in full; a listener that resets a stream whose request came with the
 * proposal is asked again on a stream negotiated in full, and from then on always so.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { SEED_VARIABLE } from '../../bench/lib/virtual-time.ts'

const FROM_SOURCE = import.meta.url.endsWith('.ts')
const nearby = (path: string): string => fileURLToPath(new URL(`${path}.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url))

interface Round { connected: number[], again: number[], dialled: number[] }
type Report = Record<'kadmium' | 'js' | 'strict', { protocolFirst: Round, negotiated: Round }>

describe('network/client: protocol-first streams over the emulated WAN (virtual time)', function () {
  this.timeout(60_000)
  const report = {} as Report

  before(async () => {
    Object.assign(report, await new Promise<Report>((resolve, reject) => {
      execFile(process.execPath, ['--import', nearby('../../bench/lib/virtual-install'), nearby('./fixtures/protocol-first-wan')], {
        env: { ...process.env, NODE_OPTIONS: '', [SEED_VARIABLE]: '1' },
        timeout: 50_000
      }, (err, stdout) => {
        if (err != null) {
          reject(err)
          return
        }
        resolve(JSON.parse(stdout))
      })
    }))
  })

  // a dial is 3 round trips and the memory transport's 1 ms; a request 1; negotiating a stream 1
  for (const server of ['kadmium', 'js'] as const) {
    it(`a request to a ${server === 'js' ? '@libp2p/kad-dht' : 'kadmium'} server costs one round trip on an open connection and four from none`, () => {
      expect(report[server].protocolFirst).to.deep.equal({ connected: [100], again: [100], dialled: [401] })
      expect(report[server].negotiated).to.deep.equal({ connected: [200], again: [200], dialled: [501] })
    })
  }

  it('a listener that resets a stream whose request came with the proposal is asked again on a negotiated stream, and from then on so', () => {
    // the reset after one round trip, then a stream negotiated in full
    expect(report.strict.protocolFirst).to.deep.equal({ connected: [300], again: [200], dialled: [501] })
    expect(report.strict.negotiated).to.deep.equal({ connected: [200], again: [200], dialled: [501] })
  })
})
