/**
 * The recent queries made through the API: a ring buffer of the last ones, each with its method,
 * target, duration and the peers it asked, counted from the query's progress events.
 */

/** The most queries remembered. */
export const RECENT_QUERIES = 50

/** One query made through the API. */
export interface QueryRecord {
  /** The JSON-RPC method. */
  method: string
  /** What it was about (a key, a CID, a peer id), shortened for display. */
  target: string
  /** When it started, in ms since the epoch. */
  started: number
  /** How long it took, in ms (so far, while it runs). */
  duration: number
  /** Peers asked (`kadmium:lookup:ask` events). */
  asked: number
  /** Peers that answered. */
  answered: number
  /** Peers that failed to answer. */
  failed: number
  /** Requests that stalled (late; the lookup went on without waiting for them). */
  stalled: number
  /** `running`, `ok`, or the name of the error it ended with. */
  outcome: string
}

/** Counts one query's progress events and records how it ended. */
export class QueryTally {
  readonly record: QueryRecord
  private readonly log: QueryLog

  constructor (log: QueryLog, method: string, target: string) {
    this.log = log
    this.record = { method, target: shorten(target), started: Date.now(), duration: 0, asked: 0, answered: 0, failed: 0, stalled: 0, outcome: 'running' }
  }

  /** Counts one progress event by its type. */
  count (type: string): void {
    if (type === 'kadmium:lookup:ask') {
      this.record.asked++
    } else if (type === 'kadmium:lookup:answer') {
      this.record.answered++
    } else if (type === 'kadmium:lookup:fail') {
      this.record.failed++
    } else if (type === 'kadmium:lookup:stall') {
      this.record.stalled++
    }
  }

  /** Marks the query ended, well or with `error`. */
  end (error?: { name?: string }): void {
    this.record.duration = Date.now() - this.record.started
    this.record.outcome = error == null ? 'ok' : (error.name ?? 'Error')
    this.log.ended(this)
  }
}

/** The last {@link RECENT_QUERIES} queries, oldest first, and those still running. */
export class QueryLog {
  private readonly size: number
  private readonly done: QueryRecord[]
  private readonly running: Set<QueryTally>

  constructor (size = RECENT_QUERIES) {
    this.size = size
    this.done = []
    this.running = new Set()
  }

  /** Starts tallying a query. */
  start (method: string, target: string): QueryTally {
    const tally = new QueryTally(this, method, target)
    this.running.add(tally)
    return tally
  }

  /** Called by {@link QueryTally.end}. */
  ended (tally: QueryTally): void {
    this.running.delete(tally)
    this.done.push({ ...tally.record })
    if (this.done.length > this.size) {
      this.done.splice(0, this.done.length - this.size)
    }
  }

  /** The most recent first: running queries, then ended ones, at most `limit`. */
  list (limit = this.size): QueryRecord[] {
    const now = Date.now()
    const live = [...this.running].map(t => ({ ...t.record, duration: now - t.record.started }))
    return [...live.reverse(), ...this.done.slice().reverse()].slice(0, limit)
  }
}

/** Keeps long targets readable: the first and last characters around an ellipsis. */
function shorten (text: string): string {
  return text.length <= 60 ? text : `${text.slice(0, 28)}…${text.slice(-28)}`
}
