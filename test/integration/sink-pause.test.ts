/**
 * Pause drains the sink (flush, commit, stop consuming) within 2 s; nothing is written while paused;
 * resume continues exactly where it stopped; the status query shows offsets, lag (reaching 0 with
 * transaction markers), counters and the last flush. Freshness is measured from outside while
 * records arrive live: from the commit of a record's transaction to the first listing of the lake
 * (every 50 ms) that shows its object.
 */
import { createAwsClients } from '../../src/adapters/aws';
import { tableRoot } from '../../src/lake-layout';
import { startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { pauseSignal, resumeSignal, type SinkStatus } from '../../workflows/definitions';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import {
  SAMPLE_CSV,
  TickProducer,
  countKeys,
  listKeys,
  lakeProblems,
  manifestOverlaps,
  readLake,
  readManifests,
  sourceRows,
  testKafka,
  toMessage,
} from './sink-support';
import { sinkStatus } from '../../src/progress';

describe('sink pause and resume', () => {
  let h: Harness;
  let producer: TickProducer | undefined;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('sink-pause'));
  }, 120_000);
  afterAll(async () => {
    await producer?.close();
    await h?.close();
  });

  it('drains within 2 s, writes nothing while paused and resumes exactly where it stopped', async () => {
    const { config, client } = h;
    const { s3 } = createAwsClients(config.aws);
    const kafka = testKafka(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    const rows = sourceRows(SAMPLE_CSV);
    const messages = rows.map((r) => toMessage(r, 'sample.csv'));
    producer = new TickProducer(kafka, config.kafka.topic, `test-${config.kafka.topic}`);
    const committedAt = new Map<number, number>();
    producer.onCommit = (sent, at) => {
      for (const m of sent) committedAt.set((JSON.parse(String(m.value)) as { row: number }).row, at);
    };
    const root = tableRoot(config.lake.prefix, config.glue.table);
    // When each object appeared, at the latest: the start of the listing before the one that first saw it
    // (it was written after that one began), so that a listing slowed by a busy machine does not count
    // against the sink.
    const seenAt = new Map<string, number>();
    let watching = true;
    const watcher = (async () => {
      let previous: number | undefined;
      while (watching) {
        const at = Date.now();
        for (const key of await listKeys(s3, config.lake.bucket, root))
          if (!seenAt.has(key)) seenAt.set(key, previous ?? at);
        previous = at;
        await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - at))));
      }
    })();

    const sink = await startSink(client, config);
    const status = () => sinkStatus(sink);
    await producer.stream(messages.slice(0, 1000), 250);
    // The rest arrives live, at about 300 records/s, across the pause.
    const live = producer.stream(messages.slice(1000), 30, 300);
    await waitFor('the sink to write records', async () => (await status()).records >= 1000, 60_000);
    const writingAt = Date.now();
    // Some records arrive live while the sink writes, before the pause.
    const committedSince = (t: number) => [...committedAt.values()].filter((at) => at >= t).length;
    await waitFor('600 records to arrive live', () => Promise.resolve(committedSince(writingAt) >= 600), 30_000, 20);

    const pausedAt = Date.now();
    const liveUntil = Math.max(...committedAt.values());
    await sink.signal(pauseSignal);
    const paused = await waitFor(
      'the sink to drain',
      async () => {
        const s = await status();
        return s.state === 'paused' && s;
      },
      10_000,
      25,
    );
    const seenAfter = Date.now() - pausedAt;
    expect(paused.lastDrainMs).toBeDefined();
    expect(paused.lastDrainMs!).toBeLessThanOrEqual(2_000);
    expect(seenAfter).toBeLessThan(3_000);
    console.log(`drained in ${paused.lastDrainMs} ms (seen by the test after ${seenAfter} ms)`);
    // It left the group: nothing consumes any more.
    const [group] = (await admin.describeGroups([config.sink.groupId])).groups;
    expect(group.members).toHaveLength(0);
    expect(paused.partitions.every((p) => p.buffered === 0)).toBe(true);

    watching = false;
    await watcher;
    // Production goes on while paused; the lake does not change.
    await live;
    const frozen = (await readLake(s3, config.lake.bucket, config.lake.prefix, config.glue.table)).length;
    expect(frozen).toBe(paused.records);
    expect(frozen).toBeLessThan(rows.length);
    const objectsWhilePaused = await countKeys(s3, config.lake.bucket, root);
    const observeUntil = Date.now() + 2_000;
    while (Date.now() < observeUntil) {
      expect(await countKeys(s3, config.lake.bucket, root)).toBe(objectsWhilePaused);
      await new Promise((r) => setTimeout(r, 250));
    }

    await sink.signal(resumeSignal);
    await waitForSinkCaughtUp(config, 60_000);
    const lake = await readLake(s3, config.lake.bucket, config.lake.prefix, config.glue.table);
    expect(lakeProblems(rows, lake, 'sample.csv')).toEqual([]);
    const manifests = await readManifests(
      s3,
      config.lake.bucket,
      config.lake.prefix,
      config.sink.groupId,
      config.kafka.topic,
    );
    expect(manifestOverlaps(manifests)).toEqual([]);

    // The status catches up: every record counted once, lag 0 on every partition (commit markers included).
    const final: SinkStatus = await waitFor(
      'the status to show lag 0',
      async () => {
        const s = await status();
        return (
          s.records === rows.length &&
          s.partitions.length === config.kafka.partitions &&
          s.partitions.every((p) => p.lag === '0') &&
          s
        );
      },
      20_000,
    );
    expect(final.state).toBe('running');
    expect(final.deadLetters).toBe(0);
    expect(final.files).toBeGreaterThan(0);
    expect(final.bytes).toBeGreaterThan(0);
    expect(final.lastFlushAt).toBeDefined();
    // Freshness from outside, of the records that arrived live (committed after the sink was writing,
    // before the pause): each one's object appeared within the flush bound of its commit, give or
    // take the sink's fetch wait (100 ms) and 150 ms of scheduling on a busy machine (a flush timer
    // that misses its bound is late by far more).
    const freshness = lake
      .filter(({ record }) => {
        const at = committedAt.get(record.row);
        return at !== undefined && at >= writingAt && at <= liveUntil;
      })
      .map(({ key, record }) => seenAt.get(key)! - committedAt.get(record.row)!);
    expect(freshness.length).toBeGreaterThan(100);
    freshness.sort((x, y) => x - y);
    console.log(
      `freshness from outside of ${freshness.length} live records: p50 ${freshness[freshness.length >> 1]} ms, ` +
        `max ${freshness[freshness.length - 1]} ms (the sink's own maximum ${final.maxFreshnessMs} ms)`,
    );
    expect(freshness[freshness.length - 1]).toBeLessThanOrEqual(config.sink.flushMs + 250);
    // Every partition is committed up to its end (an empty one has nothing to commit).
    for (const p of final.partitions) expect(p.highWatermark === '0' || p.committed === p.highWatermark).toBe(true);

    // Progress travelled in heartbeat details: the history holds the user's two signals, two activity
    // runs, and nothing per report (it held a progress signal every 2 s before).
    const events = (await sink.fetchHistory()).events ?? [];
    expect(
      events
        .filter((e) => e.workflowExecutionSignaledEventAttributes)
        .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName),
    ).toEqual(['pause', 'resume']);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(2);
    expect(events.length).toBeLessThan(30);

    await admin.disconnect();
    await sink.terminate('test over');
  }, 180_000);
});
