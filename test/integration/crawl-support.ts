/**
 * Lake data for crawler tests, written straight to S3 in the sink's layout: a manifest first (as the
 * sink does), then one data object per lake partition, keyed by (topic, partition, first offset).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { dataObjectKey, manifestKey, partitionPath, partitionValues } from '../../src/lake-layout';
import { encodeLines } from '../../src/sink/format';
import type { TicklakeConfig } from '../../src/config';

export interface TestRecord extends Record<string, unknown> {
  symbol: string;
  trade_date: string;
}

export interface WrittenFlush {
  manifest: string;
  /** Data object keys, one per lake partition. */
  objects: string[];
  /** Lake partition paths. */
  partitions: string[];
  /** Offset after the last record: the next flush of this Kafka partition starts here. */
  end: number;
}

/** A tick-shaped record with every type the crawler infers. */
export function tick(symbol: string, date: string, extra: Record<string, unknown> = {}): TestRecord {
  return {
    symbol,
    trade_date: date,
    open: 100.25,
    close: 101.5,
    volume: 1200,
    halted: false,
    ingested_at: '2024-05-01T10:00:00.000Z',
    quote: { bid: 101.25, ask: 101.75 },
    venues: ['XHKG', 'XSES'],
    source: 'test.csv',
    row: 2,
    ...extra,
  };
}

export async function writeFlush(
  s3: S3Client,
  config: TicklakeConfig,
  args: { partition: number; first: number; records: TestRecord[]; topic?: string; group?: string },
): Promise<WrittenFlush> {
  const topic = args.topic ?? config.kafka.topic;
  const group = args.group ?? config.sink.groupId;
  const byPath = new Map<string, Buffer[]>();
  for (const r of args.records) {
    const path = partitionPath(
      config.lake.partitionBy,
      partitionValues(r, config.lake.partitionBy, config.lake.symbolBuckets),
    );
    byPath.set(path, [...(byPath.get(path) ?? []), Buffer.from(JSON.stringify(r))]);
  }
  const files = [...byPath.entries()].map(([path, values]) => ({
    key: dataObjectKey({
      prefix: config.lake.prefix,
      table: config.glue.table,
      partitionPath: path,
      topic,
      partition: args.partition,
      firstOffset: String(args.first),
      compression: 'gzip',
    }),
    partition: path,
    values,
  }));
  const end = args.first + args.records.length;
  const manifest = manifestKey(config.lake.prefix, group, topic, args.partition, String(args.first));
  const body = {
    topic,
    partition: args.partition,
    first: String(args.first),
    end: String(end),
    records: args.records.length,
    files: files.map((f) => ({ key: f.key, partition: f.partition, records: f.values.length })),
    writtenAt: new Date().toISOString(),
  };
  await s3.send(new PutObjectCommand({ Bucket: config.lake.bucket, Key: manifest, Body: JSON.stringify(body) }));
  for (const f of files) {
    await s3.send(
      new PutObjectCommand({ Bucket: config.lake.bucket, Key: f.key, Body: await encodeLines(f.values, 'gzip') }),
    );
  }
  return { manifest, objects: files.map((f) => f.key), partitions: files.map((f) => f.partition), end };
}
