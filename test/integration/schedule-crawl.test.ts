/**
 * Scheduled recrawls on the local Temporal server: a schedule every 2 s starts crawl workflows that
 * complete; paused, it starts none; the interval can be changed; trigger starts one at once; delete
 * removes it.
 */
import { DeleteDatabaseCommand } from '@aws-sdk/client-glue';
import type { CrawlResult } from '../../activities/types';
import { createAwsClients } from '../../src/adapters/aws';
import {
  createCrawlSchedule,
  deleteCrawlSchedule,
  describeCrawlSchedule,
  ensureCrawlSchedule,
  listCrawlSchedules,
  pauseCrawlSchedule,
  setCrawlScheduleInterval,
  triggerCrawlSchedule,
  unpauseCrawlSchedule,
  ScheduleError,
} from '../../src/schedules';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import { tick, writeFlush } from './crawl-support';

/** True if `probe` stays true for the whole window (polled); the negative check of a paused schedule. */
async function holdsFor(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await probe())) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
  return true;
}

describe('scheduled recrawls', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('sched', { CRAWL_SCHEDULE_EVERY: '2s' }));
    const { s3 } = createAwsClients(h.config.aws);
    await writeFlush(s3, h.config, { partition: 0, first: 0, records: [tick('AAA', '2001-01-02')] });
  }, 120_000);
  afterAll(async () => {
    await deleteCrawlSchedule(h.client, h.config).catch(() => undefined);
    await createAwsClients(h.config.aws)
      .glue.send(new DeleteDatabaseCommand({ Name: h.config.glue.database }))
      .catch(() => undefined);
    await h?.close();
  });

  it('runs crawls every 2 s, none while paused; interval change, trigger, list and delete', async () => {
    const created = await createCrawlSchedule(h.client, h.config);
    expect(created).toMatchObject({ everyMs: 2000, every: '2s', paused: false, overlap: 'skip' });
    await expect(createCrawlSchedule(h.client, h.config)).rejects.toThrow(ScheduleError);

    // Two scheduled crawls started and completed; the first one created the table.
    const started = await waitFor(
      'two scheduled crawls',
      async () => {
        const d = await describeCrawlSchedule(h.client, h.config);
        return d.recent.length >= 2 && d.recent;
      },
      30_000,
    );
    const results = await Promise.all(
      started.slice(0, 2).map((a) => h.client.workflow.getHandle(a.workflowId).result() as Promise<CrawlResult>),
    );
    expect(started[0].workflowId).toMatch(new RegExp(`^crawl/${h.config.glue.database}\\.ticks/scheduled-`));
    expect(results.map((r) => r.scan).sort()).toEqual(['full', 'incremental']);
    expect(results.some((r) => r.tableCreated)).toBe(true);

    const paused = await pauseCrawlSchedule(h.client, h.config, 'test pause');
    expect(paused).toMatchObject({ paused: true, note: 'test pause' });
    // The describe that shows the pause is answered by the scheduler after the pause: its count is final.
    const count = async () => (await describeCrawlSchedule(h.client, h.config)).actionsTaken ?? -1;
    const base = paused.actionsTaken!;
    expect(await holdsFor(async () => (await count()) === base, 6_000)).toBe(true);

    // Trigger starts one now, even while paused.
    await triggerCrawlSchedule(h.client, h.config);
    await waitFor('the triggered crawl', async () => (await count()) === base + 1, 10_000);

    const slower = await setCrawlScheduleInterval(h.client, h.config, '1h');
    expect(slower).toMatchObject({ everyMs: 3_600_000, every: '1h', paused: true });
    const unpaused = await unpauseCrawlSchedule(h.client, h.config);
    expect(unpaused.paused).toBe(false);

    const listed = await waitFor(
      'the schedule in the list',
      async () => {
        const all = await listCrawlSchedules(h.client);
        return all.find((s) => s.scheduleId === created.scheduleId);
      },
      20_000,
    );
    expect(listed.table).toBe(`${h.config.glue.database}.ticks`);

    // ensure: the existing schedule is brought in step (interval, input), not created twice.
    expect(await ensureCrawlSchedule(h.client, h.config, { every: '10m' })).toMatchObject({
      everyMs: 600_000,
      paused: false,
    });

    await deleteCrawlSchedule(h.client, h.config);
    await expect(describeCrawlSchedule(h.client, h.config)).rejects.toThrow(/does not exist/);
  }, 120_000);

  it('rejects intervals that are not durations', async () => {
    await expect(setCrawlScheduleInterval(h.client, h.config, 'soon')).rejects.toThrow(/not a duration/);
    await expect(setCrawlScheduleInterval(h.client, h.config, '10ms')).rejects.toThrow(/at least 1 second/);
  });
});
