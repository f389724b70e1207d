/**
 * The compaction workflow of one table (id `compact/<database>.<table>`): plan, compact each window,
 * switch (commit the next state), bring the curated Glue table in step, expire raw objects whose
 * retention has passed. Run by the Temporal Schedule `ticklake-compact-<database>.<table>` (overlap
 * SKIP), by `npx ticklake compact now`, or started from the Temporal CLI or Web UI.
 */
import {
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities, CompactInput, CompactResult, CompactWindowResult } from '../activities';
import { COMPACT_NON_RETRYABLE } from '../src/errors/compact';
import { compactStatusQuery, type CompactWorkflowStatus } from './definitions';
import { COMPACT_WINDOW_BATCHES } from './legacy';
import { checkInput, nonEmptyString, optional, positiveNumber, required, stringArray } from './input-checks';

export const COMPACT_NON_RETRYABLE_ERRORS = COMPACT_NON_RETRYABLE;

const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: COMPACT_NON_RETRYABLE_ERRORS,
};

const {
  planCompaction,
  compactPartition,
  compactPartitions,
  commitCompaction,
  applyCuratedCatalog,
  expireRaw,
  compactSummary,
} = proxyActivities<Activities>({
  summary: 'compaction step',
  startToCloseTimeout: '1 hour',
  // Windows heartbeat every 5 s; a dead worker is noticed within this, and its window retried.
  heartbeatTimeout: '30 seconds',
  retry,
});

const nonNegative = (v: unknown) => (typeof v === 'number' && v >= 0 ? undefined : 'a number of milliseconds >= 0');

/**
 * Compacts the closed windows of one lake table into the curated Parquet zone (id
 * `compact/<database>.<table>`): `planCompaction`, then the plan's batches (`concurrency` at a time,
 * default 2): `compactPartitions` for a batch of small windows, `compactPartition` for a window alone, `commitCompaction` (the switch: readers see each record once, raw or
 * compacted), `applyCuratedCatalog`, `expireRaw`; returns `compactSummary`'s totals. Query `status`
 * tells the phase and the windows done; a window whose compaction fails stays raw (counted as failed).
 */
export async function compactWorkflow(input: CompactInput): Promise<CompactResult> {
  checkInput(
    'compactWorkflow input',
    input,
    {
      bucket: required(nonEmptyString),
      prefix: required((v) => (typeof v === 'string' ? undefined : 'a key prefix, e.g. "lake/"')),
      curatedPrefix: required(nonEmptyString),
      database: required(nonEmptyString),
      table: required(nonEmptyString),
      partitionBy: required(stringArray),
      symbolBuckets: optional(positiveNumber),
      quietMs: required(nonNegative),
      retentionMs: required(nonNegative),
      concurrency: optional(positiveNumber),
    },
    'For example { "bucket": "ticklake", "prefix": "lake/", "curatedPrefix": "curated/", "database": "ticklake", "table": "ticks", "partitionBy": ["year", "symbol_bucket"], "symbolBuckets": 4, "quietMs": 600000, "retentionMs": 604800000 }',
  );
  const startedAt = new Date().toISOString();
  // Two runs may start in the same millisecond: the run id tells this run's commit from another's.
  const { runId } = workflowInfo();
  const status: CompactWorkflowStatus = { phase: 'planning', windows: 0, windowsDone: 0, failed: 0, startedAt };
  setHandler(compactStatusQuery, () => status);

  const plan = await planCompaction(input);
  status.generation = plan.generation;
  status.windows = plan.windows.length;
  status.note = plan.note;
  const results: CompactWindowResult[] = [];
  if (plan.windows.length > 0) {
    status.phase = 'compacting';
    // Runs started before batches (no marker in their history) compact their windows one by one.
    const queue = patched(COMPACT_WINDOW_BATCHES)
      ? (plan.batches ?? plan.windows.map((w) => [w.partition]))
      : plan.windows.map((w) => w.partition);
    const lanes = Array.from({ length: Math.min(input.concurrency ?? 2, queue.length) }, async () => {
      while (queue.length > 0) {
        const next = queue.shift()!;
        // A batch of small windows is one activity; a window alone (a large one) is compactPartition.
        const batch = typeof next === 'string' ? [next] : next;
        const done =
          batch.length === 1
            ? [await compactPartition(input, plan.planKey, batch[0])]
            : await compactPartitions(input, plan.planKey, batch);
        for (const r of done) {
          results.push(r);
          status.windowsDone++;
          if (!r.ok) status.failed++;
        }
      }
    });
    await Promise.all(lanes);
    results.sort((a, b) => (a.partition < b.partition ? -1 : 1));
    status.phase = 'switching';
    await commitCompaction(input, plan.planKey, results, startedAt, runId);
  }
  status.phase = 'cataloguing';
  await applyCuratedCatalog(input);
  status.phase = 'expiring';
  await expireRaw(input);
  status.phase = 'done';
  const summary = await compactSummary(input, startedAt, runId);
  upsertSearchAttributes({
    TicklakeCompactedRows: [summary.rows],
    TicklakeCompactedWindows: [summary.windows],
  });
  return summary;
}
