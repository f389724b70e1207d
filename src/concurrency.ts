/**
 * The project's concurrency helpers, in one place: a map with a bounded number of calls in flight
 * (p-limit, pinned at 3.1.0, its last CommonJS release), and a poll with a deadline for code that
 * waits on another process or service (no sleeps as synchronisation: wait for a condition).
 */
import pLimit from 'p-limit';

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results in input order. Rejects with
 * the first failure (calls already started still run to their end).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const run = pLimit(Math.max(1, limit));
  return Promise.all(items.map((item, i) => run(() => fn(item, i))));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A {@link waitFor} whose deadline passed: `what` was waited for, `lastError` is what the probe last threw. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastError?: unknown,
  ) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastError === undefined
          ? ''
          : `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`),
    );
  }
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and returns that. A
 * probe that throws counts as "not yet" (the service may still be starting); its last error is in
 * the {@link WaitTimeoutError} thrown once `timeoutMs` has passed. Probes every `everyMs`, and once
 * more at the deadline.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new WaitTimeoutError(what, timeoutMs, last);
    await sleep(Math.min(everyMs, left));
  }
}

/**
 * Waits until `condition` holds: true once it does, false when `timeoutMs` passes first (for callers
 * that go on either way, e.g. SIGKILL after a grace period). A condition that throws fails the wait.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  let failure: { err: unknown } | undefined;
  const probe = async () => {
    try {
      return await condition();
    } catch (err) {
      failure = { err };
      return true; // stop polling: the wait fails below
    }
  };
  try {
    await waitFor('a condition', probe, timeoutMs, everyMs);
  } catch (err) {
    if (err instanceof WaitTimeoutError) return false;
    throw err;
  }
  if (failure) throw failure.err;
  return true;
}
