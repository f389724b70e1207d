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

/** Error types a crawl never retries: defined with the crawl's other failure types. */
export { CRAWL_NON_RETRYABLE } from '../errors/crawl';

export interface CrawlState {
  version: 1;
  database: string;
  table: string;
  /** CreateTime (ISO-8601) of the Glue table these watermarks belong to. */
  tableCreatedAt: string;
  /** Manifest folder below the sink root (`<group>/<topic>/<partition>/`) → last manifest key catalogued. */
  watermarks: Record<string, string>;
  /**
   * Partition paths (`symbol=HSI/year=1987`) known to be registered in this table, so an incremental
   * crawl sends Glue only the ones it has not seen; absent beyond MAX_KNOWN_PARTITIONS.
   */
  partitions?: string[];
  updatedAt: string;
}

/** Registered partitions the state remembers at most; beyond, every touched partition goes to Glue. */
export const MAX_KNOWN_PARTITIONS = 20_000;

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
  const partitions = Array.isArray(s.partitions)
    ? s.partitions.filter((p): p is string => typeof p === 'string')
    : undefined;
  return { ...(s as CrawlState), watermarks, partitions };
}

/** Folder-wise maximum: two crawls that overlap never move a watermark back. */
export function mergeWatermarks(a: Record<string, string>, b: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...a };
  for (const [folder, key] of Object.entries(b)) if (out[folder] === undefined || key > out[folder]) out[folder] = key;
  return out;
}

/** Union of two known-partition lists; undefined (unknown) when neither has one or when it grows too long. */
export function mergeKnown(a: readonly string[] | undefined, b: readonly string[] | undefined): string[] | undefined {
  if (a === undefined && b === undefined) return undefined;
  const all = [...new Set([...(a ?? []), ...(b ?? [])])].sort();
  return all.length > MAX_KNOWN_PARTITIONS ? undefined : all;
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
 * Which objects to read for schema inference, at most `max`: all of them if they fit; otherwise the
 * newest object of each partition (the latest shape, and fields only some partitions have), then the
 * oldest of each, then others. When even the newest ones do not fit, a random choice of partitions:
 * successive crawls cover different ones, so a field that only some partitions carry is found too.
 */
export function pickSamples(
  partitions: Iterable<LakePartition>,
  max: number,
  random: () => number = Math.random,
): string[] {
  const list = [...partitions];
  const total = list.reduce((n, p) => n + p.keys.length, 0);
  if (total <= max) return list.flatMap((p) => p.keys);
  const newest = shuffle(
    list.map((p) => p.keys[p.keys.length - 1]),
    random,
  );
  if (newest.length >= max) return newest.slice(0, max);
  const oldest = shuffle(
    list.filter((p) => p.keys.length > 1).map((p) => p.keys[0]),
    random,
  );
  const middle = shuffle(
    list.flatMap((p) => p.keys.slice(1, -1)),
    random,
  );
  return [...newest, ...oldest, ...middle].slice(0, max);
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** At most `max` lines, spread evenly over the object (a flush's later records can differ). */
export function sampleLines<T>(lines: readonly T[], max: number): T[] {
  if (lines.length <= max) return [...lines];
  const step = lines.length / max;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(lines[Math.floor(i * step)]);
  return out;
}
