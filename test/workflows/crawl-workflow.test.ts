/**
 * The crawl workflow's logic with mocked crawl activities: crawl tickets (one crawl serves every
 * request made before it started), notices batched and registered, the linger that ends a workflow
 * started by notices after `idleMs` (time skipped), continue-as-new carrying pending work and
 * counters, an empty notice, and bad input.
 */
import { WorkflowFailedError, type UpdateDefinition } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type {
  CrawlInput,
  CrawlResult,
  RegisterPartitionsInput,
  RegisterPartitionsResult,
} from '../../activities/types';
import { crawlWorkflow, type CrawlWorkflowInput } from '../../workflows/crawl';
import {
  crawlNowUpdate,
  crawlStatusQuery,
  newPartitionsSignal,
  type CrawlNowOptions,
} from '../../workflows/definitions';

/** crawlNow with its (optional) options given, as runCrawl sends it. */
const crawlNow = crawlNowUpdate as UpdateDefinition<CrawlResult, [CrawlNowOptions]>;
import { deferred, until, workflowTestbed, type WorkflowTestbed } from './support';

jest.setTimeout(120_000);

let tb: WorkflowTestbed;
beforeAll(async () => {
  tb = await workflowTestbed();
});
afterAll(() => tb?.teardown());

const input: CrawlWorkflowInput = {
  bucket: 'ticklake',
  prefix: 'lake/',
  database: 'ticklake',
  table: 'ticks',
  partitionBy: ['symbol', 'year'],
};

function result(n: number, scan: CrawlResult['scan'] = 'incremental'): CrawlResult {
  return {
    database: 'ticklake',
    table: 'ticks',
    scan,
    tableCreated: false,
    tableUpdated: false,
    columns: [],
    addedColumns: [],
    widenedColumns: [],
    partitionsFound: n,
    partitionsAdded: n,
    partitionsUpdated: 0,
    objectsFound: 0,
    objectsRead: 0,
    manifestsRead: 0,
    unreadableObjects: [],
    malformedLines: 0,
    drift: [],
    warnings: [],
    durationMs: 1,
    phaseMs: {},
  };
}

/** Crawl activities whose crawls wait for the test to release them, one by one. */
function mockCrawl() {
  const crawls: { input: CrawlInput; release: (r: CrawlResult) => void }[] = [];
  const registered: string[][] = [];
  return {
    crawls,
    registered,
    activities: {
      async crawlLake(i: CrawlInput): Promise<CrawlResult> {
        const d = deferred<CrawlResult>();
        crawls.push({ input: i, release: d.resolve });
        return d.promise;
      },
      registerPartitions(i: RegisterPartitionsInput): Promise<RegisterPartitionsResult> {
        registered.push(i.partitions);
        return Promise.resolve({ registered: i.partitions.length, existing: 0, rejected: [], tableMissing: false });
      },
    },
  };
}

test('one crawl serves every crawlNow asked before it started; a full request is kept for the next crawl', async () => {
  const crawl = mockCrawl();
  await tb.withWorker(crawl.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start(crawlWorkflow, {
      taskQueue,
      workflowId: `crawl/${taskQueue}`,
      args: [input],
    });
    await until('the own crawl', () => crawl.crawls.length === 1);
    // Asked while the first crawl runs: both wait for the next one, which starts after it.
    const a = h.executeUpdate(crawlNow, { args: [{}] });
    const b = h.executeUpdate(crawlNow, { args: [{ full: true }] });
    await until('both tickets', async () => (await h.query(crawlStatusQuery)).pendingCrawls === 3);
    crawl.crawls[0].release(result(1));
    await until('the second crawl', () => crawl.crawls.length === 2);
    expect(crawl.crawls[1].input.full).toBe(true);
    expect(crawl.crawls[0].input.full).toBeUndefined();
    crawl.crawls[1].release(result(2, 'full'));
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.partitionsFound).toBe(2);
    expect(rb.partitionsFound).toBe(2);
    // Started plainly: its own crawl's result, and it ends when no ticket is left.
    expect((await h.result()).partitionsFound).toBe(1);
    expect(crawl.crawls).toHaveLength(2);
  });
});

test('with no table yet, a notice of partitions only buffered starts no crawl; a notice of them written does', async () => {
  const crawl = mockCrawl();
  const tried: string[][] = [];
  const activities = {
    ...crawl.activities,
    registerPartitions(i: RegisterPartitionsInput): Promise<RegisterPartitionsResult> {
      tried.push(i.partitions);
      return Promise.resolve({ registered: 0, existing: 0, rejected: [], tableMissing: true });
    },
  };
  await tb.withWorker(activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.signalWithStart(crawlWorkflow, {
      taskQueue,
      workflowId: `crawl/${taskQueue}`,
      args: [{ ...input, idleMs: 600_000, batchMs: 50 }],
      signal: newPartitionsSignal,
      signalArgs: [{ partitions: ['symbol=HSI/year=1987'], buffered: true }],
    });
    await until('the buffered notice tried', () => tried.length === 1);
    expect(await h.query(crawlStatusQuery)).toMatchObject({ noticeBatches: 1, pendingCrawls: 0 });
    expect(crawl.crawls).toHaveLength(0);
    // The same partition written: the table is created by a crawl.
    await h.signal(newPartitionsSignal, { partitions: ['symbol=HSI/year=1987'] });
    await until('the crawl', () => crawl.crawls.length === 1);
    expect(tried[1]).toEqual(['symbol=HSI/year=1987']);
    crawl.crawls[0].release(result(1, 'full'));
    await until('served', async () => (await h.query(crawlStatusQuery)).pendingCrawls === 0);
    await h.terminate('test over');
  });
});

test('a workflow started by notices registers them in batches, lingers idleMs, then ends', async () => {
  const crawl = mockCrawl();
  await tb.withWorker(crawl.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.signalWithStart(crawlWorkflow, {
      taskQueue,
      workflowId: `crawl/${taskQueue}`,
      args: [{ ...input, idleMs: 600_000, batchMs: 200 }],
      signal: newPartitionsSignal,
      signalArgs: [{ partitions: ['symbol=HSI/year=1987', 'symbol=N225/year=1990'] }],
    });
    await until('the first batch', () => crawl.registered.length === 1);
    await h.signal(newPartitionsSignal, { partitions: ['symbol=HSI/year=1988'] });
    await until('the second batch', () => crawl.registered.length === 2);
    // An empty payload (a signal sent from the Web UI without input) changes nothing and breaks nothing.
    await tb.env.client.workflow.getHandle(h.workflowId).signal('newPartitionsSignal');
    expect(await h.query(crawlStatusQuery)).toMatchObject({ noticeBatches: 2, partitionsRegistered: 3 });
    // result() skips time: the 10-minute linger passes at once, and no crawl ran.
    const r = await h.result();
    expect(r.scan).toBe('notices');
    expect(r.notices).toMatchObject({ batches: 2, partitions: 3, registered: 3 });
    expect(crawl.registered).toEqual([['symbol=HSI/year=1987', 'symbol=N225/year=1990'], ['symbol=HSI/year=1988']]);
    expect(crawl.crawls).toHaveLength(0);
  });
});

test('a lingering workflow continues as new when its history is long, carrying pending notices and counters', async () => {
  const crawl = mockCrawl();
  await tb.withWorker(crawl.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.signalWithStart(crawlWorkflow, {
      taskQueue,
      workflowId: `crawl/${taskQueue}`,
      args: [{ ...input, idleMs: 600_000, batchMs: 100, maxHistoryEvents: 20 }],
      signal: newPartitionsSignal,
      signalArgs: [{ partitions: ['symbol=A/year=2000'] }],
    });
    const first = (await h.describe()).runId;
    for (let i = 1; i <= 4; i++) {
      await until(`batch ${i}`, () => crawl.registered.length === i);
      await h.signal(newPartitionsSignal, { partitions: [`symbol=A/year=${2000 + i}`] });
    }
    await until('batch 5', () => crawl.registered.length === 5);
    const latest = tb.env.client.workflow.getHandle(h.workflowId);
    expect((await latest.describe()).runId).not.toBe(first);
    const r = await latest.result();
    expect(r.notices).toMatchObject({ batches: 5, partitions: 5, registered: 5 });
  });
});

test.each([
  ['no input at all', undefined, 'expected an object'],
  ['an empty object', {}, "'bucket' is missing"],
  ['a bad mode', { ...input, mode: 'glue' }, "'mode' must be one of 'own', 'managed'"],
])('bad input (%s) fails the workflow with InvalidWorkflowInput', async (_what, bad, message) => {
  const crawl = mockCrawl();
  await tb.withWorker(crawl.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start('crawlWorkflow', {
      taskQueue,
      workflowId: `crawl/${taskQueue}`,
      args: bad === undefined ? [] : [bad],
    });
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidWorkflowInput');
    expect(cause.message).toContain(message);
    expect(crawl.crawls).toHaveLength(0);
  });
});
