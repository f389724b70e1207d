/**
 * The local query engine: DuckDB embedded, over the Glue catalog's tables and the lake's objects.
 *
 * DuckDB's npm build has no httpfs, so objects are read through the S3 API into a local cache keyed by
 * ETag (a repeated query downloads nothing), then loaded once into a table of a per-worker in-memory
 * DuckDB instance (the "store"), which stays warm between queries. Each query:
 *  1. is parsed by DuckDB itself (`json_serialize_sql`): one statement, a SELECT unless writes are
 *     allowed, and the tables it reads plus its partition predicates (pruning.ts);
 *  2. reads each referenced table's definition and partitions from Glue and lists its objects (one
 *     listing of the table location, not one per partition);
 *  3. syncs the store with the listing: rows of objects that disappeared or changed (ETag) are deleted,
 *     objects of the partitions the query needs and not yet loaded are fetched and loaded;
 *  4. runs on its own connection over temporary views named after the Glue tables (limited to the
 *     partitions the query can read), with its parameters bound, never spliced;
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
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { QueryError, type QueryEngine, type QueryHooks, type QueryOutcome, type QueryRequest } from './engine';
import { duckdbCell, duckdbType } from './duckdb-values';
import { PageBuilder } from './page';
import { keepPartition, partitionPredicate, referencedTables, type PartitionPredicate } from './pruning';
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
  /** DuckDB memory limit, e.g. '2GB'. Default DuckDB's (80% of RAM). */
  memoryLimit?: string;
  /** Objects downloaded at once. Default 8. */
  downloadConcurrency?: number;
  /**
   * How long a table's Glue partitions may be reused while the lake's partition folders are unchanged,
   * ms. Default 30,000; 0 reads them from Glue for every query.
   */
  partitionCacheMs?: number;
}

interface PartitionCacheEntry {
  /** UpdateTime, VersionId, location and partition keys of the table the partitions were read with. */
  tableVersion: string;
  partitions: { values: string[]; location: string }[];
  /** Folders holding data files when the partitions were read, s3:// URLs ending in '/'. */
  dirs: Set<string>;
  fetchedAt: number;
}

/** Folders that hold data files in a listing, as s3:// URLs ending in '/'. */
function dataDirs(listed: readonly { bucket: string; key: string }[]): Set<string> {
  const dirs = new Set<string>();
  for (const o of listed)
    if (DATA_FILE.test(o.key)) dirs.add(`s3://${o.bucket}/${o.key.slice(0, o.key.lastIndexOf('/') + 1)}`);
  return dirs;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

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

/** A promise-chain mutex: one sync of a store table at a time. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

interface LakeObject {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  /** Index into the table's partitions; -1 for an unpartitioned table. */
  partition: number;
}

interface StoreTable {
  /** Internal table `_lake.t<n>`. */
  ident: string;
  /** Columns and partition keys the store table was created with; a change rebuilds it. */
  signature: string;
  /** Loaded objects by s3 URL: their ETag and the listing they came from. */
  loaded: Map<string, { etag: string; listedAt: number }>;
  lock: Mutex;
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

/** Runs `fn` over items with at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}

export class DuckDBEngine implements QueryEngine {
  readonly name = 'duckdb' as const;
  private instance?: Promise<DuckDBInstance>;
  private readonly store = new Map<string, StoreTable>();
  private nextTable = 1;
  /** Sequence of listings: a sync only drops what an older listing loaded. */
  private listings = 0;
  /** Glue partitions per table, reused while the lake's partition folders are unchanged (see prepareTable). */
  private readonly partitionCache = new Map<string, PartitionCacheEntry>();
  private readonly partitionCacheMs: number;

  constructor(private readonly options: DuckDBEngineOptions) {
    this.partitionCacheMs = options.partitionCacheMs ?? 30_000;
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
        ...(this.options.memoryLimit ? { memory_limit: this.options.memoryLimit } : {}),
      });
      const c = await instance.connect();
      try {
        await c.run('CREATE SCHEMA _lake');
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
    this.store.clear();
    this.partitionCache.clear();
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
    try {
      const parsed = await this.parse(connection, request);
      t = addPhase(phases, 'parseMs', t);

      const tables = await this.catalogTables(request.database, parsed.tables);
      t = addPhase(phases, 'catalogMs', t);
      const selections: TableSelection[] = [];
      for (const table of tables) {
        const predicate =
          parsed.tree === undefined
            ? undefined
            : partitionPredicate(
                parsed.tree,
                table.Name!,
                (table.PartitionKeys ?? []).map((k) => k.Name!),
                request.params,
              );
        selections.push(await this.prepareTable(connection, request.database, table, predicate, phases, hooks));
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

  /** Syncs one table's store with the lake and creates the query's temporary view over it. */
  private async prepareTable(
    connection: DuckDBConnection,
    database: string,
    table: GlueTable,
    predicate: PartitionPredicate | undefined,
    phases: Phases,
    hooks: QueryHooks,
  ): Promise<TableSelection> {
    const name = table.Name!;
    const columns = table.StorageDescriptor?.Columns ?? [];
    const partitionKeys = (table.PartitionKeys ?? []).map((k) => k.Name!);
    const location = table.StorageDescriptor?.Location;
    if (!location)
      throw new QueryError('QueryFailed', `table '${database}.${name}' has no location in the catalog; recrawl it`);
    const root = parseS3Url(location);
    const signature = JSON.stringify([location, columns.map((c) => [c.Name, c.Type]), partitionKeys]);
    const storeKey = `${database}\u0000${name}`;

    let t = Date.now();
    const listedAt = ++this.listings;
    const rootUrl = `s3://${root.bucket}/${withSlash(root.key)}`;
    const timed = async <T>(phase: string, p: Promise<T>): Promise<T> => {
      const since = Date.now();
      const out = await p;
      addPhase(phases, phase, since);
      return out;
    };
    const listRoot = () => timed('listMs', this.list(root.bucket, withSlash(root.key)));
    const fetchPartitions = () => timed('partitionsMs', this.partitions(database, name));
    const tableVersion = JSON.stringify([table.UpdateTime, table.VersionId, location, partitionKeys]);
    const cached = this.partitionCache.get(storeKey);
    let partitions: { values: string[]; location: string }[] = [];
    let listed: Omit<LakeObject, 'partition'>[];
    if (partitionKeys.length === 0) {
      listed = await listRoot();
    } else if (
      cached &&
      cached.tableVersion === tableVersion &&
      Date.now() - cached.fetchedAt < this.partitionCacheMs
    ) {
      listed = await listRoot();
      const dirs = dataDirs(listed);
      partitions = sameSet(dirs, cached.dirs) ? cached.partitions : await fetchPartitions();
      if (partitions === cached.partitions) phases.partitionsCached = 1;
    } else {
      [partitions, listed] = await Promise.all([fetchPartitions(), listRoot()]);
    }
    if (partitionKeys.length > 0 && partitions !== cached?.partitions) {
      // Reusable while the lake shows the same partition folders and each of them is registered: then
      // only an administrative change in Glue (a partition dropped or moved) could be missed, for at most
      // partitionCacheMs. New data always shows up as a new folder or a new object in the listing.
      const dirs = dataDirs(listed);
      const registered = new Set(partitions.map((p) => withSlash(p.location)));
      const covered = [...dirs].every((d) => registered.has(d)) && [...registered].every((d) => d.startsWith(rootUrl));
      if (covered) this.partitionCache.set(storeKey, { tableVersion, partitions, dirs, fetchedAt: Date.now() });
      else this.partitionCache.delete(storeKey);
    }
    t = Date.now();
    // Partitions stored outside the table location (rare) are listed on their own.
    for (const p of partitions) {
      if (!withSlash(p.location).startsWith(rootUrl)) {
        const { bucket, key } = parseS3Url(p.location);
        listed.push(...(await this.list(bucket, withSlash(key))));
      }
    }
    const byLocation = new Map<string, number>();
    partitions.forEach((p, i) => byLocation.set(withSlash(p.location), i));
    const objects: LakeObject[] = [];
    for (const o of listed) {
      if (!DATA_FILE.test(o.key)) continue;
      const dir = `s3://${o.bucket}/${o.key.slice(0, o.key.lastIndexOf('/') + 1)}`;
      if (partitionKeys.length === 0) {
        if (dir === rootUrl) objects.push({ ...o, partition: -1 });
        continue;
      }
      const index = byLocation.get(dir);
      if (index !== undefined) objects.push({ ...o, partition: index });
    }
    const kept = partitions.map((p) => keepPartition(p.values, partitionKeys, predicate));
    const wanted = objects.filter((o) => o.partition < 0 || kept[o.partition]);
    t = addPhase(phases, 'planMs', t);

    let entry = this.store.get(storeKey);
    if (!entry) {
      entry = { ident: `_lake.t${this.nextTable++}`, signature: '', loaded: new Map(), lock: new Mutex() };
      this.store.set(storeKey, entry);
    }
    const store = entry;
    const downloaded = await store.lock.run(() =>
      this.sync(
        store,
        { signature, columns, partitionKeys, partitions, objects, wanted, listedAt },
        phases,
        hooks,
        name,
      ),
    );

    // The view shows the objects of the partitions the query can read (all of them: no filter at all).
    t = Date.now();
    const projection = [...columns.map((c) => c.Name!), ...partitionKeys].map(sqlIdent).join(', ');
    const keptLocations = partitions.filter((_, i) => kept[i]).map((p) => sqlString(withSlash(p.location)));
    const filter = kept.every(Boolean) ? '' : ` WHERE "_partition" IN (${keptLocations.join(', ') || 'NULL'})`;
    await connection.run(
      `CREATE OR REPLACE TEMP VIEW ${sqlIdent(name)} AS SELECT ${projection} FROM ${store.ident}${filter}`,
    );
    addPhase(phases, 'viewMs', t);
    return {
      view: name,
      objectsRead: wanted.length,
      downloaded,
      bytes: wanted.reduce((a, o) => a + o.size, 0),
      ...(partitionKeys.length > 0
        ? { partitionsRead: kept.filter(Boolean).length, partitionsTotal: partitions.length }
        : {}),
    };
  }

  /**
   * Brings a store table in line with a listing: drops rows of objects gone or changed since they were
   * loaded (only when this listing is newer than the load), loads the wanted objects not loaded yet.
   * Returns how many objects were downloaded from S3.
   */
  private async sync(
    store: StoreTable,
    plan: {
      signature: string;
      columns: { Name?: string; Type?: string }[];
      partitionKeys: string[];
      partitions: { values: string[]; location: string }[];
      objects: LakeObject[];
      wanted: LakeObject[];
      listedAt: number;
    },
    phases: Phases,
    hooks: QueryHooks,
    table: string,
  ): Promise<number> {
    const sync = await (await this.open()).connect();
    try {
      if (store.signature !== plan.signature) {
        await sync.run(`DROP TABLE IF EXISTS ${store.ident}`);
        const defs = [
          ...plan.columns.map((c) => `${sqlIdent(c.Name!)} ${duckdbType(c.Type ?? 'string')}`),
          ...plan.partitionKeys.map((k) => `${sqlIdent(k)} VARCHAR`),
          '"_object" VARCHAR',
          '"_partition" VARCHAR',
        ];
        await sync.run(`CREATE TABLE ${store.ident} (${defs.join(', ')})`);
        store.signature = plan.signature;
        store.loaded.clear();
      }
      const url = (o: LakeObject) => `s3://${o.bucket}/${o.key}`;
      const current = new Map(plan.objects.map((o) => [url(o), o.etag]));
      const stale = [...store.loaded]
        .filter(([u, l]) => l.listedAt < plan.listedAt && current.get(u) !== l.etag)
        .map(([u]) => u);
      const staleSet = new Set(stale);
      const missing = plan.wanted.filter((o) => !store.loaded.has(url(o)) || staleSet.has(url(o)));
      let t = Date.now();
      const files = new Map<LakeObject, string>();
      let fetched = 0;
      await eachLimited(missing, this.options.downloadConcurrency ?? 8, async (o) => {
        const { file, downloaded } = await this.cachedObject(o);
        files.set(o, file);
        if (downloaded) fetched++;
        hooks.heartbeat({ phase: 'fetch', table, files: files.size, of: missing.length });
      });
      t = addPhase(phases, 'fetchMs', t);
      if (stale.length > 0 || missing.length > 0) {
        await sync.run('BEGIN TRANSACTION');
        try {
          for (let i = 0; i < stale.length; i += 1000) {
            await sync.run(
              `DELETE FROM ${store.ident} WHERE "_object" IN (${stale
                .slice(i, i + 1000)
                .map(sqlString)
                .join(', ')})`,
            );
          }
          await this.load(sync, store.ident, plan.columns, plan.partitionKeys, plan.partitions, missing, files);
          await sync.run('COMMIT');
        } catch (err) {
          await sync.run('ROLLBACK').catch(() => undefined);
          throw err;
        }
        for (const u of stale) store.loaded.delete(u);
        for (const o of missing) store.loaded.set(url(o), { etag: o.etag, listedAt: plan.listedAt });
      }
      addPhase(phases, 'loadMs', t);
      return fetched;
    } finally {
      sync.closeSync();
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

  private async list(bucket: string, prefix: string): Promise<Omit<LakeObject, 'partition'>[]> {
    const out: Omit<LakeObject, 'partition'>[] = [];
    for await (const page of paginateListObjectsV2({ client: this.options.s3 }, { Bucket: bucket, Prefix: prefix })) {
      for (const o of page.Contents ?? []) {
        if (o.Key && o.ETag) out.push({ bucket, key: o.Key, etag: o.ETag, size: o.Size ?? 0 });
      }
    }
    return out;
  }

  /** The local copy of an object, downloaded unless the cached copy has the same ETag. */
  private async cachedObject(o: LakeObject): Promise<{ file: string; downloaded: boolean }> {
    const file = path.join(this.options.cacheDir, o.bucket, o.key);
    const tagFile = `${file}.etag`;
    try {
      if ((await fs.promises.readFile(tagFile, 'utf8')) === o.etag) return { file, downloaded: false };
    } catch {
      // not cached yet
    }
    const out = await this.options.s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: o.key, IfMatch: o.etag }));
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.promises.writeFile(tmp, await out.Body!.transformToByteArray());
    await fs.promises.rename(tmp, file);
    await fs.promises.writeFile(`${tagFile}.${process.pid}.tmp`, o.etag);
    await fs.promises.rename(`${tagFile}.${process.pid}.tmp`, tagFile);
    return { file, downloaded: true };
  }

  /** Loads objects into the store table in one statement per batch: rows carry their partition values. */
  private async load(
    sync: DuckDBConnection,
    ident: string,
    columns: { Name?: string; Type?: string }[],
    partitionKeys: string[],
    partitions: { values: string[]; location: string }[],
    objects: LakeObject[],
    files: Map<LakeObject, string>,
  ): Promise<void> {
    const jsonColumns = columns
      .map((c) => `${sqlString(c.Name!)}: ${sqlString(duckdbType(c.Type ?? 'string'))}`)
      .join(', ');
    const select = columns.map((c) => `j.${sqlIdent(c.Name!)}`);
    for (let i = 0; i < objects.length; i += 500) {
      const batch = objects.slice(i, i + 500);
      const rows = batch.map((o) => {
        const values = o.partition >= 0 ? partitions[o.partition].values : [];
        return `(${[files.get(o)!, `s3://${o.bucket}/${o.key}`, o.partition >= 0 ? withSlash(partitions[o.partition].location) : '', ...partitionKeys.map((_, k) => values[k] ?? '')].map(sqlString).join(', ')})`;
      });
      const mapColumns = ['file', 'object', 'partition', ...partitionKeys.map((_, k) => `p${k}`)].join(', ');
      await sync.run(
        `INSERT INTO ${ident} SELECT ${[...select, ...partitionKeys.map((_, k) => `m.p${k}`), 'm.object', 'm.partition'].join(', ')} ` +
          `FROM read_json([${batch.map((o) => sqlString(files.get(o)!)).join(', ')}], format = 'newline_delimited', ` +
          `columns = {${jsonColumns}}, filename = '_ticklake_file', hive_partitioning = false, ` +
          `timestampformat = '%Y-%m-%dT%H:%M:%S.%gZ') j ` +
          `JOIN (VALUES ${rows.join(', ')}) m(${mapColumns}) ON j._ticklake_file = m.file`,
      );
    }
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
    if (unknownTable || /^Binder Error: Referenced column/i.test(message)) {
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
