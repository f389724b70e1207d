/**
 * The crawler: keeps the Glue table and its partitions in step with the lake. The activities validate
 * their input, heartbeat, and map failures no retry can fix to non-retryable ones; the work itself is
 * in src/catalog/ (crawl.ts: the crawl's named steps).
 *
 * - `crawlLake`: ticklake's own crawler. Incremental from the sink's flush manifests (see
 *   src/catalog/crawl-plan.ts); a full scan of the table folder when the table or the crawl state is
 *   missing (an emptied catalog is rebuilt from the lake alone) or when asked.
 * - `registerPartitions`: registers partitions the sink has just written to (its notices), with the
 *   table's current columns; the schema follows with the next crawl.
 * - `runManagedCrawler`: managed mode, an AWS Glue crawler does the scan.
 */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import {
  CreateCrawlerCommand,
  CrawlerRunningException,
  DeleteCrawlerCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  GlueServiceException,
  ListCrawlsCommand,
  StartCrawlerCommand,
  UpdateCrawlerCommand,
  type Crawler,
  type GlueClient,
} from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import { PARTITION_COLUMNS, tableRoot } from '../src/lake-layout';
import { s3Url, tableColumns } from '../src/catalog/glue-table';
import { ensureDatabase, getTable } from '../src/catalog/glue-catalog';
import {
  crawlTable,
  isPermanentCrawlError,
  registerPartitionPaths,
  requireBucket,
  type CrawlObserver,
} from '../src/catalog/crawl';
import { emptyCrawlResult } from '../src/catalog/crawl-result';
import { crawlOutcome, crawlerDefinition, crawlerDifferences } from '../src/catalog/managed-crawler';
import { INVALID_CRAWL_INPUT, MANAGED_CRAWL_FAILED } from '../src/errors/crawl';
import type {
  CrawlInput,
  CrawlResult,
  ManagedCrawlOutcome,
  RegisterPartitionsInput,
  RegisterPartitionsResult,
} from './types';

export interface CrawlDeps {
  s3: S3Client;
  glue: GlueClient;
}

const PARTITION_COLUMN_SET: ReadonlySet<string> = new Set(PARTITION_COLUMNS);

function validate(input: CrawlInput): void {
  const problems: string[] = [];
  if (!input.bucket) problems.push('bucket is empty');
  if (!input.database || !/^[a-z0-9_]+$/.test(input.database))
    problems.push(`database '${input.database}' must be lowercase letters, digits and _`);
  if (!input.table || !/^[a-z0-9_]+$/.test(input.table))
    problems.push(`table '${input.table}' must be lowercase letters, digits and _`);
  if (!Array.isArray(input.partitionBy) || input.partitionBy.length === 0)
    problems.push('partitionBy must name at least one column');
  for (const p of input.partitionBy ?? [])
    if (!PARTITION_COLUMN_SET.has(p))
      problems.push(`partition column '${p}' is not one of ${PARTITION_COLUMNS.join(', ')}`);
  if (
    input.partitionBy?.includes('symbol_bucket') &&
    !(Number.isSafeInteger(input.symbolBuckets) && input.symbolBuckets! > 0)
  )
    problems.push('the symbol_bucket partition needs symbolBuckets, a positive whole number (LAKE_SYMBOL_BUCKETS)');
  if (input.prefix && !input.prefix.endsWith('/')) problems.push(`prefix '${input.prefix}' must end with '/'`);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`invalid crawl input: ${problems.join('; ')}`, INVALID_CRAWL_INPUT);
  }
}

/** Failures no retry can fix (missing bucket, denied access, another layout, a lake not JSON lines) stop the crawl. */
async function mapFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isPermanentCrawlError(err)) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

/** Progress goes to heartbeats (which also deliver cancellation), log lines to the activity's logger. */
function activityObserver(): CrawlObserver {
  const ctx = Context.current();
  return {
    progress: (details) => ctx.heartbeat(details),
    info: (message, context) => {
      log.info(message, context);
    },
  };
}

export function createCrawlActivities(deps: CrawlDeps) {
  const { s3, glue } = deps;

  return {
    /**
     * ticklake's own crawler: incremental from the sink's flush manifests, a full scan of the table
     * folder when the table or its crawl state is missing or when asked (src/catalog/crawl.ts).
     */
    async crawlLake(input: CrawlInput): Promise<CrawlResult> {
      validate(input);
      return mapFailures(() => crawlTable({ s3, glue }, input, activityObserver()));
    },

    /** Registers the partitions named by the sink's notices, with the table's current columns. */
    async registerPartitions(input: RegisterPartitionsInput): Promise<RegisterPartitionsResult> {
      validate(input.crawl);
      return registerPartitionPaths(glue, input, activityObserver());
    },

    async runManagedCrawler(input: CrawlInput): Promise<CrawlResult> {
      const started = Date.now();
      validate(input);
      const spec = input.managedCrawler;
      if (!spec?.name || !spec.role) {
        throw ApplicationFailure.nonRetryable(
          'managed crawl needs a crawler name and role: set GLUE_CRAWLER_ROLE (and optionally GLUE_CRAWLER_NAME) with CRAWLER_MODE=managed',
          INVALID_CRAWL_INPUT,
        );
      }
      const ctx = Context.current();
      await mapFailures(() => requireBucket(s3, input.bucket));
      await ensureDatabase(glue, input.database);
      const path = s3Url(input.bucket, tableRoot(input.prefix, input.table));
      const wanted = crawlerDefinition({ name: spec.name, role: spec.role, database: input.database, path });

      let crawler: Crawler | undefined;
      try {
        crawler = (await glue.send(new GetCrawlerCommand({ Name: spec.name }))).Crawler;
      } catch (err) {
        if (!(err instanceof EntityNotFoundException)) throw err;
      }
      const outcome: ManagedCrawlOutcome = {
        crawlerName: spec.name,
        created: false,
        updated: [],
        outcome: 'succeeded',
        state: '',
        observedStates: [],
      };
      if (!crawler) {
        await glue.send(new CreateCrawlerCommand(wanted));
        outcome.created = true;
      } else {
        outcome.updated = crawlerDifferences(crawler, wanted);
        if (outcome.updated.length > 0) await updateCrawler(glue, crawler, wanted);
      }

      // Start it; a run already under way (another worker, the console) is waited for instead.
      const before = new Date(Date.now() - 1000);
      try {
        await glue.send(new StartCrawlerCommand({ Name: spec.name }));
      } catch (err) {
        if (!(err instanceof CrawlerRunningException)) throw err;
        log.info('managed crawler already running: waiting for that run', { crawler: spec.name });
      }
      const pollMs = spec.pollMs ?? 15_000;
      const getState = async () => (await glue.send(new GetCrawlerCommand({ Name: spec.name }))).Crawler;
      const seen = (state: string | undefined) => {
        if (state && outcome.observedStates[outcome.observedStates.length - 1] !== state)
          outcome.observedStates.push(state);
      };
      for (;;) {
        seen((await getState())?.State);
        const crawls =
          (await glue.send(new ListCrawlsCommand({ CrawlerName: spec.name, MaxResults: 10 }))).Crawls ?? [];
        const latest = [...crawls].sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0))[0];
        const finished =
          latest && latest.StartTime && latest.StartTime >= before && crawlOutcome(latest.State) !== 'running';
        ctx.heartbeat({ phase: 'waiting', crawler: spec.name, state: latest?.State });
        if (finished) {
          // The run is over; the crawler turns READY once it has written its results.
          const current = await getState();
          seen(current?.State);
          if (current?.State === 'READY') {
            outcome.outcome = crawlOutcome(latest.State) as ManagedCrawlOutcome['outcome'];
            outcome.state = latest.State ?? '';
            outcome.crawlId = latest.CrawlId;
            outcome.errorMessage = latest.ErrorMessage ?? current.LastCrawl?.ErrorMessage;
            outcome.startedAt = latest.StartTime?.toISOString();
            outcome.endedAt = latest.EndTime?.toISOString();
            break;
          }
        }
        await ctx.sleep(pollMs); // rejects when the activity is cancelled
      }
      if (outcome.outcome === 'failed') {
        throw ApplicationFailure.nonRetryable(
          `Glue crawler '${spec.name}' failed: ${outcome.errorMessage ?? 'no message'}; see its CloudWatch log /aws-glue/crawlers`,
          MANAGED_CRAWL_FAILED,
          outcome,
        );
      }
      const table = await getTable(glue, input.database, input.table);
      const result = emptyCrawlResult(input, 'managed');
      result.managed = outcome;
      result.columns = tableColumns(table?.StorageDescriptor);
      result.durationMs = Date.now() - started;
      log.info('managed crawl done', { crawler: spec.name, outcome: outcome.outcome, state: outcome.state });
      return result;
    },
  };
}

/**
 * UpdateCrawler with the wanted definition. A local Glue emulator that does not implement
 * UpdateCrawler answers with something that is not a Glue error: there the crawler is recreated.
 */
async function updateCrawler(
  glue: GlueClient,
  existing: Crawler,
  wanted: ReturnType<typeof crawlerDefinition>,
): Promise<void> {
  try {
    await glue.send(new UpdateCrawlerCommand(wanted));
  } catch (err) {
    if (err instanceof GlueServiceException || existing.State !== 'READY') throw err;
    log.warn('UpdateCrawler is not supported by this Glue endpoint: recreating the crawler', { crawler: wanted.Name });
    await glue.send(new DeleteCrawlerCommand({ Name: wanted.Name }));
    await glue.send(new CreateCrawlerCommand(wanted));
  }
}
