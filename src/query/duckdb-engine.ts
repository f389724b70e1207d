/**
 * The local query engine: DuckDB embedded, over the Glue catalog's tables and the lake's objects.
 * DuckDB's npm build has no httpfs, so objects are read through the S3 API into a local cache keyed
 * by ETag; a repeated query downloads nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { GetTableCommand, paginateGetPartitions, type GlueClient, type Column as GlueColumn } from '@aws-sdk/client-glue';
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';

export interface ObjectCacheStats {
  downloaded: number;
  cached: number;
}

export function duckdbType(glueType: string): string {
  const t = glueType.toLowerCase();
  if (t === 'string' || t.startsWith('varchar') || t.startsWith('char')) return 'VARCHAR';
  if (t === 'bigint' || t === 'int' || t === 'integer' || t === 'smallint' || t === 'tinyint') return 'BIGINT';
  if (t === 'double' || t === 'float' || t.startsWith('decimal')) return 'DOUBLE';
  if (t === 'boolean') return 'BOOLEAN';
  if (t === 'date') return 'DATE';
  if (t === 'timestamp') return 'TIMESTAMPTZ';
  return 'JSON';
}

function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`not an s3:// location: ${url}`);
  return { bucket: m[1], key: m[2] };
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Downloads an object unless the cached copy has the same ETag. */
async function cachedObject(
  s3: S3Client,
  cacheDir: string,
  bucket: string,
  key: string,
  etag: string,
  stats: ObjectCacheStats,
): Promise<string> {
  const file = path.join(cacheDir, bucket, key);
  const tagFile = `${file}.etag`;
  try {
    if ((await fs.promises.readFile(tagFile, 'utf8')) === etag) {
      stats.cached++;
      return file;
    }
  } catch {
    // not cached yet
  }
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.promises.writeFile(tmp, await out.Body!.transformToByteArray());
  await fs.promises.rename(tmp, file);
  await fs.promises.writeFile(tagFile, etag);
  stats.downloaded++;
  return file;
}

export interface TableSource {
  columns: GlueColumn[];
  partitionKeys: GlueColumn[];
  /** Partition values and the s3:// location of each partition. */
  partitions: { values: string[]; location: string }[];
}

export async function readTableSource(glue: GlueClient, database: string, table: string): Promise<TableSource> {
  const t = (await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }))).Table!;
  const partitions: TableSource['partitions'] = [];
  for await (const page of paginateGetPartitions({ client: glue }, { DatabaseName: database, TableName: table })) {
    for (const p of page.Partitions ?? []) partitions.push({ values: p.Values ?? [], location: p.StorageDescriptor?.Location ?? '' });
  }
  return { columns: t.StorageDescriptor?.Columns ?? [], partitionKeys: t.PartitionKeys ?? [], partitions };
}

/** Builds a DuckDB view named after the Glue table over the cached objects of the chosen partitions. */
export async function createTableView(args: {
  connection: DuckDBConnection;
  s3: S3Client;
  cacheDir: string;
  name: string;
  source: TableSource;
  /** Keep only partitions for which this returns true (pruning); default all. */
  keep?: (values: string[]) => boolean;
  stats: ObjectCacheStats;
}): Promise<void> {
  const { source } = args;
  const files: { file: string; values: string[] }[] = [];
  for (const p of source.partitions) {
    if (args.keep && !args.keep(p.values)) continue;
    const { bucket, key } = parseS3Url(p.location);
    const prefix = key.endsWith('/') ? key : `${key}/`;
    for await (const page of paginateListObjectsV2({ client: args.s3 }, { Bucket: bucket, Prefix: prefix })) {
      for (const o of page.Contents ?? []) {
        if (!/\.json(\.gz)?$/.test(o.Key!)) continue;
        files.push({ file: await cachedObject(args.s3, args.cacheDir, bucket, o.Key!, o.ETag!, args.stats), values: p.values });
      }
    }
  }
  const dataCols = source.columns.map((c) => `${sqlString(c.Name!)}: ${sqlString(duckdbType(c.Type!))}`).join(', ');
  const partCols = source.partitionKeys.map((k) => sqlIdent(k.Name!));
  const view = sqlIdent(args.name);
  if (files.length === 0) {
    const nulls = [
      ...source.columns.map((c) => `NULL::${duckdbType(c.Type!)} AS ${sqlIdent(c.Name!)}`),
      ...partCols.map((c) => `NULL::VARCHAR AS ${c}`),
    ];
    await args.connection.run(`CREATE OR REPLACE VIEW ${view} AS SELECT ${nulls.join(', ') || '1 AS empty'} WHERE false`);
    return;
  }
  const list = files.map((f) => sqlString(f.file)).join(', ');
  const hiveTypes = source.partitionKeys.map((k) => `${sqlString(k.Name!)}: 'VARCHAR'`).join(', ');
  await args.connection.run(
    `CREATE OR REPLACE VIEW ${view} AS SELECT * FROM read_json([${list}], format = 'newline_delimited', ` +
      `columns = {${dataCols}}, hive_partitioning = true${hiveTypes ? `, hive_types = {${hiveTypes}}` : ''}, ` +
      `timestampformat = '%Y-%m-%dT%H:%M:%S.%gZ')`,
  );
}

export async function openDuckDB(): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  return instance.connect();
}
