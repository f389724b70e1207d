/** The crawler's writes to the Glue Data Catalog. Thin Glue I/O; batch calls respect Glue's limits. */
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  BatchUpdatePartitionCommand,
  CreateDatabaseCommand,
  EntityNotFoundException,
  GetTableCommand,
  paginateGetPartitions,
  type GlueClient,
  type PartitionInput,
  type Table,
} from '@aws-sdk/client-glue';

/** BatchCreatePartition and BatchUpdatePartition take at most 100 entries per call. */
export const PARTITION_BATCH = 100;

export async function ensureDatabase(glue: GlueClient, database: string): Promise<boolean> {
  try {
    await glue.send(
      new CreateDatabaseCommand({ DatabaseInput: { Name: database, Description: 'ticklake market data lake' } }),
    );
    return true;
  } catch (err) {
    if (err instanceof AlreadyExistsException) return false;
    throw err;
  }
}

/** The table, or undefined when it (or its database) does not exist. */
export async function getTable(glue: GlueClient, database: string, table: string): Promise<Table | undefined> {
  try {
    return (await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }))).Table;
  } catch (err) {
    if (err instanceof EntityNotFoundException) return undefined;
    throw err;
  }
}

export function partitionId(values: readonly string[]): string {
  return values.join('\u0000');
}

/** Every registered partition's values, as partitionId strings. */
export async function registeredPartitions(glue: GlueClient, database: string, table: string): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const page of paginateGetPartitions(
    { client: glue },
    { DatabaseName: database, TableName: table, ExcludeColumnSchema: true },
  )) {
    for (const p of page.Partitions ?? []) out.add(partitionId(p.Values ?? []));
  }
  return out;
}

/**
 * Registers partitions, 100 per call. Partitions that exist already are counted, not failed: a
 * notice and a crawl, or two crawls, may register the same one.
 */
export async function createPartitions(
  glue: GlueClient,
  database: string,
  table: string,
  inputs: readonly PartitionInput[],
  onBatch?: (done: number) => void,
): Promise<{ created: number; existing: number }> {
  let created = 0;
  let existing = 0;
  for (let i = 0; i < inputs.length; i += PARTITION_BATCH) {
    const chunk = inputs.slice(i, i + PARTITION_BATCH);
    const out = await glue.send(
      new BatchCreatePartitionCommand({ DatabaseName: database, TableName: table, PartitionInputList: chunk }),
    );
    const errors = out.Errors ?? [];
    const already = errors.filter((e) => e.ErrorDetail?.ErrorCode === 'AlreadyExistsException').length;
    const failed = errors.filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException');
    if (failed.length > 0) {
      const first = failed[0];
      throw new Error(
        `BatchCreatePartition on ${database}.${table} failed for ${failed.length} partitions, first ${JSON.stringify(first.PartitionValues)}: ` +
          `${first.ErrorDetail?.ErrorCode}: ${first.ErrorDetail?.ErrorMessage}`,
      );
    }
    existing += already;
    created += chunk.length - already;
    onBatch?.(i + chunk.length);
  }
  return { created, existing };
}

/**
 * Rewrites the storage descriptor of every registered partition (after a column type was widened:
 * Athena rejects partitions whose column types disagree with the table's). 100 per call.
 */
export async function updateAllPartitions(
  glue: GlueClient,
  database: string,
  table: string,
  inputFor: (values: string[]) => PartitionInput,
): Promise<number> {
  const values: string[][] = [];
  for await (const page of paginateGetPartitions(
    { client: glue },
    { DatabaseName: database, TableName: table, ExcludeColumnSchema: true },
  )) {
    for (const p of page.Partitions ?? []) values.push(p.Values ?? []);
  }
  for (let i = 0; i < values.length; i += PARTITION_BATCH) {
    const chunk = values.slice(i, i + PARTITION_BATCH);
    const out = await glue.send(
      new BatchUpdatePartitionCommand({
        DatabaseName: database,
        TableName: table,
        Entries: chunk.map((v) => ({ PartitionValueList: v, PartitionInput: inputFor(v) })),
      }),
    );
    const failed = out.Errors ?? [];
    if (failed.length > 0) {
      throw new Error(
        `BatchUpdatePartition on ${database}.${table} failed for ${failed.length} partitions: ${failed[0].ErrorDetail?.ErrorMessage}`,
      );
    }
  }
  return values.length;
}
