/**
 * The status page in a real browser: Debian's headless Chromium, driven by playwright-core.
 */
import { expect } from 'aegir/chai'
import { launchChromium, skipWithoutChromium } from './chromium.ts'
import { cleanUp, cli, cliJson, startDaemon, tempDir, until } from './processes.ts'
import type { Chromium } from './chromium.ts'
import type { DaemonProcess } from './processes.ts'

describe('kadmium status page', function () {
  this.timeout(40_000)
  let a: DaemonProcess
  let b: DaemonProcess
  let browser: Chromium | undefined

  before(async function () {
    skipWithoutChromium(this)
    a = await startDaemon(await tempDir())
    // a bootstrap peer given as a plain argument
    b = await startDaemon(await tempDir(), [a.address])
    await until(async () => (await cliJson(a.dir, ['peers'])).size > 0 ? true : undefined, 15_000, 'a peer in a\'s table')
    // something in the store and in the recent queries
    await cliJson(a.dir, ['put', '/kadmium/page', 'shown on the page', '--keep'])
    await cliJson(a.dir, ['provide', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'])
  })

  after(async () => {
    await browser?.close()
    await cleanUp()
  })

  it('shows the peer id and a non-empty bucket chart, with no console errors', async function () {
    const page = await cli(a.dir, ['page'])
    expect(page.code).to.equal(0, page.stderr)
    const url = page.stdout.trim()
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/)

    browser = await launchChromium()
    const { tab, problems } = browser

    const response = await tab.goto(url)
    expect(response?.status()).to.equal(200)
    await tab.waitForFunction((id) => document.getElementById('peer-id')?.textContent === id, a.peerId, { timeout: 10_000 })
    await tab.waitForSelector('#bucket-chart rect.bar', { timeout: 10_000 })
    const bars = await tab.$$eval('#bucket-chart rect.bar', rects => rects.map(r => Number(r.getAttribute('data-peers'))))
    expect(bars.reduce((sum, n) => sum + n, 0)).to.be.at.least(1)
    expect(await tab.textContent('#record-list')).to.include('/kadmium/page')
    expect(await tab.textContent('#queries')).to.include('put')
    expect(await tab.textContent('#addresses')).to.include('/ip4/127.0.0.1/tcp/')
    // the reprovide schedule: the key provided, the regions of a cycle and the next one due
    await tab.waitForFunction(() => document.getElementById('reprovide-next')?.textContent?.match(/in \d|now/) != null, undefined, { timeout: 10_000 })
    expect(await tab.textContent('#reprovide')).to.match(/keys provided\s*1(?!\d)/)
    // the value kept alive, and when it goes out again
    expect(await tab.textContent('#kept-list')).to.match(/\/kadmium\/page \(17 bytes\) put .*, next in \d+ h/)
    expect(await tab.textContent('#republish')).to.match(/values kept\s*1(?!\d)/)
    // it refreshes on its own: the state line changes
    const first = await tab.textContent('#state')
    await tab.waitForFunction((before) => document.getElementById('state')?.textContent !== before, first, { timeout: 10_000 })
    if (process.env.KADMIUM_SCREENSHOT != null) {
      await tab.screenshot({ path: process.env.KADMIUM_SCREENSHOT, fullPage: true })
    }
    expect(problems).to.deep.equal([])
    expect(b.child.exitCode).to.equal(null)
  })
})
