/**
 * Managed mode: the definition of the AWS Glue crawler that scans the table's S3 path instead of
 * ticklake's own crawler, and how its outcome reads. Pure.
 *
 * RecrawlPolicy CRAWL_NEW_FOLDERS_ONLY makes every run after the first look only at folders (lake
 * partitions) added since the previous run; Glue then requires the schema change policy to be LOG
 * for both updates and deletions. Partitions inherit the table's schema, and compatible schemas of
 * the partition folders are combined into one table named after the table folder.
 */
import type { Crawler, CreateCrawlerRequest } from '@aws-sdk/client-glue';

export const CRAWLER_CONFIGURATION = JSON.stringify({
  Version: 1.0,
  CrawlerOutput: { Partitions: { AddOrUpdateBehavior: 'InheritFromTable' } },
  Grouping: { TableGroupingPolicy: 'CombineCompatibleSchemas' },
});

export function crawlerDefinition(args: {
  name: string;
  role: string;
  database: string;
  /** s3://bucket/prefix/table/ */
  path: string;
}): CreateCrawlerRequest {
  return {
    Name: args.name,
    Role: args.role,
    DatabaseName: args.database,
    Description: `ticklake: catalogs ${args.path} into ${args.database}`,
    Targets: { S3Targets: [{ Path: args.path }] },
    RecrawlPolicy: { RecrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
    SchemaChangePolicy: { UpdateBehavior: 'LOG', DeleteBehavior: 'LOG' },
    Configuration: CRAWLER_CONFIGURATION,
  };
}

function normalisedConfiguration(text: string | undefined): string {
  try {
    return JSON.stringify(JSON.parse(text ?? '{}'));
  } catch {
    return text ?? '';
  }
}

/** Which fields of an existing crawler differ from the wanted definition (empty: nothing to update). */
export function crawlerDifferences(existing: Crawler, wanted: CreateCrawlerRequest): string[] {
  const diffs: string[] = [];
  if (existing.Role !== wanted.Role) diffs.push('Role');
  if (existing.DatabaseName !== wanted.DatabaseName) diffs.push('DatabaseName');
  const paths = (existing.Targets?.S3Targets ?? []).map((t) => t.Path);
  const wantedPaths = (wanted.Targets?.S3Targets ?? []).map((t) => t.Path);
  if (JSON.stringify(paths) !== JSON.stringify(wantedPaths)) diffs.push('Targets');
  if (existing.RecrawlPolicy?.RecrawlBehavior !== wanted.RecrawlPolicy?.RecrawlBehavior) diffs.push('RecrawlPolicy');
  if (
    existing.SchemaChangePolicy?.UpdateBehavior !== wanted.SchemaChangePolicy?.UpdateBehavior ||
    existing.SchemaChangePolicy?.DeleteBehavior !== wanted.SchemaChangePolicy?.DeleteBehavior
  ) {
    diffs.push('SchemaChangePolicy');
  }
  if (normalisedConfiguration(existing.Configuration) !== normalisedConfiguration(wanted.Configuration))
    diffs.push('Configuration');
  return diffs;
}

export type CrawlOutcome = 'succeeded' | 'failed' | 'cancelled' | 'running';

/**
 * The outcome of one crawl: ListCrawls reports RUNNING, COMPLETED, STOPPED or FAILED; a crawler's
 * LastCrawl reports SUCCEEDED, CANCELLED or FAILED.
 */
export function crawlOutcome(state: string | undefined): CrawlOutcome {
  switch (state) {
    case 'COMPLETED':
    case 'SUCCEEDED':
      return 'succeeded';
    case 'FAILED':
    case 'ERROR':
      return 'failed';
    case 'STOPPED':
    case 'CANCELLED':
    case 'CANCELLING':
      return 'cancelled';
    default:
      return 'running';
  }
}
