/**
 * The compaction: raw NDJSON windows of the lake become Parquet in the curated zone, exactly once for
 * readers (src/compact/state.ts says how; docs/architecture.md, "Curated zone", gives the crash windows).
 *
 * - `planCompaction`: reads the newest state and the sink's manifests, takes the closed cuts, groups
 *   their objects into windows (one per lake partition) and writes the plan to the bucket;
 * - `compactPartition`: one window into one Parquet file (src/compact/window.ts), checked, uploaded;
 * - `compactPartitions`: several small windows the same way, in one pass (the plan's batches);
 * - `commitCompaction`: the switch: the next state generation, written once (If-None-Match);
 * - `applyCuratedCatalog`: the Glue Parquet table of the curated zone, in step with the newest state;
 * - `expireRaw`: raw objects and replaced curated files whose retention has passed, deleted.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import {
  AlreadyExistsException,
  BatchCreatePartitionCommand,
  BatchUpdatePartitionCommand,
  CreateTableCommand,
  UpdateTableCommand,
  type GlueClient,
  type PartitionInput,
  type TableInput,
} from '@aws-sdk/client-glue';
import { putObject, getJson, bucketExists } from '../src/adapters/s3';
import { getTable, registeredPartitions, partitionId, ensureDatabase } from '../src/catalog/glue-catalog';
import { listKeys, listManifestFolders, mapLimit, readManifest } from '../src/catalog/lake-scan';
import { parsePartitionPath, sinkManifestRoot } from '../src/catalog/crawl-plan';
import { s3Url } from '../src/catalog/glue-table';
import { tableRoot } from '../src/lake-layout';
import {
  closedCuts,
  curatedTableName,
  PARAM_CURATED_GENERATION,
  curatedTotals,
  curatedFileKey,
  curatedRoot,
  CUT_COLUMN,
  cutOfKey,
  dueRetirements,
  emptyState,
  listStartAfter,
  manifestFolderId,
  planKey,
  planBatches,
  planWindows,
  SOURCE_COLUMN,
  STATE_VERSION,
  type CompactionPlan,
  type CompactState,
  type CutManifest,
  type WindowFailure,
} from '../src/compact/state';
import { commitState, deleteKeys, pruneStates, readLatestState } from '../src/compact/store';
import { compactWindow, compactWindows, WindowRefused } from '../src/compact/window';
import { INVALID_COMPACT_INPUT } from '../src/errors/compact';
import { IdleInstance } from '../src/idle-instance';
import type {
  CompactCommitResult,
  CompactExpireResult,
  CompactInput,
  CompactPlanSummary,
  CompactResult,
  CompactWindowResult,
} from './types';
import type { S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';

export interface CompactDeps {
  s3: S3Client;
  glue: GlueClient;
  /** Scratch space for windows being compacted. Default: the system's temporary directory. */
  workDir?: string;
  /** The DuckDB instance is closed this many ms after its last window if no commit closed it first. Default 60,000. */
  duckdbIdleMs?: number;
}

const DUCKDB_IDLE_MS = 60_000;

export const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';
export const PARQUET_INPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat';
export const PARQUET_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat';
export { curatedTableName, PARAM_CURATED_GENERATION };

function heartbeat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (tests call the functions directly)
  }
}

async function latest(s3: S3Client, input: CompactInput): Promise<CompactState> {
  const ref = await readLatestState(s3, input.bucket, input.prefix, input.database, input.table);
  return ref?.state ?? emptyState(input.database, input.table, input.partitionBy);
}

function checkInput(input: CompactInput): void {
  const problems: string[] = [];
  if (!input.bucket) problems.push('bucket');
  if (!input.table) problems.push('table');
  if (!input.curatedPrefix || input.curatedPrefix === input.prefix)
    problems.push('curatedPrefix (a prefix of its own, e.g. curated/)');
  if (!(input.quietMs >= 0)) problems.push('quietMs');
  if (!(input.retentionMs >= 0)) problems.push('retentionMs');
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(
      `compaction input is missing or wrong: ${problems.join(', ')}`,
      INVALID_COMPACT_INPUT,
    );
}

export function createCompactActivities(deps: CompactDeps) {
  const { s3, glue } = deps;
  const workDir = deps.workDir ?? path.join(os.tmpdir(), 'ticklake-compact');
  // Opened by the first window of a run, closed when the run commits (or a minute after its last
  // window, for a run that stops before): the memory of a run is not held until the next one, an hour
  // later on the schedule.
  const duckdb = new IdleInstance<DuckDBInstance>({
    open: async () => {
      await fs.promises.mkdir(workDir, { recursive: true });
      return DuckDBInstance.create(':memory:', {
        threads: '2',
        memory_limit: '1GB',
        temp_directory: path.join(workDir, '.duckdb-tmp'),
      });
    },
    close: (instance) => instance.closeSync(),
    idleMs: deps.duckdbIdleMs ?? DUCKDB_IDLE_MS,
  });

  async function planCompaction(input: CompactInput): Promise<CompactPlanSummary> {
    checkInput(input);
    if (!(await bucketExists(s3, input.bucket)))
      throw ApplicationFailure.nonRetryable(
        `bucket '${input.bucket}' does not exist; create it or set LAKE_BUCKET`,
        'MissingBucket',
      );
    const state = await latest(s3, input);
    const generation = state.generation + 1;
    const table = await getTable(glue, input.database, input.table);
    const columns = (table?.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name!, type: c.Type ?? 'string' }));
    const empty = (note: string): CompactPlanSummary => ({ generation, planKey: '', windows: [], note });
    if (!table || columns.length === 0)
      return empty(
        `table ${input.database}.${input.table} is not in the catalog yet; crawl first (npx ticklake crawl)`,
      );

    // The closed cuts of each manifest folder, from where every partition has read it.
    const root = sinkManifestRoot(input.prefix);
    const folders = await listManifestFolders(s3, input.bucket, root);
    const failing = new Set(state.failures.map((f) => f.partition));
    const now = Date.now();
    const cutsBySource = new Map<string, CutManifest[]>();
    const chain: Record<string, string> = { ...state.chain };
    const chainEnds: Record<string, string> = {};
    // The folders are read side by side (each in chain order), their cuts taken in folder order.
    const read = await mapLimit(folders, 4, async (folder) => {
      const id = manifestFolderId(folder, root);
      if (!id) return undefined;
      let from = BigInt(state.chain[id.id] ?? '0');
      for (const p of failing) {
        const mark = state.partitions[p]?.watermarks[id.source];
        const start = mark === undefined ? 0n : BigInt(mark);
        if (start < from) from = start;
      }
      const keys = (await listKeys(s3, input.bucket, folder, listStartAfter(folder, from.toString()))).filter((k) =>
        k.endsWith('.json'),
      );
      const manifests: CutManifest[] = [];
      // Read in order, in batches, and stop at the first cut that is not closed yet.
      for (let i = 0; i < keys.length; i += 256) {
        const batch = await mapLimit(keys.slice(i, i + 256), 16, (k) => readManifest(s3, input.bucket, k));
        let open = false;
        for (let j = 0; j < batch.length; j++) {
          const got = batch[j];
          if (got.status !== 'ok') continue;
          const m = got.manifest;
          manifests.push({ key: keys[i + j], first: m.first, end: m.end, writtenAt: m.writtenAt, files: m.files });
          if (now - Date.parse(m.writtenAt) < input.quietMs) open = true;
        }
        if (open) break;
        heartbeat({ phase: 'plan', folder: id.id, manifests: manifests.length });
      }
      return { id, closed: closedCuts(manifests, from.toString(), now, input.quietMs) };
    });
    for (const r of read) {
      if (!r) continue;
      const { id, closed } = r;
      cutsBySource.set(id.source, [...(cutsBySource.get(id.source) ?? []), ...closed.cuts]);
      const before = BigInt(state.chain[id.id] ?? '0');
      if (BigInt(closed.end) > before) chain[id.id] = closed.end;
      chainEnds[id.source] = chain[id.id] ?? '0';
    }
    const windows = planWindows(state, cutsBySource, chainEnds, tableRoot(input.prefix, input.table), (p) =>
      parsePartitionPath(p, input.partitionBy),
    );
    const planId = createHash('sha256')
      .update(JSON.stringify([generation, columns, windows, chain]))
      .digest('hex')
      .slice(0, 16);
    const plan: CompactionPlan = {
      database: input.database,
      table: input.table,
      generation,
      planId,
      createdAt: new Date(now).toISOString(),
      columns,
      partitionBy: input.partitionBy,
      chain,
      windows,
    };
    const key = planKey(input.prefix, input.database, input.table, generation).replace(/\.json$/, `-${planId}.json`);
    await putObject(s3, input.bucket, key, Buffer.from(JSON.stringify(plan)), 'application/json');
    const summaries = windows.map((w) => ({
      partition: w.partition,
      objects: w.objects.length,
      records: w.objects.reduce((a, o) => a + o.records, 0),
    }));
    return {
      generation,
      planKey: key,
      windows: summaries,
      batches: planBatches(summaries, input.concurrency ?? 2),
      ...(windows.length === 0 ? { note: 'no closed window has raw records to compact' } : {}),
    };
  }

  async function readPlan(input: CompactInput, key: string): Promise<CompactionPlan> {
    const plan = await getJson<CompactionPlan>(s3, input.bucket, key);
    if (!plan) throw ApplicationFailure.nonRetryable(`compaction plan ${key} is missing`, INVALID_COMPACT_INPUT);
    return plan;
  }

  async function compactPartition(input: CompactInput, key: string, partition: string): Promise<CompactWindowResult> {
    const plan = await readPlan(input, key);
    const window = plan.windows.find((w) => w.partition === partition);
    if (!window)
      throw ApplicationFailure.nonRetryable(`window ${partition} is not in plan ${key}`, INVALID_COMPACT_INPUT);
    // DuckDB's work on a large window holds no await the activity could heartbeat from: a timer does.
    let last: unknown = { phase: 'start', partition };
    const beat = (details: unknown) => {
      last = details;
      heartbeat(details);
    };
    const timer = setInterval(() => heartbeat(last), 5000);
    try {
      const outcome = await duckdb.use((instance) =>
        compactWindow({
          s3,
          bucket: input.bucket,
          instance,
          workDir,
          columns: plan.columns,
          window,
          key: curatedFileKey(input.curatedPrefix, input.table, partition, plan.generation, plan.planId),
          heartbeat: beat,
        }),
      );
      return { partition, ok: true, outcome };
    } catch (err) {
      if (err instanceof WindowRefused) {
        log.warn('compaction window refused', { partition, type: err.type, message: err.message });
        return { partition, ok: false, failure: { type: err.type, message: err.message } };
      }
      throw err;
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Several small windows of the plan in one pass (src/compact/window.ts `compactWindows`): one
   * activity, one DuckDB connection, one statement per step for all of them; one result per window, in
   * the order given, a refused window with its reason (it stays raw; the others go on).
   */
  async function compactPartitions(
    input: CompactInput,
    key: string,
    partitions: string[],
  ): Promise<CompactWindowResult[]> {
    const plan = await readPlan(input, key);
    const byPartition = new Map(plan.windows.map((w) => [w.partition, w]));
    const windows = partitions.map((partition) => {
      const window = byPartition.get(partition);
      if (!window)
        throw ApplicationFailure.nonRetryable(`window ${partition} is not in plan ${key}`, INVALID_COMPACT_INPUT);
      return { window, key: curatedFileKey(input.curatedPrefix, input.table, partition, plan.generation, plan.planId) };
    });
    let last: unknown = { phase: 'start', windows: partitions.length };
    const beat = (details: unknown) => {
      last = details;
      heartbeat(details);
    };
    const timer = setInterval(() => heartbeat(last), 5000);
    try {
      const outcomes = await duckdb.use((instance) =>
        compactWindows({
          s3,
          bucket: input.bucket,
          instance,
          workDir,
          columns: plan.columns,
          windows,
          heartbeat: beat,
        }),
      );
      return outcomes.map((o): CompactWindowResult => {
        if (o.outcome) return { partition: o.partition, ok: true, outcome: o.outcome };
        const err = o.refused!;
        log.warn('compaction window refused', { partition: o.partition, type: err.type, message: err.message });
        return { partition: o.partition, ok: false, failure: { type: err.type, message: err.message } };
      });
    } finally {
      clearInterval(timer);
    }
  }

  async function commitCompaction(
    input: CompactInput,
    key: string,
    results: CompactWindowResult[],
    startedAt: string,
    runId: string,
  ): Promise<CompactCommitResult> {
    // The run's windows are done: its DuckDB memory goes back to the system now (an instance another
    // run is using stays open).
    await duckdb.close();
    const plan = await readPlan(input, key);
    const state = await latest(s3, input);
    if (state.generation >= plan.generation) {
      // This run's own commit, retried after it was written: nothing more to do.
      const mine = await getJson<CompactState>(
        s3,
        input.bucket,
        `${key.replace(/plans\/\d+-[0-9a-f]+\.json$/, '')}state/${String(plan.generation).padStart(12, '0')}.json`,
      );
      const committed = mine?.last?.runId === runId;
      if (!committed)
        log.warn('another compaction committed first; this run switches nothing', { generation: plan.generation });
      return { generation: plan.generation, committed };
    }
    const now = new Date().toISOString();
    const next: CompactState = {
      ...state,
      version: STATE_VERSION,
      generation: plan.generation,
      createdAt: now,
      chain: plan.chain,
      partitions: { ...state.partitions },
      retirements: [...state.retirements],
      failures: [],
    };
    const failed: WindowFailure[] = [];
    let rows = 0;
    let rawObjects = 0;
    let rawBytes = 0;
    let parquetBytes = 0;
    let replaced = 0;
    for (const r of results) {
      const window = plan.windows.find((w) => w.partition === r.partition)!;
      if (!r.ok || !r.outcome) {
        failed.push({
          partition: r.partition,
          type: r.failure?.type ?? 'Unknown',
          message: r.failure?.message ?? '',
          at: now,
        });
        continue;
      }
      const o = r.outcome;
      const before = state.partitions[r.partition];
      next.partitions[r.partition] = {
        values: window.values,
        watermarks: window.watermarks,
        file: { key: o.key, rows: o.rows, bytes: o.bytes, etag: o.etag, columns: o.columns },
        rows: o.rows,
        checksum: o.checksum,
        rawBytes: (before?.rawBytes ?? 0) + o.rawBytes,
        rawObjects: (before?.rawObjects ?? 0) + o.rawObjects,
        generation: plan.generation,
        compactedAt: now,
      };
      next.retirements.push({
        partition: r.partition,
        at: now,
        watermarks: window.watermarks,
        files: before ? [before.file.key] : [],
      });
      rows += o.rawRows;
      rawObjects += o.rawObjects;
      rawBytes += o.rawBytes;
      parquetBytes += o.bytes;
      replaced += o.replacedBytes;
    }
    // Partitions no closed cut touched have no raw object below the chain's end: their watermarks follow it.
    const failing = new Set(failed.map((f) => f.partition));
    const compacted = new Set(results.filter((r) => r.ok).map((r) => r.partition));
    const ends: Record<string, string> = {};
    for (const [id, end] of Object.entries(plan.chain)) {
      const [, topic, partition] = id.split('/');
      ends[`${topic}+${partition}`] = end;
    }
    for (const [p, entry] of Object.entries(next.partitions)) {
      if (failing.has(p) || compacted.has(p)) continue;
      const marks = { ...entry.watermarks };
      for (const [source, end] of Object.entries(ends))
        if (!marks[source] || BigInt(end) > BigInt(marks[source])) marks[source] = end;
      next.partitions[p] = { ...entry, watermarks: marks };
    }
    // A failing window keeps its partition's watermarks (none, if never compacted), and the next plan
    // lists the manifest folders again from there.
    next.failures = failed;
    const finished = Date.now();
    next.last = {
      generation: plan.generation,
      runId,
      startedAt,
      finishedAt: new Date(finished).toISOString(),
      durationMs: finished - Date.parse(startedAt),
      windows: compacted.size,
      rows,
      rawObjects,
      rawBytes,
      parquetBytes,
      replacedParquetBytes: replaced,
      failed,
      deletedRawObjects: 0,
      deletedCuratedFiles: 0,
    };
    if (!(await commitState(s3, input.bucket, input.prefix, next))) {
      log.warn('another compaction committed first; this run switches nothing', { generation: plan.generation });
      return { generation: plan.generation, committed: false };
    }
    try {
      await pruneStates(s3, input.bucket, input.prefix, input.database, input.table);
    } catch (err) {
      log.warn('old compaction states not pruned', { error: String(err) });
    }
    return { generation: plan.generation, committed: true };
  }

  async function applyCuratedCatalog(input: CompactInput): Promise<{ generation: number; partitions: number }> {
    const state = await latest(s3, input);
    const entries = Object.entries(state.partitions);
    if (entries.length === 0) return { generation: state.generation, partitions: 0 };
    const raw = await getTable(glue, input.database, input.table);
    await ensureDatabase(glue, input.database);
    const columns = [
      ...(raw?.StorageDescriptor?.Columns ?? []).map((c) => ({ Name: c.Name!, Type: c.Type ?? 'string' })),
      { Name: SOURCE_COLUMN, Type: 'string', Comment: 'the raw object the record came from: <topic>+<partition>' },
      { Name: CUT_COLUMN, Type: 'bigint', Comment: 'first Kafka offset of the sink cut the record came from' },
    ];
    const name = curatedTableName(input.table);
    const sd = (location: string) => ({
      Columns: columns,
      Location: location,
      InputFormat: PARQUET_INPUT_FORMAT,
      OutputFormat: PARQUET_OUTPUT_FORMAT,
      Compressed: true,
      SerdeInfo: { SerializationLibrary: PARQUET_SERDE, Parameters: { 'serialization.format': '1' } },
    });
    const tableIn: TableInput = {
      Name: name,
      TableType: 'EXTERNAL_TABLE',
      Description: `the curated Parquet zone of ${input.database}.${input.table} (compacted by ticklake)`,
      Parameters: {
        classification: 'parquet',
        'parquet.compression': 'ZSTD',
        EXTERNAL: 'TRUE',
        [PARAM_CURATED_GENERATION]: String(state.generation),
      },
      PartitionKeys: input.partitionBy.map((k) => ({ Name: k, Type: 'string' })),
      StorageDescriptor: sd(s3Url(input.bucket, curatedRoot(input.curatedPrefix, input.table))),
    };
    const existing = await getTable(glue, input.database, name);
    if (existing && Number(existing.Parameters?.[PARAM_CURATED_GENERATION]) > state.generation)
      return { generation: state.generation, partitions: 0 }; // a newer state was applied already
    if (!existing) {
      try {
        await glue.send(new CreateTableCommand({ DatabaseName: input.database, TableInput: tableIn }));
      } catch (err) {
        if (!(err instanceof AlreadyExistsException)) throw err;
      }
    }
    const registered = await registeredPartitions(glue, input.database, name);
    const folder = (key: string) => s3Url(input.bucket, key.slice(0, key.lastIndexOf('/') + 1));
    const create: PartitionInput[] = [];
    const update: { values: string[]; input: PartitionInput }[] = [];
    for (const [, p] of entries) {
      const part: PartitionInput = { Values: p.values, StorageDescriptor: sd(folder(p.file.key)) };
      if (registered.has(partitionId(p.values))) update.push({ values: p.values, input: part });
      else create.push(part);
    }
    for (let i = 0; i < create.length; i += 100) {
      const out = await glue.send(
        new BatchCreatePartitionCommand({
          DatabaseName: input.database,
          TableName: name,
          PartitionInputList: create.slice(i, i + 100),
        }),
      );
      for (const e of out.Errors ?? [])
        if (e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException')
          throw new Error(
            `registering curated partition ${e.PartitionValues?.join('/')}: ${e.ErrorDetail?.ErrorMessage}`,
          );
    }
    for (let i = 0; i < update.length; i += 100) {
      await glue.send(
        new BatchUpdatePartitionCommand({
          DatabaseName: input.database,
          TableName: name,
          Entries: update.slice(i, i + 100).map((u) => ({ PartitionValueList: u.values, PartitionInput: u.input })),
        }),
      );
    }
    // The table's columns follow the raw table's (a new column appears in the curated zone too).
    await glue.send(new UpdateTableCommand({ DatabaseName: input.database, TableInput: tableIn }));
    return { generation: state.generation, partitions: entries.length };
  }

  async function expireRaw(input: CompactInput): Promise<CompactExpireResult> {
    const state = await latest(s3, input);
    const due = dueRetirements(state, Date.now(), input.retentionMs);
    if (due.length === 0) return { deletedRawObjects: 0, deletedCuratedFiles: 0 };
    let deletedRaw = 0;
    let deletedCurated = 0;
    const root = tableRoot(input.prefix, input.table);
    // Per partition, the newest due retirement covers the older ones (watermarks only grow).
    const newest = new Map<string, (typeof due)[number]>();
    for (const r of due) newest.set(r.partition, r);
    await mapLimit([...newest.values()], 4, async (r) => {
      const current = state.partitions[r.partition];
      // Verified: the partition's committed file holds every record below these watermarks.
      if (!current) return;
      const keys = await listKeys(s3, input.bucket, `${root}${r.partition}/`);
      const doomed = keys.filter((k) => {
        const cut = cutOfKey(k);
        if (!cut) return false;
        const mark = r.watermarks[cut.source];
        const held = current.watermarks[cut.source];
        return mark !== undefined && held !== undefined && cut.first < BigInt(mark) && cut.first < BigInt(held);
      });
      await deleteKeys(s3, input.bucket, doomed);
      deletedRaw += doomed.length;
      heartbeat({ phase: 'expire', partition: r.partition, deleted: doomed.length });
    });
    const files = due.flatMap((r) => r.files);
    const live = new Set(Object.values(state.partitions).map((p) => p.file.key));
    const deadFiles = files.filter((f) => !live.has(f));
    await deleteKeys(s3, input.bucket, deadFiles);
    deletedCurated += deadFiles.length;
    const doneSet = new Set(due);
    const next: CompactState = {
      ...state,
      generation: state.generation + 1,
      createdAt: new Date().toISOString(),
      retirements: state.retirements.filter((r) => !doneSet.has(r)),
      ...(state.last
        ? {
            last: {
              ...state.last,
              deletedRawObjects: state.last.deletedRawObjects + deletedRaw,
              deletedCuratedFiles: state.last.deletedCuratedFiles + deletedCurated,
            },
          }
        : {}),
    };
    // Deleting again is harmless, so losing this race to a compaction only repeats the deletes next time.
    const committed = await commitState(s3, input.bucket, input.prefix, next);
    return {
      deletedRawObjects: deletedRaw,
      deletedCuratedFiles: deletedCurated,
      ...(committed ? { generation: next.generation } : {}),
    };
  }

  async function compactSummary(input: CompactInput, startedAt: string, runId: string): Promise<CompactResult> {
    const state = await latest(s3, input);
    const mine = state.last && state.last.runId === runId ? state.last : undefined;
    const now = Date.now();
    return {
      generation: state.generation,
      startedAt,
      finishedAt: new Date(now).toISOString(),
      durationMs: now - Date.parse(startedAt),
      windows: mine?.windows ?? 0,
      rows: mine?.rows ?? 0,
      rawObjects: mine?.rawObjects ?? 0,
      rawBytes: mine?.rawBytes ?? 0,
      parquetBytes: mine?.parquetBytes ?? 0,
      replacedParquetBytes: mine?.replacedParquetBytes ?? 0,
      failed: mine?.failed ?? [],
      deletedRawObjects: state.last?.deletedRawObjects ?? 0,
      deletedCuratedFiles: state.last?.deletedCuratedFiles ?? 0,
      totals: curatedTotals(state),
      ...(mine ? {} : { note: 'no window was compacted by this run' }),
    };
  }

  return {
    planCompaction,
    compactPartition,
    compactPartitions,
    commitCompaction,
    applyCuratedCatalog,
    expireRaw,
    compactSummary,
  };
}
