/** The crawl workflow: run by a Temporal Schedule and on demand. */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities, CrawlInput, CrawlResult } from '../activities';

const { crawlLake } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '60 seconds',
  retry: { maximumAttempts: 10, nonRetryableErrorTypes: ['MissingBucket', 'InvalidLake'] },
});

export async function crawlWorkflow(input: CrawlInput): Promise<CrawlResult> {
  return crawlLake(input);
}
