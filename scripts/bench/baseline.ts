/**
 * The baseline of `npm run bench`: the pipeline as the simple scripts data engineers often write
 * it, on the same services.
 *
 * - producer: a plain kafkajs producer that sends one row per `send` call and awaits each;
 * - consumer: a plain consumer group member that writes one S3 object per record (PutObject, awaited)
 *   under Hive-style folders, offsets auto-committed;
 * - crawl: lists every object, reads each one for the schema, creates the Glue table and registers
 *   every partition (BatchCreatePartition, 100 per call);
 * - query: the same per-symbol query through ticklake's query workflow (DuckDB) over that table.
 *
 * One PutObject per record is about a hundred thousand requests for the real file, so the baseline
 * runs on a subset of rows and the caller extrapolates linearly (every stage is per record).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand } from '@aws-sdk/client-glue';
import type { Client } from '@temporalio/client';
import { Partitioners } from 'kafkajs';
import { createAwsClients } from '../../src/adapters/aws';
import { ensureTopics } from '../../src/adapters/kafka';
import { ensureBucket, getObjectBytes } from '../../src/adapters/s3';
import { createPartitions, ensureDatabase } from '../../src/catalog/glue-catalog';
import { partitionInput, s3Url, tableInput } from '../../src/catalog/glue-table';
import { listKeys } from '../../src/catalog/lake-scan';
import { SchemaSampler } from '../../src/catalog/schema';
import type { TicklakeConfig } from '../../src/config';
import { runQuery } from '../../src/pipeline';
import type { DocExample } from '../../src/query/examples';
import { probeKafka, waitFor } from './common';
import type { ExpectedRow } from './verify';

export interface BaselineResult {
  rows: number;
  /** First send to the last send acknowledged. */
  produceMs: number;
  /** First send to the last object written. */
  sinkDoneMs: number;
  /** First record received to the last object written. */
  sinkMs: number;
  crawlMs: number;
  crawlObjects: number;
  partitions: number;
  queryMs: number;
  /** First send to the query answering with every row. */
  totalMs: number;
  rowsAnswered: number;
}

/** Hive folder of a record, as a hand-written consumer would build it (bench:sink's baseline writes the same). */
export function baselineObjectKey(
  prefix: string,
  r: { symbol: string; trade_date: string },
  partition: number,
  offset: string,
) {
  return `${prefix}ticks/symbol=${encodeURIComponent(r.symbol)}/year=${r.trade_date.slice(0, 4)}/${partition}-${offset}.json`;
}

async function crawl(
  s3: S3Client,
  config: TicklakeConfig,
  root: string,
): Promise<{ objects: number; partitions: number }> {
  const { glue } = createAwsClients(config.aws);
  const keys = await listKeys(s3, config.lake.bucket, root);
  const sampler = new SchemaSampler(['symbol', 'year']);
  const folders = new Map<string, string[]>();
  for (const key of keys) {
    const body = await getObjectBytes(s3, config.lake.bucket, key);
    if (body) sampler.add(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    const folder = key.slice(0, key.lastIndexOf('/') + 1);
    if (!folders.has(folder)) {
      const m = /symbol=([^/]+)\/year=([^/]+)\/$/.exec(folder);
      if (m) folders.set(folder, [decodeURIComponent(m[1]), m[2]]);
    }
  }
  const { columns } = sampler.evolve();
  await ensureDatabase(glue, config.glue.database);
  await glue.send(
    new CreateTableCommand({
      DatabaseName: config.glue.database,
      TableInput: tableInput({
        table: config.glue.table,
        location: s3Url(config.lake.bucket, root),
        columns,
        partitionBy: ['symbol', 'year'],
      }),
    }),
  );
  await createPartitions(
    glue,
    config.glue.database,
    config.glue.table,
    [...folders].map(([folder, values]) =>
      partitionInput({ values, location: s3Url(config.lake.bucket, folder), columns }),
    ),
  );
  return { objects: keys.length, partitions: folders.size };
}

/**
 * Runs the baseline over `rows` (already normalised lake records without `ingested_at`) on the
 * services of `config` (its topic, group, bucket and Glue database must be the baseline's own), then
 * the per-symbol query through ticklake's query workflow.
 */
export async function runBaseline(args: {
  config: TicklakeConfig;
  client: Client;
  rows: readonly ExpectedRow[];
  query: DocExample;
  log: (line: string) => void;
}): Promise<BaselineResult> {
  const { config, client, rows, log } = args;
  const { s3 } = createAwsClients(config.aws);
  const kafka = probeKafka(config.kafka, 'baseline');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [config.kafka.topic]);
  await admin.disconnect();
  await ensureBucket(s3, config.lake.bucket);
  const prefix = config.lake.prefix;
  const root = `${prefix}ticks/`;

  // The consumer script, started first (it is the long-running one), writing one object per record.
  const consumer = kafka.consumer({ groupId: config.sink.groupId });
  let written = 0;
  let firstReceived = 0;
  let lastWritten = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: config.kafka.topic, fromBeginning: true });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      firstReceived ||= Date.now();
      const record = JSON.parse(message.value!.toString('utf8')) as { symbol: string; trade_date: string };
      await s3.send(
        new PutObjectCommand({
          Bucket: config.lake.bucket,
          Key: baselineObjectKey(prefix, record, partition, message.offset),
          Body: message.value!,
          ContentType: 'application/json',
        }),
      );
      written++;
      lastWritten = Date.now();
    },
  });
  await waitFor('the baseline consumer to join its group', () => Promise.resolve(joined), 120_000, 50);

  // The producer script: one awaited send per row.
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const t0 = Date.now();
  for (const row of rows) {
    const record = { ...row, ingested_at: new Date().toISOString() };
    await producer.send({
      topic: config.kafka.topic,
      messages: [{ key: String(row.symbol), value: JSON.stringify(record) }],
    });
  }
  const produced = Date.now();
  await producer.disconnect();
  log(`baseline: ${rows.length} rows sent one by one in ${((produced - t0) / 1000).toFixed(1)} s`);
  await waitFor(
    `the baseline consumer to write ${rows.length} objects (${written} so far)`,
    () => Promise.resolve(written >= rows.length),
    30 * 60_000,
    50,
  );
  const sinkDone = lastWritten;
  await consumer.disconnect();
  log(`baseline: ${written} objects written one by one in ${((sinkDone - firstReceived) / 1000).toFixed(1)} s`);

  const crawlStart = Date.now();
  const crawled = await crawl(s3, config, root);
  const crawlDone = Date.now();
  log(
    `baseline: crawl read ${crawled.objects} objects and registered ${crawled.partitions} partitions in ` +
      `${((crawlDone - crawlStart) / 1000).toFixed(1)} s`,
  );
  const result = await runQuery(client, config, args.query.sql, args.query.params);
  const answered = Date.now();
  const countColumn = result.columns.findIndex((c) => c.name === 'ticks');
  const rowsAnswered = result.rows.reduce((n, r) => n + Number(r[countColumn]), 0);
  log(`baseline: query answered ${rowsAnswered} rows in ${((answered - crawlDone) / 1000).toFixed(1)} s`);
  return {
    rows: rows.length,
    produceMs: produced - t0,
    sinkDoneMs: sinkDone - t0,
    sinkMs: sinkDone - firstReceived,
    crawlMs: crawlDone - crawlStart,
    crawlObjects: crawled.objects,
    partitions: crawled.partitions,
    queryMs: answered - crawlDone,
    totalMs: answered - t0,
    rowsAnswered,
  };
}
