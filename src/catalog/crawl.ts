/**
 * ticklake's own crawler, as named steps: each one reads or writes the lake or the catalog once and
 * leaves its answer in the crawl's {@link CrawlRun}.
 *
 * 1. {@link openCrawl}: the table as Glue has it and the crawl state; incremental or full scan.
 * 2. {@link listLake}: what is there: sink manifests (since the watermarks) and, for a full scan, every
 *    data object of the table, grouped by lake partition.
 * 3. {@link sampleSchema}: records of new objects, for schema inference; the watermarks move on.
 * 4. {@link syncTable}: creates the Glue table, or evolves its schema (added, widened, drift).
 * 5. {@link registerNewPartitions}: the partitions Glue does not know yet.
 * 6. {@link saveCrawlState}: the watermarks and known partitions, for the next incremental crawl.
 *
 * {@link crawlTable} runs them in order. Failures no retry can fix are thrown as errors with a `type`
 * from src/errors/crawl.ts ({@link CrawlError}, {@link LakeAccessError}, {@link LayoutMismatchError});
 * the crawl activity (activities/crawl.ts) validates the input, heartbeats the progress reported here
 * and maps those errors to non-retryable failures. Runs outside a worker too (src/catalog/restore.ts).
 */
import {
  AlreadyExistsException,
  CreateTableCommand,
  UpdateTableCommand,
  type GlueClient,
  type Table,
} from '@aws-sdk/client-glue';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type {
  CrawlInput,
  CrawlResult,
  RegisterPartitionsInput,
  RegisterPartitionsResult,
} from '../../activities/types';
import { bucketExists, getJson } from '../adapters/s3';
import { mapLimit } from '../concurrency';
import { INVALID_LAKE } from '../errors/crawl';
import { partitionPath, tableRoot } from '../lake-layout';
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
} from './crawl-plan';
import { emptyCrawlResult } from './crawl-result';
import {
  PARAM_DRIFT,
  PARAM_SCHEMA_CHANGED_AT,
  mergeDrift,
  partitionInput,
  s3Url,
  tableColumns,
  tableInput,
  tableMappings,
} from './glue-table';
import {
  createPartitions,
  ensureDatabase,
  getTable,
  partitionId,
  registeredPartitions,
  updateAllPartitions,
} from './glue-catalog';
import { LakeAccessError, listKeys, listManifestFolders, readManifest, readSample } from './lake-scan';
import { checkTableLayout, LayoutMismatchError } from './layout-record';
import { SchemaSampler, type Column, type InferredSchema } from './schema';

export { LakeAccessError, LayoutMismatchError };

/** Lines parsed per sampled object, spread over it: a flush's records share their shape. */
const SAMPLE_LINES = 100;
/** Objects read by a full scan at most (a rebuild is rare: read widely). */
const DEFAULT_MAX_SAMPLES = 2_000;
/** Objects read by an incremental crawl at most: a crawl's cost follows its requests. */
const DEFAULT_NEW_SAMPLES = 100;
/** Parallel GETs: a crawl is bound by request latency, not bandwidth (objects are small). */
const READ_CONCURRENCY = 48;
/** Parallel listings of manifest folders. */
const LIST_CONCURRENCY = 8;
/** Unreadable objects and rejected paths named in a result at most. */
export const MAX_REPORTED = 20;

/** A crawl failure no retry can fix; `type` is one of src/errors/crawl.ts's failure types. */
export class CrawlError extends Error {
  override name = 'CrawlError';
  constructor(
    message: string,
    readonly type: string,
  ) {
    super(message);
  }
}

/** Errors of a crawl that no retry can fix, with their failure type. */
export function isPermanentCrawlError(err: unknown): err is Error & { type: string } {
  return err instanceof CrawlError || err instanceof LakeAccessError || err instanceof LayoutMismatchError;
}

export interface CrawlClients {
  s3: S3Client;
  glue: GlueClient;
}

/** How a crawl reports what it does: progress details (heartbeats in the activity) and log lines. */
export interface CrawlObserver {
  progress(details: Record<string, unknown>): void;
  info(message: string, context: Record<string, unknown>): void;
}

const SILENT: CrawlObserver = { progress: () => undefined, info: () => undefined };

interface ManifestEntry {
  folder: string;
  key: string;
  /** Data objects of this table named by the manifest. */
  files: string[];
  readable: boolean;
}

/** One crawl in progress: its input, what the steps found so far, and the result being filled in. */
export interface CrawlRun {
  readonly clients: CrawlClients;
  readonly input: CrawlInput;
  readonly observer: CrawlObserver;
  /** `<prefix><table>/` */
  readonly root: string;
  readonly result: CrawlResult;
  /** The Glue table, when it exists (after {@link syncTable}: always). */
  table: Table | undefined;
  /** The crawl state of an incremental crawl; undefined for a full scan. */
  state: CrawlState | undefined;
  /** Manifest folder (below the sink root) → manifest keys listed after its watermark. */
  manifestKeys: Map<string, string[]>;
  manifests: ManifestEntry[];
  partitions: Map<string, LakePartition>;
  /** Data objects a manifest names that are not there (yet). */
  missing: Set<string>;
  newWatermarks: Record<string, string>;
  sampler: SchemaSampler;
  schema?: InferredSchema;
  mappings: Record<string, string>;
  /** Partitions known to be registered after this crawl, for the next incremental one. */
  known?: string[];
}

function createdAt(table: Table | undefined): string | undefined {
  return table?.CreateTime ? new Date(table.CreateTime).toISOString() : undefined;
}

/** The bucket must exist: a crawl of a missing bucket would report an empty lake. */
export async function requireBucket(s3: S3Client, bucket: string): Promise<void> {
  if (!(await bucketExists(s3, bucket))) {
    throw new LakeAccessError(`bucket '${bucket}' does not exist; create it or set LAKE_BUCKET`, 'MissingBucket');
  }
}

/** The lake table must be in the configured layout (src/catalog/layout-record.ts). */
async function requireLayout(s3: S3Client, input: CrawlInput): Promise<void> {
  await checkTableLayout(s3, {
    bucket: input.bucket,
    prefix: input.prefix,
    table: input.table,
    layout: { partitionBy: input.partitionBy, symbolBuckets: input.symbolBuckets },
  });
}

/** A Glue table left from another layout would misread every partition: refuse, saying what to do. */
function requireTableKeys(table: Table | undefined, input: CrawlInput): void {
  const keys = (table?.PartitionKeys ?? []).map((k) => k.Name);
  if (table && keys.join(',') !== input.partitionBy.join(',')) {
    throw new LayoutMismatchError(
      `the Glue table ${input.database}.${input.table} has partition keys ${keys.join(',') || '(none)'}, but the lake ` +
        `is written in layout ${input.partitionBy.join(',')}; delete the table (a crawl rebuilds it from the lake: ` +
        `aws glue delete-table --database-name ${input.database} --name ${input.table}) or set LAKE_PARTITION_BY=${keys.join(',')}`,
    );
  }
}

async function readState(s3: S3Client, input: CrawlInput): Promise<unknown> {
  try {
    return await getJson<unknown>(s3, input.bucket, crawlStateKey(input.prefix, input.database, input.table));
  } catch (err) {
    if (err instanceof SyntaxError) return undefined; // a torn or foreign state object: crawl from scratch
    throw err;
  }
}

/**
 * Step 1: checks the bucket and the layout, reads the table and the crawl state. The crawl is
 * incremental when the table exists, a full scan was not asked for, and the state belongs to this table.
 */
export async function openCrawl(
  clients: CrawlClients,
  input: CrawlInput,
  observer: CrawlObserver = SILENT,
): Promise<CrawlRun> {
  const { s3, glue } = clients;
  await requireBucket(s3, input.bucket);
  await requireLayout(s3, input);
  const table = await getTable(glue, input.database, input.table);
  requireTableKeys(table, input);
  const state =
    table && !input.full
      ? usableState(await readState(s3, input), { ...input, tableCreatedAt: createdAt(table) })
      : undefined;
  const result = emptyCrawlResult(input, state ? 'incremental' : 'full');
  if (!state) {
    result.reason = !table ? 'table missing' : input.full ? 'full crawl requested' : 'no crawl state for this table';
  }
  return {
    clients,
    input,
    observer,
    root: tableRoot(input.prefix, input.table),
    result,
    table,
    state,
    manifestKeys: new Map(),
    manifests: [],
    partitions: new Map(),
    missing: new Set(),
    newWatermarks: {},
    sampler: new SchemaSampler(input.partitionBy),
    mappings: {},
  };
}

async function readManifests(run: CrawlRun, list: { folder: string; key: string }[]): Promise<ManifestEntry[]> {
  const { input, result, root } = run;
  return mapLimit(list, READ_CONCURRENCY, async ({ folder, key }) => {
    const read = await readManifest(run.clients.s3, input.bucket, key);
    result.manifestsRead++;
    if (read.status !== 'ok') {
      if (read.status === 'unreadable') result.warnings.push(`manifest ${key} skipped: ${read.reason}`);
      return { folder, key, files: [], readable: read.status === 'unreadable' };
    }
    const files = read.manifest.files.map((f) => f.key).filter((k) => typeof k === 'string' && k.startsWith(root));
    return { folder, key, files, readable: true };
  });
}

/**
 * Step 2: the sink manifests written since the watermarks and the lake partitions they name; a full
 * scan lists the whole table folder instead and sets each folder's watermark to its newest manifest
 * whose objects were all listed.
 */
export async function listLake(run: CrawlRun): Promise<void> {
  const { s3 } = run.clients;
  const { input, result, state } = run;
  const manifestRoot = sinkManifestRoot(input.prefix);
  run.observer.progress({ phase: 'listing', scan: result.scan });
  // Manifests are listed before data objects: a manifest whose objects are not listed yet was
  // written just now, and the watermark stays before it.
  const folders = await listManifestFolders(s3, input.bucket, manifestRoot);
  await mapLimit(folders, LIST_CONCURRENCY, async (folder) => {
    const rel = folder.slice(manifestRoot.length);
    const keys = (await listKeys(s3, input.bucket, folder, state?.watermarks[rel])).filter(isManifestKey);
    run.manifestKeys.set(rel, keys);
  });

  if (state) {
    const list = [...run.manifestKeys].flatMap(([folder, keys]) => keys.map((key) => ({ folder, key })));
    run.manifests = await readManifests(run, list);
    run.partitions = groupByPartition(
      run.manifests.flatMap((e) => e.files),
      run.root,
      input.partitionBy,
    );
  } else {
    const keys = await listKeys(s3, input.bucket, run.root);
    run.partitions = groupByPartition(keys, run.root, input.partitionBy);
    const listed = new Set(keys);
    for (const [folder, keysInFolder] of run.manifestKeys) {
      for (let i = keysInFolder.length - 1; i >= 0; i--) {
        const [entry] = await readManifests(run, [{ folder, key: keysInFolder[i] }]);
        if (entry.readable && entry.files.every((f) => listed.has(f))) {
          run.newWatermarks[folder] = entry.key;
          break;
        }
      }
    }
  }
  result.partitionsFound = run.partitions.size;
  result.objectsFound = [...run.partitions.values()].reduce((n, p) => n + p.keys.length, 0);
}

/**
 * Step 3: reads records of the new objects (at most the configured number, see `pickSamples`) into
 * the schema sampler; an incremental crawl's watermarks move past the manifests whose objects were
 * all there.
 */
export async function sampleSchema(run: CrawlRun): Promise<void> {
  const { input, result, state } = run;
  run.observer.progress({ phase: 'sampling', partitions: run.partitions.size, objects: result.objectsFound });
  const samples = pickSamples(
    run.partitions.values(),
    state ? (input.maxNewSampleObjects ?? DEFAULT_NEW_SAMPLES) : (input.maxSampleObjects ?? DEFAULT_MAX_SAMPLES),
  );
  await mapLimit(samples, READ_CONCURRENCY, async (key) => {
    const read = await readSample(run.clients.s3, input.bucket, key, SAMPLE_LINES);
    if (read.status === 'missing') {
      run.missing.add(key);
      return;
    }
    result.objectsRead++;
    if (read.status === 'unreadable') {
      if (result.unreadableObjects.length < MAX_REPORTED) result.unreadableObjects.push(`${key}: ${read.reason}`);
      return;
    }
    result.malformedLines += read.malformedLines;
    for (const r of read.records) run.sampler.add(r);
    if (result.objectsRead % 50 === 0) run.observer.progress({ phase: 'sampling', read: result.objectsRead });
  });
  if (result.malformedLines > 0) result.warnings.push(`${result.malformedLines} sampled lines were not JSON objects`);

  if (state) {
    for (const folder of run.manifestKeys.keys()) {
      const inFolder = run.manifests.filter((e) => e.folder === folder);
      const mark = advanceWatermark(
        state.watermarks[folder],
        inFolder.map((e) => ({ key: e.key, complete: e.readable && e.files.every((f) => !run.missing.has(f)) })),
      );
      if (mark) run.newWatermarks[folder] = mark;
    }
  }
}

/**
 * Step 4: creates the table from the sampled schema, or evolves the existing one (appended columns,
 * widened types applied to every partition, drift recorded). Returns false when there is no table and
 * nothing to create it from (an empty lake): the crawl stops there.
 */
export async function syncTable(run: CrawlRun): Promise<boolean> {
  const { glue } = run.clients;
  const { input, result, root } = run;
  let table = run.table;
  const existingColumns: Column[] = tableColumns(table?.StorageDescriptor);
  const schema = run.sampler.evolve(existingColumns);
  const mappings = { ...tableMappings(table?.StorageDescriptor), ...schema.mappings };
  const location = s3Url(input.bucket, root);
  run.schema = schema;
  run.mappings = mappings;
  result.drift = schema.drift;
  result.addedColumns = table ? schema.added : [];
  result.widenedColumns = schema.widened;

  if (!table) {
    if (run.partitions.size === 0) {
      result.warnings.push(
        `no data objects under s3://${input.bucket}/${root}: nothing to catalog yet ` +
          `(check LAKE_BUCKET, LAKE_PREFIX and GLUE_TABLE, or let the sink write first)`,
      );
      run.observer.info('crawl found an empty lake', { bucket: input.bucket, root });
      return false;
    }
    if (schema.columns.length === 0) {
      throw new CrawlError(
        `none of the ${result.objectsRead} objects sampled under s3://${input.bucket}/${root} holds JSON records ` +
          `(first: ${result.unreadableObjects[0] ?? 'empty objects'}); the lake must hold newline-delimited JSON objects`,
        INVALID_LAKE,
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
    if (!table) throw new Error(`table ${input.database}.${input.table} vanished right after it was created; retrying`);
    run.table = table;
  } else {
    const columnsChanged =
      schema.columns.length !== existingColumns.length ||
      schema.columns.some((c, i) => existingColumns[i].name !== c.name || existingColumns[i].type !== c.type);
    const mappingsChanged = JSON.stringify(mappings) !== JSON.stringify(tableMappings(table.StorageDescriptor));
    const drift = mergeDrift(table.Parameters?.[PARAM_DRIFT], schema.drift);
    const driftChanged = schema.drift.length > 0 && JSON.stringify(drift) !== (table.Parameters?.[PARAM_DRIFT] ?? '[]');
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
      run.observer.info('table updated', {
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
  return true;
}

/**
 * Step 5: registers the partitions Glue does not have yet. An incremental crawl skips those its state
 * remembers; a full scan compares with every registered partition.
 */
export async function registerNewPartitions(run: CrawlRun): Promise<void> {
  const { glue } = run.clients;
  const { input, result, root } = run;
  run.observer.progress({ phase: 'registering', partitions: run.partitions.size });
  let candidates = [...run.partitions.values()];
  run.known = candidates.map((p) => p.path);
  if (run.state) {
    // Only partitions the state does not know yet go to Glue; without a list (a very large
    // table), all touched ones do and existing ones come back as AlreadyExists.
    const remembered = run.state.partitions ? new Set(run.state.partitions) : undefined;
    if (remembered) candidates = candidates.filter((p) => !remembered.has(p.path));
  } else if (!result.tableCreated && candidates.length > 0) {
    const registered = await registeredPartitions(glue, input.database, input.table);
    candidates = candidates.filter((p) => !registered.has(partitionId(p.values)));
    run.known = mergeKnown(
      run.known,
      [...registered].map((id) => partitionPath(input.partitionBy, id.split('\u0000'))),
    );
  }
  const columns = run.schema?.columns ?? [];
  const { created } = await createPartitions(
    glue,
    input.database,
    input.table,
    candidates.map((p) =>
      partitionInput({
        values: p.values,
        location: s3Url(input.bucket, `${root}${p.path}/`),
        columns,
        mappings: run.mappings,
      }),
    ),
    (done) => run.observer.progress({ phase: 'registering', done }),
  );
  result.partitionsAdded = created;
}

/**
 * Step 6: writes the crawl state. Two crawls may overlap (a scheduled one and a notified one): the
 * state is merged with the one there, never moving a watermark back.
 */
export async function saveCrawlState(run: CrawlRun): Promise<void> {
  const { s3 } = run.clients;
  const { input } = run;
  const tableCreatedAt = createdAt(run.table)!;
  const current = usableState(await readState(s3, input), {
    database: input.database,
    table: input.table,
    tableCreatedAt,
  });
  const state: CrawlState = {
    version: 1,
    database: input.database,
    table: input.table,
    tableCreatedAt,
    watermarks: mergeWatermarks(current?.watermarks ?? {}, run.newWatermarks),
    partitions: mergeKnown(current?.partitions, run.known),
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

/**
 * A whole crawl of one table: the six steps in order, each step's duration in `result.phaseMs`
 * (list, sample, table, partitions, state). The input must be valid (the activity checks it).
 */
export async function crawlTable(
  clients: CrawlClients,
  input: CrawlInput,
  observer: CrawlObserver = SILENT,
): Promise<CrawlResult> {
  const started = Date.now();
  const run = await openCrawl(clients, input, observer);
  const { result } = run;
  let lap = started;
  const mark = (phase: string) => {
    const now = Date.now();
    result.phaseMs[phase] = (result.phaseMs[phase] ?? 0) + now - lap;
    lap = now;
  };
  await listLake(run);
  mark('list');
  await sampleSchema(run);
  mark('sample');
  if (!(await syncTable(run))) {
    result.durationMs = Date.now() - started;
    return result;
  }
  mark('table');
  await registerNewPartitions(run);
  mark('partitions');
  await saveCrawlState(run);
  mark('state');
  result.durationMs = Date.now() - started;
  observer.info('crawl done', {
    table: `${input.database}.${input.table}`,
    scan: result.scan,
    partitionsAdded: result.partitionsAdded,
    objectsRead: result.objectsRead,
    manifestsRead: result.manifestsRead,
    ms: result.durationMs,
  });
  return result;
}

/**
 * Registers partitions the sink has just written to (its notices), with the table's current columns;
 * the schema follows with the next crawl. Paths that do not fit the layout are rejected, not failed.
 */
export async function registerPartitionPaths(
  glue: GlueClient,
  input: RegisterPartitionsInput,
  observer: CrawlObserver = SILENT,
): Promise<RegisterPartitionsResult> {
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
    observer.info('partitions registered from sink notices', {
      table: `${crawl.database}.${crawl.table}`,
      created,
      existing,
    });
  return out;
}
