/**
 * A per-key async lock: tasks for one key run one at a time, in the order they were queued;
 * tasks for different keys run concurrently. A key with nothing queued costs no memory.
 */

/**
 * Serialises async tasks by key.
 *
 * @example
 * ```ts
 * const locks = new KeyedLock()
 * // both read-modify-writes of 'a' run one after the other, neither loses the other's update
 * await Promise.all([
 *   locks.run('a', async () => { await update('a') }),
 *   locks.run('a', async () => { await update('a') })
 * ])
 * ```
 */
export class KeyedLock {
  /** The last task queued for each busy key: it settles when that task is done. */
  private readonly tails: Map<string, Promise<void>>

  constructor () {
    this.tails = new Map()
  }

  /** Keys with a task running or queued. */
  get size (): number {
    return this.tails.size
  }

  /** Runs `task` once every task queued before it for `key` is done, and resolves as it does. */
  async run<T> (key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key)
    let done!: () => void
    const mine = new Promise<void>(resolve => { done = resolve })
    this.tails.set(key, mine)
    try {
      if (previous != null) {
        await previous
      }
      return await task()
    } finally {
      if (this.tails.get(key) === mine) {
        this.tails.delete(key)
      }
      done()
    }
  }
}
