/**
 * One query interface, two engines: Athena on AWS, DuckDB embedded locally. The query activity picks
 * the engine from its input (QUERY_ENGINE) and gives it a request plus the activity's hooks; engines
 * know nothing of Temporal.
 */
import type { Cell } from './values';
import type { QueryParam } from './sql-guard';

export interface QueryRequest {
  /** One SQL statement; `?` placeholders are bound to `params` in order. */
  sql: string;
  params: QueryParam[];
  /** Glue database (Athena's QueryExecutionContext.Database). */
  database: string;
  /** Rows returned inline at most; more rows set `truncated`. */
  maxRows: number;
  /** Bytes of JSON returned inline at most. */
  maxBytes: number;
  /** Run writes and DDL too. Default false: only read statements run. */
  allowWrites: boolean;
  /**
   * Business key of this query, stable across retries of the activity (the workflow id): names the
   * DuckDB result file and seeds Athena's idempotency token.
   */
  queryId: string;
}

export interface QueryHooks {
  /** Records progress; also how cancellation reaches the activity. Throttled by the caller. */
  heartbeat(details?: Record<string, unknown>): void;
  /** Aborted when the query must stop (activity cancelled, worker shutting down). */
  signal: AbortSignal;
  /** Details of the last heartbeat of the previous attempt, if any. */
  previous?: Record<string, unknown>;
}

export interface QueryStats {
  /** Wall time in the engine, ms (Athena: EngineExecutionTimeInMillis). */
  engineMs: number;
  /** Objects fetched from S3 by this query (DuckDB). */
  objectsDownloaded: number;
  /** Objects the query read without downloading them (DuckDB: already cached, same ETag). */
  objectsCached: number;
  /** Objects the query covered after partition pruning (DuckDB). */
  objectsRead?: number;
  /** Partitions read, and partitions registered in the catalog (DuckDB, partitioned tables). */
  partitionsRead?: number;
  partitionsTotal?: number;
  /** Bytes scanned: Athena's DataScannedInBytes; DuckDB: stored size of the objects covered. */
  bytesScanned?: number;
  /** Bytes of the local engine's Parquet cache on disk after the query's fetches (DuckDB). */
  cacheBytes?: number;
  /** Time per phase, ms (DuckDB: catalog, partitions, list, fetch, view, execute; Athena: queue, execution, results). */
  phases?: Record<string, number>;
  /** Athena's QueryExecutionId. */
  queryExecutionId?: string;
}

export interface QueryOutcome {
  columns: { name: string; type: string }[];
  rows: Cell[][];
  /** True when the inline rows are not the whole result. */
  truncated: boolean;
  /** Rows in the whole result (Athena: when known; else the rows read, a lower bound). */
  rowCount: number;
  stats: QueryStats;
  /** Where the whole result is: an s3:// URL (Athena) or a local file path (DuckDB, when truncated). */
  resultLocation?: string;
}

export interface QueryEngine {
  readonly name: 'duckdb' | 'athena';
  run(request: QueryRequest, hooks: QueryHooks): Promise<QueryOutcome>;
  close(): Promise<void>;
}

/** Failure kinds of a query; the activity turns them into ApplicationFailure types of the same name. */
export type QueryErrorType =
  /** Not allowed to run: a write without QUERY_ALLOW_WRITES, several statements, an empty query. */
  | 'QueryRefused'
  /** The engine rejected or failed the statement: syntax, unknown table or column, bad cast, Athena FAILED. */
  | 'QueryFailed'
  /** The Glue database does not exist. */
  | 'MissingDatabase'
  /** The engine is not usable with this configuration (no Athena output location, ...). */
  | 'EngineUnavailable'
  /** Athena FAILED with an error it marks as retryable; the next attempt starts a fresh execution. */
  | 'QueryFailedRetryable'
  /** The query was stopped because the activity was cancelled. */
  | 'QueryCancelled';

export const NON_RETRYABLE_QUERY_ERRORS: readonly QueryErrorType[] = [
  'QueryRefused',
  'QueryFailed',
  'MissingDatabase',
  'EngineUnavailable',
];

export class QueryError extends Error {
  override name = 'QueryError';
  constructor(
    readonly type: QueryErrorType,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  get retryable(): boolean {
    return !NON_RETRYABLE_QUERY_ERRORS.includes(this.type);
  }
}
