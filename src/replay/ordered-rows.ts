/**
 * The order in which a replay produces the rows of a file, and a k-way merge that yields them.
 *
 * File order reads the data rows top to bottom as one run. Market-time order produces all symbols of a
 * trading date together, dates ascending, without loading or sorting the file: a first streaming pass
 * (`scanSource`) records where each run of ascending dates starts (a new run wherever the date goes
 * down; a file grouped by symbol has one run per symbol), then one reader per run feeds a merge ordered
 * by (date, run index). Within a run rows keep their file order, so the whole order is a deterministic
 * function of the file: the n-th row of the ordered stream is always the same row, and a position (one
 * cursor per run) resumes it exactly.
 *
 * Memory is O(runs x chunk): each run holds one chunk of whole lines and its parsed rows. The chunk size
 * shrinks as runs grow (MERGE_BUDGET_BYTES over all runs), and files with more than MAX_MARKET_RUNS runs
 * are refused in market order (such a file is close to unsorted; sort it by date, or replay in file order).
 */
import type { Cursor, SourceLayout } from './csv-source';

export type ReplayOrder = 'file' | 'market';

export const REPLAY_ORDERS: readonly ReplayOrder[] = ['file', 'market'];

/** Most runs a market-time replay merges; each costs a chunk of memory and a cursor in every position record. */
export const MAX_MARKET_RUNS = 1024;
/** Chunk bytes per run in file order. */
export const FILE_ORDER_CHUNK_BYTES = 256 * 1024;
/** Raw bytes buffered over all runs in market order (parsed rows take a few times that). */
export const MERGE_BUDGET_BYTES = 8 * 1024 * 1024;
const MIN_CHUNK_BYTES = 8 * 1024;

export interface RunPlan {
  /** Where the run starts. */
  start: Cursor;
  /** Byte offset just past the run's last row. */
  end: number;
}

export class OrderError extends Error {
  override name = 'OrderError';
}

/** Throws a message saying what is allowed when an order is not valid. */
export function validateOrder(order: string): asserts order is ReplayOrder {
  if (!REPLAY_ORDERS.includes(order as ReplayOrder)) {
    throw new Error(
      `order '${order}' is not understood: use 'file' (file order) or 'market' (all symbols of a date together, dates ascending)`,
    );
  }
}

/** The runs a replay reads, in run-index order. Pure. */
export function planRuns(layout: SourceLayout, order: ReplayOrder): RunPlan[] {
  if (layout.rows === 0) return [];
  if (order === 'file') return [{ start: { offset: layout.dataStart, line: 2, key: '' }, end: layout.size }];
  if (layout.runs.length > MAX_MARKET_RUNS) {
    throw new OrderError(
      `the file has ${layout.runs.length} runs of ascending dates; market-time order merges one stream per run and supports at most ` +
        `${MAX_MARKET_RUNS}: sort the file by date (or group it by symbol), or replay it in file order`,
    );
  }
  return layout.runs.map((start, i) => ({ start, end: layout.runs[i + 1]?.offset ?? layout.size }));
}

/** Chunk bytes per run reader. Pure. */
export function chunkBytesFor(order: ReplayOrder, runs: number): number {
  if (order === 'file' || runs <= 1) return FILE_ORDER_CHUNK_BYTES;
  return Math.max(MIN_CHUNK_BYTES, Math.min(FILE_ORDER_CHUNK_BYTES, Math.floor(MERGE_BUDGET_BYTES / runs)));
}

/** Something that yields rows in non-decreasing key order, a chunk at a time (null at the end). */
export interface ChunkSource<R> {
  read(): Promise<R[] | null>;
}

interface RunState<R> {
  index: number;
  source: ChunkSource<R>;
  rows: R[];
  next: number;
  /** Last row taken from this run, if any. */
  last: R | undefined;
}

/**
 * Merges sorted sources into one stream ordered by (key, source index), stable within a source.
 * A source whose chunk runs out is read again before it is compared again, so `next()` may return
 * fewer rows than asked for; it returns null only when every source is done.
 */
export class MergedRows<R extends { key: string }> {
  private readonly heap: RunState<R>[] = [];
  private readonly refill: RunState<R>[];
  private readonly states: RunState<R>[];

  constructor(sources: ChunkSource<R>[]) {
    this.states = sources.map((source, index) => ({ index, source, rows: [], next: 0, last: undefined }));
    this.refill = [...this.states];
  }

  /** The last row taken from each source (undefined for a source nothing was taken from yet). */
  lastTaken(): (R | undefined)[] {
    return this.states.map((s) => s.last);
  }

  /** Up to `max` next rows in order, or null at the end. */
  async next(max: number): Promise<R[] | null> {
    for (;;) {
      while (this.refill.length > 0) {
        const s = this.refill.pop()!;
        let rows: R[] | null;
        do rows = await s.source.read();
        while (rows !== null && rows.length === 0);
        if (rows !== null) {
          s.rows = rows;
          s.next = 0;
          this.push(s);
        }
      }
      if (this.heap.length === 0) return null;
      if (this.heap.length === 1) return this.takeAll(this.heap[0], max);
      const out: R[] = [];
      while (out.length < max) {
        const s = this.heap[0];
        const row = s.rows[s.next++];
        s.last = row;
        out.push(row);
        if (s.next === s.rows.length) {
          this.pop();
          this.refill.push(s);
          break;
        }
        this.siftDown(0);
      }
      return out;
    }
  }

  /** One source left: no comparisons, hand out its chunk. */
  private takeAll(s: RunState<R>, max: number): R[] {
    const end = Math.min(s.rows.length, s.next + max);
    const out = s.next === 0 && end === s.rows.length ? s.rows : s.rows.slice(s.next, end);
    s.next = end;
    s.last = s.rows[end - 1];
    if (s.next === s.rows.length) {
      this.pop();
      this.refill.push(s);
    }
    return out;
  }

  private less(a: RunState<R>, b: RunState<R>): boolean {
    const ka = a.rows[a.next].key;
    const kb = b.rows[b.next].key;
    return ka < kb || (ka === kb && a.index < b.index);
  }

  private push(s: RunState<R>): void {
    const h = this.heap;
    h.push(s);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
