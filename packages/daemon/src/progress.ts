/**
 * Showing a running query: a spinner line on a terminal, fed by the query's progress events
 * (peers asked, answered, failed, and what was found or stored), or with `--verbose` one line
 * per event.
 */
import type { ProgressJson } from './rpc.ts'

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

/** What a progress display needs of a stream (stderr). */
export interface ProgressStream {
  isTTY?: boolean
  columns?: number
  write(text: string): boolean
}

/** Counts of one query's events. */
interface Tally {
  asked: number
  answered: number
  failed: number
  stalled: number
  stored: number
  found: number
  values: number
}

/** A progress display for one query. */
export class Progress {
  private readonly stream: ProgressStream
  private readonly label: string
  private readonly verbose: boolean
  private readonly tally: Tally
  private timer?: ReturnType<typeof setInterval>
  private frame: number

  /** Shows a spinner when `stream` is a terminal; prints each event when `verbose`. */
  constructor (stream: ProgressStream, label: string, verbose: boolean) {
    this.stream = stream
    this.label = label
    this.verbose = verbose
    this.tally = { asked: 0, answered: 0, failed: 0, stalled: 0, stored: 0, found: 0, values: 0 }
    this.frame = 0
    if (stream.isTTY === true && !verbose) {
      this.timer = setInterval(() => { this.draw() }, 80)
      this.timer.unref()
    }
  }

  /** Counts (and with `verbose`, prints) one event. */
  event (event: ProgressJson): void {
    const { tally } = this
    switch (event.type) {
      case 'kadmium:lookup:ask': tally.asked++; break
      case 'kadmium:lookup:answer': tally.answered++; break
      case 'kadmium:lookup:fail': tally.failed++; break
      case 'kadmium:lookup:stall': tally.stalled++; break
      case 'kadmium:put:stored':
      case 'kadmium:provide:sent': tally.stored++; break
      case 'kadmium:providers:found': tally.found++; break
      case 'kadmium:get:value': tally.values++; break
      default: break
    }
    if (this.verbose) {
      const { type, ...detail } = event
      this.stream.write(`${type} ${JSON.stringify(detail)}\n`)
    }
  }

  /** A summary of the counts, e.g. `asked 12 · answered 10 · failed 2`. */
  summary (): string {
    const { tally } = this
    const parts = [`asked ${tally.asked}`, `answered ${tally.answered}`]
    if (tally.failed > 0) {
      parts.push(`failed ${tally.failed}`)
    }
    if (tally.stalled > 0) {
      parts.push(`stalled ${tally.stalled}`)
    }
    if (tally.stored > 0) {
      parts.push(`stored on ${tally.stored}`)
    }
    if (tally.values > 0) {
      parts.push(`values ${tally.values}`)
    }
    if (tally.found > 0) {
      parts.push(`found ${tally.found}`)
    }
    return parts.join(' · ')
  }

  /** Removes the spinner line. */
  stop (): void {
    if (this.timer != null) {
      clearInterval(this.timer)
      this.timer = undefined
      this.stream.write('\r\x1b[2K')
    }
  }

  private draw (): void {
    this.frame = (this.frame + 1) % FRAMES.length
    const line = `${FRAMES[this.frame]} ${this.label}: ${this.summary()}`
    const width = Math.max(20, (this.stream.columns ?? 80) - 1)
    this.stream.write(`\r\x1b[2K${line.length > width ? line.slice(0, width - 1) + '…' : line}`)
  }
}
