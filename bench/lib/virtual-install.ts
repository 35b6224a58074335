/**
 * Installs virtual time (bench/lib/virtual-time.ts) before any other module loads:
 *
 * ```
 * KADMIUM_VIRTUAL_SEED=1 node --import ./dist/bench/lib/virtual-install.js dist/bench/wan/index.js --child kadmium …
 * ```
 *
 * The WAN benchmark starts its children this way (`--clock virtual`, the default). With
 * `KADMIUM_VIRTUAL_ESCAPES=1` it also watches for work that escapes virtual time (the report's
 * `virtualTime.escapes`).
 */
import { ESCAPES_VARIABLE, SEED_VARIABLE, installVirtualTime } from './virtual-time.ts'

const seed = Number(process.env[SEED_VARIABLE] ?? 'NaN')
if (!Number.isSafeInteger(seed)) {
  throw new Error(`${SEED_VARIABLE} must be an integer seed, got ${process.env[SEED_VARIABLE]}`)
}
const time = installVirtualTime(seed)
if (process.env[ESCAPES_VARIABLE] != null) {
  time.watchEscapes()
}
