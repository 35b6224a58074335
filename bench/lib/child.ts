/**
 * Running one implementation of a benchmark in a child process of its own (so that memory is
 * measured apart and neither warms the other's caches): the child prints one `REPORT <json>`
 * line on stdout, progress on stderr.
 */
import { spawn } from 'node:child_process'

const PREFIX = 'REPORT '

/** How a child's node is started, beyond `--expose-gc`. */
export interface ChildStart {
  /** Options of node itself, before the script (e.g. `--import` of the virtual clock). */
  nodeArgs?: string[]
  /** Environment variables added to the parent's. */
  env?: Record<string, string>
  /** Keeps the child's progress (stderr) to itself; its end is told if it gives no report. */
  quiet?: boolean
}

/**
 * Runs `node --expose-gc <args>` and resolves to the last report it printed; rejects when it
 * ended without one (killed after `timeoutMs` before its first).
 */
export async function runReportChild<T> (args: string[], timeoutMs: number, label: string, start: ChildStart = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', ...(start.nodeArgs ?? []), ...args], { stdio: ['ignore', 'pipe', start.quiet === true ? 'pipe' : 'inherit'], env: { ...process.env, ...start.env } })
    let stdout = ''
    let stderr = ''
    proc.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    proc.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4_000) })
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, timeoutMs)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      // the last report: a child may print a partial one after each phase, so that one killed
      // at its time limit still tells what it measured
      const line = stdout.split('\n').filter(l => l.startsWith(PREFIX)).pop()
      if (line == null) {
        reject(new Error(`the ${label} child ended (${code ?? signal}) without a report${stderr === '' ? '' : `; its last words:\n${stderr}`}`))
        return
      }
      resolve(JSON.parse(line.slice(PREFIX.length)))
    })
  })
}

/** Prints a child's report for its parent (the one line `runReportChild` looks for). */
export function printReport (report: unknown): void {
  process.stdout.write(`${PREFIX}${JSON.stringify(report)}\n`)
}
