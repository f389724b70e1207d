/**
 * Feeds packed chunks of replay rows (packed-chunk.ts) to the producing code, from a worker thread or
 * inline. Reading, csv-parse, validation and message building cost about as much CPU as kafkajs's
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
export type OwnerToFeed = { type: 'credit' };

/** Reads, validates and packs in this thread. */
export async function openInlineFeed(opts: FeedOptions): Promise<RowFeed> {
  const source = await openOrderedSource(opts.file, opts.runs, opts.order, opts.from);
  const packer = new ChunkPacker(sourceName(opts.file));
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

/** Reads, validates and packs on a worker thread. */
export function openThreadFeed(opts: FeedOptions): RowFeed {
  const worker = new Worker(threadScript(), { eval: true, workerData: opts, execArgv: [] });
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
