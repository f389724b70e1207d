/** The query workflow: one SQL statement on the configured engine. */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities, QueryInput, QueryResult } from '../activities';
import { QUERY_NON_RETRYABLE } from '../src/errors/query';
import { boolean, checkInput, nonEmptyString, oneOf, optional, positiveNumber, required } from './input-checks';

/** Failures a retry cannot fix (see src/errors/query.ts). */
export const QUERY_NON_RETRYABLE_ERRORS = QUERY_NON_RETRYABLE;

const { runQuery } = proxyActivities<Activities>({
  summary: 'run one SQL statement',
  startToCloseTimeout: '30 minutes',
  // The engines heartbeat at least every 2 s while they wait; cancellation arrives through heartbeats.
  heartbeatTimeout: '30 seconds',
  // Wait for the activity to stop the engine's query (StopQueryExecution, DuckDB interrupt) before the
  // workflow reports itself cancelled.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: QUERY_NON_RETRYABLE_ERRORS,
  },
});

/**
 * Runs one SQL statement (id `query/<id>`) and returns a bounded page of rows with statistics (and,
 * on Athena, where the full result is). Cancelling the workflow stops the engine's query.
 */
export async function queryWorkflow(input: QueryInput): Promise<QueryResult> {
  checkInput(
    'queryWorkflow input',
    input,
    {
      sql: required(nonEmptyString),
      params: optional((v) => (Array.isArray(v) ? undefined : 'an array of values for the ? placeholders')),
      database: required(nonEmptyString),
      engine: required(oneOf('duckdb', 'athena')),
      maxRows: required(positiveNumber),
      maxBytes: optional(positiveNumber),
      allowWrites: optional(boolean),
      queryId: optional(nonEmptyString),
      bucket: optional(nonEmptyString),
      workgroup: optional(nonEmptyString),
      outputLocation: optional(nonEmptyString),
    },
    'For example { "sql": "SELECT count(*) FROM ticks", "database": "ticklake", "engine": "duckdb", "maxRows": 100 }',
  );
  return runQuery(input);
}
