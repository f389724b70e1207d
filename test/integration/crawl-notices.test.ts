/**
 * Sink notices on the local services: `newPartitionsSignal` with signal-with-start registers new
 * partitions within seconds, creates the table first when there is none, batches notices that
 * arrive together, serves `crawlNow` updates while it lives, continues as new when its history
 * grows, and completes after an idle time.
 */
import { DeleteDatabaseCommand, GetPartitionsCommand, type GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CrawlResult } from '../../activities/types';
import { createAwsClients } from '../../src/adapters/aws';
import { crawlInput, notifyNewPartitions, runCrawl, workflowIds } from '../../src/pipeline';
import { crawlStatusQuery, newPartitionsSignal } from '../../workflows/definitions';
import type { CrawlWorkflowInput } from '../../workflows/crawl';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import { tick, writeFlush } from './crawl-support';

describe('crawl workflow fed by sink notices', () => {
  let h: Harness;
  let s3: S3Client;
  let glue: GlueClient;
  let workflowId: string;

  async function registered(): Promise<Set<string>> {
    const out = await glue.send(new GetPartitionsCommand({ DatabaseName: h.config.glue.database, TableName: 'ticks' }));
    return new Set((out.Partitions ?? []).map((p) => p.Values!.join('/')));
  }

  beforeAll(async () => {
    // The symbol,year layout: notices name partitions by hand, one per made-up symbol.
    h = await startHarness(uniqueConfig('notice', { LAKE_PARTITION_BY: 'symbol,year' }));
    ({ s3, glue } = createAwsClients(h.config.aws));
    workflowId = workflowIds.crawl(h.config.glue.database, h.config.glue.table);
  }, 120_000);
  afterAll(async () => {
    await h.client.workflow
      .getHandle(workflowId)
      .terminate('test over')
      .catch(() => undefined);
    await glue?.send(new DeleteDatabaseCommand({ Name: h.config.glue.database })).catch(() => undefined);
    await h?.close();
  });

  it('registers notified partitions within seconds, creating the table first; serves crawlNow while alive', async () => {
    const first = await writeFlush(s3, h.config, {
      partition: 0,
      first: 0,
      records: [tick('AAA', '2001-01-02'), tick('AAA', '2002-01-02')],
    });
    const t0 = Date.now();
    await notifyNewPartitions(h.client, {
      taskQueue: h.config.temporal.taskQueue,
      crawl: crawlInput(h.config),
      partitions: first.partitions,
    });
    await waitFor('the table and both partitions', async () => (await registered()).size === 2, 15_000, 100);
    expect(Date.now() - t0).toBeLessThan(5_000);

    // With the table there: only the notice registers it (no crawl runs).
    const second = await writeFlush(s3, h.config, {
      partition: 0,
      first: first.end,
      records: [tick('AAA', '2003-01-02')],
    });
    const t1 = Date.now();
    await notifyNewPartitions(h.client, {
      taskQueue: h.config.temporal.taskQueue,
      crawl: crawlInput(h.config),
      partitions: second.partitions,
    });
    await waitFor('the notified partition', async () => (await registered()).has('AAA/2003'), 10_000, 100);
    expect(Date.now() - t1).toBeLessThan(3_000);

    const handle = h.client.workflow.getHandle(workflowId);
    const before = await handle.describe();
    expect(before.status.name).toBe('RUNNING');
    const status = await handle.query(crawlStatusQuery);
    expect(status).toMatchObject({ crawls: 1, noticeBatches: 2, partitionsRegistered: 1, pendingPartitions: 0 });

    // runCrawl is served by the running workflow (same run, still running afterwards).
    const r = await runCrawl(h.client, h.config);
    expect(r).toMatchObject({ scan: 'incremental', manifestsRead: 1, objectsRead: 1, partitionsAdded: 0 });
    const after = await handle.describe();
    expect(after.runId).toBe(before.runId);
    expect(after.status.name).toBe('RUNNING');
    await handle.terminate('next test');
  });

  it('batches notices that arrive together, continues as new when its history grows, completes when idle', async () => {
    const input: CrawlWorkflowInput = { ...crawlInput(h.config), batchMs: 1_000, maxHistoryEvents: 60, idleMs: 4_000 };
    const start = (partitions: string[]) =>
      h.client.workflow.signalWithStart('crawlWorkflow', {
        workflowId,
        taskQueue: h.config.temporal.taskQueue,
        args: [input],
        signal: newPartitionsSignal,
        signalArgs: [{ partitions }],
      });
    const burst = ['X1', 'X2', 'X3', 'X4', 'X5'].map((s) => `symbol=${s}/year=2001`);
    const firstRun = (await start([burst[0]])).signaledRunId;
    const handle = h.client.workflow.getHandle(workflowId);
    await Promise.all(burst.slice(1).map((p) => handle.signal(newPartitionsSignal, { partitions: [p] })));
    await waitFor(
      'the burst registered',
      async () => {
        const now = await registered();
        return ['X1', 'X2', 'X3', 'X4', 'X5'].every((s) => now.has(`${s}/2001`));
      },
      15_000,
      100,
    );
    expect((await handle.query(crawlStatusQuery)).noticeBatches).toBe(1);

    // Rounds of notices until the history passes 60 events and the workflow continues as new.
    let round = 0;
    await waitFor(
      'a continue-as-new',
      async () => {
        const d = await handle.describe();
        if (d.runId !== firstRun) return true;
        round++;
        await start([`symbol=R${round}/year=2001`]);
        await waitFor(`round ${round}`, async () => (await registered()).has(`R${round}/2001`), 10_000, 100);
        return false;
      },
      90_000,
      0,
    );
    // The new run carries the counters and still registers notices.
    await start(['symbol=AFTER/year=2001', 'bogus=1/x=2']);
    await waitFor('a notice after continue-as-new', async () => (await registered()).has('AFTER/2001'), 10_000, 100);
    const status = await handle.query(crawlStatusQuery);
    expect(status.noticeBatches).toBeGreaterThanOrEqual(round + 1);

    // Idle for idleMs: it completes with a summary of the notices.
    const result = (await handle.result()) as CrawlResult;
    expect(result.scan).toBe('notices');
    expect(result.notices).toMatchObject({ rejected: ['bogus=1/x=2'] });
    expect(result.notices!.batches).toBe(status.noticeBatches);
  }, 150_000);
});
