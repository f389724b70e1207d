/** Opens the rows of a file in replay order from a position: one reader per run, merged (ordered-rows.ts). */
import { RunReader, openFile, type Cursor, type SourceRow } from './csv-source';
import { MergedRows, chunkBytesFor, type ReplayOrder, type RunPlan } from './ordered-rows';

export interface OrderedSource {
  /** Up to `max` next rows in replay order, or null at the end. */
  next(max: number): Promise<SourceRow[] | null>;
  /** Per run, where its next unread row starts: the position after the rows handed out so far. */
  cursors(): Cursor[];
  close(): Promise<void>;
}

/**
 * `from` holds one cursor per run (the runs' starts for a new pass). One file descriptor for all runs.
 * `chunkBytes` overrides the read size per run (tests use small ones to cross many chunk boundaries).
 */
export async function openOrderedSource(
  file: string,
  runs: RunPlan[],
  order: ReplayOrder,
  from: Cursor[],
  chunkBytes = chunkBytesFor(order, runs.length),
): Promise<OrderedSource> {
  const fh = await openFile(file);
  const merged = new MergedRows<SourceRow>(runs.map((r, i) => new RunReader(fh, file, from[i], r.end, chunkBytes, i)));
  return {
    next: (max) => merged.next(max),
    cursors: () =>
      merged.lastTaken().map((row, i) => (row ? { offset: row.end, line: row.nextLine, key: row.key } : from[i])),
    close: () => fh.close(),
  };
}
