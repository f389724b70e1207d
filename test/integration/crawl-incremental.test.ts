/**
 * ticklake's own crawler on the real local services (S3, moto Glue, Temporal): first crawl, incremental
 * crawls that read only new objects, schema evolution with table versions, drift, rebuild of an
 * emptied catalog, and bad input (empty lake, missing bucket, objects that are not JSON).
 */
import {
  DeleteDatabaseCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GetTableVersionsCommand,
  type GlueClient,
} from '@aws-sdk/client-glue';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { createAwsClients } from '../../src/adapters/aws';
import { getJson } from '../../src/adapters/s3';
import { runCrawl } from '../../src/pipeline';
import { loadConfig } from '../../src/config';
import { crawlStateKey } from '../../src/catalog/crawl-plan';
import { dataObjectKey, manifestKey } from '../../src/lake-layout';
import { startHarness, uniqueConfig, type Harness } from './support';
import { tick, writeFlush } from './crawl-support';

describe('crawler: incremental crawls, schema evolution, drift, rebuild', () => {
  let h: Harness;
  let s3: S3Client;
  let glue: GlueClient;
  let db: string;
  const table = 'ticks';
  /** Next first offset per Kafka partition. */
  const next = [0, 0];

  async function flush(partition: number, records: ReturnType<typeof tick>[]) {
    const f = await writeFlush(s3, h.config, { partition, first: next[partition], records });
    next[partition] = f.end;
    return f;
  }
  async function partitions(): Promise<string[]> {
    const out = await glue.send(new GetPartitionsCommand({ DatabaseName: db, TableName: table }));
    return (out.Partitions ?? []).map((p) => p.Values!.join('/')).sort();
  }
  async function versions(): Promise<number> {
    const out = await glue.send(new GetTableVersionsCommand({ DatabaseName: db, TableName: table }));
    return out.TableVersions?.length ?? 0;
  }
  async function columns(): Promise<string[]> {
    const t = await glue.send(new GetTableCommand({ DatabaseName: db, Name: table }));
    return (t.Table?.StorageDescriptor?.Columns ?? []).map((c) => `${c.Name}:${c.Type}`);
  }

  beforeAll(async () => {
    // The symbol,year layout, which tables written before year,symbol_bucket became the default keep.
    h = await startHarness(uniqueConfig('crawl', { LAKE_PARTITION_BY: 'symbol,year' }));
    ({ s3, glue } = createAwsClients(h.config.aws));
    db = h.config.glue.database;
  }, 120_000);
  afterAll(async () => {
    await glue?.send(new DeleteDatabaseCommand({ Name: db })).catch(() => undefined);
    await h?.close();
  });

  it('reports an empty lake clearly and creates nothing', async () => {
    const r = await runCrawl(h.client, h.config);
    expect(r.tableCreated).toBe(false);
    expect(r.partitionsFound).toBe(0);
    expect(r.warnings.join(' ')).toMatch(/no data objects under s3:\/\/.*nothing to catalog/);
  });

  it('fails fast, without retrying, on a missing bucket', async () => {
    const config = loadConfig({
      ...process.env,
      LAKE_BUCKET: `${h.config.lake.bucket}-missing`.slice(0, 63),
      GLUE_DATABASE: `${db}_missing`,
      TICKLAKE_TASK_QUEUE: h.config.temporal.taskQueue,
    });
    const started = Date.now();
    const err = await runCrawl(h.client, config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as Error & { type?: string };
    expect(cause.message).toMatch(/bucket '.*-missing' does not exist; create it or set LAKE_BUCKET/);
    expect(cause.type).toBe('MissingBucket');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('first crawl creates the table with Athena-readable types and registers every partition', async () => {
    await flush(0, [tick('AAA', '2001-03-01'), tick('AAA', '2001-03-02'), tick('AAA', '2002-01-02')]);
    await flush(1, [tick('BBB', '2001-03-01', { close: 7 })]);
    await flush(0, [tick('AAA', '2002-01-03')]);

    const r = await runCrawl(h.client, h.config);
    expect(r).toMatchObject({
      scan: 'full',
      reason: 'table missing',
      tableCreated: true,
      partitionsFound: 3,
      partitionsAdded: 3,
    });
    expect(r.objectsFound).toBe(4);
    expect(r.objectsRead).toBe(4);
    expect(await partitions()).toEqual(['AAA/2001', 'AAA/2002', 'BBB/2001']);

    const t = (await glue.send(new GetTableCommand({ DatabaseName: db, Name: table }))).Table!;
    expect(t.Parameters?.classification).toBe('json');
    expect(t.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(t.StorageDescriptor?.InputFormat).toBe('org.apache.hadoop.mapred.TextInputFormat');
    expect(t.StorageDescriptor?.Location).toBe(`s3://${h.config.lake.bucket}/${h.config.lake.prefix}ticks/`);
    expect(t.PartitionKeys).toEqual([
      { Name: 'symbol', Type: 'string' },
      { Name: 'year', Type: 'string' },
    ]);
    expect(await columns()).toEqual([
      'trade_date:date',
      'open:double',
      'close:double', // 7 in BBB widened with 101.5 in AAA
      'volume:bigint',
      'halted:boolean',
      'ingested_at:timestamp',
      'quote:struct<bid:double,ask:double>',
      'venues:array<string>',
      'source:string',
      'row:bigint',
    ]);
    expect(await versions()).toBe(1);
  });

  it('a second crawl registers only the new partitions and reads only the new objects', async () => {
    const before = await versions();
    const f1 = await flush(0, [tick('AAA', '2002-06-03'), tick('AAA', '2003-01-02')]); // one old, one new partition
    const f2 = await flush(1, [tick('CCC', '2001-03-01')]);

    const r = await runCrawl(h.client, h.config);
    expect(r.scan).toBe('incremental');
    expect(r.manifestsRead).toBe(2);
    expect(r.objectsFound).toBe(f1.objects.length + f2.objects.length);
    expect(r.objectsRead).toBe(3);
    expect(r.partitionsFound).toBe(3);
    expect(r.partitionsAdded).toBe(2);
    expect(r.tableUpdated).toBe(false);
    expect(await versions()).toBe(before);
    expect(await partitions()).toEqual(['AAA/2001', 'AAA/2002', 'AAA/2003', 'BBB/2001', 'CCC/2001']);

    const idle = await runCrawl(h.client, h.config);
    expect(idle).toMatchObject({
      scan: 'incremental',
      manifestsRead: 0,
      objectsRead: 0,
      partitionsAdded: 0,
      tableUpdated: false,
    });
  });

  it('a new field becomes a new column and a new table version; bigint widens to double', async () => {
    const before = await versions();
    await flush(1, [tick('BBB', '2001-03-05', { vwap: 7.25 })]);
    const r = await runCrawl(h.client, h.config);
    expect(r).toMatchObject({
      scan: 'incremental',
      tableUpdated: true,
      addedColumns: ['vwap'],
      widenedColumns: [],
      objectsRead: 1,
    });
    expect((await columns()).slice(-1)).toEqual(['vwap:double']);
    expect(await versions()).toBe(before + 1);

    await flush(0, [tick('AAA', '2003-02-03', { volume: 1250.5 })]);
    const w = await runCrawl(h.client, h.config);
    expect(w).toMatchObject({ tableUpdated: true, widenedColumns: ['volume'], partitionsUpdated: 5 });
    expect(await columns()).toContain('volume:double');
    expect(await versions()).toBe(before + 2);
    const p = await glue.send(new GetPartitionsCommand({ DatabaseName: db, TableName: table }));
    for (const part of p.Partitions ?? []) {
      expect(part.StorageDescriptor?.Columns?.find((c) => c.Name === 'volume')?.Type).toBe('double');
    }
  });

  it('an incompatible type is drift: reported, kept in a table parameter, the table keeps its type', async () => {
    const before = await versions();
    await flush(1, [tick('BBB', '2001-03-06', { halted: 'maybe' })]);
    const r = await runCrawl(h.client, h.config);
    expect(r.drift).toEqual(['halted: table has boolean, new data has string']);
    const t = (await glue.send(new GetTableCommand({ DatabaseName: db, Name: table }))).Table!;
    expect(JSON.parse(t.Parameters!['ticklake.drift'])).toEqual(['halted: table has boolean, new data has string']);
    expect(await columns()).toContain('halted:boolean');
    expect(await versions()).toBe(before + 1);

    // The same drift again changes nothing.
    await flush(1, [tick('BBB', '2001-03-07', { halted: 'again' })]);
    const again = await runCrawl(h.client, h.config);
    expect(again.drift).toEqual(['halted: table has boolean, new data has string']);
    expect(again.tableUpdated).toBe(false);
    expect(await versions()).toBe(before + 1);
  });

  it('an object that is not JSON is reported and its partition still registered; no retry loop', async () => {
    const key = dataObjectKey({
      prefix: h.config.lake.prefix,
      table,
      partitionPath: 'symbol=BAD/year=2001',
      topic: h.config.kafka.topic,
      partition: 0,
      firstOffset: String(next[0]),
      compression: 'none',
    });
    const manifest = manifestKey(h.config.lake.prefix, h.config.sink.groupId, h.config.kafka.topic, 0, String(next[0]));
    await s3.send(
      new PutObjectCommand({
        Bucket: h.config.lake.bucket,
        Key: manifest,
        Body: JSON.stringify({
          topic: h.config.kafka.topic,
          partition: 0,
          first: String(next[0]),
          end: String(next[0] + 1),
          records: 1,
          files: [{ key, partition: 'symbol=BAD/year=2001', records: 1 }],
        }),
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: h.config.lake.bucket,
        Key: key,
        Body: 'this is not json\n<html>neither</html>\n',
      }),
    );
    next[0]++;
    const r = await runCrawl(h.client, h.config);
    expect(r.unreadableObjects).toEqual([`${key}: none of 2 sampled lines is a JSON object`]);
    expect(r.partitionsAdded).toBe(1);
    expect(r.tableUpdated).toBe(false);
    // The watermark moved past it: the next crawl does not read it again.
    expect((await runCrawl(h.client, h.config)).objectsRead).toBe(0);
  });

  it('rebuilds database, table and every partition from the lake when the catalog is emptied', async () => {
    const expectedPartitions = await partitions();
    // The crawl state (watermarks) stays in the lake; it must not stop the rebuild.
    expect(await getJson(s3, h.config.lake.bucket, crawlStateKey(h.config.lake.prefix, db, table))).toMatchObject({
      version: 1,
    });
    await glue.send(new DeleteDatabaseCommand({ Name: db }));

    const r = await runCrawl(h.client, h.config);
    expect(r).toMatchObject({ scan: 'full', reason: 'table missing', tableCreated: true });
    expect(r.partitionsAdded).toBe(expectedPartitions.length);
    expect(await partitions()).toEqual(expectedPartitions);
    const cols = await columns();
    expect(cols).toEqual(
      expect.arrayContaining([
        'vwap:double',
        'volume:double',
        'trade_date:date',
        'quote:struct<bid:double,ask:double>',
      ]),
    );

    // And the crawl after the rebuild is incremental again.
    await flush(1, [tick('DDD', '2004-01-02')]);
    const inc = await runCrawl(h.client, h.config);
    expect(inc).toMatchObject({ scan: 'incremental', partitionsAdded: 1, objectsRead: 1 });
  });
});
