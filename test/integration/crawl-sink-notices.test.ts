/**
 * The sink's notices end to end: replaying the sample through Kafka and the sink registers every lake
 * partition in Glue within seconds of its first file, with no crawl asked for.
 */
import path from 'node:path';
import { DeleteDatabaseCommand, GetPartitionsCommand } from '@aws-sdk/client-glue';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../src/adapters/aws';
import { REPO_ROOT } from '../../src/config';
import { runCrawl, startReplay, startSink, waitForSinkCaughtUp, workflowIds } from '../../src/pipeline';
import { crawlStatusQuery } from '../../workflows/definitions';
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
});
