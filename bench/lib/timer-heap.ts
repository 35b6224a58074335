/**
 * The queue of a virtual clock: a binary min-heap of entries ordered by due time, then by the
 * order they were pushed (so that entries due at the same time run in the order they were set,
 * as a connection's chunks must). An entry knows its place in the heap, so removing one (a
 * cleared timer) is O(log n) and the heap holds only live entries.
 */

/** What the heap orders: a due time, a sequence number (set by `push`) and its place. */
export interface HeapEntry {
  /** Due time, in virtual ms. */
  at: number
  /** Order of pushing: breaks ties between entries due at the same time. */
  seq: number
  /** Its index in the heap; -1 when it is not in it. */
  index: number
}

function earlier (a: HeapEntry, b: HeapEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** A min-heap of entries by (at, seq). */
export class TimerHeap<T extends HeapEntry> {
  private readonly items: T[] = []
  private seq = 0

  /** Entries waiting. */
  get size (): number {
    return this.items.length
  }

  /** The earliest entry, left in place. */
  peek (): T | undefined {
    return this.items[0]
  }

  /** Adds `entry` (its `at` set by the caller), after every entry pushed before with the same `at`. */
  push (entry: T): void {
    entry.seq = this.seq++
    entry.index = this.items.length
    this.items.push(entry)
    this.up(entry.index)
  }

  /** Removes and returns the earliest entry. */
  pop (): T | undefined {
    const top = this.items[0]
    if (top != null) {
      this.removeAt(0)
    }
    return top
  }

  /** Removes `entry` if it is in the heap; returns whether it was. */
  remove (entry: T): boolean {
    const i = entry.index
    if (i < 0 || this.items[i] !== entry) {
      return false
    }
    this.removeAt(i)
    return true
  }

  private removeAt (i: number): void {
    const items = this.items
    const removed = items[i]
    const last = items.pop() as T
    removed.index = -1
    if (i < items.length) {
      items[i] = last
      last.index = i
      this.down(i)
      this.up(last.index)
    }
  }

  private up (i: number): void {
    const items = this.items
    const entry = items[i]
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!earlier(entry, items[parent])) {
        break
      }
      items[i] = items[parent]
      items[i].index = i
      i = parent
    }
    items[i] = entry
    entry.index = i
  }

  private down (i: number): void {
    const items = this.items
    const n = items.length
    const entry = items[i]
    while (true) {
      const l = 2 * i + 1
      if (l >= n) {
        break
      }
      const r = l + 1
      const child = r < n && earlier(items[r], items[l]) ? r : l
      if (!earlier(items[child], entry)) {
        break
      }
      items[i] = items[child]
      items[i].index = i
      i = child
    }
    items[i] = entry
    entry.index = i
  }
}
