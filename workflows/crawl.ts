/**
 * The crawl workflow: one loop serving three ways in.
 *
 * - Started plainly (a Temporal Schedule, `temporal workflow start`): runs one crawl and returns its
 *   result; fails with the crawl's error.
 * - Update `crawlNow` (runCrawl in src/pipeline.ts sends it with update-with-start to
 *   `crawl/<database>.<table>`): runs a crawl in this workflow, whether it was started for the update
 *   or was already running, and answers with that crawl's result.
 * - Signal `newPartitionsSignal` (the sink sends it with signal-with-start to `crawl/<database>.<table>`):
 *   registers the notified partitions with the table's current columns, notices that arrive within
 *   `batchMs` of each other together. A notice of partitions only `buffered` by the sink so far (sent
 *   when the sink could not register them itself) does not start a crawl for a missing table. A workflow started this way then waits `idleMs` for more
 *   notices before it completes, and continues as new when its history grows. If the table does not
 *   exist yet, a crawl creates it from the lake.
 *
 * Crawls and notice batches run one at a time, so they never race each other inside one workflow.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities, CrawlInput, CrawlResult } from '../activities';
import { emptyCrawlResult } from '../src/catalog/crawl-result';
import { CRAWL_NON_RETRYABLE } from '../src/errors/crawl';
import { crawlNowUpdate, crawlStatusQuery, newPartitionsSignal, type CrawlStatus } from './definitions';
import {
  checkInput,
  isRecord,
  nonEmptyString,
  object,
  oneOf,
  optional,
  positiveNumber,
  required,
  stringArray,
} from './input-checks';

export interface CrawlWorkflowInput extends CrawlInput {
  /** After its last notice, a workflow started by notices waits this long (ms) for more. Default 300,000. */
  idleMs?: number;
  /** Notices arriving within this many ms are registered in one batch. Default 200. */
  batchMs?: number;
  /** Continue as new once the history holds this many events. Default 2,000. */
  maxHistoryEvents?: number;
  /** State carried over continue-as-new; not for callers. */
  carry?: CrawlCarry;
}

interface CrawlCarry {
  pending: string[];
  counters: Counters;
  lastCrawl?: CrawlResult;
}

interface Counters {
  crawls: number;
  noticeBatches: number;
  partitionsNotified: number;
  partitionsRegistered: number;
  rejected: string[];
}

const retry: RetryPolicy = {
  initialInterval: '1 second',
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: CRAWL_NON_RETRYABLE,
};

const { crawlLake } = proxyActivities<Activities>({
  summary: 'crawl the lake into the Glue catalog',
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { ...retry, maximumAttempts: 10 },
});
const { runManagedCrawler } = proxyActivities<Activities>({
  summary: 'run the managed Glue crawler',
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '2 minutes',
  retry: { ...retry, maximumAttempts: 3 },
});
// Notices are a shortcut: if registering fails, the next crawl finds the partitions in the manifests.
const { registerPartitions } = proxyActivities<Activities>({
  summary: 'register partitions the sink announced',
  startToCloseTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 5 },
});

/** Notified partitions held at most (a notice names a handful; this bounds memory and carried state). */
const MAX_PENDING = 10_000;
/** Partitions registered per activity call at most. */
const MAX_BATCH = 1_000;

/** The innermost ApplicationFailure of an activity failure, as a non-retryable failure of this workflow. */
function crawlFailure(err: unknown): ApplicationFailure {
  let e: unknown = err;
  while (e && typeof e === 'object' && 'cause' in e && (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure) break;
    e = (e as { cause?: unknown }).cause;
  }
  const message = e instanceof Error ? e.message : String(e);
  const type = e instanceof ApplicationFailure ? (e.type ?? 'CrawlFailed') : 'CrawlFailed';
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    cause: err instanceof Error ? err : undefined,
  });
}

/** Checks the input, so that a bad one fails the workflow instead of its task (see input-checks.ts). */
function checkCrawlInput(input: unknown): asserts input is CrawlWorkflowInput {
  checkInput(
    'crawlWorkflow input',
    input,
    {
      bucket: required(nonEmptyString),
      prefix: required((v) => (typeof v === 'string' ? undefined : 'a string')),
      database: required(nonEmptyString),
      table: required(nonEmptyString),
      partitionBy: required(stringArray),
      mode: optional(oneOf('own', 'managed')),
      managedCrawler: optional(object),
      maxSampleObjects: optional(positiveNumber),
      maxNewSampleObjects: optional(positiveNumber),
      idleMs: optional(positiveNumber),
      batchMs: optional(positiveNumber),
      maxHistoryEvents: optional(positiveNumber),
      carry: optional(object),
    },
    'For example { "bucket": "ticklake", "prefix": "lake/", "database": "ticklake", "table": "ticks", ' +
      '"partitionBy": ["symbol", "year"] }',
  );
}

/**
 * Keeps the Glue table of one lake table in step with the lake (id `crawl/<database>.<table>`):
 * runs a crawl when started plainly or asked with update `crawlNow`, and registers the partitions the
 * sink announces with signal `newPartitionsSignal`; query `status`. See the head of this file.
 */
export async function crawlWorkflow(input: CrawlWorkflowInput): Promise<CrawlResult> {
  checkCrawlInput(input);
  const { idleMs = 300_000, batchMs = 200, maxHistoryEvents = 2_000, carry, ...crawl } = input;
  const pending = new Set<string>(carry?.pending ?? []);
  // Pending partitions the sink has only buffered records for (no object yet): they do not make a
  // crawl create a missing table, which would find nothing of them; their written notice does.
  const bufferedOnly = new Set<string>();
  const counters: Counters = carry?.counters ?? {
    crawls: 0,
    noticeBatches: 0,
    partitionsNotified: 0,
    partitionsRegistered: 0,
    rejected: [],
  };
  let lastCrawl: CrawlResult | undefined = carry?.lastCrawl;
  let lastError: string | undefined;

  // Crawl requests are tickets; one crawl serves every ticket issued before it started.
  let requested = 0;
  let served = 0;
  let fullRequested = false;
  const waiting = new Map<number, { result?: CrawlResult; error?: ApplicationFailure; done: boolean }>();

  setHandler(newPartitionsSignal, (notice) => {
    // A notice without partitions (an empty payload sent from the Web UI) changes nothing.
    const list: unknown[] = isRecord(notice) && Array.isArray(notice.partitions) ? notice.partitions : [];
    counters.partitionsNotified += list.length;
    const buffered = isRecord(notice) && notice.buffered === true;
    for (const p of list) {
      if (typeof p === 'string' && p.length > 0 && pending.size < MAX_PENDING) {
        if (!buffered) bufferedOnly.delete(p);
        else if (!pending.has(p)) bufferedOnly.add(p);
        pending.add(p);
      }
    }
  });
  setHandler(crawlNowUpdate, async (options) => {
    const ticket = ++requested;
    if (options?.full) fullRequested = true;
    const slot = { done: false } as { result?: CrawlResult; error?: ApplicationFailure; done: boolean };
    waiting.set(ticket, slot);
    await condition(() => slot.done);
    waiting.delete(ticket);
    if (slot.error) throw slot.error;
    return slot.result!;
  });
  setHandler(crawlStatusQuery, (): CrawlStatus => ({
    pendingPartitions: pending.size,
    pendingCrawls: requested - served,
    crawls: counters.crawls,
    noticeBatches: counters.noticeBatches,
    partitionsNotified: counters.partitionsNotified,
    partitionsRegistered: counters.partitionsRegistered,
    lastCrawl,
    lastError,
  }));

  // Signals and updates that came with the start are delivered by now (when their handler was set).
  const lingering = carry !== undefined || (pending.size > 0 && requested === 0);
  let own: { result?: CrawlResult; error?: ApplicationFailure; done: boolean } | undefined;
  if (!lingering && requested === 0) {
    own = { done: false };
    waiting.set(++requested, own);
  }

  async function crawlOnce(): Promise<void> {
    const upTo = requested;
    const full = fullRequested;
    fullRequested = false;
    let outcome: { result?: CrawlResult; error?: ApplicationFailure };
    try {
      const result =
        crawl.mode === 'managed' ? await runManagedCrawler(crawl) : await crawlLake(full ? { ...crawl, full } : crawl);
      counters.crawls++;
      lastCrawl = result;
      lastError = undefined;
      outcome = { result };
    } catch (err) {
      const failure = crawlFailure(err);
      lastError = failure.message;
      log.warn('crawl failed', {
        table: `${crawl.database}.${crawl.table}`,
        error: failure.message,
        type: failure.type,
      });
      outcome = { error: failure };
    }
    for (let t = served + 1; t <= upTo; t++) {
      const slot = waiting.get(t);
      if (slot) Object.assign(slot, outcome, { done: true });
    }
    served = upTo;
  }

  async function registerNotices(): Promise<void> {
    await sleep(batchMs); // notices that arrive close together go in one batch
    const batch = [...pending].slice(0, MAX_BATCH);
    const written = batch.some((p) => !bufferedOnly.has(p));
    for (const p of batch) {
      pending.delete(p);
      bufferedOnly.delete(p);
    }
    counters.noticeBatches++;
    try {
      const r = await registerPartitions({ crawl, partitions: batch });
      counters.partitionsRegistered += r.registered;
      if (r.rejected.length > 0) {
        counters.rejected = [...counters.rejected, ...r.rejected].slice(-20);
        log.warn('notified partitions do not fit the table layout', {
          rejected: r.rejected,
          partitionBy: crawl.partitionBy,
        });
      }
      // No table yet: a crawl creates it from the lake, notified partitions included (once one of them
      // has an object).
      if (r.tableMissing && written) requested++;
    } catch (err) {
      lastError = crawlFailure(err).message;
      log.warn('registering notified partitions failed; the next crawl registers them from the manifests', {
        error: lastError,
        partitions: batch.length,
      });
    }
  }

  for (;;) {
    if (lingering && requested === served && allHandlersFinished() && historyTooLong(maxHistoryEvents)) {
      await continueAsNew<typeof crawlWorkflow>({
        ...input,
        carry: { pending: [...pending], counters, lastCrawl },
      });
    }
    if (requested > served) {
      await crawlOnce();
      continue;
    }
    if (pending.size > 0) {
      await registerNotices();
      continue;
    }
    if (!allHandlersFinished()) {
      await condition(() => requested > served || pending.size > 0 || allHandlersFinished());
      continue;
    }
    if (!lingering) break;
    if (!(await condition(() => requested > served || pending.size > 0, idleMs))) break;
  }

  if (own?.error) throw own.error;
  const result = own?.result ?? lastCrawl ?? emptyCrawlResult(crawl, 'notices');
  return counters.noticeBatches > 0
    ? {
        ...result,
        notices: {
          batches: counters.noticeBatches,
          partitions: counters.partitionsNotified,
          registered: counters.partitionsRegistered,
          rejected: counters.rejected,
        },
      }
    : result;
}

function historyTooLong(maxEvents: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= maxEvents;
}
