/**
 * The status page: one self-contained HTML document (inline style, script and SVG, nothing
 * loaded from elsewhere) that asks the API for the node's state every few seconds with one
 * JSON-RPC batch, passing on the token it was opened with.
 */

/** How often the page refreshes, in ms. */
export const REFRESH_INTERVAL = 3_000

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #f7f7f9; --card: #fff; --line: #e3e5ea; --bar: #3b6fd8; --bad: #c0392b; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ee; --muted: #98a2b3; --bg: #12151c; --card: #1b1f29; --line: #2c3240; --bar: #6b9bff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: baseline; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { margin: 0; font-size: 1.2rem; }
#state { color: var(--muted); }
#state.bad { color: var(--bad); }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; padding: 1rem 1.2rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { margin: 0 0 .6rem; font-size: 1rem; }
* + h2 { margin-top: 1rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; min-width: 0; }
ul { margin: .2rem 0; padding-left: 1.1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem .2rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; }
td.num, th.num { text-align: right; }
.muted { color: var(--muted); }
.bad { color: var(--bad); }
svg text { fill: var(--muted); font-size: 10px; }
svg .bar { fill: var(--bar); }
svg .axis { stroke: var(--line); }
`

const SCRIPT = `
'use strict'
const token = new URLSearchParams(location.search).get('token') || ''
const K_DEFAULT = 20
let nextId = 1

function h (tag, props, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(props || {})) {
    if (name === 'class') el.className = value
    else el.setAttribute(name, value)
  }
  for (const child of children.flat()) {
    if (child == null) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

function svg (tag, attrs, text) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag)
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value))
  if (text != null) el.textContent = String(text)
  return el
}

function ago (ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return s + ' s ago'
  if (s < 3600) return Math.floor(s / 60) + ' min ago'
  return Math.floor(s / 3600) + ' h ago'
}

function duration (ms) {
  if (ms < 1000) return ms + ' ms'
  if (ms < 60000) return (ms / 1000).toFixed(1) + ' s'
  const m = Math.floor(ms / 60000)
  return m < 60 ? m + ' min' : Math.floor(m / 60) + ' h ' + (m % 60) + ' min'
}

function until (ms) {
  const s = Math.round((ms - Date.now()) / 1000)
  if (s <= 0) return 'now'
  return 'in ' + duration(s * 1000)
}

function short (id) {
  return id.length > 20 ? id.slice(0, 8) + '…' + id.slice(-6) : id
}

function fill (id, ...children) {
  document.getElementById(id).replaceChildren(...children.flat())
}

async function batch (calls) {
  const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: nextId++, method, params }))
  const res = await fetch('/rpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + token },
    body: JSON.stringify(body)
  })
  if (!res.ok) throw new Error('the API answered HTTP ' + res.status)
  const answers = await res.json()
  return body.map(request => {
    const answer = answers.find(a => a.id === request.id)
    if (answer == null) throw new Error('no answer to ' + request.method)
    if (answer.error) throw new Error(request.method + ': ' + answer.error.message)
    return answer.result
  })
}

function renderIdentity (info) {
  fill('peer-id', info.peerId)
  fill('identity',
    h('dt', {}, 'mode'), h('dd', {}, info.mode),
    h('dt', {}, 'protocol'), h('dd', {}, h('code', {}, info.protocol)),
    h('dt', {}, 'addresses shared'), h('dd', {}, info.addressScope),
    h('dt', {}, 'connections'), h('dd', {}, info.connections),
    h('dt', {}, 'up for'), h('dd', {}, duration(info.uptime)),
    h('dt', {}, 'data directory'), h('dd', {}, h('code', {}, info.dataDir)))
  fill('addresses', info.addresses.length === 0
    ? h('li', { class: 'muted' }, 'not listening')
    : info.addresses.map(a => h('li', {}, h('code', {}, a))))
}

function renderBuckets (table) {
  const k = table.kBucketSize || K_DEFAULT
  const last = table.buckets.reduce((m, b) => Math.max(m, b.index), 0)
  const columns = Math.max(16, last + 2)
  const width = 640; const height = 180; const left = 28; const bottom = 20; const top = 14
  const step = (width - left) / columns
  const chart = svg('svg', { id: 'bucket-chart', viewBox: '0 0 ' + width + ' ' + height, width: '100%', role: 'img', 'aria-label': 'peers per bucket' })
  const y = n => top + (height - top - bottom) * (1 - n / k)
  chart.append(svg('line', { class: 'axis', x1: left, x2: width, y1: y(0), y2: y(0) }))
  chart.append(svg('line', { class: 'axis', x1: left, x2: width, y1: y(k), y2: y(k) }))
  chart.append(svg('text', { x: 0, y: y(k) + 4 }, k))
  chart.append(svg('text', { x: 0, y: y(0) + 4 }, 0))
  const byIndex = new Map(table.buckets.map(b => [b.index, b.peers.length]))
  for (let i = 0; i < columns; i++) {
    const x = left + i * step
    const n = byIndex.get(i) || 0
    if (n > 0) {
      const bar = svg('rect', { class: 'bar', 'data-bucket': i, 'data-peers': n, x: x + 2, y: y(n), width: Math.max(2, step - 4), height: y(0) - y(n) })
      bar.append(svg('title', {}, 'bucket ' + i + ': ' + n + ' peer' + (n === 1 ? '' : 's')))
      chart.append(bar)
      chart.append(svg('text', { x: x + step / 2, y: y(n) - 3, 'text-anchor': 'middle' }, n))
    }
    if (i % 2 === 0 || columns <= 20) {
      chart.append(svg('text', { x: x + step / 2, y: height - 6, 'text-anchor': 'middle' }, i))
    }
  }
  fill('buckets', chart)
  fill('table-summary', table.size + ' peer' + (table.size === 1 ? '' : 's') + ' in ' + table.buckets.length +
    ' bucket' + (table.buckets.length === 1 ? '' : 's') + ' (bucket i: peers sharing i leading bits with us; at most ' + k + ' each)')
  const rows = []
  for (const bucket of table.buckets) {
    for (const peer of bucket.peers) {
      rows.push(h('tr', {}, h('td', { class: 'num' }, bucket.index), h('td', {}, h('code', { title: peer.id }, short(peer.id))),
        h('td', {}, peer.connected ? 'connected' : ''), h('td', {}, ago(peer.lastSeen)), h('td', {}, ago(peer.added))))
    }
  }
  fill('peers', rows.length === 0 ? h('tr', {}, h('td', { class: 'muted', colspan: 5 }, 'no peers yet')) : rows)
}

function list (items, empty) {
  return items == null || items.length === 0 ? h('li', { class: 'muted' }, empty) : items.map(i => h('li', {}, h('code', {}, i)))
}

function renderStore (store) {
  fill('store',
    h('dt', {}, 'records held'), h('dd', {}, store.records),
    h('dt', {}, 'provider keys'), h('dd', {}, store.providers.keys),
    h('dt', {}, 'provider records'), h('dd', {}, store.providers.records),
    h('dt', {}, 'keys we provide'), h('dd', {}, store.provided),
    h('dt', {}, 'values kept alive'), h('dd', {}, store.kept))
  fill('record-list', list((store.recordList || []).map(r => r.key + '  (' + r.bytes + ' bytes)'), 'no records'))
  fill('provider-list', list(store.providerKeys, 'no provider records'))
  fill('provided-list', list(store.providedKeys, 'nothing provided'))
}

function renderKept (k) {
  fill('republish',
    h('dt', {}, 'values kept'), h('dd', {}, k.keys == null ? 'counting…' : k.keys),
    h('dt', {}, 'each put again'), h('dd', {}, 'every ' + duration(k.interval) + ' on average'),
    h('dt', {}, 'next'), h('dd', { id: 'republish-next' }, k.next == null ? '–' : [h('code', {}, k.next.key), ' ' + until(k.next.due)]),
    h('dt', {}, 'last'), h('dd', {}, k.last == null ? 'none yet' : [h('code', {}, k.last.key), ' ' + ago(k.last.at) + ', stored by ' + k.last.stored + ' peer' + (k.last.stored === 1 ? '' : 's')]),
    h('dt', {}, 'since the start'), h('dd', {}, k.republished + ' put again, ' + k.failed + ' failed'),
    ...(k.waiting == null ? [] : [h('dt', {}, 'waiting'), h('dd', { class: 'bad' }, 'no DHT peer: waiting to put')]))
  fill('kept-list', k.kept.length === 0
    ? h('li', { class: 'muted' }, 'nothing kept: kadmium put --keep <key> <value>')
    : k.kept.map(v => h('li', {}, h('code', {}, v.key), ' (' + v.bytes + ' bytes) ' + (v.put == null ? 'never put yet' : 'put ' + ago(v.put)) + ', next ' + until(v.due))))
}

function renderReprovide (r) {
  const region = name => name === '' ? 'the whole keyspace' : name
  const last = r.last
  fill('reprovide',
    h('dt', {}, 'keys provided'), h('dd', {}, r.keys == null ? 'counting…' : r.keys),
    h('dt', {}, 'network size'), h('dd', {}, r.networkSize == null ? 'not known yet' : '≈ ' + r.networkSize + ' peer' + (r.networkSize === 1 ? '' : 's')),
    h('dt', {}, 'regions'), h('dd', {}, r.regions === 0 ? 'not cut yet' : r.regions + ' a cycle of ' + duration(r.interval) + ', one every ' + duration(Math.round(r.interval / r.regions))),
    h('dt', {}, 'cycle'), h('dd', {}, r.cycleStart == null ? '–' : r.cycle + (r.cycleStart > Date.now() ? ', begins ' + until(r.cycleStart) : ', began ' + ago(r.cycleStart))),
    h('dt', {}, 'next region'), h('dd', { id: 'reprovide-next' }, r.next == null ? '–' : h('code', {}, region(r.next.region)), r.next == null ? '' : ' ' + until(r.next.due)),
    h('dt', {}, 'last region'), h('dd', {}, last == null ? 'none yet' : [h('code', {}, region(last.region)), ' ' + ago(last.started) + ': ' + last.provided + ' of ' + last.keys + ' keys sent' +
      (last.failed > 0 ? ', ' + last.failed + ' failed' : '') + (last.skipped > 0 ? ', ' + last.skipped + ' just provided' : '') + ', took ' + duration(last.duration)]),
    h('dt', {}, 'last cycle'), h('dd', {}, r.lastCycle == null ? 'none complete yet' : 'took ' + duration(r.lastCycle.duration) + ', ended ' + ago(r.lastCycle.ended)),
    ...(r.waiting == null ? [] : [h('dt', {}, 'waiting'), h('dd', { class: 'bad' }, r.waiting === 'offline' ? 'no DHT peer: waiting to reprovide' : 'for a network size estimate')]))
}

function renderCounters (counters) {
  const types = [...new Set([...Object.keys(counters.inbound), ...Object.keys(counters.outbound)])].sort()
  fill('requests', types.length === 0
    ? h('tr', {}, h('td', { class: 'muted', colspan: 3 }, 'no requests yet'))
    : types.map(t => h('tr', {}, h('td', {}, t), h('td', { class: 'num' }, counters.inbound[t] || 0), h('td', { class: 'num' }, counters.outbound[t] || 0))))
  const errors = Object.entries(counters.errors)
  fill('errors', [
    ...(errors.length === 0 ? [h('li', { class: 'muted' }, 'none')] : errors.map(([name, n]) => h('li', {}, name + ': ' + n))),
    h('li', { class: 'muted' }, 'requests held back by the rate limit: ' + (counters.throttled || 0))
  ])
}

function renderQueries (queries) {
  fill('queries', queries.length === 0
    ? h('tr', {}, h('td', { class: 'muted', colspan: 7 }, 'no queries yet: try kadmium closest hello'))
    : queries.map(q => h('tr', {},
      h('td', {}, q.method), h('td', {}, h('code', { title: q.target }, q.target)),
      h('td', { class: 'num' }, duration(q.duration)), h('td', { class: 'num' }, q.asked), h('td', { class: 'num' }, q.answered),
      h('td', { class: q.outcome === 'ok' || q.outcome === 'running' ? '' : 'bad' }, q.outcome), h('td', {}, ago(q.started)))))
}

async function refresh () {
  const state = document.getElementById('state')
  try {
    const [info, table, store, counters, recent, reprovide, kept] = await batch([
      ['info', {}], ['routingTable', {}], ['storeStats', { list: 20 }], ['counters', {}], ['recentQueries', {}], ['reprovider', {}], ['kept', { limit: 20 }]
    ])
    renderIdentity(info)
    renderBuckets(table)
    renderStore(store)
    renderReprovide(reprovide)
    renderKept(kept)
    renderCounters(counters)
    renderQueries(recent.queries)
    state.className = ''
    state.textContent = 'updated ' + new Date().toLocaleTimeString()
  } catch (err) {
    state.className = 'bad'
    state.textContent = 'cannot reach the daemon: ' + err.message
  } finally {
    setTimeout(refresh, ${REFRESH_INTERVAL})
  }
}

refresh()
`

/** The page, with `nonce` on its inline style and script (the server's CSP allows only those). */
export function statusPage (nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kadmium</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header><h1>kadmium</h1><code id="peer-id">…</code><span id="state">loading…</span></header>
<main>
<section><h2>Node</h2><dl id="identity"></dl><h2>Addresses</h2><ul id="addresses"></ul></section>
<section><h2>Routing table</h2><div id="buckets"></div><p id="table-summary" class="muted"></p></section>
<section><h2>Store</h2><dl id="store"></dl>
<h2>Records</h2><ul id="record-list"></ul>
<h2>Provider records</h2><ul id="provider-list"></ul>
<h2>Provided by us</h2><ul id="provided-list"></ul></section>
<section><h2>Reproviding</h2><dl id="reprovide"></dl></section>
<section><h2>Kept alive</h2><dl id="republish"></dl><h2>Values we keep</h2><ul id="kept-list"></ul></section>
<section><h2>Requests</h2><table><thead><tr><th>message</th><th class="num">in</th><th class="num">out</th></tr></thead><tbody id="requests"></tbody></table>
<h2>Errors</h2><ul id="errors"></ul></section>
<section class="wide"><h2>Peers</h2><table><thead><tr><th class="num">bucket</th><th>peer</th><th></th><th>last seen</th><th>added</th></tr></thead><tbody id="peers"></tbody></table></section>
<section class="wide"><h2>Recent queries</h2><table><thead><tr><th>method</th><th>target</th><th class="num">took</th><th class="num">asked</th><th class="num">answered</th><th>outcome</th><th>when</th></tr></thead><tbody id="queries"></tbody></table></section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`
}
