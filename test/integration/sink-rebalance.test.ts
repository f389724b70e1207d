/**
 * Scale-out: two workers run sink activities in one consumer group (a second sink workflow with
 * another id, the same group id, on a second worker) and share the partitions; records keep flowing
 * while the group rebalances twice (the second member joins, later the first leaves), and the lake
 * holds every record exactly once.
 */
import { createAwsClients } from '../../src/adapters/aws';
import { sinkInput, startSink, waitForSinkCaughtUp, workflowIds } from '../../src/pipeline';
import { startWorker, type RunningWorker } from '../../src/worker';
import { pauseSignal, type SinkStatus } from '../../workflows/definitions';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import {
  SAMPLE_CSV,
  TickProducer,
  lakeProblems,
  manifestOverlaps,
  readLake,
  readManifests,
  sourceRows,
  testKafka,
  toMessage,
} from './sink-support';
import { sinkStatus } from '../../src/progress';

describe('sink scale-out', () => {
  let h: Harness;
  let second: RunningWorker | undefined;
  let producer: TickProducer | undefined;
  const config = uniqueConfig('sink-rebalance');
  const secondQueue = `${config.temporal.taskQueue}-b`;
  beforeAll(async () => {
    h = await startHarness(config);
    second = await startWorker({ ...config, temporal: { ...config.temporal, taskQueue: secondQueue } });
  }, 120_000);
  afterAll(async () => {
    await producer?.close();
    await second?.shutdown();
    await h?.close();
  });

  it('shares the partitions between two workers and writes every record once through two rebalances', async () => {
    const { client } = h;
    const { s3 } = createAwsClients(config.aws);
    const rows = sourceRows(SAMPLE_CSV);
    const messages = rows.map((r) => toMessage(r, 'sample.csv'));
    producer = new TickProducer(testKafka(config.kafka), config.kafka.topic, `test-${config.kafka.topic}`);

    const a = await startSink(client, config);
    await producer.stream(messages.slice(0, 1200), 300);
    await waitFor('the first sink to write', async () => (await sinkStatus(a)).records > 0, 60_000);

    // A second member joins while records arrive live: the first rebalance.
    const b = await client.workflow.start('sinkWorkflow', {
      workflowId: `${workflowIds.sink(config.kafka.topic)}/2`,
      taskQueue: secondQueue,
      args: [sinkInput(config)],
    });
    const live = producer.stream(messages.slice(1200, 2800), 80, 500);
    const owned = (s: SinkStatus) => s.partitions.map((p) => p.partition);
    const shared = await waitFor(
      'both sinks to own partitions',
      async () => {
        const [sa, sb] = await Promise.all([sinkStatus(a), sinkStatus(b)]);
        // Statuses arrive with throttled signals: wait until both report the same generation.
        const all = [...owned(sa), ...owned(sb)];
        const disjoint = owned(sa).every((p) => !owned(sb).includes(p));
        return (
          owned(sa).length > 0 &&
          owned(sb).length > 0 &&
          disjoint &&
          new Set(all).size === config.kafka.partitions && [sa, sb]
        );
      },
      60_000,
      250,
    );
    expect(owned(shared[0]).length + owned(shared[1]).length).toBe(config.kafka.partitions);
    await live;

    // The first member leaves (pause drains it) while records arrive: the second rebalance.
    await a.signal(pauseSignal);
    const rest = producer.stream(messages.slice(2800), 80, 500);
    await waitFor('the first sink to drain', async () => (await sinkStatus(a)).state === 'paused', 10_000);
    await waitFor(
      'the second sink to own every partition',
      async () => (await sinkStatus(b)).partitions.length === config.kafka.partitions,
      60_000,
      250,
    );
    await rest;

    await waitForSinkCaughtUp(config, 90_000);
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
    // Both members wrote cuts of their own (a manifest names the activity that created it).
    const writers = new Set(manifests.map((m) => m.writer!.split('/').slice(0, -2).join('/')));
    expect(writers).toEqual(new Set([a.workflowId, b.workflowId]));
    // Counted once between them: a cut rewritten after a rebalance counts as a rewrite, not a record.
    // Their progress arrives with their heartbeats, which the server may hold back for a while after
    // the last flush: wait until it accounts for every record (or fail at the deadline).
    const [fa, fb] = await waitFor(
      'both sinks to report their last flushes',
      async () => {
        const [sa, sb] = await Promise.all([sinkStatus(a), sinkStatus(b)]);
        return sa.records + sb.records + sa.rewrittenRecords + sb.rewrittenRecords >= rows.length && [sa, sb];
      },
      30_000,
    );
    expect(fa.records + fb.records).toBeLessThanOrEqual(rows.length);
    // Each member wrote records of its own, and every record was written by one of them at least once
    // (as a record, or as a rewrite of a cut the other had started).
    expect(fa.records).toBeGreaterThan(0);
    expect(fb.records).toBeGreaterThan(0);
    expect(fa.records + fb.records + fa.rewrittenRecords + fb.rewrittenRecords).toBeGreaterThanOrEqual(rows.length);

    await b.signal(pauseSignal);
    await waitFor('the second sink to drain', async () => (await sinkStatus(b)).state === 'paused', 10_000);
    await Promise.all([a.terminate('test over'), b.terminate('test over')]);
  }, 240_000);
});
