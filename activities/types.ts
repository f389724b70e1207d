/** Inputs and results of the activities; shared with workflows as types only. */
import type { ReplaySpeed } from '../src/replay/pacing';
import type { ReplayOrder } from '../src/replay/ordered-rows';
import type { Compression } from '../src/lake-layout';
import type { QueryStats } from '../src/query/engine';

export interface ProduceInput {
  /** Stable id of the replay; the Kafka transactional id and the position key derive from it. */
  replayId: string;
  file: string;
  topic: string;
  dlqTopic: string;
  positionsTopic: string;
  speed: ReplaySpeed;
  /** 'file' (default): file order. 'market': all symbols of a trading date together, dates ascending. */
  order?: ReplayOrder;
  /** Replay again from the top when the file ends (an endless feed). */
  loop: boolean;
  /** Rows per Kafka transaction at full speed. Default 20,000. */
  batchSize?: number;
  /** Kafka compression of the ticks. Default 'gzip'. */
  compression?: 'gzip' | 'none';
}

/** A row of the source file that went to the dead-letter topic. */
export interface RejectedRow {
  /** Line number of the row's first line. */
  line: number;
  reason: string;
}

export interface ReplayProgress {
  /** Rows read from the file, committed or not, over all passes. */
  rowsRead: number;
  /** Rows committed to the tick topic, over all passes. */
  produced: number;
  /** Rows committed to the dead-letter topic, over all passes. */
  rejected: number;
  /**
   * The last few rows (at most 5) this attempt committed to the dead-letter topic, oldest first; every
   * one of them is in the topic (`npx ticklake dlq --replay ID`). Empty after a worker restart until
   * the next rejection.
   */
  lastRejected?: RejectedRow[];
  /** Sequence number in the ordered stream of the current pass: rows committed (produced or rejected). */
  position: number;
  /** Line number of the last row committed to Kafka. */
  line: number;
  pass: number;
  order: ReplayOrder;
  /** Rows per second over the last reporting interval. */
  rate: number;
  done: boolean;
  updatedAt: string;
}

export interface SinkInput {
  topic: string;
  groupId: string;
  bucket: string;
  prefix: string;
  table: string;
  partitionBy: string[];
  /** Buckets of the `symbol_bucket` partition column; required when partitionBy names it. */
  symbolBuckets?: number;
  compression: Compression;
  /** Freshness bound in ms: a record is in a durable object at most this long after receipt. */
  flushMs: number;
  /** Rotation by record count: most records per flush of one Kafka partition. */
  maxRecords: number;
  /** Rotation by size: most bytes of values per flush; also the sink's memory budget across partitions. */
  maxBytes: number;
  /** Messages larger than this go to the dead-letter prefix. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Record values held in memory across partitions before fetching stops. Default `maxBytes`. */
  maxBufferedBytes?: number;
  /** The table's crawl: when set, new lake partitions are announced to `crawl/<database>.<table>`. */
  crawl?: CrawlInput;
}

/** Offsets and lag of one Kafka partition of the sink. */
export type { PartitionProgress as PartitionStatus, SinkProgress } from '../src/sink/lake-sink';

export interface CrawlInput {
  bucket: string;
  prefix: string;
  database: string;
  table: string;
  partitionBy: string[];
  /** Buckets of the `symbol_bucket` partition column; required when partitionBy names it. */
  symbolBuckets?: number;
  /** 'own' (default): ticklake's incremental crawler. 'managed': an AWS Glue crawler scans the table's S3 path. */
  mode?: 'own' | 'managed';
  /** Managed mode only: the Glue crawler to create or update and run. */
  managedCrawler?: ManagedCrawlerSpec;
  /** Rescan the whole table folder instead of only the sink manifests written since the last crawl. */
  full?: boolean;
  /** Data objects a full scan reads for schema inference, at most. Default 2,000. */
  maxSampleObjects?: number;
  /** New data objects an incremental crawl reads, at most (beyond: the newest of each partition first). Default 100. */
  maxNewSampleObjects?: number;
}

export interface ManagedCrawlerSpec {
  name: string;
  /** IAM role (ARN or name) the crawler runs as. */
  role: string;
  /** Poll interval while waiting for the crawler, in ms. Default 15,000. */
  pollMs?: number;
}

export interface ManagedCrawlOutcome {
  crawlerName: string;
  created: boolean;
  /** Fields of an existing crawler that were changed to match the configuration. */
  updated: string[];
  crawlId?: string;
  outcome: 'succeeded' | 'failed' | 'cancelled';
  /** The state as Glue reports it (COMPLETED, STOPPED, FAILED; SUCCEEDED, CANCELLED on LastCrawl). */
  state: string;
  errorMessage?: string;
  startedAt?: string;
  endedAt?: string;
  /** Crawler states seen while waiting, in order (e.g. RUNNING, STOPPING, READY). */
  observedStates: string[];
}

export interface CrawlResult {
  database: string;
  table: string;
  /** full: the whole table folder was listed; incremental: only manifests since the last crawl; notices: sink notices only. */
  scan: 'full' | 'incremental' | 'managed' | 'notices';
  /** Why a full scan (table missing, no crawl state, requested). */
  reason?: string;
  tableCreated: boolean;
  /** The table definition changed: a new table version. */
  tableUpdated: boolean;
  columns: { name: string; type: string }[];
  /** Columns appended by this crawl. */
  addedColumns: string[];
  /** Columns whose type this crawl widened (bigint to double, date to timestamp, new struct fields). */
  widenedColumns: string[];
  /** Lake partitions with data seen by this crawl: all of them in a full scan, those with new data otherwise. */
  partitionsFound: number;
  partitionsAdded: number;
  /** Registered partitions whose columns were rewritten after a type was widened. */
  partitionsUpdated: number;
  /** Data objects seen (listed, or named by new manifests). */
  objectsFound: number;
  /** Data objects read to infer the schema. */
  objectsRead: number;
  manifestsRead: number;
  /** Objects that could not be read as JSON lines, `key: reason` (at most 20). */
  unreadableObjects: string[];
  /** Sampled lines that were not JSON objects. */
  malformedLines: number;
  /** Incompatible changes found by this crawl (also kept in the table parameter `ticklake.drift`). */
  drift: string[];
  warnings: string[];
  durationMs: number;
  /** Where the time went: list, sample, table, partitions, state (ms). */
  phaseMs: Record<string, number>;
  managed?: ManagedCrawlOutcome;
  /** Partitions registered from sink notices (crawl workflow only). */
  notices?: { batches: number; partitions: number; registered: number; rejected: string[] };
}

export interface RegisterPartitionsInput {
  crawl: CrawlInput;
  /** Lake partition paths such as `symbol=HSI/year=1987`. */
  partitions: string[];
}

export interface RegisterPartitionsResult {
  /** The table does not exist yet: a full crawl must create it first. */
  tableMissing: boolean;
  registered: number;
  existing: number;
  /** Paths that do not fit the table's partition layout. */
  rejected: string[];
}

export interface QueryInput {
  /** One SQL statement; `?` placeholders are bound to `params` in order (never spliced into the SQL). */
  sql: string;
  params?: (string | number | boolean | null)[];
  /** Glue database the statement's unqualified tables belong to. */
  database: string;
  /** 'duckdb' (local default) or 'athena' (aws profile default); QUERY_ENGINE. */
  engine: 'duckdb' | 'athena';
  /** Rows returned inline at most (QUERY_MAX_ROWS, default 1,000); more rows set `truncated`. */
  maxRows: number;
  /** Bytes of JSON returned inline at most. Default 512 KiB; capped at 1 MiB whatever is asked. */
  maxBytes?: number;
  /** Run writes and DDL too (QUERY_ALLOW_WRITES). Default false: only read statements run. */
  allowWrites?: boolean;
  /**
   * Business key of the query, stable across retries: names the local result file and seeds Athena's
   * idempotency token. Default: the workflow id.
   */
  queryId?: string;
  /** Lake bucket (informational; tables are located through the catalog). */
  bucket: string;
  /** Athena only: workgroup (default 'primary') and s3:// result location (needed unless the workgroup has one). */
  workgroup?: string;
  outputLocation?: string;
  /**
   * Athena only: the lake table whose curated zone a statement naming it reads exactly once (raw JSON
   * and curated Parquet together, src/compact/athena-union.ts). The local engine reads the lake's
   * compaction state itself.
   */
  lake?: { prefix: string; table: string; partitionBy: string[] };
}

export type { QueryStats };

export interface QueryResult {
  columns: { name: string; type: string }[];
  /** At most `maxRows` rows and `maxBytes` bytes of JSON. */
  rows: (string | number | boolean | null)[][];
  /** True when `rows` is not the whole result; the whole result is at `resultLocation`. */
  truncated: boolean;
  /** Rows in the whole result (Athena, when not reported: the rows read, a lower bound). */
  rowCount: number;
  stats: QueryStats;
  /** The whole result: s3:// URL of Athena's CSV, or the local CSV file of a truncated DuckDB result. */
  resultLocation?: string;
}

export interface CompactInput {
  bucket: string;
  /** Prefix of the raw lake (sink objects, manifests, the compaction's states). */
  prefix: string;
  /** Prefix of the curated Parquet zone in the same bucket, e.g. `curated/`. */
  curatedPrefix: string;
  database: string;
  table: string;
  partitionBy: string[];
  symbolBuckets?: number;
  /** A cut is compacted once it was written at least this long ago. */
  quietMs: number;
  /** Raw objects stay this long after their window was compacted, then are deleted. */
  retentionMs: number;
  /** Windows compacted at once. Default 2. */
  concurrency?: number;
}

/** What a plan holds, as small as the workflow's history needs (the plan itself is in the bucket). */
export interface CompactPlanSummary {
  generation: number;
  planKey: string;
  windows: { partition: string; objects: number; records: number }[];
  /**
   * The windows grouped as the workflow compacts them (src/compact/state.ts `planBatches`): a large
   * window alone, small ones together, one `compactPartitions` each. Absent from plans made before
   * batches.
   */
  batches?: string[][];
  /** Why there is nothing to do, when there is nothing. */
  note?: string;
}

export interface CompactWindowResult {
  partition: string;
  ok: boolean;
  /** When ok: the curated file and its figures. */
  outcome?: import('../src/compact/window').WindowOutcome;
  /** When not: the failure type and message (the window stays raw). */
  failure?: { type: string; message: string };
}

export interface CompactCommitResult {
  generation: number;
  committed: boolean;
}

export interface CompactExpireResult {
  deletedRawObjects: number;
  deletedCuratedFiles: number;
  generation?: number;
}

export interface CompactResult extends Omit<import('../src/compact/state').CompactionSummary, 'generation'> {
  generation: number;
  /** Raw objects whose windows are compacted and still kept (the raw retention). */
  note?: string;
  totals: ReturnType<typeof import('../src/compact/state').curatedTotals>;
}
