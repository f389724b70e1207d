/**
 * How `npm run bench` scales the baseline, measured on the first rows of the file, to the whole file.
 * Pure.
 *
 * Only what grows with the data is scaled, each part by what it grows with:
 * - rows: the producer's one send per row and the consumer's one PutObject per record (first send to
 *   the last object written), the crawl's listing (one object per record, 1,000 keys a page), the
 *   query's listing, planning, downloads and loads (one object per record);
 * - partition folders (symbol × year): the crawl's sampled reads (up to `sampleSize` objects a folder,
 *   counted exactly for the whole file) and its partition registration, the query's partition listing;
 * - once: the Glue database and table, and the query's fixed cost (its workflow round trip, the
 *   engine's parse, catalog, view, execution and result).
 *
 * Nothing idle is measured: the consumer's and producer's disconnects happen outside every window.
 */

/** What the baseline measured on its subset. */
export interface BaselineMeasure {
  rows: number;
  /** Partition folders the subset's objects fall in. */
  folders: number;
  /** Objects the crawl sampled (read the beginning of). */
  sampledReads: number;
  /** First send to the last object written. */
  sinkDoneMs: number;
  crawl: {
    /** Listing every object of the table folder. */
    listMs: number;
    /** Reading the beginning of the sampled objects, for the schema. */
    sampleMs: number;
    /** Creating the Glue database and table. */
    tableMs: number;
    /** Registering the partitions (BatchCreatePartition, 100 a call). */
    registerMs: number;
  };
  query: {
    /** As the client saw it. */
    totalMs: number;
    /** The engine's phases (DuckDB: listMs, partitionsMs, planMs, fetchMs, loadMs, ...). */
    phases: Record<string, number>;
  };
}

/** The whole file, as far as the baseline's costs grow with it. */
export interface BaselineScale {
  rows: number;
  folders: number;
  /** Objects the crawl would sample in the whole file: the sum over folders of min(sampleSize, objects). */
  sampledReads: number;
}

export interface BaselineEstimate {
  produceAndSinkMs: number;
  crawlMs: number;
  /** The query's part that does not grow with the data, counted once. */
  queryFixedMs: number;
  queryMs: number;
  totalMs: number;
}

/** Engine phases whose cost grows with the number of objects (one per record in the baseline). */
export const PER_OBJECT_PHASES = ['planMs', 'fetchMs', 'loadMs'] as const;

const ratio = (full: number, measured: number, what: string) => {
  if (!(measured > 0)) throw new RangeError(`the baseline measured no ${what}: nothing to extrapolate from`);
  return full / measured;
};

/** The baseline's figures for the whole file. */
export function extrapolateBaseline(m: BaselineMeasure, full: BaselineScale): BaselineEstimate {
  const rows = ratio(full.rows, m.rows, 'rows');
  const folders = ratio(full.folders, m.folders, 'partition folders');
  const reads = ratio(full.sampledReads, m.sampledReads, 'sampled objects');
  const produceAndSinkMs = m.sinkDoneMs * rows;
  const crawlMs = m.crawl.listMs * rows + m.crawl.sampleMs * reads + m.crawl.tableMs + m.crawl.registerMs * folders;

  const phase = (name: string) => m.query.phases[name] ?? 0;
  // The engine lists the objects and the partitions at the same time: the longer of the two counts.
  const listing = Math.max(phase('listMs'), phase('partitionsMs'));
  const scaledListing = Math.max(phase('listMs') * rows, phase('partitionsMs') * folders);
  const perObject = PER_OBJECT_PHASES.reduce((sum, name) => sum + phase(name), 0);
  const queryFixedMs = Math.max(0, m.query.totalMs - listing - perObject);
  const queryMs = queryFixedMs + scaledListing + perObject * rows;
  return { produceAndSinkMs, crawlMs, queryFixedMs, queryMs, totalMs: produceAndSinkMs + crawlMs + queryMs };
}

/** Objects a crawl sampling up to `sampleSize` objects a folder reads, given each folder's object count. */
export function sampledReads(objectsPerFolder: Iterable<number>, sampleSize: number): number {
  if (!(sampleSize >= 1)) throw new RangeError(`the sample size must be at least 1, got ${sampleSize}`);
  let n = 0;
  for (const objects of objectsPerFolder) n += Math.min(sampleSize, objects);
  return n;
}
