// tsc does not emit the generated protobuf codec (JavaScript with a hand-off .d.ts): copy it into
// dist beside the compiled code that imports it.
import { copyFileSync, mkdirSync } from 'node:fs'

const from = new URL('../src/wire/generated/', import.meta.url)
const to = new URL('../dist/src/wire/generated/', import.meta.url)
mkdirSync(to, { recursive: true })
for (const name of ['dht.js', 'dht.d.ts']) {
  copyFileSync(new URL(name, from), new URL(name, to))
}
