/**
 * Abort signals with a deadline whose timer is cleared when the work ends, so nothing is left
 * running after it (AbortSignal.timeout keeps its timer until it fires).
 */
import { TimeoutError } from '../errors.ts'

/** A signal and the function that releases its timer and listeners. */
export interface Deadline {
  signal: AbortSignal
  clear(): void
}

/**
 * A signal that aborts when any of `signals` does, or after `ms` with an error named
 * `TimeoutError` carrying `message`. Call `clear()` when the work ends.
 */
export function deadline (ms: number, message: string, ...signals: Array<AbortSignal | undefined>): Deadline {
  const controller = new AbortController()
  const parents = signals.filter((s): s is AbortSignal => s != null)
  const onAbort = (event: Event): void => { controller.abort((event.target as AbortSignal).reason) }
  for (const parent of parents) {
    if (parent.aborted) {
      controller.abort(parent.reason)
      break
    }
    parent.addEventListener('abort', onAbort, { once: true })
  }
  const timer = setTimeout(() => {
    controller.abort(new TimeoutError(message))
  }, ms)
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      for (const parent of parents) {
        parent.removeEventListener('abort', onAbort)
      }
    }
  }
}

/** Resolves after `ms`; rejects with the signal's reason, and clears its timer, if it aborts first. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
