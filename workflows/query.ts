/** The query workflow: one SQL statement on the configured engine. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities, QueryInput, QueryResult } from '../activities';

const { runQuery } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '60 seconds',
  retry: {
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['QueryRefused', 'QueryFailed', 'MissingDatabase', 'EngineUnavailable'],
  },
});

export async function queryWorkflow(input: QueryInput): Promise<QueryResult> {
  return runQuery(input);
}
