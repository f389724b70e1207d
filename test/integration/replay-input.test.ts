/**
 * The replay producer against the local services: bad rows go to the dead-letter topic with their line,
 * row number and reason while every good row is produced; BOM and CRLF are fine; a file of another
 * schema or a missing file fails at once, non-retryable, naming the file; market-time order; loop mode.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { Partitioners } from 'kafkajs';
import { createKafka } from '../../src/adapters/kafka';
import { REPO_ROOT, type TicklakeConfig } from '../../src/config';
import { prepareInfrastructure, startReplay } from '../../src/pipeline';
import type { ReplayOrder } from '../../src/replay/ordered-rows';
import { exactlyOnceProblems, expectedRows, readTopic } from './replay-helpers';
import { removeResources } from './sink-support';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import { replayStatus } from '../../src/progress';
import { writeMarketCsv } from '../../scripts/bench/market';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');

const id = (label: string) => `${label}-${randomBytes(3).toString('hex')}`;

describe('replay producer: input handling on the local services', () => {
  let h: Harness;
  /** The configurations made by `topicsFor`, removed at the end with the harness's own. */
  const made: TicklakeConfig[] = [];
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('replay-input'));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    for (const config of made) await removeResources(config).catch(() => undefined);
  });

  /** Topics of their own for one replay, on the harness's task queue. */
  async function topicsFor(label: string, env: NodeJS.ProcessEnv = {}): Promise<TicklakeConfig> {
    const config = uniqueConfig(label, { TICKLAKE_TASK_QUEUE: h.config.temporal.taskQueue, ...env });
    made.push(config);
    await prepareInfrastructure(config);
    return config;
  }

  async function replay(
    client: Client,
    config: TicklakeConfig,
    file: string,
    opts: { order?: ReplayOrder; loop?: boolean } = {},
  ) {
    return startReplay(client, config, { file, replayId: id(path.basename(file, '.csv')), ...opts });
  }

  it('dead-letters each bad row of bad-rows.csv with its line, row number and reason, and produces every good row', async () => {
    const file = path.join(FIXTURES, 'bad-rows.csv');
    const config = await topicsFor('replay-bad');
    const handle = await replay(h.client, config, file);
    const replayId = handle.workflowId.replace(/^replay\//, '');
    const progress = await handle.result();
    expect(progress).toMatchObject({ produced: 7, rejected: 20, rowsRead: 27, done: true });
    // The last five rejected rows travel in the progress, oldest first.
    expect(progress.lastRejected?.map((r) => r.line)).toEqual([21, 22, 23, 25, 27]);

    const kafka = createKafka(config.kafka, '-test');
    const expected = expectedRows(file);
    expect(expected.ticks.size).toBe(7);
    expect(expected.rejected.size).toBe(20);
    const ticks = await readTopic(kafka, config.kafka.topic);
    expect(exactlyOnceProblems(ticks, expected, 'bad-rows.csv')).toEqual([]);

    const dead = await readTopic(kafka, config.kafka.dlqTopic);
    expect(dead).toHaveLength(20);
    const byRow = new Map(dead.map((m) => [Number(m.headers.row), m]));
    for (const [line, want] of expected.rejected) {
      const m = byRow.get(line);
      expect(m).toBeDefined();
      expect(JSON.parse(m!.value)).toEqual({
        source: 'bad-rows.csv',
        row: line,
        reason: want.reason,
        raw: want.raw,
        replay: replayId,
      });
      expect(m!.headers).toEqual({ source: 'bad-rows.csv', row: String(line), reason: want.reason, replay: replayId });
      expect(m!.key).toBe(`bad-rows.csv:${line}`);
    }
    // A few reasons straight from test/fixtures/README.md, so the table and the producer agree.
    const reason = (line: number) => (JSON.parse(byRow.get(line)!.value) as { reason: string }).reason;
    expect(reason(4)).toBe('empty line');
    expect(reason(9)).toBe("date is not a real date: '2021-02-30'");
    expect(reason(13)).toBe('repeated header line');
    expect(reason(25)).toBe("open is not a number: '29000.0\"'");
    expect((JSON.parse(byRow.get(4)!.value) as { raw: string }).raw).toBe('');
  }, 120_000);

  it('reads a file with a BOM and CRLF line ends like any other', async () => {
    const file = path.join(FIXTURES, 'bom-crlf.csv');
    const config = await topicsFor('replay-bom');
    const progress = await (await replay(h.client, config, file)).result();
    expect(progress).toMatchObject({ produced: 3, rejected: 0 });
    const ticks = await readTopic(createKafka(config.kafka, '-test'), config.kafka.topic);
    expect(exactlyOnceProblems(ticks, expectedRows(file), 'bom-crlf.csv')).toEqual([]);
    for (const m of ticks) expect(m.value).not.toMatch(/\\r|\r|\uFEFF|\\ufeff/i);
    expect(ticks.map((m) => m.key)).toEqual(['GDAXI', 'GDAXI', 'GDAXI']);
  }, 120_000);

  it.each([
    ['another header', path.join(FIXTURES, 'other-header.csv'), /has an unexpected header: header has 7 columns/],
    ['a missing file', path.join(FIXTURES, 'no-such-file.csv'), /does not exist/],
    ['a directory', FIXTURES, /is not a regular file/],
  ])(
    'fails fast and non-retryable on %s, naming the file',
    async (_what, file, problem) => {
      const config = await topicsFor('replay-refuse');
      const handle = await replay(h.client, config, file);
      const failure = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const activity = (failure as WorkflowFailedError).cause;
      expect(activity).toBeInstanceOf(ActivityFailure);
      const cause = (activity as ActivityFailure).cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.type).toBe('InvalidSourceFile');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toContain(`'${file}'`);
      expect(cause.message).toMatch(problem);
      // Failed on the first attempt: nothing was retried.
      const history = await handle.fetchHistory();
      const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
      expect(started.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([1]);
      expect((await readTopic(createKafka(config.kafka, '-test'), config.kafka.topic)).length).toBe(0);
    },
    120_000,
  );

  it('produces the sample in market-time order: all symbols of a date together, dates ascending', async () => {
    // One partition, so the topic's order is the producer's order.
    const config = await topicsFor('replay-market', { KAFKA_PARTITIONS: '1' });
    const progress = await (await replay(h.client, config, SAMPLE, { order: 'market' })).result();
    expect(progress).toMatchObject({ produced: 4086, rejected: 0, order: 'market', position: 4086 });
    const ticks = await readTopic(createKafka(config.kafka, '-test'), config.kafka.topic);
    expect(exactlyOnceProblems(ticks, expectedRows(SAMPLE), 'sample.csv')).toEqual([]);
    // The sample is grouped by symbol in this order (one run each); within a date, runs keep it.
    const runOrder = ['SAMPLE-HK', 'SAMPLE-NY', 'SAMPLE-JP', 'SAMPLE-DE', 'SAMPLE-IN'];
    const rows = ticks.map((m) => JSON.parse(m.value) as { symbol: string; trade_date: string });
    const misplaced = rows.filter((b, i) => {
      const a = rows[i - 1];
      return (
        a &&
        (a.trade_date > b.trade_date ||
          (a.trade_date === b.trade_date && runOrder.indexOf(a.symbol) >= runOrder.indexOf(b.symbol)))
      );
    });
    expect(misplaced).toEqual([]);
    const dates = [...expectedRows(SAMPLE).ticks.values()].map((t) => t.tick.trade_date).sort();
    expect([rows[0].trade_date, rows[rows.length - 1].trade_date]).toEqual([dates[0], dates[dates.length - 1]]);
  }, 120_000);

  it('keeps to market time: N trading days per second of wall time', async () => {
    const config = await topicsFor('replay-days', { KAFKA_PARTITIONS: '1' });
    const dates = new Set([...expectedRows(SAMPLE).ticks.values()].map((t) => t.tick.trade_date));
    const daysPerSecond = 500;
    const started = Date.now();
    const handle = await startReplay(h.client, config, {
      file: SAMPLE,
      replayId: id('days'),
      order: 'market',
      speed: { mode: 'days', tradingDaysPerSecond: daysPerSecond },
    });
    const progress = await handle.result();
    const seconds = (Date.now() - started) / 1000;
    expect(progress.produced).toBe(4086);
    // The schedule puts the last date (dates - 1) / rate seconds after the first: never sooner.
    const schedule = (dates.size - 1) / daysPerSecond;
    expect(seconds).toBeGreaterThanOrEqual(schedule);
    // Nor much later: the produce activity's run, as the server recorded it (from its start to its
    // completion, without the workflow's start), is the schedule plus opening the file and Kafka.
    const events = (await handle.fetchHistory()).events ?? [];
    const at = (pick: (e: (typeof events)[number]) => unknown) => tsToMs(events.find((e) => pick(e))!.eventTime);
    const activitySeconds =
      (at((e) => e.activityTaskCompletedEventAttributes) - at((e) => e.activityTaskStartedEventAttributes)) / 1000;
    expect(activitySeconds).toBeLessThanOrEqual(schedule * 1.5 + 2);
    console.log(
      `${dates.size} trading days at ${daysPerSecond}/s took ${seconds.toFixed(1)} s (the activity ${activitySeconds.toFixed(1)} s, ` +
        `the schedule ${schedule.toFixed(1)} s)`,
    );
  }, 120_000);

  it('stamps a paced tick with the time it went, not the time it was read ahead', async () => {
    const config = await topicsFor('replay-stamps', { KAFKA_PARTITIONS: '1' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-stamps-'));
    try {
      // 40 symbols a day: a day's first rows are read and packed while the day before waits its turn.
      const file = path.join(dir, 'stamps.csv');
      const days = 6;
      await writeMarketCsv(file, { symbols: 40, days, seed: 7 });
      const daysPerSecond = 4;
      await (
        await startReplay(h.client, config, {
          file,
          replayId: id('stamps'),
          speed: { mode: 'days', tradingDaysPerSecond: daysPerSecond },
        })
      ).result();
      const ticks = (await readTopic(createKafka(config.kafka, '-test'), config.kafka.topic)).map(
        (m) => JSON.parse(m.value) as { trade_date: string; ingested_at: string },
      );
      expect(ticks).toHaveLength(40 * days);
      const firstOf = new Map<string, number>();
      for (const t of ticks) {
        const at = Date.parse(t.ingested_at);
        firstOf.set(t.trade_date, Math.min(firstOf.get(t.trade_date) ?? Infinity, at));
      }
      const dates = [...firstOf.keys()].sort();
      expect(dates).toHaveLength(days);
      const start = firstOf.get(dates[0])!;
      // Day k is due 1/rate seconds after day k - 1. Stamped when packed, a day's first rows were up to a
      // whole period (250 ms) early: 239-499 ms against the first day's stamp. Restamped when they go,
      // they are early against it only by what the first day itself went late: its rows go as soon as
      // they are read and packed, after the pacing's start (a few ms; 51-58 ms once on a loaded machine).
      const early = dates
        .map((d, k) => ({ date: d, earlyMs: start + (k * 1000) / daysPerSecond - firstOf.get(d)! }))
        .filter((x) => x.earlyMs > 100);
      expect(early).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('sends each tick to the partition kafkajs would pick for its key', async () => {
    const config = await topicsFor('replay-partitions');
    await (await replay(h.client, config, SAMPLE)).result();
    const kafka = createKafka(config.kafka, '-test');
    const admin = kafka.admin();
    await admin.connect();
    const metadata = (await admin.fetchTopicMetadata({ topics: [config.kafka.topic] })).topics[0].partitions;
    await admin.disconnect();
    const partitioner = Partitioners.DefaultPartitioner();
    const ticks = await readTopic(kafka, config.kafka.topic);
    const wrong = ticks.filter(
      (m) =>
        m.partition !==
        partitioner({ topic: config.kafka.topic, partitionMetadata: metadata, message: { key: m.key, value: null } }),
    );
    expect(ticks).toHaveLength(4086);
    expect(wrong).toEqual([]);
    expect(new Set(ticks.map((m) => m.partition)).size).toBeGreaterThan(1);
  }, 120_000);

  it('loops over the file in loop mode, pass after pass, until stopped', async () => {
    const file = path.join(FIXTURES, 'bad-rows.csv');
    const config = await topicsFor('replay-loop');
    const handle = await replay(h.client, config, file, { loop: true });
    await waitFor('a third pass', async () => (await replayStatus(handle)).pass >= 2, 60_000);
    await handle.cancel();
    await handle.result().catch(() => undefined);
    const kafka = createKafka(config.kafka, '-test');
    const ticks = await readTopic(kafka, config.kafka.topic);
    const perRow = new Map<string, number>();
    for (const m of ticks) perRow.set(m.headers.row, (perRow.get(m.headers.row) ?? 0) + 1);
    // Every good row at least twice, and rows of a pass in order: counts differ by at most one.
    expect([...perRow.keys()].sort()).toEqual(['14', '16', '18', '2', '24', '26', '28']);
    const counts = [...perRow.values()];
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    const dead = await readTopic(kafka, config.kafka.dlqTopic);
    expect(dead.length).toBeGreaterThanOrEqual(40);
  }, 120_000);
});

// Keep the fixture list honest: these tests rely on the files the README describes.
test('fixtures exist', () => {
  for (const f of ['bad-rows.csv', 'bom-crlf.csv', 'other-header.csv', 'README.md'])
    expect(fs.existsSync(path.join(FIXTURES, f))).toBe(true);
});
