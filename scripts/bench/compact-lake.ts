/**
 * The raw lake of `npm run bench:compact`, written directly in the sink's format, and the pure pieces
 * of its figures. Pure except {@link encodeCut}, which compresses with zlib like the sink.
 *
 * A live sink streaming market data at one trading day per second, with its one-second freshness bound,
 * writes one cut per Kafka partition per trading day: the day's records of the symbols that partition
 * holds. {@link dayCuts} cuts a day the same way: each record goes to the Kafka partition Kafka's own
 * partitioner (murmur2 of the symbol key, src/symbol-bucket.ts) gives its symbol, at the next offset of
 * that partition; within a cut the records are split into one object per lake partition, keyed as the
 * sink keys them (src/lake-layout.ts). The values are the message values the replay produces
 * (src/message.ts `tickMessage`), and the sink stores a value byte for byte.
 */
import { dataObjectKey, manifestKey, partitionPath, partitionValues, type Compression } from '../../src/lake-layout';
import { tickMessage } from '../../src/message';
import { encodeLines } from '../../src/sink/format';
import { symbolBucket } from '../../src/symbol-bucket';
import { parseRow } from '../../src/tick';

/** Where the cuts go and how their objects are named. */
export interface LakeSpec {
  prefix: string;
  table: string;
  topic: string;
  groupId: string;
  /** Partitions of the topic: a symbol's partition is its murmur2 bucket over this count. */
  partitions: number;
  partitionBy: string[];
  symbolBuckets: number;
  compression: Compression;
  /** Recorded in the manifests' layout, as the sink does (its default is 1 MiB). */
  maxMessageBytes: number;
  /** Recorded in the manifests as the writer. */
  writer: string;
}

/** One cut of one Kafka partition: its manifest (as the sink writes it) and its objects' values. */
export interface LakeCut {
  partition: number;
  first: number;
  end: number;
  manifestKey: string;
  /** One per lake partition, in key order, as the sink plans them. */
  objects: { key: string; partition: string; values: Buffer[] }[];
  /** Bytes of the JSON lines before compression (values and their newlines). */
  jsonBytes: number;
}

/** The manifest body of a cut, once its objects are encoded (`bytes` is what they weigh compressed). */
export function cutManifest(spec: LakeSpec, cut: LakeCut, bytes: number, writtenAt: Date): Record<string, unknown> {
  return {
    topic: spec.topic,
    partition: cut.partition,
    first: String(cut.first),
    end: String(cut.end),
    records: cut.end - cut.first,
    files: cut.objects.map((o) => ({ key: o.key, partition: o.partition, records: o.values.length })),
    bytes,
    layout: {
      table: spec.table,
      partitionBy: [...spec.partitionBy],
      ...(spec.partitionBy.includes('symbol_bucket') ? { symbolBuckets: spec.symbolBuckets } : {}),
      compression: spec.compression,
      maxMessageBytes: spec.maxMessageBytes,
    },
    writer: spec.writer,
    writtenAt: writtenAt.toISOString(),
  };
}

/**
 * The cuts of one trading day's CSV lines (no header): one per Kafka partition that has records, in
 * partition order. `next` holds each partition's next offset and is advanced; `firstRow` is the file
 * line number of the first line (the header is line 1), for the records' lineage.
 */
export function dayCuts(
  spec: LakeSpec,
  lines: readonly string[],
  args: { source: string; firstRow: number; ingestedAt: Date; next: number[] },
): LakeCut[] {
  if (args.next.length !== spec.partitions)
    throw new Error(`next offsets: ${args.next.length} given for ${spec.partitions} partitions`);
  const byPartition = new Map<number, Map<string, Buffer[]>>();
  const counts = new Array<number>(spec.partitions).fill(0);
  const jsonBytes = new Array<number>(spec.partitions).fill(0);
  lines.forEach((line, i) => {
    const parsed = parseRow(line.split(','));
    if (!parsed.ok) throw new Error(`line ${args.firstRow + i} of ${args.source} is refused: ${parsed.reason}`);
    const tick = parsed.tick;
    const value = Buffer.from(tickMessage(tick, args.source, args.firstRow + i, args.ingestedAt).value);
    const p = symbolBucket(tick.symbol, spec.partitions);
    const path = partitionPath(spec.partitionBy, partitionValues(tick, spec.partitionBy, spec.symbolBuckets));
    let paths = byPartition.get(p);
    if (!paths) byPartition.set(p, (paths = new Map<string, Buffer[]>()));
    let values = paths.get(path);
    if (!values) paths.set(path, (values = []));
    values.push(value);
    counts[p]++;
    jsonBytes[p] += value.length + 1;
  });
  const cuts: LakeCut[] = [];
  for (const p of [...byPartition.keys()].sort((a, b) => a - b)) {
    const first = args.next[p];
    const end = first + counts[p];
    args.next[p] = end;
    const objects = [...byPartition.get(p)!.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, values]) => ({
        key: dataObjectKey({
          prefix: spec.prefix,
          table: spec.table,
          partitionPath: path,
          topic: spec.topic,
          partition: p,
          firstOffset: String(first),
          compression: spec.compression,
        }),
        partition: path,
        values,
      }));
    cuts.push({
      partition: p,
      first,
      end,
      manifestKey: manifestKey(spec.prefix, spec.groupId, spec.topic, p, String(first)),
      objects,
      jsonBytes: jsonBytes[p],
    });
  }
  return cuts;
}

/** The bodies of a cut's objects, encoded as the sink encodes them. */
export function encodeCut(cut: LakeCut, compression: Compression): Promise<Buffer[]> {
  return Promise.all(cut.objects.map((o) => encodeLines(o.values, compression)));
}

/** One row of DuckDB's `parquet_metadata()`, the fields used here. */
export interface ColumnChunk {
  file_name: string;
  row_group_id: number;
  path_in_schema: string;
  stats_min_value: string | null;
  stats_max_value: string | null;
  total_compressed_size: number;
}

/**
 * Bytes a reader of one symbol must fetch from Parquet files: the column chunks of `columns` in the row
 * groups whose `symbol` statistics (min and max) include the symbol. A row group without statistics
 * on `symbol` cannot be skipped, so it counts.
 */
export function symbolChunkBytes(chunks: readonly ColumnChunk[], symbol: string, columns: readonly string[]): number {
  const wanted = new Set(columns);
  const groupId = (c: ColumnChunk) => `${c.file_name}\u0000${c.row_group_id}`;
  const skipped = new Set<string>();
  for (const c of chunks) {
    if (c.path_in_schema !== 'symbol') continue;
    const { stats_min_value: min, stats_max_value: max } = c;
    if (min !== null && max !== null && (symbol < min || symbol > max)) skipped.add(groupId(c));
  }
  let bytes = 0;
  for (const c of chunks)
    if (wanted.has(c.path_in_schema) && !skipped.has(groupId(c))) bytes += c.total_compressed_size;
  return bytes;
}

/**
 * The first difference between two answers (rows of cells, compared as text), or undefined when they
 * are the same: same number of rows, same cells in the same order.
 */
export function answerDifference(a: readonly unknown[][], b: readonly unknown[][]): string | undefined {
  if (a.length !== b.length) return `${a.length} rows before, ${b.length} after`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i].map((v) => String(v));
    const y = b[i].map((v) => String(v));
    if (x.length !== y.length || x.some((v, j) => v !== y[j]))
      return `row ${i + 1}: ${JSON.stringify(x)} before, ${JSON.stringify(y)} after`;
  }
  return undefined;
}
