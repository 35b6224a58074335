/**
 * The daemon and the command line as a person uses them: daemons as child processes on
 * temporary data directories, driven by the CLI (also a child process) and by raw HTTP.
 */
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { cleanUp, cli, cliJson, kill9, post, rpc, startDaemon, tempDir, until } from './processes.ts'
import type { DaemonProcess } from './processes.ts'
import type { Server, Socket } from 'node:net'

async function cidOf (text: string): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(text))).toString()
}

function providerKey (cid: string): string {
  return base58btc.baseEncode(CID.parse(cid).multihash.bytes)
}

async function tableIds (daemon: DaemonProcess): Promise<string[]> {
  const table = await cliJson(daemon.dir, ['peers'])
  return table.buckets.flatMap((b: any) => b.peers.map((p: any) => p.id))
}

describe('kadmium daemon and CLI', function () {
  this.timeout(40_000)
  let a: DaemonProcess
  let b: DaemonProcess

  before(async () => {
    a = await startDaemon(await tempDir())
    b = await startDaemon(await tempDir(), ['--bootstrap', a.address])
    await until(async () => (await tableIds(a)).includes(b.peerId) && (await tableIds(b)).includes(a.peerId) ? true : undefined, 15_000, 'each daemon in the other\'s table')
  })

  after(async () => {
    await cleanUp()
  })

  it('prints its identity and serves info', async () => {
    expect(a.output()).to.include(`peer id:   ${a.peerId}`)
    expect(a.output()).to.include(`api:       ${a.url}`)
    const info = await cliJson(b.dir, ['info'])
    expect(info).to.include({ peerId: b.peerId, mode: 'server', protocol: '/kadmium-test/kad/1.0.0', addressScope: 'all' })
    const human = await cli(b.dir, ['info'])
    expect(human.code).to.equal(0)
    expect(human.stdout).to.include(b.peerId)
  })

  it('a put on a daemon with no peers says the value is stored here only, and get finds it', async () => {
    const lone = await startDaemon(await tempDir())
    const put = await cli(lone.dir, ['put', '/kadmium/alone', '2025-01-01 only here'])
    expect(put.code).to.equal(0, put.stderr)
    expect(put.stdout).to.include('stored on this node only')
    expect(await cliJson(lone.dir, ['put', '/kadmium/alone', '2025-01-01 only here'])).to.include({ stored: 0 })
    const got = await cli(lone.dir, ['get', '/kadmium/alone'])
    expect(got.stdout.trim()).to.equal('2025-01-01 only here')
  })

  it('puts a value on one daemon and gets it on the other', async () => {
    const put = await cliJson(a.dir, ['put', '/kadmium/greeting', '2025-01-01 hello from a'])
    expect(put.stored).to.equal(1)
    const get = await cli(b.dir, ['get', '/kadmium/greeting', '--quorum', '1'])
    expect(get.code).to.equal(0, get.stderr)
    expect(get.stdout).to.equal('2025-01-01 hello from a\n')
    // a value that sorts before the stored one is refused: the /kadmium/ rule
    const older = await cli(a.dir, ['put', '/kadmium/greeting', '2024-12-31 older'])
    expect(older.code).to.equal(1)
    expect(older.stderr).to.include('StaleRecordError -32005')
    // binary values travel as base64
    const bytes = Buffer.from([0, 255, 1, 254]).toString('base64')
    await cliJson(b.dir, ['put', '/kadmium/binary', bytes, '--base64'])
    const back = await cliJson(a.dir, ['get', '/kadmium/binary', '--base64'])
    expect(back).to.deep.equal({ key: '/kadmium/binary', value: bytes, encoding: 'base64' })
    // b counted the PUT_VALUEs it served; nobody sent fast enough to be held back
    const { counters } = await cliJson(b.dir, ['stats'])
    expect(counters.inbound.PUT_VALUE).to.be.at.least(1)
    expect(counters.throttled).to.equal(0)
  })

  it('keeps a value alive: put --keep, the kept list, stats, forget', async () => {
    const put = await cli(a.dir, ['put', '/kadmium/kept', '2025-01-01 kept by a', '--keep'])
    expect(put.code).to.equal(0, put.stderr)
    expect(put.stdout).to.include('kept alive')
    const kept = await cliJson(a.dir, ['kept'])
    expect(kept).to.include({ keys: 1, failed: 0 })
    expect(kept.kept).to.have.length(1)
    expect(kept.kept[0]).to.include({ key: '/kadmium/kept', bytes: 20 })
    // put again 6 to 18 h after this put
    expect(kept.kept[0].due - kept.kept[0].put).to.be.within(6 * 3_600_000, 18 * 3_600_000)
    const stats = await cli(a.dir, ['stats'])
    expect(stats.stdout).to.include('values kept alive   1; next /kadmium/kept at')
    expect((await cliJson(a.dir, ['rpc', 'storeStats', '{"list":10}'])).keptKeys).to.deep.equal(['/kadmium/kept'])
    const forget = await cli(a.dir, ['forget', '/kadmium/kept'])
    expect(forget.stdout).to.include('no longer keeping /kadmium/kept alive')
    expect((await cliJson(a.dir, ['kept'])).kept).to.deep.equal([])
    expect((await cli(a.dir, ['forget', '/kadmium/kept'])).stdout).to.include('was not kept')
  })

  it('provides a CID on one daemon and finds it from the other', async () => {
    const cid = await cidOf('provided by a')
    const provide = await cliJson(a.dir, ['provide', cid])
    expect(provide.sent).to.equal(1)
    const found = await cliJson(b.dir, ['find-providers', cid, '--count', '1'])
    expect(found.providers.map((p: any) => p.id)).to.deep.equal([a.peerId])
    const human = await cli(b.dir, ['find-providers', cid])
    expect(human.stdout).to.include(a.peerId)
    // several CIDs at once go through provideMany, each reported on its own line
    const several = await Promise.all(['one', 'two', 'three'].map(async name => cidOf(`several from b: ${name}`)))
    const batch = await cli(b.dir, ['provide', ...several])
    expect(batch.code).to.equal(0, batch.stderr)
    expect(batch.stdout.trim().split('\n').sort()).to.deep.equal(several.map(c => `${c} announced to 1 peer`).sort())
    const foundByA = await cliJson(a.dir, ['find-providers', several[2], '--count', '1'])
    expect(foundByA.providers.map((p: any) => p.id)).to.deep.equal([b.peerId])
    // a bad CID among them is refused before anything is sent
    const bad = await cli(b.dir, ['provide', several[0], 'not-a-cid'])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.include('cids')
  })

  it('finds a peer through a lookup, shows progress, and logs the query', async () => {
    // c knows only b (from its config file), so finding a takes a FIND_NODE lookup through b
    const dir = await tempDir()
    await writeFile(join(dir, 'config.json'), JSON.stringify({ bootstrap: [b.address], mode: 'server' }))
    const c = await startDaemon(dir)
    await until(async () => (await tableIds(c)).includes(b.peerId) ? true : undefined, 10_000, 'c to know b')
    // (c may know a already from its join refresh: --no-cache asks the network all the same)
    const run = await cli(c.dir, ['--verbose', 'find-peer', '--no-cache', a.peerId])
    expect(run.code).to.equal(0, run.stderr)
    expect(run.stdout.split('\n')[0]).to.equal(a.peerId)
    expect(run.stdout).to.include(a.address.replace(`/p2p/${a.peerId}`, ''))
    expect(run.stderr).to.include('kadmium:lookup:ask')
    const closest = await cliJson(c.dir, ['closest', 'some key'])
    expect(closest.peers.map((p: any) => p.id)).to.have.members([a.peerId, b.peerId])
    const recent = await cliJson(c.dir, ['rpc', 'recentQueries'])
    expect(recent.queries[0]).to.include({ method: 'closestPeers', outcome: 'ok' })
    expect(recent.queries[1]).to.include({ method: 'findPeer', target: a.peerId, outcome: 'ok' })
    expect(recent.queries[1].asked).to.be.at.least(1)
    const asked = await cliJson(c.dir, ['find-node', b.peerId, a.peerId])
    expect(asked.peers.map((p: any) => p.id)).to.include(a.peerId)
    const ping = await cliJson(c.dir, ['ping', b.peerId])
    expect(ping.rtt).to.be.a('number')
    // a clean stop on SIGTERM removes api.json
    c.child.kill('SIGTERM')
    expect(await c.exited).to.equal(0)
    expect(existsSync(join(c.dir, 'api.json'))).to.equal(false)
  })

  it('refuses API calls without the token', async () => {
    const none = await rpc(a.url, undefined, 'info')
    expect(none.status).to.equal(401)
    expect(none.error.code).to.equal(-32008)
    expect(none).to.not.have.property('result')
    const wrong = await rpc(a.url, 'f'.repeat(64), 'info')
    expect(wrong.status).to.equal(401)
    const origin = new URL(a.url).origin
    expect((await fetch(`${origin}/`)).status).to.equal(401)
    expect((await fetch(`${origin}/?token=${'0'.repeat(64)}`)).status).to.equal(401)
    const page = await fetch(`${origin}/?token=${a.token}`)
    expect(page.status).to.equal(200)
    expect(await page.text()).to.include('id="buckets"')
    const right = await rpc(a.url, a.token, 'info')
    expect(right.result.peerId).to.equal(a.peerId)
  })

  it('answers bad calls with JSON-RPC errors and serves on', async () => {
    const call = async (method: string, params?: unknown): Promise<any> => (await rpc(a.url, a.token, method, params)).error
    expect((await post(a.url, a.token, '{ not json')).error.code).to.equal(-32700)
    expect((await post(a.url, a.token, '{"jsonrpc":"1.0","id":1,"method":"info"}')).error.code).to.equal(-32600)
    expect((await post(a.url, a.token, '[]')).error.code).to.equal(-32600)
    expect((await post(a.url, a.token, '"info"')).error.code).to.equal(-32600)
    expect((await call('nope')).code).to.equal(-32601)
    expect((await call('get', {})).code).to.equal(-32602)
    expect((await call('get', { key: '/kadmium/x', qorum: 1 })).message).to.include('"qorum"')
    expect((await call('get', ['/kadmium/x'])).code).to.equal(-32602)
    expect((await call('findPeer', { peer: 'not a peer' })).code).to.equal(-32602)
    expect((await call('provide', { cid: 'not a cid' })).code).to.equal(-32602)
    expect((await call('put', { key: '/kadmium/x', value: '%%%', valueEncoding: 'base64' })).code).to.equal(-32602)
    expect((await call('put', { key: 'no-namespace', value: 'v' })).code).to.equal(-32002)
    expect((await call('put', { key: '/unknown/x', value: 'v' })).code).to.equal(-32003)
    expect(await call('put', { key: '/kadmium/big', value: 'x'.repeat(17 * 1024) })).to.include({ code: -32004 })
    expect(await call('get', { key: '/kadmium/missing' })).to.deep.include({ code: -32001, data: { name: 'NotFoundError' } })
    // a peer that accepts TCP and never speaks: the call ends at its timeout
    const sockets: Socket[] = []
    const silent: Server = createServer((socket) => { sockets.push(socket) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const port = (silent.address() as any).port
      const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const started = Date.now()
      expect((await call('ping', { peer: `/ip4/127.0.0.1/tcp/${port}/p2p/${nobody}`, timeout: 500 })).code).to.equal(-32007)
      expect(Date.now() - started).to.be.below(5_000)
    } finally {
      sockets.forEach(socket => socket.destroy())
      silent.close()
    }
    // a body over the limit
    expect((await post(a.url, a.token, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'info', params: { pad: 'x'.repeat(1_100_000) } }))).status).to.equal(413)
    // a batch answers each request on its own
    const batch = await post(a.url, a.token, JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'info' },
      { jsonrpc: '2.0', id: 2, method: 'nope' },
      { jsonrpc: '2.0', method: 'info' }
    ]))
    expect(batch).to.have.length(2)
    expect(batch[0].result.peerId).to.equal(a.peerId)
    expect(batch[1].error.code).to.equal(-32601)
    // the CLI says what went wrong and exits non-zero
    const bad = await cli(a.dir, ['get', 'no-namespace'])
    expect(bad.code).to.equal(1)
    expect(bad.stderr).to.include('InvalidKeyError -32002')
    // and the daemon serves on
    expect(a.child.exitCode).to.equal(null)
    expect((await cliJson(a.dir, ['info'])).peerId).to.equal(a.peerId)
  })

  it('keeps its identity, records and providers after kill -9, and reconnects', async () => {
    const fromA = await cidOf('a, before the crash')
    await cliJson(a.dir, ['provide', fromA])
    await until(async () => (await cliJson(b.dir, ['rpc', 'storeStats', '{"list":100}'])).providerKeys.includes(providerKey(fromA)) ? true : undefined, 10_000, 'b to hold a\'s provider record')
    // b's own put and provide are on disk when their calls answer: kill right after
    const fromB = await cidOf('b, before the crash')
    await cliJson(b.dir, ['put', '/kadmium/from-b', 'written just before the crash', '--keep'])
    await cliJson(b.dir, ['provide', fromB])
    // the reprovide schedule began once b knew the network's size (its provides' lookups told it)
    const schedule = await until(async () => {
      const state = await cliJson(b.dir, ['rpc', 'reprovider'])
      return state.regions > 0 ? state : undefined
    }, 10_000, 'b\'s reprovide schedule')
    const id = b.peerId
    await kill9(b)

    const restarted = await startDaemon(b.dir)
    b = restarted
    expect(restarted.peerId).to.equal(id)
    const store = await cliJson(b.dir, ['rpc', 'storeStats', '{"list":100}'])
    expect(store.recordList.map((r: any) => r.key)).to.include.members(['/kadmium/greeting', '/kadmium/from-b'])
    expect(store.providerKeys).to.include.members([providerKey(fromA), providerKey(fromB)])
    expect(store.providedKeys).to.include(providerKey(fromB))
    // and it still keeps its value alive
    expect(store.keptKeys).to.deep.equal(['/kadmium/from-b'])
    // the schedule resumes where it was: the same cycle, begun at the same time, every key counted
    const resumed = await until(async () => {
      const state = await cliJson(b.dir, ['rpc', 'reprovider'])
      return state.keys != null && state.regions > 0 ? state : undefined
    }, 10_000, 'b\'s reprovide schedule after the restart')
    expect(resumed).to.include({ cycle: schedule.cycle, cycleStart: schedule.cycleStart, regions: schedule.regions, keys: store.provided })
    // no --bootstrap this time: a comes back from the peer store
    await until(async () => (await tableIds(b)).includes(a.peerId) ? true : undefined, 15_000, 'b to reconnect to a')
    const found = await cliJson(b.dir, ['find-providers', fromA])
    expect(found.providers.map((p: any) => p.id)).to.include(a.peerId)
    const get = await cli(b.dir, ['get', '/kadmium/from-b'])
    expect(get.stdout).to.equal('written just before the crash\n')
  })
})
