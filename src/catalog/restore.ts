/**
 * Rebuilding the local Glue catalog from the lake. moto, the local Glue API, keeps the catalog in memory:
 * after the services restart it is empty, while the lake (S3, on disk) still holds every object, the
 * sink's manifests and the crawler's state. Every table the crawler has written a state for is "known";
 * a known table that Glue no longer has is created again by a full crawl of the lake (the crawl
 * activity's own steps, src/catalog/crawl.ts, run in this process), so the first query after a restart
 * answers.
 *
 * What is rebuilt: the database, the table with the schema the lake's records give, every partition.
 * What is not: Glue's table versions and the history of schema drift that older crawls recorded (the
 * lake's records carry no history; the crawl reports drift again only from here on).
 */
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { CrawlInput, CrawlResult } from '../../activities/types';
import { createAwsClients } from '../adapters/aws';
import { bucketExists, getJson } from '../adapters/s3';
import type { TicklakeConfig } from '../config';
import { crawlTable } from './crawl';
import { crawlStatePrefix } from './crawl-plan';
import { getTable } from './glue-catalog';
import { layoutRecordKey, type LayoutRecord, type TableLayout } from './layout-record';

export interface KnownTable {
  database: string;
  table: string;
}

/** The tables the crawler has a state for in this lake. */
export async function knownTables(s3: S3Client, bucket: string, prefix: string): Promise<KnownTable[]> {
  if (!(await bucketExists(s3, bucket))) return [];
  const out: KnownTable[] = [];
  for await (const page of paginateListObjectsV2(
    { client: s3 },
    { Bucket: bucket, Prefix: crawlStatePrefix(prefix) },
  )) {
    for (const o of page.Contents ?? []) {
      if (!o.Key?.endsWith('.json')) continue;
      const state = await getJson<{ database?: unknown; table?: unknown }>(s3, bucket, o.Key).catch(() => undefined);
      if (typeof state?.database === 'string' && typeof state.table === 'string') {
        out.push({ database: state.database, table: state.table });
      }
    }
  }
  return out;
}

export interface RestoredTable extends KnownTable {
  partitions: number;
  durationMs: number;
}

/**
 * Creates again, by a full crawl, every known table of the configured lake that the Glue catalog does
 * not have. Only for the local profile (on AWS the catalog is durable; a table deleted there stays
 * deleted). Returns the tables it rebuilt.
 */
export async function restoreCatalog(
  config: TicklakeConfig,
  opts: { onProgress?: (message: string) => void; clients?: { s3: S3Client; glue: GlueClient } } = {},
): Promise<RestoredTable[]> {
  if (config.profile !== 'local') return [];
  const { s3, glue } = opts.clients ?? createAwsClients(config.aws);
  const missing: KnownTable[] = [];
  for (const t of await knownTables(s3, config.lake.bucket, config.lake.prefix)) {
    if (!(await getTable(glue, t.database, t.table).catch(() => undefined))) missing.push(t);
  }
  if (missing.length === 0) return [];
  const restored: RestoredTable[] = [];
  for (const t of missing) {
    opts.onProgress?.(`table ${t.database}.${t.table} is missing from the catalog: rebuilding it from the lake`);
    const started = Date.now();
    // The layout the table was written in (its record in the lake), else the configured one.
    const layout: TableLayout = (await getJson<LayoutRecord>(
      s3,
      config.lake.bucket,
      layoutRecordKey(config.lake.prefix, t.table),
    ).catch(() => undefined)) ?? { partitionBy: config.lake.partitionBy, symbolBuckets: config.lake.symbolBuckets };
    const input: CrawlInput = {
      bucket: config.lake.bucket,
      prefix: config.lake.prefix,
      database: t.database,
      table: t.table,
      partitionBy: layout.partitionBy,
      ...(layout.partitionBy.includes('symbol_bucket')
        ? { symbolBuckets: layout.symbolBuckets ?? config.lake.symbolBuckets }
        : {}),
      full: true,
    };
    const r: CrawlResult = await crawlTable({ s3, glue }, input);
    const done = { ...t, partitions: r.partitionsAdded, durationMs: Date.now() - started };
    opts.onProgress?.(
      `table ${t.database}.${t.table} rebuilt: ${done.partitions} partitions in ${(done.durationMs / 1000).toFixed(1)} s`,
    );
    restored.push(done);
  }
  return restored;
}
