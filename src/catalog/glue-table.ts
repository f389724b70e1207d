/** The Glue table definition for the JSON lake: what Athena and the local engine read. Pure. */
import type { PartitionInput, StorageDescriptor, TableInput } from '@aws-sdk/client-glue';
import type { Column } from './schema';

export const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
export const INPUT_FORMAT = 'org.apache.hadoop.mapred.TextInputFormat';
export const OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

/**
 * Timestamp formats the OpenX JSON SerDe tries, in order. The lake writes ISO-8601 in UTC with
 * milliseconds (`2024-01-02T03:04:05.678Z`, JavaScript's toISOString); the others cover hand-written
 * data. Athena's engine (Trino) reads these as java.time DateTimeFormatter patterns, Hive as Joda
 * patterns: every pattern here uses only letters that mean the same in both, and the zone of the
 * lake's values is the literal `'Z'` (UTC), as in Athena's own examples. A Joda-only offset pattern
 * (`ZZ`) parses no `Z` in java.time, and Athena then falls back on its built-in formats.
 * test/unit/catalog-timestamp-formats.test.ts parses the lake's values with java.time itself.
 */
export const TIMESTAMP_FORMATS = [
  "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
  "yyyy-MM-dd'T'HH:mm:ss'Z'",
  'yyyy-MM-dd HH:mm:ss.SSS',
  'yyyy-MM-dd HH:mm:ss',
].join(',');

/** Table parameters the crawler owns. */
export const PARAM_DRIFT = 'ticklake.drift';
export const PARAM_SCHEMA_CHANGED_AT = 'ticklake.schema_changed_at';
/** Buckets of the `symbol_bucket` partition key: the query engines derive a symbol's bucket from it. */
export const PARAM_SYMBOL_BUCKETS = 'ticklake.symbol_buckets';

export function storageDescriptor(
  location: string,
  columns: readonly Column[],
  mappings: Record<string, string> = {},
): StorageDescriptor {
  return {
    Columns: columns.map((c) => ({ Name: c.name, Type: c.type })),
    Location: location,
    InputFormat: INPUT_FORMAT,
    OutputFormat: OUTPUT_FORMAT,
    Compressed: false,
    SerdeInfo: {
      SerializationLibrary: JSON_SERDE,
      Parameters: {
        // A torn or foreign line must not fail a whole query.
        'ignore.malformed.json': 'true',
        'timestamp.formats': TIMESTAMP_FORMATS,
        // JSON keys that are not the column name (e.g. `adjClose` for adj_close).
        ...Object.fromEntries(Object.entries(mappings).map(([column, field]) => [`mapping.${column}`, field])),
      },
    },
  };
}

export function tableInput(args: {
  table: string;
  location: string;
  columns: readonly Column[];
  partitionBy: readonly string[];
  /** Buckets of the `symbol_bucket` partition key, recorded for the query engines' pruning. */
  symbolBuckets?: number;
  mappings?: Record<string, string>;
  parameters?: Record<string, string>;
}): TableInput {
  return {
    Name: args.table,
    TableType: 'EXTERNAL_TABLE',
    Parameters: {
      ...args.parameters,
      ...(args.partitionBy.includes('symbol_bucket') && args.symbolBuckets !== undefined
        ? { [PARAM_SYMBOL_BUCKETS]: String(args.symbolBuckets) }
        : {}),
      classification: 'json',
      EXTERNAL: 'TRUE',
      typeOfData: 'file',
    },
    PartitionKeys: args.partitionBy.map((name) => ({ Name: name, Type: 'string' })),
    StorageDescriptor: storageDescriptor(args.location, args.columns, args.mappings),
  };
}

export function partitionInput(args: {
  values: string[];
  location: string;
  columns: readonly Column[];
  mappings?: Record<string, string>;
}): PartitionInput {
  return { Values: args.values, StorageDescriptor: storageDescriptor(args.location, args.columns, args.mappings) };
}

/** Column names and types as the table holds them. */
export function tableColumns(sd: StorageDescriptor | undefined): Column[] {
  return (sd?.Columns ?? []).map((c) => ({ name: c.Name!, type: c.Type ?? 'string' }));
}

/** `mapping.<column>` SerDe parameters of a table, back as { column: field }. */
export function tableMappings(sd: StorageDescriptor | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sd?.SerdeInfo?.Parameters ?? {})) {
    if (k.startsWith('mapping.')) out[k.slice('mapping.'.length)] = v;
  }
  return out;
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Drift entries kept in the table parameter: known ones keep their place, new ones are appended, the
 * oldest are dropped beyond `max`. Seeing a known drift again changes nothing (no new table version).
 */
export function mergeDrift(existing: string | undefined, fresh: readonly string[], max = 50): string[] {
  let old: string[] = [];
  try {
    const parsed: unknown = existing ? JSON.parse(existing) : [];
    if (Array.isArray(parsed)) old = parsed.filter((x): x is string => typeof x === 'string');
  } catch {
    old = [];
  }
  const merged = [...old, ...fresh.filter((d, i) => !old.includes(d) && fresh.indexOf(d) === i)];
  return merged.slice(Math.max(0, merged.length - max));
}
