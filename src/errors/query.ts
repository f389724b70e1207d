/**
 * Failure types of the query stage, and which of them no retry can fix. Constants only: imported by
 * the query activity and the query workflow's retry policy (the workflow sandbox).
 */

/** A refused statement: a write without QUERY_ALLOW_WRITES, several statements. */
export const QUERY_REFUSED = 'QueryRefused';
/** An engine error about the statement: syntax, unknown table or column, Athena FAILED. */
export const QUERY_FAILED = 'QueryFailed';
/** Athena's own transient failures; retried. */
export const QUERY_FAILED_RETRYABLE = 'QueryFailedRetryable';
/** The Glue database does not exist (no crawl yet). */
export const MISSING_DATABASE = 'MissingDatabase';
/** The engine cannot run here (DuckDB missing, Athena without a result location). */
export const ENGINE_UNAVAILABLE = 'EngineUnavailable';

/**
 * Failures a retry cannot fix. Throttling, network and other transient errors (and
 * `QueryFailedRetryable`) are retried.
 */
export const QUERY_NON_RETRYABLE = [QUERY_REFUSED, QUERY_FAILED, MISSING_DATABASE, ENGINE_UNAVAILABLE];
