/**
 * The layout a lake table is written in, recorded once next to the table so that a sink or a crawl
 * configured with another layout refuses to mix the two (objects of two layouts under one table would
 * be read by no query engine).
 *
 * The record is `<prefix>_ticklake/layout/<table>.json`, created with If-None-Match by the first sink or
 * crawl of the table. A lake written before records existed is recognised by its folders: the column
 * of the first folder level below the table root (`symbol=` in the first layout).
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { getJson, putIfAbsent } from '../adapters/s3';
import { tableRoot } from '../lake-layout';

export interface TableLayout {
  partitionBy: string[];
  /** Buckets of `symbol_bucket`, when partitionBy names it. */
  symbolBuckets?: number;
}

export interface LayoutRecord extends TableLayout {
  table: string;
  recordedAt: string;
}

/** A table whose objects are in another layout than the configured one; never retried. */
export class LayoutMismatchError extends Error {
  override name = 'LayoutMismatchError';
  readonly type = 'LayoutMismatch';
}

export function layoutRecordKey(prefix: string, table: string): string {
  return `${prefix}_ticklake/layout/${table}.json`;
}

/** `year,symbol_bucket (4 buckets)` */
export function describeLayout(layout: TableLayout): string {
  const buckets = layout.partitionBy.includes('symbol_bucket') ? ` (${layout.symbolBuckets} symbol buckets)` : '';
  return `${layout.partitionBy.join(',')}${buckets}`;
}

export function sameLayout(a: TableLayout, b: TableLayout): boolean {
  if (a.partitionBy.join(',') !== b.partitionBy.join(',')) return false;
  return !a.partitionBy.includes('symbol_bucket') || a.symbolBuckets === b.symbolBuckets;
}

/** What to do about a mismatch: keep the table's layout, or write the new one under another table. */
export function mismatchMessage(location: string, found: string, wanted: TableLayout): string {
  return (
    `the lake table at ${location} is written in layout ${found}, but this configuration writes ` +
    `${describeLayout(wanted)}; objects of two layouts cannot share a table. Either keep the table's layout ` +
    `(set LAKE_PARTITION_BY=${found.split(' ')[0]} and, for symbol_bucket, LAKE_SYMBOL_BUCKETS to its count), ` +
    'or write the new layout to a table of its own (set GLUE_TABLE, or LAKE_PREFIX) and replay the data there ' +
    '(docs/architecture.md, "Lake layout")'
  );
}

/** The column of the first folder level below the table root, if the table holds any folder. */
async function firstFolderColumn(s3: S3Client, bucket: string, root: string): Promise<string | undefined> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: root, Delimiter: '/', MaxKeys: 1000 }));
  for (const p of out.CommonPrefixes ?? []) {
    const name = p.Prefix?.slice(root.length, -1) ?? '';
    const eq = name.indexOf('=');
    if (eq > 0 && !name.startsWith('_') && !name.startsWith('.')) return name.slice(0, eq);
  }
  return undefined;
}

const checked = new Set<string>();

/**
 * Records the table's layout on first use, or checks it against the recorded one (or, for a lake from
 * before records, against its folders). Throws LayoutMismatchError on a mismatch. Once a layout checked
 * out in this process, the check is not repeated.
 */
export async function checkTableLayout(
  s3: S3Client,
  args: { bucket: string; prefix: string; table: string; layout: TableLayout },
): Promise<void> {
  const { bucket, prefix, table, layout } = args;
  const memo = JSON.stringify([bucket, prefix, table, layout.partitionBy, layout.symbolBuckets]);
  if (checked.has(memo)) return;
  const key = layoutRecordKey(prefix, table);
  const root = tableRoot(prefix, table);
  const location = `s3://${bucket}/${root}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    const recorded = await getJson<LayoutRecord>(s3, bucket, key);
    if (recorded) {
      if (!sameLayout(recorded, layout))
        throw new LayoutMismatchError(mismatchMessage(location, describeLayout(recorded), layout));
      checked.add(memo);
      return;
    }
    const column = await firstFolderColumn(s3, bucket, root);
    if (column !== undefined && column !== layout.partitionBy[0]) {
      throw new LayoutMismatchError(
        mismatchMessage(location, column === 'symbol' ? 'symbol,year' : `${column},…`, layout),
      );
    }
    const record: LayoutRecord = {
      table,
      partitionBy: [...layout.partitionBy],
      ...(layout.partitionBy.includes('symbol_bucket') ? { symbolBuckets: layout.symbolBuckets } : {}),
      recordedAt: new Date().toISOString(),
    };
    if (await putIfAbsent(s3, bucket, key, JSON.stringify(record))) {
      checked.add(memo);
      return;
    }
    // Another sink or crawl recorded it a moment ago: compare with that record.
  }
  throw new Error(`the layout record ${key} could not be written or read; retrying`);
}

/** Forgets the layouts checked in this process (tests that recreate a table). */
export function forgetCheckedLayouts(): void {
  checked.clear();
}
