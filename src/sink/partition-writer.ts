/**
 * The per-Kafka-partition writer of the S3 sink: buffers records, cuts them into flushes and writes
 * each flush exactly once.
 *
 * Exactly-once with a wall-clock freshness bound works like this. A flush covers the records of one
 * Kafka partition with offsets in [first, end). Before any data object is written, the flush's cut
 * is recorded in a manifest object whose key is derived from (group, topic, partition, first) and
 * which is written with If-None-Match: *. Data object keys are derived from (topic, partition, first)
 * and the lake partition, so the content of every object follows from the manifest and the log.
 * A retry or a zombie that reaches the same first offset finds the manifest already there, adopts
 * its cut instead of its own, and rewrites byte-identical objects. Kafka offsets are committed only
 * after the objects are durable; a crash between the two replays the same cut.
 */
import type { Compression } from '../lake-layout';
import { dataObjectKey, deadLetterKey, manifestKey, partitionPath, partitionValues } from '../lake-layout';
import { checkRecordValue } from '../message';
import { encodeLines } from './format';

export interface SinkStorage {
  putIfAbsent(key: string, body: string): Promise<boolean>;
  getJson<T>(key: string): Promise<T | undefined>;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
}

export interface WriterOptions {
  topic: string;
  partition: number;
  groupId: string;
  prefix: string;
  table: string;
  partitionBy: readonly string[];
  compression: Compression;
  maxRecords: number;
  maxBytes: number;
  maxMessageBytes: number;
}

export interface FlushManifest {
  topic: string;
  partition: number;
  first: string;
  end: string;
  records: number;
  files: { key: string; partition: string; records: number }[];
  deadLetters?: { key: string; records: number };
  writtenAt: string;
}

export interface FlushResult {
  manifest: FlushManifest;
  bytes: number;
  /** Lake partitions (e.g. `symbol=HSI/year=1987`) this flush wrote to. */
  lakePartitions: string[];
  adopted: boolean;
}

interface Buffered {
  offset: bigint;
  value: Buffer | null;
  key: Buffer | null;
  receivedAt: number;
}

export class PartitionWriter {
  private records: Buffered[] = [];
  private bytes = 0;
  /** A cut imposed by an existing manifest that this writer must reproduce. */
  private forcedEnd: bigint | undefined;

  constructor(
    private readonly opts: WriterOptions,
    private readonly storage: SinkStorage,
  ) {}

  get size(): number {
    return this.records.length;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Receive time (ms) of the oldest buffered record, or undefined when empty. */
  get oldestReceivedAt(): number | undefined {
    return this.records[0]?.receivedAt;
  }

  add(offset: bigint, key: Buffer | null, value: Buffer | null, receivedAt: number): void {
    this.records.push({ offset, key, value, receivedAt });
    this.bytes += value?.length ?? 0;
  }

  /** True when a size-based rotation rule says to flush now. */
  full(): boolean {
    return this.records.length >= this.opts.maxRecords || this.bytes >= this.opts.maxBytes;
  }

  /** Drops everything buffered (after a rebalance the records will be fetched again). */
  reset(): void {
    this.records = [];
    this.bytes = 0;
    this.forcedEnd = undefined;
  }

  /**
   * Writes the buffered records. Returns undefined when there is nothing to write yet (empty, or an
   * adopted cut that needs records not fetched yet).
   */
  async flush(): Promise<FlushResult | undefined> {
    for (;;) {
      if (this.records.length === 0) return undefined;
      const first = this.records[0].offset;
      const lastPlusOne = this.records[this.records.length - 1].offset + 1n;
      const adopted = this.forcedEnd !== undefined;
      const end = this.forcedEnd ?? lastPlusOne;
      if (end > lastPlusOne) return undefined;
      let count = this.records.length;
      while (count > 0 && this.records[count - 1].offset >= end) count--;
      const batch = this.records.slice(0, count);
      const plan = this.plan(batch, first, end);

      if (!adopted) {
        const mKey = manifestKey(this.opts.prefix, this.opts.groupId, this.opts.topic, this.opts.partition, first.toString());
        const created = await this.storage.putIfAbsent(mKey, JSON.stringify(plan.manifest));
        if (!created) {
          const existing = await this.storage.getJson<FlushManifest>(mKey);
          if (!existing) throw new Error(`manifest ${mKey} exists but could not be read; retrying`);
          this.forcedEnd = BigInt(existing.end);
          continue;
        }
      }
      let bytes = 0;
      await Promise.all(
        plan.objects.map(async (o) => {
          const body = await encodeLines(o.values, o.compression);
          bytes += body.length;
          await this.storage.put(o.key, body, 'application/x-ndjson');
        }),
      );
      this.records.splice(0, count);
      for (const r of batch) this.bytes -= r.value?.length ?? 0;
      this.forcedEnd = undefined;
      return { manifest: plan.manifest, bytes, lakePartitions: plan.lakePartitions, adopted };
    }
  }

  private plan(batch: Buffered[], first: bigint, end: bigint) {
    const o = this.opts;
    const byPath = new Map<string, Buffer[]>();
    const dead: Buffer[] = [];
    for (const r of batch) {
      const check = checkRecordValue(r.value, o.maxMessageBytes);
      if (!check.ok) {
        dead.push(
          Buffer.from(
            JSON.stringify({
              topic: o.topic,
              partition: o.partition,
              offset: r.offset.toString(),
              reason: check.reason,
              key: r.key?.toString('base64') ?? null,
              value_base64: r.value?.toString('base64') ?? null,
            }),
          ),
        );
        continue;
      }
      const path = partitionPath(o.partitionBy, partitionValues(check, o.partitionBy));
      let values = byPath.get(path);
      if (!values) byPath.set(path, (values = []));
      values.push(r.value!);
    }
    const firstStr = first.toString();
    const objects: { key: string; values: Buffer[]; compression: Compression }[] = [];
    const files: FlushManifest['files'] = [];
    for (const [path, values] of [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const key = dataObjectKey({
        prefix: o.prefix,
        table: o.table,
        partitionPath: path,
        topic: o.topic,
        partition: o.partition,
        firstOffset: firstStr,
        compression: o.compression,
      });
      objects.push({ key, values, compression: o.compression });
      files.push({ key, partition: path, records: values.length });
    }
    let deadLetters: FlushManifest['deadLetters'];
    if (dead.length > 0) {
      const key = deadLetterKey(o.prefix, o.topic, o.partition, firstStr);
      objects.push({ key, values: dead, compression: 'gzip' });
      deadLetters = { key, records: dead.length };
    }
    const manifest: FlushManifest = {
      topic: o.topic,
      partition: o.partition,
      first: firstStr,
      end: end.toString(),
      records: batch.length,
      files,
      deadLetters,
      writtenAt: new Date().toISOString(),
    };
    return { manifest, objects, lakePartitions: files.map((f) => f.partition) };
  }
}
