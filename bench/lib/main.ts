/**
 * Whether a module is the one node was started with, so that each benchmark runs alone as a
 * script and can also be imported by bench/index.ts.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** True when `url` (a module's `import.meta.url`) is the script node was started with. */
export function isMain (url: string): boolean {
  const script = process.argv[1]
  if (script == null) {
    return false
  }
  try {
    return realpathSync(fileURLToPath(url)) === realpathSync(script)
  } catch {
    return false
  }
}
