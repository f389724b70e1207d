/**
 * Where a tick becomes an S3 key. Pure: no I/O.
 *
 * Data objects:   <prefix><table>/year=1987/symbol_bucket=2/<topic>+<partition>+<firstOffset>.json.gz
 *                 (the default layout; LAKE_PARTITION_BY chooses the columns, e.g. symbol,year)
 * Sink manifests: <prefix>_ticklake/sink/<group>/<topic>/<partition>/<firstOffset>.json
 * Dead letters:   <prefix>_dlq/<topic>/<partition>/<firstOffset>.json.gz
 *
 * Offsets are zero-padded to 20 digits so that lexical order (S3 listings) is offset order.
 */

import { symbolBucket } from './symbol-bucket';

export type Compression = 'none' | 'gzip' | 'zstd';

/** Partition columns a lake table may use, in any order. */
export const PARTITION_COLUMNS = ['symbol', 'symbol_bucket', 'year', 'month', 'trade_date'] as const;

/** The default layout: a time partition and a bucket of the symbol (docs/architecture.md, "Lake layout"). */
export const DEFAULT_PARTITION_BY = ['year', 'symbol_bucket'];

const OFFSET_WIDTH = 20;

export function padOffset(offset: string | number | bigint): string {
  return String(offset).padStart(OFFSET_WIDTH, '0');
}

export function extensionFor(compression: Compression): string {
  return compression === 'gzip' ? '.json.gz' : compression === 'zstd' ? '.json.zst' : '.json';
}

/** Values of the Hive partition columns for one record; `symbolBuckets` is needed for `symbol_bucket`. */
export function partitionValues(
  record: { symbol: string; trade_date: string },
  partitionBy: readonly string[],
  symbolBuckets?: number,
): string[] {
  return partitionBy.map((column) => {
    switch (column) {
      case 'symbol':
        return record.symbol;
      case 'symbol_bucket':
        if (symbolBuckets === undefined)
          throw new Error('the symbol_bucket partition needs a number of symbol buckets');
        return String(symbolBucket(record.symbol, symbolBuckets));
      case 'year':
        return record.trade_date.slice(0, 4);
      case 'month':
        return record.trade_date.slice(0, 7);
      case 'trade_date':
        return record.trade_date;
      default:
        throw new Error(`unknown partition column '${column}': use ${PARTITION_COLUMNS.join(', ')}`);
    }
  });
}

/** Hive escapes characters that would break a path segment; we escape the same set. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const HIVE_ESCAPED = /[%/=\\#:*?"<>|\x00-\x1f\x7f]/g;

export function escapePartitionValue(value: string): string {
  return value.replace(HIVE_ESCAPED, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

export function unescapePartitionValue(value: string): string {
  return decodeURIComponent(value);
}

/** `symbol=HSI/year=1987` */
export function partitionPath(partitionBy: readonly string[], values: readonly string[]): string {
  return partitionBy.map((column, i) => `${column}=${escapePartitionValue(values[i])}`).join('/');
}

export function tableRoot(prefix: string, table: string): string {
  return `${prefix}${table}/`;
}

export function dataObjectKey(args: {
  prefix: string;
  table: string;
  partitionPath: string;
  topic: string;
  partition: number;
  firstOffset: string;
  compression: Compression;
}): string {
  return (
    `${tableRoot(args.prefix, args.table)}${args.partitionPath}/` +
    `${args.topic}+${args.partition}+${padOffset(args.firstOffset)}${extensionFor(args.compression)}`
  );
}

export function manifestPrefix(prefix: string, groupId: string, topic: string, partition?: number): string {
  const base = `${prefix}_ticklake/sink/${groupId}/${topic}/`;
  return partition === undefined ? base : `${base}${partition}/`;
}

export function manifestKey(
  prefix: string,
  groupId: string,
  topic: string,
  partition: number,
  firstOffset: string,
): string {
  return `${manifestPrefix(prefix, groupId, topic, partition)}${padOffset(firstOffset)}.json`;
}

/**
 * A sink activity's attempt markers: before its first flush of a partition, each attempt records there
 * from which offset it flushes it, so that a retry can count the flushes of an attempt that died
 * before its heartbeat told of them. One folder per activity (its writer id), one object per attempt.
 */
export function attemptMarkerPrefix(prefix: string, groupId: string, topic: string, writerId: string): string {
  return `${prefix}_ticklake/sink-attempts/${groupId}/${topic}/${encodeURIComponent(writerId)}/`;
}

export function attemptMarkerKey(
  prefix: string,
  groupId: string,
  topic: string,
  writerId: string,
  attempt: number,
): string {
  return `${attemptMarkerPrefix(prefix, groupId, topic, writerId)}${String(attempt).padStart(10, '0')}.json`;
}

export function deadLetterKey(prefix: string, topic: string, partition: number, firstOffset: string): string {
  return `${prefix}_dlq/${topic}/${partition}/${padOffset(firstOffset)}.json.gz`;
}

/**
 * Splits a data object key below the table root into its partition values, or returns undefined for a
 * key that is not a data object of this layout (a folder marker, a stray file).
 */
export function parseDataObjectKey(
  key: string,
  root: string,
  partitionBy: readonly string[],
): { partitionPath: string; values: string[]; file: string } | undefined {
  if (!key.startsWith(root)) return undefined;
  const parts = key.slice(root.length).split('/');
  if (parts.length !== partitionBy.length + 1) return undefined;
  const values: string[] = [];
  for (let i = 0; i < partitionBy.length; i++) {
    const [column, value] = parts[i].split('=', 2);
    if (column !== partitionBy[i] || value === undefined || value === '') return undefined;
    values.push(unescapePartitionValue(value));
  }
  const file = parts[parts.length - 1];
  if (!/\.json(\.gz|\.zst)?$/.test(file)) return undefined;
  return { partitionPath: parts.slice(0, -1).join('/'), values, file };
}
