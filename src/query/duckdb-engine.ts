/**
 * The local query engine: DuckDB embedded, over the Glue catalog's tables and the lake's objects.
 *
 * DuckDB's npm build has no httpfs, so objects are read through the S3 API; each is converted once into
 * a Parquet copy on local disk (src/query/object-cache.ts: keyed by ETag and table shape, sorted by
 * symbol and date, bounded in bytes with least-recently-used eviction), and queries read those copies
 * in place: DuckDB pushes the statement's filters and projections into the Parquet scan, so a query
 * reads the row groups and columns it needs, and memory stays within `memoryLimit` (DuckDB spills
 * beyond it) whatever the lake's size. Each query:
 *  1. is parsed by DuckDB itself (`json_serialize_sql`): one statement, a SELECT unless writes are
 *     allowed, and the tables it reads plus its partition predicates (pruning.ts, which also derives
 *     `symbol_bucket` and time partitions from predicates on `symbol` and `trade_date`);
 *  2. reads each referenced table's definition and partitions from Glue (the partitions are reused for
 *     30 s while the query's own listing shows no folder with data they lack), and lists the partitions
 *     the query can read: in one listing of the table folder when that takes no more pages than the
 *     partitions take rounds of listings, else partition by partition (never the whole table at scale);
 *  3. fetches the objects of those partitions that have no copy yet, many at once, and converts the
 *     small ones in batches, one DuckDB statement each (convertMany);
 *  4. runs on its own connection over temporary views named after the Glue tables (a Parquet scan of
 *     the copies), with its parameters bound, never spliced;
 *  5. returns a bounded page of rows; a larger result is written whole to a CSV file.
 *
 * Safety: after setup the instance may only touch files under the cache and results directories
 * (`enable_external_access=false` with `allowed_directories`, then `lock_configuration`), so a SELECT
 * cannot read or write other files of the worker's host.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  DuckDBInstance,
  StatementType,
  type DuckDBConnection,
  type DuckDBMaterializedResult,
  type DuckDBPreparedStatement,
} from '@duckdb/node-api';
import {
  EntityNotFoundException,
  GetDatabaseCommand,
  GetTableCommand,
  GetTablesCommand,
  paginateGetPartitions,
  type GlueClient,
  type Table as GlueTable,
} from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { QueryError, type QueryEngine, type QueryHooks, type QueryOutcome, type QueryRequest } from './engine';
import { duckdbCell, duckdbType } from './duckdb-values';
import { PageBuilder } from './page';
import { PARAM_SYMBOL_BUCKETS } from '../catalog/glue-table';
import { mapLimit } from '../catalog/lake-scan';
import { ObjectCache } from './object-cache';
import { StateReader } from '../compact/store';
import { cutOfKey, rawVisible, type CompactState, type CuratedPartition } from '../compact/state';
import { padOffset, partitionPath } from '../lake-layout';
import { partitionId } from '../catalog/glue-catalog';
import { hivePathMatches, keepPartition, partitionPredicate, referencedTables } from './pruning';
import { ALLOW_WRITES_HINT, type QueryParam } from './sql-guard';

export interface DuckDBEngineOptions {
  s3: S3Client;
  glue: GlueClient;
  /** Directory of the ETag-keyed object cache (shared by processes: writes are atomic renames). */
  cacheDir: string;
  /** Directory of full results of truncated queries, `<resultsDir>/<query id>.csv`. */
  resultsDir: string;
  /** DuckDB worker threads. Default 2. */
  threads?: number;
  /** DuckDB memory limit, e.g. '2GB'; beyond it DuckDB spills to the results directory. Default '512MB'. */
  memoryLimit?: string;
  /** Bytes of Parquet copies the cache keeps at most (least recently used evicted). Default 4 GiB. */
  cacheMaxBytes?: number;
  /** Objects downloaded at once. Default 16. */
  downloadConcurrency?: number;
  /** Small objects converted together, in one DuckDB statement, at most. Default 64; 1 converts each alone. */
  batchObjects?: number;
  /**
   * Pages of keys a listing of a whole partitioned table may take before its partitions are listed one
   * by one instead. Default: as many as the rounds the partitions' own listings would take
   * (LIST_CONCURRENCY at a time); 0 always lists partition by partition.
   */
  tableListingPages?: number;
}

const DEFAULT_MEMORY_LIMIT = '512MB';
const DEFAULT_CACHE_MAX_BYTES = 4 * 1024 ** 3;
/** Partition listings at once. */
const LIST_CONCURRENCY = 8;
/** Keys of one page of a listing (S3's maximum). */
const LIST_PAGE = 1000;
/** How long a table's Glue partitions are reused (each use checked against the query's own listing). */
const PARTITION_MEMO_MS = 30_000;
/** How long a table found too large to list whole is not tried again (it may have shrunk: raw retention). */
const TABLE_SIZE_RETRY_MS = 10 * 60_000;
/** Rows per row group of a cached copy: small enough that a symbol's rows skip most of an object. */
const ROW_GROUP_ROWS = 8192;
/** Objects downloaded at once, by default. */
const DEFAULT_DOWNLOAD_CONCURRENCY = 16;
/**
 * Objects up to this size (gzip NDJSON) are converted in batches: at 16 bytes or more a row
 * compressed (the sink's objects take about 50), they hold at most one row group.
 */
const BATCH_OBJECT_MAX_BYTES = 128 * 1024;
/** Objects and bytes of one batch conversion at most. */
const BATCH_MAX_OBJECTS = 64;
const BATCH_MAX_BYTES = 32 * 1024 ** 2;
/** Batches (or objects converted alone) downloaded and converted at once. */
const CONVERT_CONCURRENCY = 4;
/** File renames and lone conversions of a batch at once. */
const RENAME_CONCURRENCY = 16;
/** Columns of a batch conversion's own: the input file and its index in the batch. */
const BATCH_FILE_COLUMN = '__ticklake_file';
const BATCH_COLUMN = '__ticklake_batch';
/**
 * Compression of the copies: LZ4 (Parquet's LZ4_RAW). On local disk a copy's size matters less than the
 * CPU: against ZSTD, making a copy of a 16,000-record object takes about 13 % less CPU and an aggregate
 * over the copies about 35 % less time, for copies about 35 % larger (docs/benchmarks.md, "At scale").
 * Copies made with ZSTD before are read as they are.
 */
const CACHE_COMPRESSION = 'lz4_raw';
/** Changes when the way copies are made changes, so that older copies are not read. */
const CONVERSION_VERSION = 1;

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** Data files of a JSON table, as the sink writes them; Hive hides names starting with '_' or '.'. */
const DATA_FILE = /(^|\/)[^_./][^/]*\.(json|jsonl|ndjson)(\.gz|\.zst)?$/;

/** DuckDB's error classes that say the statement itself is wrong: retrying cannot help. */
const STATEMENT_ERRORS =
  /^(Parser|Binder|Catalog|Conversion|Invalid Input|Invalid type|Out of Range|Not implemented|Constraint|Permission|Syntax|Dependency|Type Mismatch) Error/i;

function parseS3Url(url: string): { bucket: string; key: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new QueryError('QueryFailed', `the catalog gives a location that is not an s3:// URL: '${url}'`);
  return { bucket: m[1], key: m[2] };
}

const withSlash = (key: string) => (key === '' || key.endsWith('/') ? key : `${key}/`);

interface LakeObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  /** Values of the table's partition keys for the object's partition (empty when unpartitioned). */
  values: string[];
}

/** A whole-table listing: data objects by the folder holding them (ending in '/'), and every key counted. */
interface TableListing {
  folders: Map<string, Omit<LakeObject, 'values'>[]>;
  objects: number;
}

/** A table's Glue partitions as last read. */
interface PartitionMemo {
  /** The table definition they were read under (tableIdentity). */
  identity: string;
  partitions: { values: string[]; location: string }[];
  /** Their folders, `<bucket>/<key>/` (s3Folder). */
  folders: Set<string>;
  readAt: number;
}

/** What makes a Glue table another table for the partitions memo: recreated, redefined. */
function tableIdentity(table: GlueTable): string {
  return JSON.stringify([
    table.CreateTime?.getTime(),
    table.UpdateTime?.getTime(),
    table.VersionId,
    table.StorageDescriptor?.Location,
    table.PartitionKeys?.map((k) => k.Name),
  ]);
}

/** `<bucket>/<key of the folder>/` of an s3:// URL. */
function s3Folder(url: string): string {
  const { bucket, key } = parseS3Url(url);
  return `${bucket}/${withSlash(key)}`;
}

interface TableSelection {
  view: string;
  objectsRead: number;
  downloaded: number;
  bytes: number;
  partitionsRead?: number;
  partitionsTotal?: number;
}

interface Phases {
  [phase: string]: number;
}

function addPhase(phases: Phases, name: string, since: number): number {
  const now = Date.now();
  phases[name] = (phases[name] ?? 0) + (now - since);
  return now;
}

export class DuckDBEngine implements QueryEngine {
  readonly name = 'duckdb' as const;
  private instance?: Promise<DuckDBInstance>;
  private readonly cache: ObjectCache;
  /** The newest compaction state of each table, per lake bucket and prefix. */
  private readonly states = new Map<string, StateReader>();
  /** Glue partitions per table (`<database>.<table>`), reused only as prepareTable checks. */
  private readonly partitionMemos = new Map<string, PartitionMemo>();
  /** Keys under each table folder (`<bucket>/<folder>`) as last counted, or a lower bound (not complete). */
  private readonly tableSizes = new Map<string, { objects: number; complete: boolean; at: number }>();
  /** Compacted partition folders (`<bucket>/<folder>`): the Kafka partition of their first key when last listed. */
  private readonly firstSources = new Map<string, string>();
  /** Compacted partition folders found to hold several Kafka partitions' objects: listed three deep. */
  private readonly sharedFolders = new Set<string>();

  constructor(private readonly options: DuckDBEngineOptions) {
    this.cache = new ObjectCache(options.cacheDir, options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES);
  }

  /** The worker's instance, created on first use with the file-access lock and the dialect macros. */
  private open(): Promise<DuckDBInstance> {
    this.instance ??= (async () => {
      const { cacheDir, resultsDir } = this.options;
      const tempDir = path.join(resultsDir, '.duckdb-tmp');
      for (const dir of [cacheDir, resultsDir, tempDir]) await fs.promises.mkdir(dir, { recursive: true });
      const instance = await DuckDBInstance.create(':memory:', {
        threads: String(this.options.threads ?? 2),
        temp_directory: tempDir,
        memory_limit: this.options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
      });
      const c = await instance.connect();
      try {
        // Footers of the cached Parquet copies stay in memory: a warm query reads no metadata from disk.
        await c.run('SET parquet_metadata_cache = true');
        for (const macro of DIALECT_MACROS) await c.run(macro);
        const allowed = [cacheDir, resultsDir, tempDir].map((d) => sqlString(withSlash(path.resolve(d))));
        await c.run(`SET allowed_directories = [${allowed.join(', ')}]`);
        await c.run('SET enable_external_access = false');
        await c.run('SET autoinstall_known_extensions = false');
        await c.run('SET autoload_known_extensions = false');
        await c.run('SET lock_configuration = true');
      } finally {
        c.closeSync();
      }
      return instance;
    })();
    this.instance.catch(() => (this.instance = undefined));
    return this.instance;
  }

  async close(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    if (instance) (await instance.catch(() => undefined))?.closeSync();
  }

  async run(request: QueryRequest, hooks: QueryHooks): Promise<QueryOutcome> {
    const started = Date.now();
    const phases: Phases = {};
    let t = started;
    const instance = await this.open();
    const connection = await instance.connect();
    const onAbort = () => connection.interrupt();
    hooks.signal.addEventListener('abort', onAbort, { once: true });
    const pinned = new Set<string>();
    try {
      const parsed = await this.parse(connection, request);
      t = addPhase(phases, 'parseMs', t);

      const tables = await this.catalogTables(request.database, parsed.tables);
      t = addPhase(phases, 'catalogMs', t);
      const selections: TableSelection[] = [];
      for (const table of tables) {
        selections.push(
          await this.prepareTable(connection, request.database, table, parsed.tree, request, phases, hooks, pinned),
        );
        if (hooks.signal.aborted) throw new QueryError('QueryCancelled', 'query cancelled while preparing its tables');
      }
      t = Date.now();

      const prepared = await this.prepareStatement(connection, request);
      const heartbeat = setInterval(() => hooks.heartbeat({ phase: 'execute', ms: Date.now() - started }), 1000);
      let result: DuckDBMaterializedResult;
      try {
        result = await prepared.run();
      } catch (err) {
        throw this.statementError(err, request, hooks);
      } finally {
        clearInterval(heartbeat);
        prepared.destroySync();
      }
      t = addPhase(phases, 'executeMs', t);

      const outcome = await this.collect(connection, result, request, hooks);
      addPhase(phases, 'resultMs', t);
      const sum = (f: (s: TableSelection) => number | undefined) => selections.reduce((a, s) => a + (f(s) ?? 0), 0);
      const partitioned = selections.filter((s) => s.partitionsTotal !== undefined);
      outcome.stats = {
        engineMs: Date.now() - started,
        objectsDownloaded: sum((s) => s.downloaded),
        objectsCached: sum((s) => s.objectsRead - s.downloaded),
        objectsRead: sum((s) => s.objectsRead),
        bytesScanned: sum((s) => s.bytes),
        ...(partitioned.length > 0
          ? { partitionsRead: sum((s) => s.partitionsRead), partitionsTotal: sum((s) => s.partitionsTotal) }
          : {}),
        cacheBytes: this.cache.bytes,
        phases,
      };
      return outcome;
    } catch (err) {
      // Whatever failed after a cancellation (an interrupted statement, a closed connection) is the cancellation.
      if (hooks.signal.aborted) throw new QueryError('QueryCancelled', 'query cancelled; DuckDB interrupted');
      throw err;
    } finally {
      hooks.signal.removeEventListener('abort', onAbort);
      connection.closeSync();
      await this.cache.evict(pinned).catch(() => undefined);
    }
  }

  /** DuckDB's parse of the statement: one statement; a SELECT unless writes are allowed; the tables it reads. */
  private async parse(
    connection: DuckDBConnection,
    request: QueryRequest,
  ): Promise<{ tree?: unknown; tables: string[] }> {
    const reader = await connection.runAndReadAll('SELECT json_serialize_sql(?::VARCHAR)', [request.sql]);
    const parsed = JSON.parse(reader.getRowsJS()[0][0] as string) as {
      error: boolean;
      error_type?: string;
      error_message?: string;
      statements?: unknown[];
    };
    if (!parsed.error) {
      const n = parsed.statements?.length ?? 0;
      if (n !== 1)
        throw new QueryError(
          'QueryRefused',
          `query refused: ${n === 0 ? 'the query is empty' : `only one statement may run at a time; the query has ${n}`}`,
        );
      return { tree: parsed, tables: [...referencedTables(parsed).keys()] };
    }
    if (parsed.error_type === 'parser') throw new QueryError('QueryFailed', `syntax error: ${parsed.error_message}`);
    // Only SELECT statements serialize: anything else writes, changes settings or touches files.
    let statements;
    try {
      statements = await connection.extractStatements(request.sql);
    } catch (err) {
      throw new QueryError('QueryFailed', `syntax error: ${(err as Error).message}`);
    }
    if (statements.count === 0) throw new QueryError('QueryRefused', 'query refused: the query is empty');
    if (statements.count > 1)
      throw new QueryError(
        'QueryRefused',
        `query refused: only one statement may run at a time; the query has ${statements.count}`,
      );
    if (!request.allowWrites) {
      const keyword =
        /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*\(?\s*([A-Za-z]+)/.exec(request.sql)?.[1]?.toUpperCase() ??
        'this statement';
      throw new QueryError(
        'QueryRefused',
        `query refused: only read statements (SELECT, WITH, VALUES, DESCRIBE, SHOW) run by default; ${keyword} writes data, changes settings or touches files; ${ALLOW_WRITES_HINT}`,
      );
    }
    let tables: readonly string[] = [];
    try {
      tables = connection.getTableNames(
        request.sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (m) => (m === '?' ? 'NULL' : m)),
        false,
      );
    } catch {
      // A statement DuckDB cannot list tables of reads no lake table.
    }
    return { tables: tables.map((n) => n.toLowerCase()) };
  }

  /** The Glue tables among the referenced names; a missing database fails the query. */
  private async catalogTables(database: string, names: string[]): Promise<GlueTable[]> {
    const found: GlueTable[] = [];
    let missing = names.length === 0;
    await Promise.all(
      names.map(async (name) => {
        try {
          const out = await this.options.glue.send(new GetTableCommand({ DatabaseName: database, Name: name }));
          if (out.Table) found.push(out.Table);
        } catch (err) {
          if (!(err instanceof EntityNotFoundException)) throw err;
          missing = true;
        }
      }),
    );
    if (missing) {
      try {
        await this.options.glue.send(new GetDatabaseCommand({ Name: database }));
      } catch (err) {
        if (err instanceof EntityNotFoundException) {
          throw new QueryError(
            'MissingDatabase',
            `database '${database}' does not exist in the catalog; run a crawl first (npx ticklake crawl) or set GLUE_DATABASE`,
          );
        }
        throw err;
      }
    }
    return found.sort((a, b) => a.Name!.localeCompare(b.Name!));
  }

  /**
   * Makes the query's temporary view of one table: the cached Parquet copies of the objects of the
   * partitions the query can read, fetched and converted first when missing.
   */
  private async prepareTable(
    connection: DuckDBConnection,
    database: string,
    table: GlueTable,
    tree: unknown,
    request: QueryRequest,
    phases: Phases,
    hooks: QueryHooks,
    pinned: Set<string>,
  ): Promise<TableSelection> {
    const name = table.Name!;
    const columns = (table.StorageDescriptor?.Columns ?? []).map((c) => ({
      name: c.Name!,
      type: duckdbType(c.Type ?? 'string'),
    }));
    const partitionKeys = (table.PartitionKeys ?? []).map((k) => k.Name!);
    const location = table.StorageDescriptor?.Location;
    if (!location)
      throw new QueryError('QueryFailed', `table '${database}.${name}' has no location in the catalog; recrawl it`);
    const root = parseS3Url(location);
    const symbolBuckets = Number(table.Parameters?.[PARAM_SYMBOL_BUCKETS]) || undefined;
    const predicate =
      tree === undefined ? undefined : partitionPredicate(tree, name, partitionKeys, request.params, { symbolBuckets });

    const timed = async <T>(phase: string, p: Promise<T>): Promise<T> => {
      const since = Date.now();
      const out = await p;
      addPhase(phases, phase, since);
      return out;
    };
    // What exists comes from the catalog's partitions; only the partitions the query can read are read.
    let objects: LakeObject[];
    const curated: { bucket: string; entry: CuratedPartition }[] = [];
    let partitionsTotal: number | undefined;
    let partitionsRead: number | undefined;
    if (partitionKeys.length === 0) {
      objects = (await timed('listMs', this.list(root.bucket, withSlash(root.key)))).map((o) => ({ ...o, values: [] }));
    } else {
      const rootFolder = withSlash(root.key);
      const memoId = `${database}.${name}`;
      const identity = tableIdentity(table);
      const remembered = this.partitionMemos.get(memoId);
      const memo =
        remembered && remembered.identity === identity && Date.now() - remembered.readAt < PARTITION_MEMO_MS
          ? remembered
          : undefined;
      const readPartitions = async () => {
        const fresh = await timed('partitionsMs', this.partitions(database, name));
        this.partitionMemos.set(memoId, {
          identity,
          partitions: fresh,
          folders: new Set(fresh.map((p) => s3Folder(p.location))),
          readAt: Date.now(),
        });
        return fresh;
      };
      const [registered, state] = await Promise.all([
        memo ? memo.partitions : readPartitions(),
        timed('compactStateMs', this.compactState(root, database, name)),
      ]);
      // Partitions the curated zone holds but the catalog does not list (a rebuilt catalog whose raw
      // objects were expired) are read from the curated zone.
      const withCurated = (list: { values: string[]; location: string }[]) => {
        const all = [...list];
        const known = new Set(all.map((p) => partitionId(p.values)));
        for (const c of Object.values(state?.partitions ?? {})) {
          if (!known.has(partitionId(c.values)))
            all.push({
              values: c.values,
              location: `s3://${root.bucket}/${rootFolder}${partitionPath(partitionKeys, c.values)}/`,
            });
        }
        return all;
      };
      let partitions = withCurated(registered);
      let kept = partitions.filter((p) => keepPartition(p.values, partitionKeys, predicate));
      // One listing of the whole table folder when it takes no more requests than listing the kept
      // partitions would take rounds (LIST_CONCURRENCY at a time); it is given up past that many pages.
      const maxPages = this.options.tableListingPages ?? Math.ceil(kept.length / LIST_CONCURRENCY);
      const sizeId = `${root.bucket}/${rootFolder}`;
      const size = this.tableSizes.get(sizeId);
      const tooLarge =
        size !== undefined &&
        Math.ceil(size.objects / LIST_PAGE) > maxPages &&
        (size.complete || Date.now() - size.at < TABLE_SIZE_RETRY_MS);
      let listing: TableListing | undefined;
      if (kept.length > 0 && maxPages > 0 && !tooLarge) {
        listing = await timed('listMs', this.listTable(root.bucket, rootFolder, maxPages));
        this.tableSizes.set(sizeId, {
          objects: listing ? listing.objects : maxPages * LIST_PAGE + 1,
          complete: listing !== undefined,
          at: Date.now(),
        });
      }
      // A raw object whose window is compacted is read from the curated file instead: one state decides both.
      const listPartition = async (p: { values: string[]; location: string }): Promise<LakeObject[]> => {
        const { bucket, key } = parseS3Url(p.location);
        const folder = withSlash(key);
        const entry = state?.partitions[partitionPath(partitionKeys, p.values)];
        const raw =
          listing && bucket === root.bucket && folder.startsWith(rootFolder)
            ? (listing.folders.get(folder) ?? [])
            : await this.listRaw(bucket, folder, entry);
        return raw.filter((o) => rawVisible(o.key, entry)).map((o) => ({ ...o, values: p.values }));
      };
      const listAll = (list: { values: string[]; location: string }[]) =>
        timed('listMs', mapLimit(list, LIST_CONCURRENCY, listPartition));
      const listedBy = new Map<string, LakeObject[]>();
      const partitionRef = (p: { values: string[]; location: string }) => `${partitionId(p.values)} ${p.location}`;
      if (memo && !listing) {
        // No listing of the whole table to check the remembered partitions against: the catalog is read
        // again, while the remembered partitions are listed; a partition it adds is listed after.
        const [fresh, early] = await Promise.all([readPartitions(), listAll(kept)]);
        kept.forEach((p, i) => listedBy.set(partitionRef(p), early[i]));
        partitions = withCurated(fresh);
        kept = partitions.filter((p) => keepPartition(p.values, partitionKeys, predicate));
        phases.partitionsOverlapped = 1;
      } else if (memo && [...listing!.folders.keys()].some((f) => !memo.folders.has(`${root.bucket}/${f}`))) {
        // The remembered partitions stand only when this query's own listing shows no folder with data
        // that they do not hold (a new partition folder, or one registered since): then they are what
        // GetPartitions would answer for every folder that has data. Otherwise the catalog is read again.
        partitions = withCurated(await readPartitions());
        kept = partitions.filter((p) => keepPartition(p.values, partitionKeys, predicate));
      } else if (memo) {
        phases.partitionsRemembered = 1;
      }
      partitionsTotal = partitions.length;
      partitionsRead = kept.length;
      const unlisted = kept.filter((p) => !listedBy.has(partitionRef(p)));
      (await listAll(unlisted)).forEach((listed, i) => listedBy.set(partitionRef(unlisted[i]), listed));
      objects = kept.flatMap((p) => listedBy.get(partitionRef(p))!);
      for (const p of kept) {
        const entry = state?.partitions[partitionPath(partitionKeys, p.values)];
        if (entry) curated.push({ bucket: root.bucket, entry });
      }
    }
    objects = objects.filter((o) => DATA_FILE.test(o.key));

    // A cached copy is valid for one ETag and one table shape: a new column or type makes new copies.
    const shape = JSON.stringify([columns, partitionKeys, CONVERSION_VERSION]);
    let t = Date.now();
    let downloaded = 0;
    const made = await this.cache.getMany(
      objects.map((o) => ({ bucket: o.bucket, key: o.key, etag: o.etag, shape })),
      (missing) =>
        this.convertMany(
          missing.map((m) => ({ object: objects[m.index], file: m.file })),
          columns,
          partitionKeys,
          (n) => hooks.heartbeat({ phase: 'fetch', table: name, files: n, of: missing.length }),
        ),
    );
    const files = made.map((m) => {
      if (m.downloaded) downloaded++;
      pinned.add(m.file);
      return m.file;
    });
    // Curated files are Parquet already: fetched as they are, read in place.
    const curatedFiles = await mapLimit(curated, this.options.downloadConcurrency ?? 8, async ({ bucket, entry }) => {
      const f = entry.file;
      const cached = await this.cache.get({ bucket, key: f.key, etag: f.etag, shape: 'curated' }, (file) =>
        this.download(bucket, f.key, f.etag, file),
      );
      if (cached.downloaded) downloaded++;
      pinned.add(cached.file);
      return { file: cached.file, entry };
    });
    t = addPhase(phases, 'fetchMs', t);

    const projection = [...columns.map((c) => sqlIdent(c.name)), ...partitionKeys.map((k) => sqlIdent(k))].join(', ');
    const parts: string[] = [];
    // The copies hold their partition values as VARCHAR columns, the catalog's type; DuckDB's Hive
    // partitioning would read them from the path instead, as numbers where they look like numbers.
    if (files.length > 0)
      parts.push(
        `SELECT ${projection} FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = false)`,
      );
    // A curated file has the table's columns of its time: later columns are NULL, widened ones cast.
    // Files of one set of columns are read by one scan, their partition values from their cached paths.
    const groups = new Map<string, { file: string; entry: CuratedPartition }[]>();
    for (const c of curatedFiles) {
      const id = hivePathMatches(c.file, partitionKeys, c.entry.values) ? JSON.stringify(c.entry.file.columns) : c.file;
      const group = groups.get(id);
      if (group) group.push(c);
      else groups.set(id, [c]);
    }
    for (const group of groups.values()) {
      const have = new Map(group[0].entry.file.columns.map((c) => [c.name, duckdbType(c.type)]));
      const select = columns.map((c) =>
        !have.has(c.name)
          ? `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`
          : have.get(c.name) === c.type
            ? sqlIdent(c.name)
            : `CAST(${sqlIdent(c.name)} AS ${c.type}) AS ${sqlIdent(c.name)}`,
      );
      if (group.length === 1) {
        const { file, entry } = group[0];
        select.push(...partitionKeys.map((k, i) => `${sqlString(entry.values[i] ?? '')} AS ${sqlIdent(k)}`));
        parts.push(`SELECT ${select.join(', ')} FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`);
      } else {
        select.push(...partitionKeys.map((k) => sqlIdent(k)));
        parts.push(
          `SELECT ${select.join(', ')} FROM read_parquet([${group.map((g) => sqlString(g.file)).join(', ')}], ` +
            'hive_partitioning = true, hive_types_autocast = false)',
        );
      }
    }
    const body =
      parts.length === 0
        ? `SELECT ${[
            ...columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdent(c.name)}`),
            ...partitionKeys.map((k) => `CAST(NULL AS VARCHAR) AS ${sqlIdent(k)}`),
          ].join(', ')} WHERE false`
        : parts.join(' UNION ALL ');
    await connection.run(`CREATE OR REPLACE TEMP VIEW ${sqlIdent(name)} AS ${body}`);
    addPhase(phases, 'viewMs', t);
    return {
      view: name,
      objectsRead: objects.length + curatedFiles.length,
      downloaded,
      bytes: objects.reduce((a, o) => a + o.size, 0) + curatedFiles.reduce((a, c) => a + c.entry.file.bytes, 0),
      ...(partitionsTotal !== undefined ? { partitionsRead, partitionsTotal } : {}),
    };
  }

  /**
   * Fetches lake objects and writes each as Parquet to its `file`: typed as the catalog says, its
   * partition values as columns, compressed with LZ4. Objects are downloaded `downloadConcurrency` at
   * a time into a work directory; small ones are converted together, a batch per DuckDB statement (a
   * COPY partitioned by the object's index in the batch, each part then renamed to its object's file;
   * four batches at a time, so that downloads and conversions overlap), since a statement and a file
   * cost more than the rows of a small object; large ones alone,
   * sorted by symbol and date when the table has them (so that row-group statistics prune a symbol's
   * or a day's query). A small object fits in one row group, where order does not matter to pruning.
   */
  private async convertMany(
    items: { object: LakeObject; file: string }[],
    columns: { name: string; type: string }[],
    partitionKeys: string[],
    progress: (done: number) => void,
  ): Promise<void> {
    const work = await this.cache.workDir();
    let done = 0;
    try {
      const small: number[] = [];
      const large: number[] = [];
      items.forEach((it, i) => (it.object.size <= BATCH_OBJECT_MAX_BYTES ? small : large).push(i));
      const batches: number[][] = [];
      let bytes = Infinity;
      for (const i of small) {
        if (
          bytes + items[i].object.size > BATCH_MAX_BYTES ||
          batches[batches.length - 1].length >= (this.options.batchObjects ?? BATCH_MAX_OBJECTS)
        ) {
          batches.push([]);
          bytes = 0;
        }
        batches[batches.length - 1].push(i);
        bytes += items[i].object.size;
      }
      for (const i of large) batches.push([i]);
      // Each batch in a folder of its own, removed once its objects are converted.
      const folder = (b: number) => path.join(work, String(b));
      const batchOf = new Map<number, number>();
      batches.forEach((batch, b) => batch.forEach((i) => batchOf.set(i, b)));
      const raw = (i: number) => path.join(folder(batchOf.get(i)!), `${i}${path.extname(items[i].object.key)}`);
      // Batches run CONVERT_CONCURRENCY at a time, so that one downloads while another converts.
      const downloads = Math.max(
        1,
        Math.ceil((this.options.downloadConcurrency ?? DEFAULT_DOWNLOAD_CONCURRENCY) / CONVERT_CONCURRENCY),
      );
      await mapLimit(batches, CONVERT_CONCURRENCY, async (batch, b) => {
        await fs.promises.mkdir(folder(b));
        await mapLimit(batch, downloads, (i) => this.fetchObject(items[i].object, raw(i)));
        const parts =
          batch.length > 1
            ? await this.convertBatch(
                batch.map((i) => ({ raw: raw(i), values: items[i].object.values })),
                path.join(folder(b), 'out'),
                columns,
                partitionKeys,
              )
            : [undefined];
        await mapLimit([...batch.entries()], RENAME_CONCURRENCY, async ([j, i]) => {
          const part = parts[j];
          // A part DuckDB split in two files, or an object without rows (no part), is converted alone.
          if (!part) return this.convertOne(raw(i), items[i].object.values, items[i].file, columns, partitionKeys);
          await fs.promises.mkdir(path.dirname(items[i].file), { recursive: true });
          await fs.promises.rename(part, items[i].file);
        });
        await fs.promises.rm(folder(b), { recursive: true, force: true });
        progress((done += batch.length));
      });
    } finally {
      await fs.promises.rm(work, { recursive: true, force: true });
    }
  }

  /** Downloads one lake object, as it is, to `file` (in an existing folder). */
  private async fetchObject(o: { bucket: string; key: string; etag: string }, file: string): Promise<void> {
    let body: Uint8Array;
    try {
      const out = await this.options.s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: o.key, IfMatch: o.etag }));
      body = await out.Body!.transformToByteArray();
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || status === 412)
        throw new Error(`object s3://${o.bucket}/${o.key} changed or vanished while the query read it; retrying`);
      throw err;
    }
    await fs.promises.writeFile(file, body);
  }

  /** The SELECT list and read_json call shared by both conversions. */
  private jsonScan(files: string[], columns: { name: string; type: string }[], extra = ''): string {
    const jsonColumns = columns.map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`).join(', ');
    return (
      `read_json([${files.map(sqlString).join(', ')}], format = 'newline_delimited', columns = {${jsonColumns}}, ` +
      `timestampformat = '%Y-%m-%dT%H:%M:%S.%gZ', hive_partitioning = false${extra})`
    );
  }

  /**
   * Converts several raw objects in one statement into `<out>/<BATCH_COLUMN>=<n>/`; the Parquet file of
   * each input in order, or undefined where DuckDB wrote no file or more than one.
   */
  private async convertBatch(
    inputs: { raw: string; values: string[] }[],
    out: string,
    columns: { name: string; type: string }[],
    partitionKeys: string[],
  ): Promise<(string | undefined)[]> {
    const connection = await (await this.open()).connect();
    try {
      const map = inputs
        .map(
          (x, n) =>
            `(${[sqlString(x.raw), String(n), ...partitionKeys.map((_, i) => sqlString(x.values[i] ?? ''))].join(', ')})`,
        )
        .join(', ');
      const mapColumns = [BATCH_FILE_COLUMN, BATCH_COLUMN, ...partitionKeys.map((_, i) => `__ticklake_p${i}`)];
      const select = [
        ...columns.map((c) => `j.${sqlIdent(c.name)}`),
        ...partitionKeys.map((k, i) => `m.__ticklake_p${i} AS ${sqlIdent(k)}`),
        `m.${BATCH_COLUMN}`,
      ];
      await connection.run(
        `COPY (SELECT ${select.join(', ')} ` +
          `FROM ${this.jsonScan(
            inputs.map((x) => x.raw),
            columns,
            `, filename = ${sqlString(BATCH_FILE_COLUMN)}`,
          )} j ` +
          `JOIN (VALUES ${map}) m(${mapColumns.join(', ')}) USING (${BATCH_FILE_COLUMN})) ` +
          `TO ${sqlString(out)} (FORMAT parquet, COMPRESSION ${CACHE_COMPRESSION}, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, PARTITION_BY (${BATCH_COLUMN}))`,
      );
    } finally {
      connection.closeSync();
    }
    return Promise.all(
      inputs.map(async (_, n) => {
        const dir = path.join(out, `${BATCH_COLUMN}=${n}`);
        const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
        return names.length === 1 ? path.join(dir, names[0]) : undefined;
      }),
    );
  }

  /** Converts one raw object into `file`, sorted by symbol and date when the table has them. */
  private async convertOne(
    raw: string,
    values: string[],
    file: string,
    columns: { name: string; type: string }[],
    partitionKeys: string[],
  ): Promise<void> {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const connection = await (await this.open()).connect();
    try {
      const select = [
        ...columns.map((c) => sqlIdent(c.name)),
        ...partitionKeys.map((k, i) => `${sqlString(values[i] ?? '')} AS ${sqlIdent(k)}`),
      ];
      const names = new Set(columns.map((c) => c.name));
      const order = ['symbol', 'trade_date'].filter((c) => names.has(c)).map(sqlIdent);
      await connection.run(
        `COPY (SELECT ${select.join(', ')} FROM ${this.jsonScan([raw], columns)}` +
          `${order.length > 0 ? ` ORDER BY ${order.join(', ')}` : ''}) ` +
          `TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION ${CACHE_COMPRESSION}, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`,
      );
      await fs.promises.rename(tmp, file);
    } finally {
      connection.closeSync();
      await fs.promises.rm(tmp, { force: true });
    }
  }

  /** The newest compaction state of a table whose location is `<prefix><table>/` in its bucket. */
  private async compactState(
    root: { bucket: string; key: string },
    database: string,
    table: string,
  ): Promise<CompactState | undefined> {
    const folder = withSlash(root.key);
    if (!folder.endsWith(`${table}/`)) return undefined;
    const prefix = folder.slice(0, folder.length - table.length - 1);
    const id = `${root.bucket}/${prefix}`;
    let reader = this.states.get(id);
    if (!reader) this.states.set(id, (reader = new StateReader(this.options.s3, root.bucket, prefix)));
    return reader.latest(database, table);
  }

  /** Fetches an object as it is into `file` (a curated Parquet file). */
  private async download(bucket: string, key: string, etag: string, file: string): Promise<void> {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    try {
      await this.fetchObject({ bucket, key, etag }, tmp);
      await fs.promises.rename(tmp, file);
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  }

  private async partitions(database: string, table: string): Promise<{ values: string[]; location: string }[]> {
    const out: { values: string[]; location: string }[] = [];
    for await (const page of paginateGetPartitions(
      { client: this.options.glue },
      { DatabaseName: database, TableName: table },
    )) {
      for (const p of page.Partitions ?? []) {
        if (p.StorageDescriptor?.Location) out.push({ values: p.Values ?? [], location: p.StorageDescriptor.Location });
      }
    }
    return out;
  }

  /**
   * Every object of a table folder, grouped by the folder that holds it (a partition's folder), in one
   * paginated listing; undefined when it would take more than `maxPages` pages.
   */
  private async listTable(bucket: string, prefix: string, maxPages: number): Promise<TableListing | undefined> {
    const folders = new Map<string, Omit<LakeObject, 'values'>[]>();
    let objects = 0;
    let pages = 0;
    for await (const page of paginateListObjectsV2(
      { client: this.options.s3 },
      { Bucket: bucket, Prefix: prefix, MaxKeys: LIST_PAGE },
    )) {
      if (++pages > maxPages) return undefined;
      for (const o of page.Contents ?? []) {
        if (!o.Key || !o.ETag) continue;
        objects++;
        if (!DATA_FILE.test(o.Key)) continue;
        const folder = o.Key.slice(0, o.Key.lastIndexOf('/') + 1);
        let list = folders.get(folder);
        if (!list) folders.set(folder, (list = []));
        list.push({ bucket, key: o.Key, etag: o.ETag, size: o.Size ?? 0 });
      }
    }
    return { folders, objects };
  }

  /**
   * The raw objects of a partition a query may need: without a curated file, all of them; with one, only
   * those at or above its watermarks, so that the raw objects kept for the retention after their
   * compaction (hundreds of thousands after a week of live streaming) are not listed by every query.
   * Object keys are `<topic>+<partition>+<first offset>`, so one Kafka partition's keys are contiguous.
   *
   * A folder one Kafka partition writes (the default layout: a symbol bucket is one Kafka partition's)
   * takes one round of two requests: the folder's first key, and a listing from the watermark of the
   * Kafka partition that first key had last time. When the first key is still that Kafka partition's,
   * every key before the watermark is a raw object already compacted and the listing holds all the
   * others (any later Kafka partition's whole); otherwise the listing is made again from the right
   * watermark. A folder found to hold several Kafka partitions' compacted objects is listed three
   * requests deep instead (topics, then Kafka partitions, then each from its watermark).
   */
  private async listRaw(
    bucket: string,
    folder: string,
    entry: CuratedPartition | undefined,
  ): Promise<Omit<LakeObject, 'values'>[]> {
    if (!entry) return this.list(bucket, folder);
    const id = `${bucket}/${folder}`;
    if (this.sharedFolders.has(id)) return this.listRawDeep(bucket, folder, entry);
    const from = (source: string | undefined) => {
      const mark = source === undefined ? undefined : entry.watermarks[source];
      return mark === undefined ? undefined : `${folder}${source}+${padOffset(mark)}`;
    };
    const guess = this.firstSources.get(id);
    const guessFrom = from(guess);
    const [first, guessed] = await Promise.all([
      this.options.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: folder, MaxKeys: 1 })),
      guessFrom === undefined ? undefined : this.list(bucket, folder, guessFrom),
    ]);
    const key = first.Contents?.[0]?.Key;
    if (key === undefined) return [];
    // A first key in a folder nested below this one (another layout's) says nothing of this folder's order.
    const rest = key.slice(folder.length);
    const source = rest.includes('/') ? undefined : cutOfKey(rest)?.source;
    const start = from(source);
    if (source === undefined || start === undefined) {
      this.firstSources.delete(id);
      return this.listRawDeep(bucket, folder, entry);
    }
    this.firstSources.set(id, source);
    const objects = source === guess && guessed ? guessed : await this.list(bucket, folder, start);
    if (objects.some((o) => !rawVisible(o.key, entry))) this.sharedFolders.add(id);
    return objects;
  }

  /** {@link listRaw} three requests deep: the topics, then each topic's Kafka partitions, side by side. */
  private async listRawDeep(
    bucket: string,
    folder: string,
    entry: CuratedPartition,
  ): Promise<Omit<LakeObject, 'values'>[]> {
    const top = await this.listDelimited(bucket, folder);
    const topics = await Promise.all(
      top.prefixes.map(async (topic) => {
        const byPartition = await this.listDelimited(bucket, topic);
        const sources = await Promise.all(
          byPartition.prefixes.map((source) => {
            const mark = entry.watermarks[source.slice(folder.length, -1)];
            return this.list(bucket, source, mark === undefined ? undefined : `${source}${padOffset(mark)}`);
          }),
        );
        return [...byPartition.objects, ...sources.flat()];
      }),
    );
    return [...top.objects, ...topics.flat()];
  }

  /** Objects directly under a prefix up to the next '+', and the prefixes ending in '+' below it. */
  private async listDelimited(
    bucket: string,
    prefix: string,
  ): Promise<{ objects: Omit<LakeObject, 'values'>[]; prefixes: string[] }> {
    const objects: Omit<LakeObject, 'values'>[] = [];
    const prefixes: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: this.options.s3 },
      { Bucket: bucket, Prefix: prefix, Delimiter: '+' },
    )) {
      for (const o of page.Contents ?? []) {
        if (o.Key && o.ETag && !o.Key.slice(prefix.length).includes('/'))
          objects.push({ bucket, key: o.Key, etag: o.ETag, size: o.Size ?? 0 });
      }
      for (const p of page.CommonPrefixes ?? [])
        if (p.Prefix && !p.Prefix.slice(prefix.length).includes('/')) prefixes.push(p.Prefix);
    }
    return { objects, prefixes };
  }

  private async list(bucket: string, prefix: string, startAfter?: string): Promise<Omit<LakeObject, 'values'>[]> {
    const out: Omit<LakeObject, 'values'>[] = [];
    for await (const page of paginateListObjectsV2(
      { client: this.options.s3 },
      { Bucket: bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) },
    )) {
      for (const o of page.Contents ?? []) {
        // Objects of a partition, not of partitions nested below it (another layout's folders).
        if (o.Key && o.ETag && !o.Key.slice(prefix.length).includes('/'))
          out.push({ bucket, key: o.Key, etag: o.ETag, size: o.Size ?? 0 });
      }
    }
    return out;
  }

  private async prepareStatement(
    connection: DuckDBConnection,
    request: QueryRequest,
  ): Promise<DuckDBPreparedStatement> {
    let prepared: DuckDBPreparedStatement;
    try {
      prepared = await connection.prepare(request.sql);
    } catch (err) {
      throw await this.explain(err, request);
    }
    try {
      if (!request.allowWrites && prepared.statementType !== StatementType.SELECT) {
        throw new QueryError(
          'QueryRefused',
          `query refused: only read statements run by default; this one does not read; ${ALLOW_WRITES_HINT}`,
        );
      }
      if (prepared.parameterCount !== request.params.length) {
        throw new QueryError(
          'QueryFailed',
          `the query has ${prepared.parameterCount} ? placeholder(s) but ${request.params.length} parameter(s) were given`,
        );
      }
      request.params.forEach((p, i) => bindParam(prepared, i + 1, p));
      return prepared;
    } catch (err) {
      prepared.destroySync();
      throw err instanceof QueryError ? err : await this.explain(err, request);
    }
  }

  private statementError(err: unknown, request: QueryRequest, hooks: QueryHooks): Error {
    if (hooks.signal.aborted) return new QueryError('QueryCancelled', 'query cancelled; DuckDB interrupted');
    const message = (err as Error).message ?? String(err);
    if (STATEMENT_ERRORS.test(message))
      return new QueryError('QueryFailed', `query failed: ${message}`, {
        engine: 'duckdb',
        database: request.database,
      });
    return new Error(`DuckDB failed running the query (will retry): ${message}`);
  }

  /** A DuckDB error at prepare time, with the catalog's table names when a table is unknown. */
  private async explain(err: unknown, request: QueryRequest): Promise<Error> {
    const message = (err as Error).message ?? String(err);
    if (!STATEMENT_ERRORS.test(message)) return new Error(`DuckDB failed preparing the query (will retry): ${message}`);
    let hint = '';
    const unknownTable = /^Catalog Error: Table/i.test(message);
    if (/Cannot compare values of type VARCHAR and type (INTEGER|DECIMAL)_LITERAL/i.test(message)) {
      hint =
        '; partition columns are strings, as the catalog types them and Athena reads them: compare them with ' +
        "strings (year = '2020') or cast them (CAST(year AS INTEGER) > 2019)";
    } else if (unknownTable || /^Binder Error: Referenced column/i.test(message)) {
      try {
        const out = await this.options.glue.send(new GetTablesCommand({ DatabaseName: request.database }));
        const tables = out.TableList ?? [];
        hint = unknownTable
          ? `; tables in database '${request.database}': ${tables.map((t) => t.Name).join(', ') || 'none (run a crawl)'}`
          : `; columns: ${tables
              .map((t) => {
                const columns = [...(t.StorageDescriptor?.Columns ?? []), ...(t.PartitionKeys ?? [])];
                return `${t.Name} (${columns.map((c) => c.Name).join(', ')})`;
              })
              .join('; ')}`;
      } catch {
        // the hint is optional
      }
    }
    const [first, ...rest] = message.split('\n');
    return new QueryError('QueryFailed', [`query failed: ${first}${hint}`, ...rest].join('\n').trim(), {
      engine: 'duckdb',
      database: request.database,
    });
  }

  /** The bounded page of a result and, when it does not hold the whole result, the whole result as a CSV file. */
  private async collect(
    connection: DuckDBConnection,
    result: DuckDBMaterializedResult,
    request: QueryRequest,
    hooks: QueryHooks,
  ): Promise<QueryOutcome> {
    const names = result.columnNames();
    const types = result.columnTypes();
    const page = new PageBuilder(request.maxRows, request.maxBytes);
    const pending = [];
    let rowCount = 0;
    let appender: Awaited<ReturnType<DuckDBConnection['createAppender']>> | undefined;
    const table = `_result_${Math.random().toString(36).slice(2, 10)}`;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      rowCount += chunk.rowCount;
      if (!page.truncated) {
        for (const row of chunk.getRows()) if (!page.add(row.map(duckdbCell))) break;
        pending.push(chunk);
      } else {
        pending.push(chunk);
      }
      if (page.truncated) {
        if (!appender) {
          await connection.run(
            `CREATE TEMP TABLE ${table} (${types.map((t, i) => `c${i} ${t.toString()}`).join(', ')})`,
          );
          appender = await connection.createAppender(table, 'main', 'temp');
        }
        for (const c of pending.splice(0)) appender.appendDataChunk(c);
        hooks.heartbeat({ phase: 'result', rows: rowCount });
      }
    }
    let resultLocation: string | undefined;
    if (appender) {
      appender.closeSync();
      const file = path.join(this.options.resultsDir, `${request.queryId.replace(/[^A-Za-z0-9._-]+/g, '_')}.csv`);
      const tmp = `${file}.${process.pid}.tmp`;
      const projection = names.map((n, i) => `c${i} AS ${sqlIdent(n)}`).join(', ');
      await connection.run(`COPY (SELECT ${projection} FROM temp.${table}) TO ${sqlString(tmp)} (FORMAT csv, HEADER)`);
      await connection.run(`DROP TABLE temp.${table}`);
      await fs.promises.rename(tmp, file);
      resultLocation = file;
    }
    return {
      columns: names.map((name, i) => ({ name, type: types[i].toString() })),
      rows: page.rows,
      truncated: page.truncated,
      rowCount,
      stats: { engineMs: 0, objectsDownloaded: 0, objectsCached: 0 },
      resultLocation,
    };
  }
}

/** Binds one parameter with the type a reader expects: integers as BIGINT, other numbers as DOUBLE. */
function bindParam(prepared: DuckDBPreparedStatement, index: number, value: QueryParam): void {
  if (value === null) prepared.bindNull(index);
  else if (typeof value === 'string') prepared.bindVarchar(index, value);
  else if (typeof value === 'boolean') prepared.bindBoolean(index, value);
  else if (typeof value === 'number' && Number.isSafeInteger(value)) prepared.bindBigInt(index, BigInt(value));
  else if (typeof value === 'number') prepared.bindDouble(index, value);
  else
    throw new QueryError(
      'QueryRefused',
      `parameter ${index} has type ${typeof value}; use a string, number, boolean or null`,
    );
}

/**
 * Functions that make DuckDB answer like Athena (Trino) for the common cases of docs/queries.md:
 * `date_trunc` of a DATE is a DATE (DuckDB's own returns a TIMESTAMP); `day_of_week` is ISO (Monday = 1);
 * `approx_distinct` is DuckDB's approx_count_distinct.
 */
const DIALECT_MACROS = [
  `CREATE MACRO date_trunc(unit, d DATE) AS CAST(system.main.date_trunc(unit, d) AS DATE),
     (unit, d TIMESTAMP) AS system.main.date_trunc(unit, d),
     (unit, d TIMESTAMP WITH TIME ZONE) AS system.main.date_trunc(unit, d),
     (unit, d INTERVAL) AS system.main.date_trunc(unit, d)`,
  `CREATE MACRO day_of_week(d) AS isodow(d)`,
  `CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)`,
];
