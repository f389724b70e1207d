/**
 * The baseline of `npm run bench`: the pipeline as the simple scripts data engineers often write
 * it, on the same services.
 *
 * - producer: a plain kafkajs producer that sends one row per `send` call and awaits each;
 * - consumer: a plain consumer group member that writes one S3 object per record (PutObject, awaited)
 *   under Hive-style folders, offsets auto-committed;
 * - crawl: what a Glue crawler with sampling runs: lists every object, reads the beginning (the first
 *   megabyte) of the first `sampleSize` objects of each partition folder for the schema, creates the
 *   Glue table and registers every partition (BatchCreatePartition, 100 per call);
 * - query: the same per-symbol query through ticklake's query workflow (DuckDB) over that table.
 *
 * One PutObject per record is about a hundred thousand requests for the real file, so the baseline
 * runs on a subset of rows; baseline-model.ts scales each part of it to the whole file by what that
 * part grows with. Every window times work only: the clients' connects and disconnects (a kafkajs
 * consumer's disconnect waits out its session, about 5 s) are outside them.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand } from '@aws-sdk/client-glue';
import type { Client } from '@temporalio/client';
import { Partitioners } from 'kafkajs';
import { createAwsClients } from '../../src/adapters/aws';
import { ensureTopics } from '../../src/adapters/kafka';
import { ensureBucket } from '../../src/adapters/s3';
import { createPartitions, ensureDatabase } from '../../src/catalog/glue-catalog';
import { partitionInput, s3Url, tableInput } from '../../src/catalog/glue-table';
import { listKeys } from '../../src/catalog/lake-scan';
import { SchemaSampler } from '../../src/catalog/schema';
import type { TicklakeConfig } from '../../src/config';
import { runQuery } from '../../src/pipeline';
import type { DocExample } from '../../src/query/examples';
import type { BaselineMeasure } from './baseline-model';
import { probeKafka, waitFor } from './common';
import type { ExpectedRow } from './verify';

/** What a Glue crawler reads of each sampled file for its classifiers. */
const CRAWLER_READ_BYTES = 1024 * 1024;

export interface BaselineResult extends BaselineMeasure {
  /** First send to the last send acknowledged. */
  produceMs: number;
  /** First record received to the last object written. */
  sinkMs: number;
  crawlMs: number;
  crawlObjects: number;
  partitions: number;
  queryMs: number;
  rowsAnswered: number;
}

/** Objects per partition folder (symbol × year) the baseline writes for `rows`: one object per record. */
export function baselineFolders(rows: readonly { symbol: string | number; trade_date: string | number }[]) {
  const folders = new Map<string, number>();
  for (const r of rows) {
    const folder = `${String(r.symbol)}/${String(r.trade_date).slice(0, 4)}`;
    folders.set(folder, (folders.get(folder) ?? 0) + 1);
  }
  return folders;
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
  sampleSize: number,
): Promise<{ objects: number; partitions: number; sampledReads: number; phases: BaselineMeasure['crawl'] }> {
  const { glue } = createAwsClients(config.aws);
  const bucket = config.lake.bucket;
  let t = Date.now();
  const keys = await listKeys(s3, bucket, root);
  const listMs = Date.now() - t;

  t = Date.now();
  const sampler = new SchemaSampler(['symbol', 'year']);
  const folders = new Map<string, { values: string[]; keys: string[] }>();
  for (const key of keys) {
    const folder = key.slice(0, key.lastIndexOf('/') + 1);
    const m = /symbol=([^/]+)\/year=([^/]+)\/$/.exec(folder);
    if (!m) continue;
    const entry = folders.get(folder) ?? { values: [decodeURIComponent(m[1]), m[2]], keys: [] };
    entry.keys.push(key);
    folders.set(folder, entry);
  }
  let sampledReads = 0;
  for (const { keys: inFolder } of folders.values()) {
    for (const key of inFolder.slice(0, sampleSize)) {
      const out = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${CRAWLER_READ_BYTES - 1}` }),
      );
      const text = await out.Body!.transformToString();
      for (const line of text.split('\n')) {
        if (line.trim() !== '') sampler.add(JSON.parse(line) as Record<string, unknown>);
      }
      sampledReads++;
    }
  }
  const sampleMs = Date.now() - t;

  t = Date.now();
  const { columns } = sampler.evolve();
  await ensureDatabase(glue, config.glue.database);
  await glue.send(
    new CreateTableCommand({
      DatabaseName: config.glue.database,
      TableInput: tableInput({
        table: config.glue.table,
        location: s3Url(bucket, root),
        columns,
        partitionBy: ['symbol', 'year'],
      }),
    }),
  );
  const tableMs = Date.now() - t;

  t = Date.now();
  await createPartitions(
    glue,
    config.glue.database,
    config.glue.table,
    [...folders].map(([folder, { values }]) => partitionInput({ values, location: s3Url(bucket, folder), columns })),
  );
  const registerMs = Date.now() - t;
  return {
    objects: keys.length,
    partitions: folders.size,
    sampledReads,
    phases: { listMs, sampleMs, tableMs, registerMs },
  };
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
  /** Objects a folder the crawl reads the beginning of (Glue's S3 target SampleSize). */
  sampleSize: number;
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
  log(`baseline: ${rows.length} rows sent one by one in ${((produced - t0) / 1000).toFixed(1)} s`);
  await waitFor(
    `the baseline consumer to write ${rows.length} objects (${written} so far)`,
    () => Promise.resolve(written >= rows.length),
    30 * 60_000,
    50,
  );
  const sinkDone = lastWritten;
  // Outside every window: a disconnect is idle waiting (the consumer's waits out its session).
  await producer.disconnect();
  await consumer.disconnect();
  log(`baseline: ${written} objects written one by one in ${((sinkDone - firstReceived) / 1000).toFixed(1)} s`);

  const crawlStart = Date.now();
  const crawled = await crawl(s3, config, root, args.sampleSize);
  const crawlDone = Date.now();
  log(
    `baseline: crawl listed ${crawled.objects} objects, sampled ${crawled.sampledReads} (up to ${args.sampleSize} a folder) ` +
      `and registered ${crawled.partitions} partitions in ${((crawlDone - crawlStart) / 1000).toFixed(1)} s ` +
      JSON.stringify(crawled.phases),
  );
  const queryStart = Date.now();
  const result = await runQuery(client, config, args.query.sql, args.query.params);
  const answered = Date.now();
  const countColumn = result.columns.findIndex((c) => c.name === 'ticks');
  const rowsAnswered = result.rows.reduce((n, r) => n + Number(r[countColumn]), 0);
  log(
    `baseline: query answered ${rowsAnswered} rows in ${((answered - queryStart) / 1000).toFixed(1)} s ` +
      JSON.stringify(result.stats.phases ?? {}),
  );
  return {
    rows: rows.length,
    folders: crawled.partitions,
    sampledReads: crawled.sampledReads,
    sinkDoneMs: sinkDone - t0,
    crawl: crawled.phases,
    query: { totalMs: answered - queryStart, phases: result.stats.phases ?? {} },
    produceMs: produced - t0,
    sinkMs: sinkDone - firstReceived,
    crawlMs: crawlDone - crawlStart,
    crawlObjects: crawled.objects,
    partitions: crawled.partitions,
    queryMs: answered - queryStart,
    rowsAnswered,
  };
}
