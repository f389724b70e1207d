/**
 * The curated zone's state: which raw objects each lake partition has compacted into Parquet, and
 * where that Parquet is. Pure: no I/O (src/compact/store.ts reads and writes it).
 *
 * A compaction window is the records of one lake partition (e.g. `year=1987/symbol_bucket=3`) in the
 * sink's cuts between two offsets of each Kafka partition. Kafka offsets only grow, so a window that
 * is closed (every cut in it written more than the quiet period ago) can never receive a record
 * again: a late record, even one of an old date, arrives at a new offset and belongs to a later
 * window. Each lake partition keeps one watermark per Kafka partition (`<topic>+<partition>`): the raw
 * objects of cuts that start below it are in the partition's curated file, the others are not. That
 * rule, applied by every reader to one state, is the switch between raw and curated: a query sees a
 * record either in the curated file or in its raw object, never both and never neither.
 *
 * States are numbered: generation N+1 is written with If-None-Match next to N and never changed, so
 * two compactions cannot both commit the same generation, and a reader that holds one state reads a
 * consistent picture of the whole table (docs/architecture.md, "Curated zone").
 */
import { padOffset } from '../lake-layout';

export const STATE_VERSION = 1;

/** The state generation the curated Glue table shows (a table parameter). */
export const PARAM_CURATED_GENERATION = 'ticklake.compact_generation';

/** The Glue name of a table's curated zone. */
export const curatedTableName = (table: string) => `${table}_curated`;

/** Hidden columns of curated files: where each record came from (its cut), for readers' filters. */
export const SOURCE_COLUMN = '_ticklake_source';
export const CUT_COLUMN = '_ticklake_cut';

export interface ColumnType {
  name: string;
  /** Glue/Hive type, e.g. `string`, `double`, `date`. */
  type: string;
}

export interface CuratedFile {
  key: string;
  rows: number;
  bytes: number;
  etag: string;
  /** The table's columns when the file was written (later columns are NULL in it). */
  columns: ColumnType[];
}

export interface CuratedPartition {
  /** Values of the table's partition columns. */
  values: string[];
  /** `<topic>+<partition>` -> first offset not compacted: raw objects of cuts starting below it are in `file`. */
  watermarks: Record<string, string>;
  file: CuratedFile;
  /** Records in the file, and the checksum of the window's records (sum of row hashes mod 2^64). */
  rows: number;
  checksum: string;
  /** Bytes of the raw objects the file replaces (all of them since the first compaction). */
  rawBytes: number;
  rawObjects: number;
  generation: number;
  compactedAt: string;
}

/** What a compaction leaves to delete once the raw retention has passed. */
export interface Retirement {
  partition: string;
  /** When the raw objects below these watermarks stopped being read. */
  at: string;
  watermarks: Record<string, string>;
  /** Curated files the compaction replaced. */
  files: string[];
}

export interface WindowFailure {
  partition: string;
  type: string;
  message: string;
  at: string;
}

export interface CompactionSummary {
  generation: number;
  /** The workflow run that made it (a retried commit recognises its own state by it). */
  runId?: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  windows: number;
  rows: number;
  rawObjects: number;
  rawBytes: number;
  parquetBytes: number;
  /** Bytes of the curated files the windows replaced (their rows are in the new files). */
  replacedParquetBytes: number;
  failed: WindowFailure[];
  deletedRawObjects: number;
  deletedCuratedFiles: number;
}

export interface CompactState {
  version: number;
  database: string;
  table: string;
  partitionBy: string[];
  generation: number;
  createdAt: string;
  /** Per manifest folder (`<group>/<topic>/<partition>`): every cut below this offset has been read. */
  chain: Record<string, string>;
  partitions: Record<string, CuratedPartition>;
  retirements: Retirement[];
  /** Windows that failed with a non-retryable error (a corrupt raw object): they stay raw until fixed. */
  failures: WindowFailure[];
  last?: CompactionSummary;
}

export function emptyState(database: string, table: string, partitionBy: string[]): CompactState {
  return {
    version: STATE_VERSION,
    database,
    table,
    partitionBy,
    generation: 0,
    createdAt: new Date(0).toISOString(),
    chain: {},
    partitions: {},
    retirements: [],
    failures: [],
  };
}

/** `<prefix>_ticklake/compact/<database>.<table>/` */
export function compactRoot(prefix: string, database: string, table: string): string {
  return `${prefix}_ticklake/compact/${database}.${table}/`;
}

export function stateKey(prefix: string, database: string, table: string, generation: number): string {
  return `${compactRoot(prefix, database, table)}state/${String(generation).padStart(12, '0')}.json`;
}

export function planKey(prefix: string, database: string, table: string, generation: number): string {
  return `${compactRoot(prefix, database, table)}plans/${String(generation).padStart(12, '0')}.json`;
}

/** Where the curated Parquet of a table lives: `<curated prefix><table>/`. */
export function curatedRoot(curatedPrefix: string, table: string): string {
  return `${curatedPrefix}${table}/`;
}

/**
 * The key of a window's curated file: one folder per generation (a Hive partition location points at
 * one folder, so a new file never joins the old one in a folder a reader lists), named by the content's
 * plan so that a re-run of the same window writes the same key.
 */
export function curatedFileKey(
  curatedPrefix: string,
  table: string,
  partition: string,
  generation: number,
  planId: string,
): string {
  return `${curatedRoot(curatedPrefix, table)}${partition}/g${String(generation).padStart(12, '0')}/${planId}.parquet`;
}

/** The cut of a raw data object, from its key `<topic>+<partition>+<first offset>.json[.gz|.zst]`. */
export function cutOfKey(key: string): { source: string; first: bigint } | undefined {
  const m = /([^/]+\+\d+)\+(\d{20})\.json(?:\.gz|\.zst)?$/.exec(key);
  return m ? { source: m[1], first: BigInt(m[2]) } : undefined;
}

/**
 * Whether a reader of `partition` reads the raw object `key`: yes unless its cut starts below the
 * partition's watermark for its Kafka partition. Objects that are not the sink's (no cut in the key)
 * are always read raw.
 */
export function rawVisible(key: string, curated: CuratedPartition | undefined): boolean {
  if (!curated) return true;
  const cut = cutOfKey(key);
  if (!cut) return true;
  const mark = curated.watermarks[cut.source];
  return mark === undefined || cut.first >= BigInt(mark);
}

/** `<folder>` of a manifest key's folder `.../sink/<group>/<topic>/<partition>/`, and the source it feeds. */
export function manifestFolderId(folder: string, sinkRoot: string): { id: string; source: string } | undefined {
  const parts = folder.slice(sinkRoot.length).split('/').filter(Boolean);
  if (parts.length !== 3) return undefined;
  return { id: parts.join('/'), source: `${parts[1]}+${parts[2]}` };
}

/** The key to list a manifest folder after, so that the listing starts at the first cut at or after `offset`. */
export function listStartAfter(folder: string, offset: string): string | undefined {
  return offset === '0' ? undefined : `${folder}${padOffset(offset)}`;
}

/** A manifest as far as compaction needs it. */
export interface CutManifest {
  key: string;
  first: string;
  end: string;
  writtenAt: string;
  files: { key: string; partition: string; records: number }[];
}

/**
 * The closed prefix of one manifest folder's chain: manifests in offset order, taken while each was
 * written at least `quietMs` before `now`. Returns the cuts taken and the offset the chain reaches.
 */
export function closedCuts(
  manifests: readonly CutManifest[],
  from: string,
  now: number,
  quietMs: number,
): { cuts: CutManifest[]; end: string } {
  const cuts: CutManifest[] = [];
  let end = BigInt(from);
  for (const m of manifests) {
    if (BigInt(m.first) < end) continue; // an older cut, already read
    const written = Date.parse(m.writtenAt);
    if (!Number.isFinite(written) || now - written < quietMs) break;
    cuts.push(m);
    end = BigInt(m.end);
  }
  return { cuts, end: end.toString() };
}

/** One raw object of a window, as the plan names it. */
export interface WindowObject {
  key: string;
  source: string;
  first: string;
  /** Records the sink's manifest says the object holds. */
  records: number;
}

export interface WindowPlan {
  partition: string;
  values: string[];
  objects: WindowObject[];
  /** Watermarks once the window is compacted. */
  watermarks: Record<string, string>;
  previous?: { file: CuratedFile; rows: number; checksum: string };
}

export interface CompactionPlan {
  database: string;
  table: string;
  generation: number;
  /** Names the plan's content: part of the curated keys, so that a re-run writes the same objects. */
  planId: string;
  createdAt: string;
  columns: ColumnType[];
  partitionBy: string[];
  chain: Record<string, string>;
  windows: WindowPlan[];
}

/**
 * The windows of a compaction: for each lake partition, the raw objects of the newly closed cuts at or
 * above its watermarks (a window that failed earlier starts where it stopped), grouped by partition.
 */
export function planWindows(
  state: CompactState,
  cutsBySource: ReadonlyMap<string, CutManifest[]>,
  chainEnds: Readonly<Record<string, string>>,
  tableRoot: string,
  parseValues: (partition: string) => string[] | undefined,
): WindowPlan[] {
  const windows = new Map<string, WindowPlan>();
  for (const [source, cuts] of cutsBySource) {
    for (const cut of cuts) {
      for (const f of cut.files) {
        if (!f.key.startsWith(tableRoot) || f.records === 0) continue;
        const curated = state.partitions[f.partition];
        const mark = curated?.watermarks[source];
        if (mark !== undefined && BigInt(cut.first) < BigInt(mark)) continue;
        let w = windows.get(f.partition);
        if (!w) {
          const values = parseValues(f.partition);
          if (!values) continue;
          w = {
            partition: f.partition,
            values,
            objects: [],
            watermarks: { ...(curated?.watermarks ?? {}) },
            ...(curated ? { previous: { file: curated.file, rows: curated.rows, checksum: curated.checksum } } : {}),
          };
          windows.set(f.partition, w);
        }
        w.objects.push({ key: f.key, source, first: cut.first, records: f.records });
      }
    }
  }
  for (const w of windows.values()) {
    for (const [source, end] of Object.entries(chainEnds)) {
      const mark = w.watermarks[source];
      if (mark === undefined || BigInt(end) > BigInt(mark)) w.watermarks[source] = end;
    }
    w.objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  return [...windows.values()].sort((a, b) => (a.partition < b.partition ? -1 : 1));
}

/** Sum of row checksums, mod 2^64, as a decimal string. */
export function addChecksums(...sums: string[]): string {
  const m = 1n << 64n;
  return (sums.reduce((a, s) => (a + BigInt(s)) % m, 0n) % m).toString();
}

/** Retirements whose raw retention has passed at `now`. */
export function dueRetirements(state: CompactState, now: number, retentionMs: number): Retirement[] {
  return state.retirements.filter((r) => now - Date.parse(r.at) >= retentionMs);
}

/** What the curated zone holds and what waits, for `compact status` and `status`. */
export function curatedTotals(state: CompactState): {
  partitions: number;
  rows: number;
  parquetBytes: number;
  rawBytesReplaced: number;
  retirementsWaiting: number;
} {
  const parts = Object.values(state.partitions);
  return {
    partitions: parts.length,
    rows: parts.reduce((a, p) => a + p.rows, 0),
    parquetBytes: parts.reduce((a, p) => a + p.file.bytes, 0),
    rawBytesReplaced: parts.reduce((a, p) => a + p.rawBytes, 0),
    retirementsWaiting: state.retirements.length,
  };
}

/** Windows of at most this many raw records are compacted together: one activity, one DuckDB pass. */
export const SMALL_WINDOW_RECORDS = 20_000;
/** Raw records of one batch of small windows, at most (each window's write scans the batch's rows). */
export const BATCH_RECORDS = 50_000;
/** Windows of one batch, at most (the activity's result carries one outcome each). */
export const BATCH_WINDOWS = 64;

/**
 * The windows of a plan in the groups the workflow compacts, one activity each, in plan order: a window
 * of more than {@link SMALL_WINDOW_RECORDS} alone (its file is a large write of its own), small windows
 * together, up to {@link BATCH_RECORDS} records and {@link BATCH_WINDOWS} windows a group, and no larger
 * than an even share of the small windows' records over `lanes`, so that every lane has a group.
 * A window's content does not depend on its group: the batch writes each file with the same statement.
 */
export function planBatches(windows: readonly { partition: string; records: number }[], lanes: number): string[][] {
  const small = windows.filter((w) => w.records <= SMALL_WINDOW_RECORDS);
  const total = small.reduce((a, w) => a + w.records, 0);
  const target = Math.max(1, Math.min(BATCH_RECORDS, Math.ceil(total / Math.max(1, lanes))));
  const batches: string[][] = [];
  let current: string[] = [];
  let records = 0;
  for (const w of windows) {
    if (w.records > SMALL_WINDOW_RECORDS) {
      batches.push([w.partition]);
      continue;
    }
    if (current.length > 0 && (records + w.records > target || current.length >= BATCH_WINDOWS)) {
      batches.push(current);
      current = [];
      records = 0;
    }
    current.push(w.partition);
    records += w.records;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
