/**
 * The crawler: keeps the Glue table and its partitions in step with the lake.
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
  AlreadyExistsException,
  CreateCrawlerCommand,
  CrawlerRunningException,
  CreateTableCommand,
  DeleteCrawlerCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  GlueServiceException,
  ListCrawlsCommand,
  StartCrawlerCommand,
  UpdateCrawlerCommand,
  UpdateTableCommand,
  type Crawler,
  type GlueClient,
  type Table,
} from '@aws-sdk/client-glue';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { bucketExists, getJson } from '../src/adapters/s3';
import { PARTITION_COLUMNS, partitionPath, tableRoot } from '../src/lake-layout';
import { checkTableLayout, LayoutMismatchError } from '../src/catalog/layout-record';
import { SchemaSampler, type Column } from '../src/catalog/schema';
import {
  PARAM_DRIFT,
  PARAM_SCHEMA_CHANGED_AT,
  mergeDrift,
  partitionInput,
  s3Url,
  tableColumns,
  tableInput,
  tableMappings,
} from '../src/catalog/glue-table';
import {
  advanceWatermark,
  crawlStateKey,
  groupByPartition,
  isManifestKey,
  mergeKnown,
  mergeWatermarks,
  parsePartitionPath,
  pickSamples,
  sinkManifestRoot,
  usableState,
  type CrawlState,
  type LakePartition,
} from '../src/catalog/crawl-plan';
import {
  LakeAccessError,
  listKeys,
  listManifestFolders,
  mapLimit,
  readManifest,
  readSample,
} from '../src/catalog/lake-scan';
import {
  createPartitions,
  ensureDatabase,
  getTable,
  partitionId,
  registeredPartitions,
  updateAllPartitions,
} from '../src/catalog/glue-catalog';
import { crawlOutcome, crawlerDefinition, crawlerDifferences } from '../src/catalog/managed-crawler';
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

/** Lines parsed per sampled object, spread over it: a flush's records share their shape. */
const SAMPLE_LINES = 100;
/** Objects read by a full scan at most (a rebuild is rare: read widely). */
const DEFAULT_MAX_SAMPLES = 2_000;
/** Objects read by an incremental crawl at most: a crawl's cost follows its requests. */
const DEFAULT_NEW_SAMPLES = 100;
/** Parallel GETs: a crawl is bound by request latency, not bandwidth (objects are small). */
const READ_CONCURRENCY = 48;
const MAX_REPORTED = 20;

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
    throw ApplicationFailure.nonRetryable(`invalid crawl input: ${problems.join('; ')}`, 'InvalidCrawlInput');
  }
}

function nonRetryable(err: unknown): never {
  if (err instanceof LakeAccessError) throw ApplicationFailure.nonRetryable(err.message, err.type);
  throw err;
}

/** The lake table must be in the configured layout (src/catalog/layout-record.ts). */
async function requireLayout(s3: S3Client, input: CrawlInput): Promise<void> {
  try {
    await checkTableLayout(s3, {
      bucket: input.bucket,
      prefix: input.prefix,
      table: input.table,
      layout: { partitionBy: input.partitionBy, symbolBuckets: input.symbolBuckets },
    });
  } catch (err) {
    if (err instanceof LayoutMismatchError) throw ApplicationFailure.nonRetryable(err.message, err.type);
    throw err;
  }
}

/** A Glue table left from another layout would misread every partition: refuse, saying what to do. */
function requireTableKeys(table: { PartitionKeys?: { Name?: string }[] } | undefined, input: CrawlInput): void {
  const keys = (table?.PartitionKeys ?? []).map((k) => k.Name);
  if (table && keys.join(',') !== input.partitionBy.join(',')) {
    throw ApplicationFailure.nonRetryable(
      `the Glue table ${input.database}.${input.table} has partition keys ${keys.join(',') || '(none)'}, but the lake ` +
        `is written in layout ${input.partitionBy.join(',')}; delete the table (a crawl rebuilds it from the lake: ` +
        `aws glue delete-table --database-name ${input.database} --name ${input.table}) or set LAKE_PARTITION_BY=${keys.join(',')}`,
      'LayoutMismatch',
    );
  }
}

async function requireBucket(s3: S3Client, bucket: string): Promise<void> {
  if (!(await bucketExists(s3, bucket))) {
    throw ApplicationFailure.nonRetryable(
      `bucket '${bucket}' does not exist; create it or set LAKE_BUCKET`,
      'MissingBucket',
    );
  }
}

function createdAt(table: Table | undefined): string | undefined {
  return table?.CreateTime ? new Date(table.CreateTime).toISOString() : undefined;
}

function emptyResult(input: CrawlInput, scan: CrawlResult['scan']): CrawlResult {
  return {
    database: input.database,
    table: input.table,
    scan,
    tableCreated: false,
    tableUpdated: false,
    columns: [],
    addedColumns: [],
    widenedColumns: [],
    partitionsFound: 0,
    partitionsAdded: 0,
    partitionsUpdated: 0,
    objectsFound: 0,
    objectsRead: 0,
    manifestsRead: 0,
    unreadableObjects: [],
    malformedLines: 0,
    drift: [],
    warnings: [],
    durationMs: 0,
    phaseMs: {},
  };
}

interface ManifestEntry {
  folder: string;
  key: string;
  /** Data objects of this table named by the manifest. */
  files: string[];
  readable: boolean;
}

export function createCrawlActivities(deps: CrawlDeps) {
  const { s3, glue } = deps;

  async function readState(input: CrawlInput): Promise<unknown> {
    try {
      return await getJson<unknown>(s3, input.bucket, crawlStateKey(input.prefix, input.database, input.table));
    } catch (err) {
      if (err instanceof SyntaxError) return undefined; // a torn or foreign state object: crawl from scratch
      throw err;
    }
  }

  async function writeState(
    input: CrawlInput,
    tableCreatedAt: string,
    watermarks: Record<string, string>,
    known: string[] | undefined,
  ): Promise<void> {
    // Two crawls may overlap (a scheduled one and a notified one): merge, never move a watermark back.
    const current = usableState(await readState(input), {
      database: input.database,
      table: input.table,
      tableCreatedAt,
    });
    const state: CrawlState = {
      version: 1,
      database: input.database,
      table: input.table,
      tableCreatedAt,
      watermarks: mergeWatermarks(current?.watermarks ?? {}, watermarks),
      partitions: mergeKnown(current?.partitions, known),
      updatedAt: new Date().toISOString(),
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: input.bucket,
        Key: crawlStateKey(input.prefix, input.database, input.table),
        Body: JSON.stringify(state),
        ContentType: 'application/json',
      }),
    );
  }

  return {
    async crawlLake(input: CrawlInput): Promise<CrawlResult> {
      const started = Date.now();
      validate(input);
      const ctx = Context.current();
      await requireBucket(s3, input.bucket);
      await requireLayout(s3, input);
      const root = tableRoot(input.prefix, input.table);
      const manifestRoot = sinkManifestRoot(input.prefix);
      const result = emptyResult(input, 'full');
      let lap = started;
      const mark = (phase: string) => {
        const now = Date.now();
        result.phaseMs[phase] = (result.phaseMs[phase] ?? 0) + now - lap;
        lap = now;
      };

      let table = await getTable(glue, input.database, input.table);
      requireTableKeys(table, input);
      const state =
        table && !input.full
          ? usableState(await readState(input), { ...input, tableCreatedAt: createdAt(table) })
          : undefined;
      const incremental = state !== undefined;
      result.scan = incremental ? 'incremental' : 'full';
      if (!incremental) {
        result.reason = !table
          ? 'table missing'
          : input.full
            ? 'full crawl requested'
            : 'no crawl state for this table';
      }
      ctx.heartbeat({ phase: 'listing', scan: result.scan });

      // ---- what is there: manifests (and, for a full scan, the whole table folder) ----------------
      // Manifests are listed before data objects: a manifest whose objects are not listed yet was
      // written just now, and the watermark stays before it.
      const folders = await listManifestFolders(s3, input.bucket, manifestRoot).catch(nonRetryable);
      const manifestKeys = new Map<string, string[]>();
      await mapLimit(folders, 8, async (folder) => {
        const rel = folder.slice(manifestRoot.length);
        const after = state?.watermarks[rel];
        const keys = (await listKeys(s3, input.bucket, folder, after).catch(nonRetryable)).filter(isManifestKey);
        manifestKeys.set(rel, keys);
      });

      let partitions: Map<string, LakePartition>;
      const newWatermarks: Record<string, string> = {};
      let entries: ManifestEntry[] = [];
      const missing = new Set<string>();

      const readManifests = async (list: { folder: string; key: string }[]): Promise<ManifestEntry[]> =>
        mapLimit(list, READ_CONCURRENCY, async ({ folder, key }) => {
          const read = await readManifest(s3, input.bucket, key).catch(nonRetryable);
          result.manifestsRead++;
          if (read.status !== 'ok') {
            if (read.status === 'unreadable') result.warnings.push(`manifest ${key} skipped: ${read.reason}`);
            return { folder, key, files: [], readable: read.status === 'unreadable' };
          }
          const files = read.manifest.files
            .map((f) => f.key)
            .filter((k) => typeof k === 'string' && k.startsWith(root));
          return { folder, key, files, readable: true };
        });

      if (incremental) {
        const list = [...manifestKeys].flatMap(([folder, keys]) => keys.map((key) => ({ folder, key })));
        entries = await readManifests(list);
        partitions = groupByPartition(
          entries.flatMap((e) => e.files),
          root,
          input.partitionBy,
        );
      } else {
        const keys = await listKeys(s3, input.bucket, root).catch(nonRetryable);
        partitions = groupByPartition(keys, root, input.partitionBy);
        const listed = new Set(keys);
        // Per folder, the newest manifest whose objects were all listed becomes the watermark.
        for (const [folder, keysInFolder] of manifestKeys) {
          for (let i = keysInFolder.length - 1; i >= 0; i--) {
            const [entry] = await readManifests([{ folder, key: keysInFolder[i] }]);
            if (entry.readable && entry.files.every((f) => listed.has(f))) {
              newWatermarks[folder] = entry.key;
              break;
            }
          }
        }
      }
      result.partitionsFound = partitions.size;
      result.objectsFound = [...partitions.values()].reduce((n, p) => n + p.keys.length, 0);
      mark('list');
      ctx.heartbeat({ phase: 'sampling', partitions: partitions.size, objects: result.objectsFound });

      // ---- sample records of new objects --------------------------------------------------------
      const samples = pickSamples(
        partitions.values(),
        incremental
          ? (input.maxNewSampleObjects ?? DEFAULT_NEW_SAMPLES)
          : (input.maxSampleObjects ?? DEFAULT_MAX_SAMPLES),
      );
      const sampler = new SchemaSampler(input.partitionBy);
      await mapLimit(samples, READ_CONCURRENCY, async (key) => {
        const read = await readSample(s3, input.bucket, key, SAMPLE_LINES).catch(nonRetryable);
        if (read.status === 'missing') {
          missing.add(key);
          return;
        }
        result.objectsRead++;
        if (read.status === 'unreadable') {
          if (result.unreadableObjects.length < MAX_REPORTED) result.unreadableObjects.push(`${key}: ${read.reason}`);
          return;
        }
        result.malformedLines += read.malformedLines;
        for (const r of read.records) sampler.add(r);
        if (result.objectsRead % 50 === 0) ctx.heartbeat({ phase: 'sampling', read: result.objectsRead });
      });
      if (result.malformedLines > 0)
        result.warnings.push(`${result.malformedLines} sampled lines were not JSON objects`);

      if (incremental) {
        for (const folder of manifestKeys.keys()) {
          const inFolder = entries.filter((e) => e.folder === folder);
          const mark = advanceWatermark(
            state.watermarks[folder],
            inFolder.map((e) => ({ key: e.key, complete: e.readable && e.files.every((f) => !missing.has(f)) })),
          );
          if (mark) newWatermarks[folder] = mark;
        }
      }

      mark('sample');
      // ---- the table ----------------------------------------------------------------------------
      const existingColumns: Column[] = tableColumns(table?.StorageDescriptor);
      const schema = sampler.evolve(existingColumns);
      const mappings = { ...tableMappings(table?.StorageDescriptor), ...schema.mappings };
      const location = s3Url(input.bucket, root);
      result.drift = schema.drift;
      result.addedColumns = table ? schema.added : [];
      result.widenedColumns = schema.widened;

      if (!table) {
        if (partitions.size === 0) {
          result.warnings.push(
            `no data objects under s3://${input.bucket}/${root}: nothing to catalog yet ` +
              `(check LAKE_BUCKET, LAKE_PREFIX and GLUE_TABLE, or let the sink write first)`,
          );
          result.durationMs = Date.now() - started;
          log.info('crawl found an empty lake', { bucket: input.bucket, root });
          return result;
        }
        if (schema.columns.length === 0) {
          throw ApplicationFailure.nonRetryable(
            `none of the ${result.objectsRead} objects sampled under s3://${input.bucket}/${root} holds JSON records ` +
              `(first: ${result.unreadableObjects[0] ?? 'empty objects'}); the lake must hold newline-delimited JSON objects`,
            'InvalidLake',
          );
        }
        await ensureDatabase(glue, input.database);
        try {
          await glue.send(
            new CreateTableCommand({
              DatabaseName: input.database,
              TableInput: tableInput({
                table: input.table,
                location,
                columns: schema.columns,
                partitionBy: input.partitionBy,
                symbolBuckets: input.symbolBuckets,
                mappings,
                parameters: {
                  [PARAM_SCHEMA_CHANGED_AT]: new Date().toISOString(),
                  ...(schema.drift.length > 0
                    ? { [PARAM_DRIFT]: JSON.stringify(mergeDrift(undefined, schema.drift)) }
                    : {}),
                },
              }),
            }),
          );
          result.tableCreated = true;
        } catch (err) {
          // Another crawl created it a moment ago: go on with that table.
          if (!(err instanceof AlreadyExistsException)) throw err;
        }
        table = await getTable(glue, input.database, input.table);
        if (!table)
          throw new Error(`table ${input.database}.${input.table} vanished right after it was created; retrying`);
      } else {
        const columnsChanged =
          schema.columns.length !== existingColumns.length ||
          schema.columns.some((c, i) => existingColumns[i].name !== c.name || existingColumns[i].type !== c.type);
        const mappingsChanged = JSON.stringify(mappings) !== JSON.stringify(tableMappings(table.StorageDescriptor));
        const drift = mergeDrift(table.Parameters?.[PARAM_DRIFT], schema.drift);
        const driftChanged =
          schema.drift.length > 0 && JSON.stringify(drift) !== (table.Parameters?.[PARAM_DRIFT] ?? '[]');
        if (columnsChanged || mappingsChanged || driftChanged) {
          const parameters: Record<string, string> = { ...(table.Parameters ?? {}) };
          if (driftChanged) parameters[PARAM_DRIFT] = JSON.stringify(drift);
          if (columnsChanged || mappingsChanged) parameters[PARAM_SCHEMA_CHANGED_AT] = new Date().toISOString();
          await glue.send(
            new UpdateTableCommand({
              DatabaseName: input.database,
              TableInput: tableInput({
                table: input.table,
                location: table.StorageDescriptor?.Location ?? location,
                columns: schema.columns,
                partitionBy: input.partitionBy,
                symbolBuckets: input.symbolBuckets,
                mappings,
                parameters,
              }),
            }),
          );
          result.tableUpdated = true;
          log.info('table updated', {
            table: `${input.database}.${input.table}`,
            added: schema.added,
            widened: schema.widened,
            drift: schema.drift,
          });
        }
        if (schema.widened.length > 0) {
          result.partitionsUpdated = await updateAllPartitions(glue, input.database, input.table, (values) =>
            partitionInput({
              values,
              location: s3Url(input.bucket, `${root}${partitionPath(input.partitionBy, values)}/`),
              columns: schema.columns,
              mappings,
            }),
          );
        }
      }
      result.columns = schema.columns;

      mark('table');
      // ---- partitions ---------------------------------------------------------------------------
      ctx.heartbeat({ phase: 'registering', partitions: partitions.size });
      let candidates = [...partitions.values()];
      // Partitions known to be registered afterwards, for the next incremental crawl.
      let known: string[] | undefined = candidates.map((p) => p.path);
      if (incremental) {
        // Only partitions the state does not know yet go to Glue; without a list (a very large
        // table), all touched ones do and existing ones come back as AlreadyExists.
        const remembered = state.partitions ? new Set(state.partitions) : undefined;
        if (remembered) candidates = candidates.filter((p) => !remembered.has(p.path));
      } else if (!result.tableCreated && candidates.length > 0) {
        // A full scan compares with every registered partition.
        const registered = await registeredPartitions(glue, input.database, input.table);
        candidates = candidates.filter((p) => !registered.has(partitionId(p.values)));
        known = mergeKnown(
          known,
          [...registered].map((id) => partitionPath(input.partitionBy, id.split('\u0000'))),
        );
      }
      const { created } = await createPartitions(
        glue,
        input.database,
        input.table,
        candidates.map((p) =>
          partitionInput({
            values: p.values,
            location: s3Url(input.bucket, `${root}${p.path}/`),
            columns: schema.columns,
            mappings,
          }),
        ),
        (done) => ctx.heartbeat({ phase: 'registering', done }),
      );
      result.partitionsAdded = created;

      mark('partitions');
      await writeState(input, createdAt(table)!, newWatermarks, known);
      mark('state');
      result.durationMs = Date.now() - started;
      log.info('crawl done', {
        table: `${input.database}.${input.table}`,
        scan: result.scan,
        partitionsAdded: result.partitionsAdded,
        objectsRead: result.objectsRead,
        manifestsRead: result.manifestsRead,
        ms: result.durationMs,
      });
      return result;
    },

    async registerPartitions(input: RegisterPartitionsInput): Promise<RegisterPartitionsResult> {
      validate(input.crawl);
      const { crawl } = input;
      const root = tableRoot(crawl.prefix, crawl.table);
      const out: RegisterPartitionsResult = { tableMissing: false, registered: 0, existing: 0, rejected: [] };
      const wanted = new Map<string, { path: string; values: string[] }>();
      for (const path of input.partitions) {
        const values = typeof path === 'string' ? parsePartitionPath(path, crawl.partitionBy) : undefined;
        if (!values) {
          if (out.rejected.length < MAX_REPORTED) out.rejected.push(String(path));
          continue;
        }
        wanted.set(partitionId(values), { path: path.replace(/^\/+|\/+$/g, ''), values });
      }
      if (wanted.size === 0) return out;
      const table = await getTable(glue, crawl.database, crawl.table);
      if (!table) return { ...out, tableMissing: true };
      const columns = tableColumns(table.StorageDescriptor);
      const mappings = tableMappings(table.StorageDescriptor);
      const { created, existing } = await createPartitions(
        glue,
        crawl.database,
        crawl.table,
        [...wanted.values()].map((p) =>
          partitionInput({ values: p.values, location: s3Url(crawl.bucket, `${root}${p.path}/`), columns, mappings }),
        ),
      );
      out.registered = created;
      out.existing = existing;
      if (created > 0)
        log.info('partitions registered from sink notices', {
          table: `${crawl.database}.${crawl.table}`,
          created,
          existing,
        });
      return out;
    },

    async runManagedCrawler(input: CrawlInput): Promise<CrawlResult> {
      const started = Date.now();
      validate(input);
      const spec = input.managedCrawler;
      if (!spec?.name || !spec.role) {
        throw ApplicationFailure.nonRetryable(
          'managed crawl needs a crawler name and role: set GLUE_CRAWLER_ROLE (and optionally GLUE_CRAWLER_NAME) with CRAWLER_MODE=managed',
          'InvalidCrawlInput',
        );
      }
      const ctx = Context.current();
      await requireBucket(s3, input.bucket);
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
          'ManagedCrawlFailed',
          outcome,
        );
      }
      const table = await getTable(glue, input.database, input.table);
      const result = emptyResult(input, 'managed');
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
