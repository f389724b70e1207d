/**
 * Shared by the sink's integration tests and its benchmark: a transactional tick producer that
 * writes like the replay producer (key = symbol, gzip batches, commit markers), the expected rows of
 * a CSV computed independently of the pipeline, and readers of what the sink left in the lake.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CompressionTypes, Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import { DeleteDatabaseCommand } from '@aws-sdk/client-glue';
import type { KafkaConfig, TicklakeConfig } from '../../src/config';
import { createAwsClients } from '../../src/adapters/aws';
import { createKafka, ensureTopics } from '../../src/adapters/kafka';
import { bucketExists, getObjectBytes } from '../../src/adapters/s3';
import { manifestPrefix, tableRoot } from '../../src/lake-layout';
import { tickMessage, type LakeRecord } from '../../src/message';
import { decodeLines } from '../../src/sink/format';
import type { SinkSettings } from '../../src/sink/lake-sink';
import type { DeadLetterRecord, FlushManifest } from '../../src/sink/partition-writer';
import { parseRow, type Tick } from '../../src/tick';

export interface SourceRow {
  line: number;
  tick: Tick;
}

/** The valid rows of a CSV (one physical line per row, as the schema never quotes), parsed by the project's row parser. */
export function sourceRows(file: string): SourceRow[] {
  const records: string[][] = parse(fs.readFileSync(file), {
    bom: true,
    quote: false,
    relax_column_count: true,
    skip_empty_lines: false,
  });
  const rows: SourceRow[] = [];
  records.forEach((fields, i) => {
    if (i === 0) return;
    const r = parseRow(fields);
    if (r.ok) rows.push({ line: i + 1, tick: r.tick });
  });
  return rows;
}

/** A Kafka client for tests: quiet, since the producer logs retried CONCURRENT_TRANSACTIONS as errors. */
export function testKafka(config: KafkaConfig): Kafka {
  return new Kafka({
    clientId: `${config.clientId}-test`,
    brokers: config.brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 200, retries: 10, maxRetryTime: 3000 },
  });
}

export function toMessage(row: SourceRow, source: string, at = new Date()): Message {
  const m = tickMessage(row.tick, source, row.line, at);
  return { key: m.key, value: m.value, timestamp: m.timestamp, headers: m.headers };
}

/**
 * Produces messages in Kafka transactions (as the replay producer does), optionally paced and
 * holdable: `hold()` waits until no transaction is open, so a broker restart does not land in one.
 */
export class TickProducer {
  private producer: Producer | undefined;
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private idle: Promise<void> = Promise.resolve();
  produced = 0;
  /** Called with each transaction's messages when it has committed (they are readable from then on). */
  onCommit: ((messages: Message[], at: number) => void) | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly transactionalId: string,
  ) {}

  private async connected(): Promise<Producer> {
    if (!this.producer) {
      const p = this.kafka.producer({
        transactionalId: this.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await p.connect();
      this.producer = p;
    }
    return this.producer;
  }

  /** One transaction; on failure aborts (or reconnects, which fences the open one) and tries again. */
  async send(messages: Message[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.held) await this.held;
      let done!: () => void;
      this.idle = new Promise((r) => (done = r));
      try {
        const producer = await this.connected();
        const txn = await producer.transaction();
        try {
          await txn.send({ topic: this.topic, messages, compression: CompressionTypes.GZIP });
          await txn.commit();
          this.onCommit?.(messages, Date.now());
          this.produced += messages.length;
          return;
        } catch (err) {
          await txn.abort().catch(async () => {
            await this.producer?.disconnect().catch(() => undefined);
            this.producer = undefined;
          });
          if (attempt >= 20) throw err;
        }
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        done();
      }
    }
  }

  /** Sends `messages` in transactions of `chunk`, at about `perSecond` messages per second (0: at once). */
  async stream(messages: Message[], chunk: number, perSecond = 0, stop?: () => boolean): Promise<void> {
    const started = Date.now();
    for (let i = 0; i < messages.length; i += chunk) {
      if (stop?.()) return;
      await this.send(messages.slice(i, i + chunk));
      if (perSecond > 0) {
        const due = started + ((i + chunk) * 1000) / perSecond;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Holds production between transactions until `resume()`. */
  async hold(): Promise<void> {
    this.held ??= new Promise((r) => (this.release = r));
    await this.idle;
  }

  resume(): void {
    this.release?.();
    this.held = undefined;
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) keys.push(o.Key!);
  }
  return keys;
}

export async function countKeys(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }));
  return out.KeyCount ?? 0;
}

async function readLines(s3: S3Client, bucket: string, keys: string[]): Promise<{ key: string; line: string }[]> {
  const out: { key: string; line: string }[] = [];
  for (let i = 0; i < keys.length; i += 32) {
    const parts = await Promise.all(
      keys.slice(i, i + 32).map(async (key) => {
        const body = await getObjectBytes(s3, bucket, key);
        return body ? decodeLines(body, key).map((line) => ({ key, line })) : [];
      }),
    );
    for (const p of parts) out.push(...p);
  }
  return out;
}

export interface LakeLine {
  key: string;
  record: LakeRecord;
}

/** Every record of every data object of the table. */
export async function readLake(s3: S3Client, bucket: string, prefix: string, table: string): Promise<LakeLine[]> {
  const keys = (await listKeys(s3, bucket, tableRoot(prefix, table))).filter((k) => /\.json(\.gz)?$/.test(k));
  return (await readLines(s3, bucket, keys)).map(({ key, line }) => ({ key, record: JSON.parse(line) as LakeRecord }));
}

export async function readDeadLetters(s3: S3Client, bucket: string, prefix: string): Promise<DeadLetterRecord[]> {
  const keys = await listKeys(s3, bucket, `${prefix}_dlq/`);
  return (await readLines(s3, bucket, keys)).map(({ line }) => JSON.parse(line) as DeadLetterRecord);
}

export async function readManifests(
  s3: S3Client,
  bucket: string,
  prefix: string,
  groupId: string,
  topic: string,
): Promise<FlushManifest[]> {
  const keys = await listKeys(s3, bucket, manifestPrefix(prefix, groupId, topic));
  const out: FlushManifest[] = [];
  for (const key of keys) {
    const body = await getObjectBytes(s3, bucket, key);
    if (body) out.push(JSON.parse(body.toString('utf8')) as FlushManifest);
  }
  return out;
}

/** What is wrong with the lake compared with the source rows; empty when it holds each row exactly once. */
export function lakeProblems(expected: SourceRow[], lake: LakeLine[], source: string): string[] {
  const problems: string[] = [];
  const want = new Map(expected.map((r) => [`${r.tick.symbol}|${r.tick.trade_date}`, r]));
  const seen = new Map<string, string>();
  let duplicates = 0;
  let wrong = 0;
  for (const { key, record } of lake) {
    const id = `${record.symbol}|${record.trade_date}`;
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      if (duplicates++ < 5) problems.push(`duplicate ${id} in ${earlier} and ${key}`);
      continue;
    }
    seen.set(id, key);
    const row = want.get(id);
    if (!row) {
      if (wrong++ < 5) problems.push(`unexpected record ${id} in ${key}`);
      continue;
    }
    const { source: src, row: line, ingested_at: _at, ...tick } = record;
    if (src !== source || line !== row.line || JSON.stringify(tick) !== JSON.stringify(row.tick)) {
      if (wrong++ < 5) problems.push(`record ${id} differs from line ${row.line}: ${JSON.stringify(record)}`);
    }
  }
  const missing = [...want.keys()].filter((id) => !seen.has(id));
  if (duplicates > 0) problems.push(`${duplicates} duplicate records`);
  if (wrong > 0) problems.push(`${wrong} unexpected or differing records`);
  if (missing.length > 0) problems.push(`${missing.length} records missing, e.g. ${missing.slice(0, 5).join(', ')}`);
  return problems;
}

/** Per symbol counts, for readable failure messages. */
export function countsBySymbol(records: { symbol: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) out[r.symbol] = (out[r.symbol] ?? 0) + 1;
  return out;
}

/** Manifests of one partition must tile the offsets without overlap. */
export function manifestOverlaps(manifests: FlushManifest[]): string[] {
  const byPartition = new Map<number, FlushManifest[]>();
  for (const m of manifests) byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), m]);
  const problems: string[] = [];
  for (const [p, ms] of byPartition) {
    ms.sort((a, b) => (BigInt(a.first) < BigInt(b.first) ? -1 : 1));
    for (let i = 1; i < ms.length; i++) {
      if (BigInt(ms[i].first) < BigInt(ms[i - 1].end)) {
        problems.push(`partition ${p}: [${ms[i - 1].first}, ${ms[i - 1].end}) overlaps [${ms[i].first}, ${ms[i].end})`);
      }
    }
  }
  return problems;
}

export const SAMPLE_CSV = path.join(__dirname, '..', '..', 'data', 'sample.csv');

/**
 * Deletes every object of a bucket, then the bucket (tests and benchmarks remove their own buckets
 * with it; the pipeline never deletes data, and its IAM policy grants no deletion). A missing bucket is not an error.
 */
export async function deleteBucketAndObjects(s3: S3Client, bucket: string): Promise<void> {
  if (!(await bucketExists(s3, bucket))) return;
  // List from the start each time: deleting under a continuation token can skip keys.
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length === 0) break;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/**
 * Removes a configuration's topics, consumer group, bucket and Glue database from the shared services:
 * for configurations whose names are a test's or a benchmark's own, never the defaults.
 */
export async function removeResources(config: TicklakeConfig): Promise<void> {
  const admin = createKafka(config.kafka, '-test-cleanup').admin();
  await admin.connect();
  try {
    await admin
      .deleteTopics({ topics: [config.kafka.topic, config.kafka.dlqTopic, config.kafka.positionsTopic] })
      .catch(() => undefined);
    await admin.deleteGroups([config.sink.groupId]).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  const { s3, glue } = createAwsClients(config.aws);
  await glue.send(new DeleteDatabaseCommand({ Name: config.glue.database })).catch(() => undefined);
  await deleteBucketAndObjects(s3, config.lake.bucket);
}

/**
 * A sink test's start: the sample produced into the configuration's topic (created if missing) in
 * transactions of `perTransaction` records, and the settings of a sink that cuts flushes of at most
 * `maxRecords`. Returns the sample's rows and the settings.
 */
export async function sampleInTopic(
  config: TicklakeConfig,
  kafka: Kafka,
  opts: { perTransaction: number; maxRecords: number },
): Promise<{ rows: SourceRow[]; settings: SinkSettings }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, config.kafka, [config.kafka.topic]);
  } finally {
    await admin.disconnect();
  }
  const rows = sourceRows(SAMPLE_CSV);
  const producer = new TickProducer(kafka, config.kafka.topic, `test-${config.kafka.topic}`);
  await producer.stream(
    rows.map((r) => toMessage(r, 'sample.csv')),
    opts.perTransaction,
  );
  await producer.close();
  const settings: SinkSettings = {
    topic: config.kafka.topic,
    groupId: config.sink.groupId,
    prefix: config.lake.prefix,
    table: config.glue.table,
    partitionBy: config.lake.partitionBy,
    symbolBuckets: config.lake.symbolBuckets,
    compression: config.sink.compression,
    flushMs: 1000,
    maxRecords: opts.maxRecords,
    maxBytes: 64 * 1024 * 1024,
  };
  return { rows, settings };
}
