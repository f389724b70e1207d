/**
 * Entry of a replay feed thread (row-feed.ts): reads, validates and packs rows, a few chunks ahead.
 * It starts before its options are known (they come in the first message), so it loads meanwhile.
 */
import { parentPort } from 'node:worker_threads';
import { CHUNKS_AHEAD, openInlineFeed, type FeedOptions, type FeedToOwner, type OwnerToFeed } from './row-feed';
import { transferables } from './packed-chunk';

async function run(port: NonNullable<typeof parentPort>): Promise<void> {
  let credits = CHUNKS_AHEAD;
  let wake: (() => void) | undefined;
  let started: (opts: FeedOptions) => void;
  const options = new Promise<FeedOptions>((resolve) => (started = resolve));
  port.on('message', (m: OwnerToFeed) => {
    if (m.type === 'start') {
      started(m.options);
      return;
    }
    credits++;
    const w = wake;
    wake = undefined;
    w?.();
  });
  const feed = await openInlineFeed(await options);
  try {
    for (;;) {
      while (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
      const chunk = await feed.next();
      if (chunk === null) {
        port.postMessage({ type: 'end' } satisfies FeedToOwner);
        return;
      }
      credits--;
      port.postMessage({ type: 'chunk', chunk } satisfies FeedToOwner, transferables(chunk));
    }
  } finally {
    await feed.close();
  }
}

if (parentPort) {
  const port = parentPort;
  run(port).then(
    () => port.close(),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ type: 'error', name: e.name, message: e.message, stack: e.stack } satisfies FeedToOwner);
      port.close();
    },
  );
}
