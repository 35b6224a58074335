/**
 * Virtual time (bench/lib/virtual-time.ts): its timers keep Node's semantics in the order the
 * WAN emulation needs, nothing the stack uses escapes it, and a small emulated network gives the
 * same times twice.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { WAN_DEFAULTS } from '../../bench/harness/report.ts'
import { runReportChild } from '../../bench/lib/child.ts'
import { ESCAPES_VARIABLE, SEED_VARIABLE, VirtualTime } from '../../bench/lib/virtual-time.ts'
import type { BenchOptions, BenchReport } from '../../bench/harness/report.ts'

/**
 * A file beside this one: its TypeScript source when the tests run from source (as
 * `aegir test -t node` runs them, stripping types), the compiled file when they run from dist.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts')
const nearby = (path: string): string => fileURLToPath(new URL(`${path}.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url))
const INSTALL = nearby('../../bench/lib/virtual-install')
/** The children's environment: without the test runner's NODE_OPTIONS. */
const ENV = { NODE_OPTIONS: '' }

/** A promise and the function that resolves it (a test waits on it: spinning on immediates would hold the clock). */
function signalled (): { done: Promise<void>, resolve(): void } {
  let settle = (): void => {}
  const done = new Promise<void>(resolve => { settle = resolve })
  return { done, resolve: settle }
}

describe('virtual time: the clock', () => {
  it('fires timers by due time, then in the order they were set, and moves only to a due time', async () => {
    const time = new VirtualTime(1)
    const seen: Array<[string, number]> = []
    const end = signalled()
    const at = (name: string) => () => {
      seen.push([name, time.now])
      if (seen.length === 5) {
        end.resolve()
      }
    }
    time.setTimeout(at('c'), 30)
    time.setTimeout(at('a'), 10)
    time.setTimeout(at('b'), 10)
    time.setTimeout(() => {
      at('d')()
      time.setTimeout(at('d+5'), 5)
    }, 20)
    await end.done
    expect(seen).to.deep.equal([['a', 10], ['b', 10], ['d', 20], ['d+5', 25], ['c', 30]])
  })

  it('has Node\'s delays: under 1 ms (or not a number) is 1 ms, fractions round up; intervals repeat until cleared, also by number', async () => {
    const time = new VirtualTime(1)
    const seen: Array<[string, number]> = []
    const end = signalled()
    time.setTimeout(() => seen.push(['zero', time.now]), 0)
    time.setTimeout(() => seen.push(['nan', time.now]), Number.NaN)
    time.setTimeout(() => seen.push(['fraction', time.now]), 2.2)
    const interval = time.setInterval(() => {
      seen.push(['interval', time.now])
      if (time.now >= 30) {
        time.clearTimeout(Number(interval))
        // after anything else due at 30
        time.setTimeout(end.resolve, 1)
      }
    }, 10)
    time.clearTimeout(time.setTimeout(() => seen.push(['cleared', time.now]), 5))
    await end.done
    expect(seen).to.deep.equal([['zero', 1], ['nan', 1], ['fraction', 3], ['interval', 10], ['interval', 20], ['interval', 30]])
    expect(time.stats().pending).to.equal(0)
  })

  it('refresh sets a timer again for its delay from now; a timeout signal aborts with a TimeoutError in virtual time', async () => {
    const time = new VirtualTime(1)
    const seen: Array<[string, number]> = []
    const end = signalled()
    const timer = time.setTimeout(() => seen.push(['refreshed', time.now]), 10)
    time.setTimeout(() => { timer.refresh() }, 8)
    const signal = time.timeoutSignal(50)
    signal.addEventListener('abort', () => {
      seen.push([signal.reason.name, time.now])
      end.resolve()
    })
    await end.done
    expect(seen).to.deep.equal([['refreshed', 18], ['TimeoutError', 50]])
  })

  it('does not move while an immediate is pending or a thread-pool call is in flight', async () => {
    const time = new VirtualTime(1)
    const order: string[] = []
    const end = signalled()
    time.setTimeout(() => {
      order.push(`timer at ${time.now}`)
      end.resolve()
    }, 1)
    // a chain of immediates: real work the clock must let run first
    let left = 50
    const chain = (): void => {
      if (--left > 0) {
        setImmediate(chain)
      } else {
        order.push('immediates done')
      }
    }
    setImmediate(chain)
    void time.threadPool('digest', async () => crypto.subtle.digest('SHA-256', new Uint8Array(1 << 20))).then(() => order.push(`digest at ${time.now}`))
    await end.done
    expect(order.slice().sort()).to.deep.equal(['digest at 0', 'immediates done', 'timer at 1'])
    expect(order[2]).to.equal('timer at 1')
  })
})

describe('virtual time: nothing escapes it', function () {
  this.timeout(60_000)

  it('replaces every source of time and randomness the stack reads (installed with node --import)', async () => {
    const fixture = nearby('./fixtures/virtual-escapes')
    const run = async (): Promise<any> => new Promise((resolve, reject) => {
      execFile(process.execPath, ['--import', INSTALL, fixture], { env: { ...process.env, ...ENV, [SEED_VARIABLE]: '7', [ESCAPES_VARIABLE]: '1' }, timeout: 30_000 }, (err, stdout) => {
        if (err != null) {
          reject(err)
          return
        }
        resolve(JSON.parse(stdout))
      })
    })
    const [a, b] = await Promise.all([run(), run()])
    for (const [name, ms] of Object.entries(a.waited)) {
      expect(ms, name).to.equal(name === 'hrtimeNs' ? 1e9 : 1_000)
    }
    expect(a.dateAdvance).to.equal(8_001)
    expect(a.newDate).to.equal(true)
    // the clock waited for the digest on the thread pool before firing the next timer
    expect(a.digestBeforeTimer).to.equal(true)
    expect(a.stats.threadPoolNames).to.deep.equal(['subtle.digest'])
    // eight virtual seconds took a fraction of a real one
    expect(a.realMs).to.be.below(5_000)
    // no real timer was made, and nothing called back from outside but the digest
    expect(a.stats.escapes.realTimers, a.stats.escapes.firstRealTimer).to.equal(0)
    expect(Object.keys(a.stats.escapes.callbacks)).to.have.lengthOf(1)
    // seeded: the same random numbers and keys in both runs
    expect(a.random).to.deep.equal(b.random)
    expect(a.x25519).to.equal(b.x25519)
  })
})

/** A report's figures that depend on virtual time alone: CPU, memory and real time left out. */
function virtualFigures (report: BenchReport): unknown {
  return JSON.parse(JSON.stringify(report, (key, value) => ['cpuMs', 'cpuMsPerNodeMinute', 'cpuMsPerNode', 'cpuShare', 'rssPerNode', 'heapPerNode', 'rssPerNodeStarted', 'heapPerNodeStarted', 'rssPerNodeEnd', 'heapPerNodeEnd', 'realMs', 'escapes'].includes(key) ? undefined : value))
}

/** Runs the harness's child in virtual time (with the escape watcher), quietly. */
async function child (options: BenchOptions): Promise<BenchReport> {
  return runReportChild<BenchReport>([nearby('../../bench/harness/child'), '--impl', 'kadmium', '--options', JSON.stringify(options)], 110_000, 'virtual-time test', {
    nodeArgs: ['--import', INSTALL],
    env: { ...ENV, [SEED_VARIABLE]: String(options.seed), [ESCAPES_VARIABLE]: '1' },
    quiet: true
  }).then(report => {
    // a child killed at its time limit still reports what it measured: here that is a failure
    if (report.phases.length < options.phases.length) {
      throw new Error(`the child ran ${report.phases.length} of ${options.phases.length} phases in 110 s of real time (a machine this loaded cannot run the test)`)
    }
    return report
  })
}

describe('virtual time: a small emulated WAN', function () {
  this.timeout(120_000)

  it('gives the same times twice from the same seed, with no escape, and libp2p\'s steps in exact round trips', async () => {
    const options: BenchOptions = { ...WAN_DEFAULTS, nodes: 6, lookups: 2, ops: 1, batch: 2, joins: 1, phases: ['healthy'], ageMinutes: 0.2, idleMinutes: 0.2, impls: ['kadmium'] }
    const [a, b] = await Promise.all([child(options), child(options)])
    expect(virtualFigures(a)).to.deep.equal(virtualFigures(b))
    // it did something: every operation ran and took virtual time
    const healthy = a.phases[0]
    expect(Object.keys(healthy.ops).sort()).to.deep.equal(['closest', 'closestWarm', 'findPeer', 'findProviders', 'get', 'provide', 'provideMany', 'put'])
    expect(healthy.ops.closest?.[0].ms).to.be.above(0)
    expect(a.virtualTime?.fired).to.be.above(1_000)
    expect(a.virtualTime?.escapes?.realTimers, a.virtualTime?.escapes?.firstRealTimer).to.equal(0)
    expect(a.virtualTime?.escapes?.callbacks).to.deep.equal({})
    // nothing whose course the garbage collector decides
    expect(a.virtualTime?.escapes?.weakRefs).to.equal(0)
    expect(a.virtualTime?.escapes?.finalizationRegistries).to.equal(0)
    expect(a.virtualTime?.threadPoolCalls).to.equal(0)
    // a dial is 3 round trips (and the memory transport's own 1 ms), a stream 1, a request 1
    const { rtt, dial, stream, request } = a.calibration
    expect(rtt).to.have.length.above(5)
    expect(dial).to.deep.equal(rtt.map(r => 3 * r + 1))
    expect(stream).to.deep.equal(rtt)
    expect(request).to.deep.equal(rtt)
  })

  it('lives hours with its upkeep on its own schedule, sampled every hour (--hours)', async () => {
    // the connection monitor off (its pings would cost most of the CPU): the refresh alone
    const report = await child({ ...WAN_DEFAULTS, nodes: 4, degree: 2, phases: [], defaults: false, ageMinutes: 0, idleMinutes: 0.1, hours: 2, impls: ['kadmium'] })
    expect(report.hours.map(h => h.hour)).to.deep.equal([1, 2])
    expect(report.virtualTime?.now).to.be.above(2 * 3_600_000)
    for (const hour of report.hours) {
      expect(hour.servers).to.equal(4)
      // each node's refresh (every 5 to 15 minutes) looked itself up: DHT requests every hour
      expect(hour.dhtStreams).to.be.above(0)
      expect(hour.connectionsPerNode).to.be.above(0)
      expect(hour.timersPerNode).to.be.above(0)
      expect(hour.datastoreKeysPerNode).to.be.at.least(0)
    }
  })
})
