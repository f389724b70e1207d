/**
 * Feeds packed chunks of replay rows (packed-chunk.ts) to the producing code, from a worker thread or
 * inline. Reading, splitting, validation and message building cost about as much CPU as kafkajs's
 * encoding; on a worker thread they run beside it, which roughly doubles the replay's top speed.
 * The thread stays at most CHUNKS_AHEAD chunks ahead, so memory does not depend on the file's size.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Cursor } from './csv-source';
import { SourceFileError, sourceName } from './csv-source';
import { ChunkPacker, type PackedChunk } from './packed-chunk';
import type { ReplayOrder, RunPlan } from './ordered-rows';
import { openOrderedSource } from './ordered-source';

export interface FeedOptions {
  file: string;
  runs: RunPlan[];
  order: ReplayOrder;
  /** One cursor per run: where to start reading. */
  from: Cursor[];
  /** Rows per chunk. Default 2,048. */
  rowsPerChunk?: number;
  /** The replay's id, written into its dead letters. */
  replayId?: string;
}

export interface RowFeed {
  /** The next chunk in replay order, or null at the end of the pass. */
  next(): Promise<PackedChunk | null>;
  close(): Promise<void>;
}

export const ROWS_PER_CHUNK = 2048;
/** Chunks a feed thread may have ready before the producer takes them. */
export const CHUNKS_AHEAD = 2;

/** Messages between the feed thread and its owner. */
export type FeedToOwner =
  | { type: 'chunk'; chunk: PackedChunk }
  | { type: 'end' }
  | { type: 'error'; name: string; message: string; stack?: string };
export type OwnerToFeed = { type: 'start'; options: FeedOptions } | { type: 'credit' };

/** Reads, validates and packs in this thread. */
export async function openInlineFeed(opts: FeedOptions): Promise<RowFeed> {
  const source = await openOrderedSource(opts.file, opts.runs, opts.order, opts.from);
  const packer = new ChunkPacker(sourceName(opts.file), opts.replayId);
  return {
    async next() {
      const rows = await source.next(opts.rowsPerChunk ?? ROWS_PER_CHUNK);
      return rows === null ? null : packer.pack(rows, new Date());
    },
    close: () => source.close(),
  };
}

/** The script a feed thread runs: TypeScript through tsx when this module is TypeScript, as everywhere in ticklake. */
function threadScript(): string {
  const entry = path.join(__dirname, `feed-thread${path.extname(__filename)}`);
  const register = path.extname(__filename) === '.ts' ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});` : '';
  return `${register} require(${JSON.stringify(entry)});`;
}

/** A feed thread that has started (loading its modules takes a few hundred ms) and waits for its options. */
export interface StartedFeedThread {
  open(opts: FeedOptions): RowFeed;
  /** Ends the thread when it was never opened. */
  close(): Promise<void>;
}

/**
 * Starts a feed thread ahead of time, so that it loads while the replay fences its producer and reads
 * its position; open() then hands it the options.
 */
export function startFeedThread(): StartedFeedThread {
  const worker = new Worker(threadScript(), {
    eval: true,
    execArgv: [],
    // The packer allocates short-lived strings by the megabyte: a young generation that holds a chunk's
    // worth of them keeps them out of the old generation.
    resourceLimits: { maxYoungGenerationSizeMb: 64 },
  });
  let opened = false;
  return {
    open(opts) {
      if (opened) throw new Error('a feed thread is opened once');
      opened = true;
      worker.postMessage({ type: 'start', options: opts } satisfies OwnerToFeed);
      return feedOf(worker);
    },
    async close() {
      if (!opened) await worker.terminate();
    },
  };
}

/** Reads, validates and packs on a worker thread. */
export function openThreadFeed(opts: FeedOptions): RowFeed {
  return startFeedThread().open(opts);
}

function feedOf(worker: Worker): RowFeed {
  const ready: PackedChunk[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', (m: FeedToOwner) => {
    if (m.type === 'chunk') ready.push(m.chunk);
    else if (m.type === 'end') ended = true;
    else {
      failure =
        m.name === 'SourceFileError'
          ? new SourceFileError(m.message)
          : new Error(`replay feed thread failed: ${m.message}`);
      if (m.stack && !(failure instanceof SourceFileError)) failure.stack = m.stack;
    }
    notify();
  });
  worker.on('error', (err) => {
    failure ??= err;
    notify();
  });
  worker.on('exit', (code) => {
    if (!ended && !failure)
      failure = new Error(`replay feed thread exited with code ${code} before the end of the file`);
    notify();
  });
  return {
    async next() {
      for (;;) {
        const chunk = ready.shift();
        if (chunk) {
          worker.postMessage({ type: 'credit' } satisfies OwnerToFeed);
          return chunk;
        }
        if (failure) throw failure;
        if (ended) return null;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async close() {
      ended = true;
      await worker.terminate();
    },
  };
}
