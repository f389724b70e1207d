/**
 * A lake table keeps the layout it was written in: a sink or a crawl configured with another layout is
 * refused, with a message saying what to do, and nothing is written in the second layout.
 */
import zlib from 'node:zlib';
import { PutObjectCommand, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { createAwsClients } from '../../src/adapters/aws';
import { checkTableLayout, forgetCheckedLayouts, layoutRecordKey } from '../../src/catalog/layout-record';
import type { TicklakeConfig } from '../../src/config';
import { getJson } from '../../src/adapters/s3';
import { runCrawl, startSink, workflowIds } from '../../src/pipeline';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';

describe('lake layout records', () => {
  let h: Harness;
  let oldLayout: TicklakeConfig;
  let newLayout: TicklakeConfig;
  beforeAll(async () => {
    oldLayout = uniqueConfig('layout', { LAKE_PARTITION_BY: 'symbol,year' });
    newLayout = { ...oldLayout, lake: { ...oldLayout.lake, partitionBy: ['year', 'symbol_bucket'], symbolBuckets: 4 } };
    h = await startHarness(oldLayout);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const layoutOf = (c: TicklakeConfig) => ({ partitionBy: c.lake.partitionBy, symbolBuckets: c.lake.symbolBuckets });
  const check = (c: TicklakeConfig) =>
    checkTableLayout(createAwsClients(c.aws).s3, {
      bucket: c.lake.bucket,
      prefix: c.lake.prefix,
      table: c.glue.table,
      layout: layoutOf(c),
    });

  it('recognises a lake written before records existed by its folders, and records its layout', async () => {
    const s3 = createAwsClients(oldLayout.aws).s3;
    const line = JSON.stringify({
      symbol: 'HSI',
      trade_date: '2001-01-02',
      close: 1,
      ingested_at: '2001-01-02T00:00:00.000Z',
    });
    await s3.send(
      new PutObjectCommand({
        Bucket: oldLayout.lake.bucket,
        Key: `${oldLayout.lake.prefix}ticks/symbol=HSI/year=2001/old.json.gz`,
        Body: zlib.gzipSync(`${line}\n`),
      }),
    );
    forgetCheckedLayouts();
    await expect(check(newLayout)).rejects.toThrow(
      /written in layout symbol,year, but this configuration writes year,symbol_bucket \(4 symbol buckets\).*LAKE_PARTITION_BY=symbol,year/s,
    );
    // Nothing recorded by the refused check; the old layout's check records it.
    const key = layoutRecordKey(oldLayout.lake.prefix, oldLayout.glue.table);
    expect(await getJson(s3, oldLayout.lake.bucket, key)).toBeUndefined();
    await check(oldLayout);
    expect(await getJson(s3, oldLayout.lake.bucket, key)).toMatchObject({ partitionBy: ['symbol', 'year'] });
    forgetCheckedLayouts();
    await expect(
      check({ ...newLayout, lake: { ...newLayout.lake, partitionBy: ['symbol', 'month'] } }),
    ).rejects.toThrow(/written in layout symbol,year/);
  });

  it('refuses a crawl and a sink configured with another layout, and writes nothing in it', async () => {
    forgetCheckedLayouts();
    const crawl = await runCrawl(h.client, newLayout).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(crawl).toBeDefined();
    const crawlFailure = JSON.stringify((crawl as Error).message + String((crawl as { cause?: unknown }).cause));
    expect(crawlFailure).toMatch(/written in layout symbol,year/);
    // The crawl workflow of the table keeps the input it was started with: end it before crawling again.
    await h.client.workflow
      .getHandle(workflowIds.crawl(newLayout.glue.database, newLayout.glue.table))
      .terminate('refused layout tested')
      .catch(() => undefined);

    const sink = await startSink(h.client, newLayout, { notices: false });
    const failure = await sink.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const text = JSON.stringify(failure, Object.getOwnPropertyNames(failure));
    const cause = (failure as WorkflowFailedError).cause as { cause?: { message?: string; type?: string } } | undefined;
    expect(cause?.cause?.message ?? text).toMatch(/written in layout symbol,year.*set GLUE_TABLE/s);

    const s3 = createAwsClients(oldLayout.aws).s3;
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: s3 },
      { Bucket: oldLayout.lake.bucket, Prefix: `${oldLayout.lake.prefix}ticks/` },
    )) {
      for (const o of page.Contents ?? []) keys.push(o.Key!);
    }
    expect(keys.filter((k) => k.includes('symbol_bucket='))).toEqual([]);
    // The old layout still crawls.
    const ok = await waitFor('the old layout to crawl', async () => runCrawl(h.client, oldLayout), 30_000, 500);
    expect(ok.partitionsFound).toBe(1);
  });
});
