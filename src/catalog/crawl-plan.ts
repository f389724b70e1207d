/**
 * What an incremental crawl reads and remembers. Pure.
 *
 * The sink records every flush in a manifest before it writes the flush's data objects:
 * `<prefix>_ticklake/sink/<group>/<topic>/<partition>/<first offset, 20 digits>.json`, listing the
 * data object keys and their lake partitions. Within one manifest folder, key order is offset order
 * and new manifests only ever sort after the existing ones (a flush starts where the committed one
 * ended), so one watermark per folder (the last manifest fully catalogued) and an S3 listing with
 * `StartAfter` find exactly the flushes written since the last crawl.
 *
 * The watermarks live in one S3 object per table, `<prefix>_ticklake/crawler/<database>.<table>.json`,
 * together with the CreateTime of the Glue table they describe. A missing table, or one created after
 * the state was written (an emptied or rebuilt catalog), makes the next crawl a full one.
 */
import { parseDataObjectKey } from '../lake-layout';

/**
 * Error types a crawl never retries (a missing bucket, denied access, a lake that is not JSON lines,
 * bad input, a failed managed crawler); the crawl workflow lists them in its retry policies.
 */
export const CRAWL_NON_RETRYABLE = [
  'MissingBucket',
  'LakeAccessDenied',
  'InvalidLake',
  'InvalidCrawlInput',
  'ManagedCrawlFailed',
];

export interface CrawlState {
  version: 1;
  database: string;
  table: string;
  /** CreateTime (ISO-8601) of the Glue table these watermarks belong to. */
  tableCreatedAt: string;
  /** Manifest folder below the sink root (`<group>/<topic>/<partition>/`) → last manifest key catalogued. */
  watermarks: Record<string, string>;
  updatedAt: string;
}

export function sinkManifestRoot(prefix: string): string {
  return `${prefix}_ticklake/sink/`;
}

export function crawlStateKey(prefix: string, database: string, table: string): string {
  return `${prefix}_ticklake/crawler/${database}.${table}.json`;
}

const MANIFEST_NAME = /\/\d{20}\.json$/;

export function isManifestKey(key: string): boolean {
  return MANIFEST_NAME.test(key);
}

/** The state, if it is well formed and belongs to this very table; otherwise undefined. */
export function usableState(
  raw: unknown,
  args: { database: string; table: string; tableCreatedAt: string | undefined },
): CrawlState | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const s = raw as Partial<CrawlState>;
  if (s.version !== 1 || s.database !== args.database || s.table !== args.table) return undefined;
  if (!args.tableCreatedAt || s.tableCreatedAt !== args.tableCreatedAt) return undefined;
  if (!s.watermarks || typeof s.watermarks !== 'object') return undefined;
  const watermarks: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.watermarks)) if (typeof v === 'string') watermarks[k] = v;
  return { ...(s as CrawlState), watermarks };
}

/** Folder-wise maximum: two crawls that overlap never move a watermark back. */
export function mergeWatermarks(a: Record<string, string>, b: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...a };
  for (const [folder, key] of Object.entries(b)) if (out[folder] === undefined || key > out[folder]) out[folder] = key;
  return out;
}

/**
 * The new watermark of one folder: the last of `manifests` (in key order) before the first one whose
 * data objects are not all there yet. A flush's manifest is written before its objects, so a crawl can
 * see a manifest whose objects are still being written; it is read again next time.
 */
export function advanceWatermark(
  current: string | undefined,
  manifests: readonly { key: string; complete: boolean }[],
): string | undefined {
  let mark = current;
  for (const m of manifests) {
    if (!m.complete) break;
    mark = m.key;
  }
  return mark;
}

export interface LakePartition {
  /** `symbol=HSI/year=1987` (escaped, as in the key). */
  path: string;
  values: string[];
  /** Data object keys, in key order. */
  keys: string[];
}

/** Groups data object keys by lake partition; keys that are not data objects of the layout are ignored. */
export function groupByPartition(
  keys: Iterable<string>,
  root: string,
  partitionBy: readonly string[],
): Map<string, LakePartition> {
  const out = new Map<string, LakePartition>();
  for (const key of keys) {
    const parsed = parseDataObjectKey(key, root, partitionBy);
    if (!parsed) continue;
    let p = out.get(parsed.partitionPath);
    if (!p) out.set(parsed.partitionPath, (p = { path: parsed.partitionPath, values: parsed.values, keys: [] }));
    p.keys.push(key);
  }
  for (const p of out.values()) p.keys = [...new Set(p.keys)].sort();
  return out;
}

/** Values of a partition path such as `symbol=HSI/year=1987`, or undefined if it does not fit the layout. */
export function parsePartitionPath(path: string, partitionBy: readonly string[]): string[] | undefined {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  return parseDataObjectKey(`r/${trimmed}/x.json`, 'r/', partitionBy)?.values;
}

/**
 * Which objects to read for schema inference: all of them (in an incremental crawl, all the new ones)
 * up to `max`; beyond that, the oldest and the newest object of each partition (in a partition fed by
 * one Kafka partition, its first and its last flush), then only the newest.
 */
export function pickSamples(partitions: Iterable<LakePartition>, max: number): string[] {
  const list = [...partitions];
  const total = list.reduce((n, p) => n + p.keys.length, 0);
  if (total <= max) return list.flatMap((p) => p.keys);
  const ends = list.flatMap((p) => (p.keys.length <= 1 ? p.keys : [p.keys[0], p.keys[p.keys.length - 1]]));
  if (ends.length <= max) return ends;
  const newest = list.map((p) => p.keys[p.keys.length - 1]);
  const oldest = list.filter((p) => p.keys.length > 1).map((p) => p.keys[0]);
  return [...newest, ...oldest].slice(0, max);
}

/** At most `max` lines, spread evenly over the object (a flush's later records can differ). */
export function sampleLines<T>(lines: readonly T[], max: number): T[] {
  if (lines.length <= max) return [...lines];
  const step = lines.length / max;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(lines[Math.floor(i * step)]);
  return out;
}
