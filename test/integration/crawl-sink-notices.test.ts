/**
 * The sink's notices end to end: replaying the sample through Kafka and the sink registers every lake
 * partition in Glue within seconds of its first file, with no crawl asked for; and a partition is
 * registered by the sink itself while its first records are still buffered, before any object of it
 * is written (the crawl workflow, which created the table, does not hear of it).
 */
import path from 'node:path';
import { DeleteDatabaseCommand, GetPartitionsCommand } from '@aws-sdk/client-glue';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../src/adapters/aws';
import { REPO_ROOT } from '../../src/config';
import { runCrawl, startReplay, startSink, waitForSinkCaughtUp, workflowIds } from '../../src/pipeline';
import { crawlStatusQuery } from '../../workflows/definitions';
import { TickProducer, testKafka, toMessage } from './sink-support';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';

const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');

describe('sink notices register partitions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('sinknote'));
  }, 120_000);
  afterAll(async () => {
    await h.client.workflow
      .getHandle(workflowIds.crawl(h.config.glue.database, h.config.glue.table))
      .terminate('test over')
      .catch(() => undefined);
    await createAwsClients(h.config.aws)
      .glue.send(new DeleteDatabaseCommand({ Name: h.config.glue.database }))
      .catch(() => undefined);
    await h?.close();
  });

  it('every lake partition is in Glue within seconds of its first file, without a crawl being asked for', async () => {
    const { s3, glue } = createAwsClients(h.config.aws);
    const sink = await startSink(h.client, h.config);
    await (
      await startReplay(h.client, h.config, { file: SAMPLE, replayId: `sample-${h.config.kafka.topic}` })
    ).result();
    await waitForSinkCaughtUp(h.config, 120_000);

    // First file of each lake partition, from the lake itself.
    const firstFileAt = new Map<string, number>();
    const root = `${h.config.lake.prefix}${h.config.glue.table}/`;
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: h.config.lake.bucket, Prefix: root })) {
      for (const o of page.Contents ?? []) {
        const m = /year=(\d+)\/symbol_bucket=(\d+)\//.exec(o.Key!);
        if (!m) continue;
        const id = `${decodeURIComponent(m[1])}/${m[2]}`;
        firstFileAt.set(id, Math.min(firstFileAt.get(id) ?? Infinity, o.LastModified!.getTime()));
      }
    }
    expect(firstFileAt.size).toBeGreaterThan(5);

    const registered = await waitFor(
      'every lake partition registered',
      async () => {
        const out = await glue.send(
          new GetPartitionsCommand({ DatabaseName: h.config.glue.database, TableName: 'ticks' }),
        );
        const parts = out.Partitions ?? [];
        return parts.length === firstFileAt.size && parts;
      },
      20_000,
      250,
    );
    const lags = registered.map((p) => p.CreationTime!.getTime() - firstFileAt.get(p.Values!.join('/'))!);
    // S3 LastModified has one-second resolution: allow for it.
    expect(Math.max(...lags)).toBeLessThan(6_000);

    const status = await h.client.workflow
      .getHandle(workflowIds.crawl(h.config.glue.database, h.config.glue.table))
      .query(crawlStatusQuery);
    expect(status.noticeBatches).toBeGreaterThan(0);

    // A crawl afterwards finds nothing left to register.
    const r = await runCrawl(h.client, h.config);
    expect(r).toMatchObject({ scan: 'incremental', partitionsAdded: 0 });
    await sink.terminate('test over');
  }, 240_000);

  it('registers a partition while its first records are buffered, before its first object exists', async () => {
    // A freshness bound long enough to watch the buffer: the sink writes each cut 8 s after its first record.
    const e = await startHarness(uniqueConfig('sinkearly', { SINK_FLUSH_MS: '8000' }));
    const { s3, glue } = createAwsClients(e.config.aws);
    const producer = new TickProducer(testKafka(e.config.kafka), e.config.kafka.topic, `${e.config.kafka.topic}-t`);
    const tick = (symbol: string, date: string, line: number) =>
      toMessage(
        {
          line,
          tick: {
            symbol,
            trade_date: date,
            open: 1,
            high: 2,
            low: 0.5,
            close: 1.5,
            adj_close: 1.5,
            volume: 10,
            close_usd: 1.5,
          },
        },
        'early.csv',
      );
    const partitions = async () =>
      (
        await glue
          .send(new GetPartitionsCommand({ DatabaseName: e.config.glue.database, TableName: e.config.glue.table }))
          .catch(() => ({ Partitions: [] }))
      ).Partitions ?? [];
    const objects = async (year: string) => {
      let n = 0;
      for await (const page of paginateListObjectsV2(
        { client: s3 },
        { Bucket: e.config.lake.bucket, Prefix: `${e.config.lake.prefix}${e.config.glue.table}/year=${year}/` },
      ))
        n += page.KeyCount ?? 0;
      return n;
    };
    try {
      const sink = await startSink(e.client, e.config);
      // The first partition of a table that does not exist yet: announced early (the crawl then finds an
      // empty lake), and again once written, which creates the table.
      await producer.send([tick('HSI', '1990-01-02', 2)]);
      await waitFor('the first partition registered', async () => (await partitions()).length === 1, 60_000, 250);
      expect(await objects('1990')).toBe(1);
      const crawlStatus = () =>
        e.client.workflow
          .getHandle(workflowIds.crawl(e.config.glue.database, e.config.glue.table))
          .query(crawlStatusQuery);
      const notifiedBefore = (await crawlStatus()).partitionsNotified;

      const sent = Date.now();
      await producer.send([tick('HSI', '1991-01-02', 3), tick('HSI', '1991-01-03', 4)]);
      const [registered] = await waitFor(
        'the new partition registered',
        async () => {
          const found = (await partitions()).filter((p) => p.Values?.[0] === '1991');
          return found.length > 0 && found;
        },
        20_000,
        100,
      );
      const seenAt = Date.now();
      // Registered well inside the freshness bound, while the lake holds nothing of it yet.
      expect(seenAt - sent).toBeLessThan(6_000);
      expect(await objects('1991')).toBe(0);
      expect(registered.StorageDescriptor?.Location).toContain('/year=1991/');
      // The table exists: the sink registered it itself, and the crawl workflow does not hear of it.
      expect((await crawlStatus()).partitionsNotified).toBe(notifiedBefore);
      // Then the cut is written, and the partition stays registered.
      await waitFor('the 1991 object', async () => (await objects('1991')) === 1, 30_000, 250);
      // Not after its write either (a written notice goes within 100 ms of the flush).
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await crawlStatus()).partitionsNotified).toBe(notifiedBefore);
      expect((await partitions()).map((p) => p.Values![0]).sort()).toEqual(['1990', '1991']);
      await sink.terminate('test over');
    } finally {
      await producer.close();
      await e.client.workflow
        .getHandle(workflowIds.crawl(e.config.glue.database, e.config.glue.table))
        .terminate('test over')
        .catch(() => undefined);
      await glue.send(new DeleteDatabaseCommand({ Name: e.config.glue.database })).catch(() => undefined);
      await e.close();
    }
  }, 180_000);
});
