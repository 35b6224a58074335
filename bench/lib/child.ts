/**
 * Running one implementation of a benchmark in a child process of its own (so that memory is
 * measured apart and neither warms the other's caches): the child prints one `REPORT <json>`
 * line on stdout, progress on stderr.
 */
import { spawn } from 'node:child_process'

const PREFIX = 'REPORT '

/**
 * Runs `node --expose-gc <args>` and resolves to the last report it printed; rejects when it
 * ended without one (killed after `timeoutMs` before its first).
 */
export async function runReportChild<T> (args: string[], timeoutMs: number, label: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    proc.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    const timer = setTimeout(() => { proc.kill('SIGKILL') }, timeoutMs)
    proc.on('close', (code, signal) => {
      clearTimeout(timer)
      // the last report: a child may print a partial one after each phase, so that one killed
      // at its time limit still tells what it measured
      const line = stdout.split('\n').filter(l => l.startsWith(PREFIX)).pop()
      if (line == null) {
        reject(new Error(`the ${label} child ended (${code ?? signal}) without a report`))
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
