/**
 * The thin end-to-end slice on the real local services: CSV → Kafka → S3 → Glue → DuckDB,
 * checked against the CSV itself.
 */
import path from 'node:path';
import { GetTableCommand, GetPartitionsCommand } from '@aws-sdk/client-glue';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../src/adapters/aws';
import { runCrawl, runQuery, startReplay, startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { REPO_ROOT } from '../../src/config';
import { csvStats, startHarness, uniqueConfig, type Harness } from './support';

const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');

describe('end-to-end slice on the local services', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('slice'));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('replays the sample into the lake and answers the per-symbol query exactly', async () => {
    const expected = csvStats(SAMPLE);
    const sink = await startSink(h.client, h.config);
    const replay = await startReplay(h.client, h.config, { file: SAMPLE, replayId: `slice-${h.config.kafka.topic}` });
    const progress = await replay.result();
    expect(progress.produced).toBe(expected.rows);
    expect(progress.rejected).toBe(0);

    await waitForSinkCaughtUp(h.config, 120_000);
    const aws = createAwsClients(h.config.aws);
    const listed = await aws.s3.send(
      new ListObjectsV2Command({ Bucket: h.config.lake.bucket, Prefix: `${h.config.lake.prefix}ticks/year=` }),
    );
    expect(listed.KeyCount).toBeGreaterThan(0);
    expect(
      listed.Contents!.every((o) => /year=\d{4}\/symbol_bucket=\d+\/t-.+\+\d+\+\d{20}\.json\.gz$/.test(o.Key!)),
    ).toBe(true);

    // The sink's partition notices may have created the table already; either way, after this crawl the
    // catalog holds exactly the lake's partitions.
    await runCrawl(h.client, h.config);
    const lakePartitions = new Set(listed.Contents!.map((o) => o.Key!.split('/').slice(2, 4).join('/')));
    const table = await aws.glue.send(new GetTableCommand({ DatabaseName: h.config.glue.database, Name: 'ticks' }));
    expect(table.Table?.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(table.Table?.PartitionKeys?.map((k) => k.Name)).toEqual(['year', 'symbol_bucket']);
    const columns = table.Table?.StorageDescriptor?.Columns?.map((c) => `${c.Name}:${c.Type}`);
    expect(columns).toEqual(
      expect.arrayContaining(['trade_date:date', 'close:double', 'volume:bigint', 'adj_close:double', 'row:bigint']),
    );
    const partitions = await aws.glue.send(
      new GetPartitionsCommand({ DatabaseName: h.config.glue.database, TableName: 'ticks' }),
    );
    expect(new Set(partitions.Partitions?.map((p) => `year=${p.Values![0]}/symbol_bucket=${p.Values![1]}`))).toEqual(
      lakePartitions,
    );

    const result = await runQuery(
      h.client,
      h.config,
      'SELECT symbol, count(*) AS ticks, avg(close) AS avg_close, count(DISTINCT trade_date) AS days FROM ticks GROUP BY symbol ORDER BY symbol',
    );
    expect(result.rows.map((r) => r[0])).toEqual([...expected.perSymbol.keys()].sort());
    for (const [symbol, ticks, avgClose, days] of result.rows) {
      const e = expected.perSymbol.get(symbol as string)!;
      expect(ticks).toBe(e.count);
      expect(days).toBe(e.count); // no duplicate (symbol, trade_date)
      expect(avgClose as number).toBeCloseTo(e.sumClose / e.count, 6);
    }
    await sink.terminate('test over');
  }, 240_000);
});
