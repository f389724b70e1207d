/** The query workflow: one SQL statement on the configured engine. */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities, QueryInput, QueryResult } from '../activities';

/**
 * Failures a retry cannot fix: a refused statement (a write without QUERY_ALLOW_WRITES, several
 * statements), an engine error about the statement (syntax, unknown table or column, Athena FAILED),
 * a missing Glue database, an unusable engine. Throttling, network and other transient errors (and
 * `QueryFailedRetryable`, Athena's own transient failures) are retried.
 */
export const QUERY_NON_RETRYABLE_ERRORS = ['QueryRefused', 'QueryFailed', 'MissingDatabase', 'EngineUnavailable'];

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

export async function queryWorkflow(input: QueryInput): Promise<QueryResult> {
  return runQuery(input);
}
