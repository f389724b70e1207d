/** The crawler: keeps the Glue table and its partitions in step with the lake. */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import {
  BatchCreatePartitionCommand,
  CreateDatabaseCommand,
  CreateTableCommand,
  EntityNotFoundException,
  GetDatabaseCommand,
  GetTableCommand,
  UpdateTableCommand,
  paginateGetPartitions,
  type GlueClient,
  type Table,
} from '@aws-sdk/client-glue';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { bucketExists, getObjectBytes } from '../src/adapters/s3';
import { parseDataObjectKey, tableRoot } from '../src/lake-layout';
import { inferSchema, type Column } from '../src/catalog/schema';
import { s3Url, storageDescriptor, tableInput } from '../src/catalog/glue-table';
import { decodeLines } from '../src/sink/format';
import type { CrawlInput, CrawlResult } from './types';

export interface CrawlDeps {
  s3: S3Client;
  glue: GlueClient;
}

const SAMPLE_LINES = 200;

async function ensureDatabase(glue: GlueClient, database: string): Promise<void> {
  try {
    await glue.send(new GetDatabaseCommand({ Name: database }));
  } catch (err) {
    if (!(err instanceof EntityNotFoundException)) throw err;
    await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database, Description: 'ticklake market data lake' } }));
  }
}

async function getTable(glue: GlueClient, database: string, table: string): Promise<Table | undefined> {
  try {
    return (await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }))).Table;
  } catch (err) {
    if (err instanceof EntityNotFoundException) return undefined;
    throw err;
  }
}

export function createCrawlActivities(deps: CrawlDeps) {
  return {
    async crawlLake(input: CrawlInput): Promise<CrawlResult> {
      const ctx = Context.current();
      if (!(await bucketExists(deps.s3, input.bucket))) {
        throw ApplicationFailure.nonRetryable(
          `bucket '${input.bucket}' does not exist; create it or set LAKE_BUCKET`,
          'MissingBucket',
        );
      }
      const root = tableRoot(input.prefix, input.table);
      const objectsByPartition = new Map<string, { values: string[]; keys: string[] }>();
      for await (const page of paginateListObjectsV2({ client: deps.s3 }, { Bucket: input.bucket, Prefix: root })) {
        for (const o of page.Contents ?? []) {
          const parsed = parseDataObjectKey(o.Key!, root, input.partitionBy);
          if (!parsed) continue;
          let entry = objectsByPartition.get(parsed.partitionPath);
          if (!entry) objectsByPartition.set(parsed.partitionPath, (entry = { values: parsed.values, keys: [] }));
          entry.keys.push(o.Key!);
        }
        ctx.heartbeat({ listed: objectsByPartition.size });
      }

      await ensureDatabase(deps.glue, input.database);
      const table = await getTable(deps.glue, input.database, input.table);
      const registered = new Set<string>();
      if (table) {
        for await (const page of paginateGetPartitions({ client: deps.glue }, { DatabaseName: input.database, TableName: input.table })) {
          for (const p of page.Partitions ?? []) registered.add((p.Values ?? []).join('\u0000'));
        }
      }
      const fresh = [...objectsByPartition.entries()].filter(([, e]) => !registered.has(e.values.join('\u0000')));

      // Sample one object of each new partition.
      const samples: Record<string, unknown>[] = [];
      let objectsRead = 0;
      for (const [, entry] of fresh) {
        const key = entry.keys[0];
        const body = await getObjectBytes(deps.s3, input.bucket, key);
        if (!body) continue;
        objectsRead++;
        for (const line of decodeLines(body, key).slice(0, SAMPLE_LINES)) {
          try {
            const v: unknown = JSON.parse(line);
            if (v && typeof v === 'object' && !Array.isArray(v)) samples.push(v as Record<string, unknown>);
          } catch {
            // Lines that are not JSON cannot come from the sink; they are left to the SerDe to skip.
          }
        }
        ctx.heartbeat({ sampled: objectsRead });
      }

      const existing: Column[] = (table?.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name!, type: c.Type! }));
      const schema = inferSchema(samples, existing, input.partitionBy);
      const location = s3Url(input.bucket, root);
      const changed =
        !table ||
        schema.columns.length !== existing.length ||
        schema.columns.some((c, i) => existing[i]?.type !== c.type || existing[i]?.name !== c.name);
      if (!table) {
        if (schema.columns.length === 0) {
          return {
            database: input.database,
            table: input.table,
            tableCreated: false,
            columns: [],
            partitionsFound: 0,
            partitionsAdded: 0,
            objectsRead,
            drift: [],
          };
        }
        await deps.glue.send(
          new CreateTableCommand({
            DatabaseName: input.database,
            TableInput: tableInput({ table: input.table, location, columns: schema.columns, partitionBy: input.partitionBy }),
          }),
        );
      } else if (changed || schema.drift.length > 0) {
        const params = { ...(table.Parameters ?? {}) };
        if (schema.drift.length > 0) params['ticklake.drift'] = JSON.stringify(schema.drift);
        await deps.glue.send(
          new UpdateTableCommand({
            DatabaseName: input.database,
            TableInput: tableInput({
              table: input.table,
              location,
              columns: schema.columns,
              partitionBy: input.partitionBy,
              parameters: params,
            }),
          }),
        );
      }

      for (let i = 0; i < fresh.length; i += 100) {
        const chunk = fresh.slice(i, i + 100);
        const out = await deps.glue.send(
          new BatchCreatePartitionCommand({
            DatabaseName: input.database,
            TableName: input.table,
            PartitionInputList: chunk.map(([path, e]) => ({
              Values: e.values,
              StorageDescriptor: storageDescriptor(s3Url(input.bucket, `${root}${path}/`), schema.columns),
            })),
          }),
        );
        const errors = (out.Errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException');
        if (errors.length > 0) throw new Error(`BatchCreatePartition failed for ${errors.length} partitions: ${errors[0].ErrorDetail?.ErrorMessage}`);
        ctx.heartbeat({ registered: i + chunk.length });
      }
      log.info('crawl done', { partitionsAdded: fresh.length, objectsRead });
      return {
        database: input.database,
        table: input.table,
        tableCreated: !table,
        columns: schema.columns,
        partitionsFound: objectsByPartition.size,
        partitionsAdded: fresh.length,
        objectsRead,
        drift: schema.drift,
      };
    },
  };
}
