/**
 * npm run bench:query: latency of the example queries of docs/queries.md over the lake of the real
 * data file (TICKLAKE_REAL_CSV), through the query workflow on the local services, and whether they
 * answer right.
 *
 * The lake is built once (replay → Kafka → sink → S3, crawl → Glue; about 30 s) under names of its
 * own and reused by later runs. For each example: a fresh worker with an empty object cache runs it
 * once (cold: downloads, loads, runs), then again and again (warm: the same query on the same worker,
 * whose DuckDB instance holds the objects and whose partition list is cached for 30 s: a cache hit,
 * not a query over data the worker has not seen). Then, on the per-symbol example's worker, new data
 * arrives (a replay of 5 more trading days per symbol through the running sink, registered by a
 * crawl) and the first query after it is timed: `after_new_data_ms`.
 *
 * Every answer (cold, warm, after new data) is checked against the same SQL run by DuckDB in memory
 * directly on the CSV files (bench/reference.ts); a wrong answer fails the benchmark. The last line
 * is one JSON object; `cold_ms`, `warm_ms` and `after_new_data_ms` are those of the per-symbol
 * aggregate over all ticks.
 *
 *   TICKLAKE_REAL_CSV=../shared/data/stock-exchange/indexProcessed.csv npm run bench:query [-- --runs 9]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, NoSuchBucket, NoSuchKey, PutObjectCommand } from '@aws-sdk/client-s3';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import {
  prepareInfrastructure,
  runCrawl,
  runQuery,
  startReplay,
  startSink,
  waitForSinkCaughtUp,
  workflowIds,
} from '../src/pipeline';
import { parseExamples, type DocExample } from '../src/query/examples';
import { startWorker } from '../src/worker';
import type { QueryResult } from '../activities/types';
import { removeResources } from '../test/integration/sink-support';
import { answerProblems, ReferenceTicks } from './bench/reference';

const NAME = 'bench-query-real';
const MARKER = '_bench/lake.json';

function benchConfig(): TicklakeConfig {
  return loadConfig({
    ...process.env,
    KAFKA_TOPIC: NAME,
    KAFKA_DLQ_TOPIC: `${NAME}.dlq`,
    KAFKA_POSITIONS_TOPIC: `${NAME}.positions`,
    SINK_GROUP_ID: `sink-${NAME}`,
    LAKE_BUCKET: `tl-${NAME}`,
    GLUE_DATABASE: NAME.replace(/-/g, '_'),
    // A queue of its own: workflows of an interrupted run are picked up again by the next one.
    TICKLAKE_TASK_QUEUE: `tq-${NAME}`,
    QUERY_ENGINE: 'duckdb',
    TICKLAKE_DATA_DIR: path.join(os.tmpdir(), 'ticklake-bench-query'),
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Builds the lake of the real file unless a previous run did (a marker records which file). A lake
 * without the marker (a first run, or one whose new data was added by a measurement) is removed and
 * built again from an empty topic and bucket.
 */
async function ensureLake(config: TicklakeConfig, csv: string, bundle: WorkflowBundle): Promise<void> {
  const aws = createAwsClients(config.aws);
  let built = false;
  try {
    const out = await aws.s3.send(new GetObjectCommand({ Bucket: config.lake.bucket, Key: MARKER }));
    built = (await out.Body!.transformToString()) === lakeIdentity(csv);
  } catch (err) {
    if (!(err instanceof NoSuchKey) && !(err instanceof NoSuchBucket)) throw err;
  }
  const worker = await startWorker(config, { workflowBundle: bundle, workflowsPath: undefined });
  const client = await connectClient(config.temporal);
  try {
    if (!built) {
      await client.workflow
        .getHandle(workflowIds.crawl(config.glue.database, config.glue.table))
        .terminate('bench:query rebuilds the lake')
        .catch(() => undefined);
      await removeResources(config);
      await prepareInfrastructure(config);
      const t0 = Date.now();
      console.log(`building the lake of ${csv} in s3://${config.lake.bucket}/${config.lake.prefix} ...`);
      const sink = await startSink(client, config);
      const replay = await startReplay(client, config, { file: csv, replayId: NAME });
      await replay.result();
      await waitForSinkCaughtUp(config, 600_000);
      await sink.terminate('lake built');
      await aws.s3.send(new PutObjectCommand({ Bucket: config.lake.bucket, Key: MARKER, Body: lakeIdentity(csv) }));
      console.log(`lake built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    // Always: moto keeps the catalog in memory only; an up-to-date catalog makes this a no-op.
    const crawl = await runCrawl(client, config);
    console.log(`catalog: ${config.glue.database}.${crawl.table} crawled, ${crawl.partitionsAdded} partitions added`);
  } finally {
    await client.connection.close();
    await worker.shutdown();
  }
}

function lakeIdentity(csv: string): string {
  const stat = fs.statSync(csv);
  return JSON.stringify({ file: path.resolve(csv), size: stat.size, mtimeMs: stat.mtimeMs });
}

/**
 * A CSV of `days` more trading days (weekdays) after each symbol's last date in `csv`, each a copy of
 * that symbol's last row but for the date: data the lake has not seen.
 */
function newDataFile(csv: string, out: string, days: number): number {
  const lines = fs
    .readFileSync(csv, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const last = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    if (line.trim() === '') continue;
    const f = line.split(',');
    const seen = last.get(f[0]);
    if (!seen || f[1] > seen[1]) last.set(f[0], f);
  }
  const rows: string[] = [lines[0]];
  for (const f of last.values()) {
    const day = new Date(`${f[1]}T00:00:00Z`);
    for (let i = 0; i < days; i++) {
      do day.setUTCDate(day.getUTCDate() + 1);
      while (day.getUTCDay() === 0 || day.getUTCDay() === 6);
      rows.push([f[0], day.toISOString().slice(0, 10), ...f.slice(2)].join(','));
    }
  }
  fs.writeFileSync(out, rows.join('\n') + '\n');
  return rows.length - 1;
}

interface Measure {
  name: string;
  coldMs: number;
  warmMs: number;
  warmRuns: number[];
  engineWarmMs: number;
  rows: number;
  objectsRead: number;
  partitionsRead?: number;
  coldPhases: Record<string, number>;
  warmPhases: Record<string, number>;
  /** The first query after new data arrived (per-symbol only). */
  afterNewData?: { ms: number; rows: number; newRows: number; phases: Record<string, number> };
}

async function timed(
  client: Client,
  config: TicklakeConfig,
  e: DocExample,
  reference: ReferenceTicks | undefined,
): Promise<{ ms: number; result: QueryResult }> {
  const t = performance.now();
  const result = await runQuery(client, config, e.sql, e.params);
  const ms = Math.round(performance.now() - t);
  if (reference) {
    const problems = answerProblems(await reference.answer(e.sql, e.params as (string | number)[]), result);
    if (problems.length > 0) {
      throw new Error(`the '${e.name}' example answered wrong (checked against the CSV): ${problems.join('; ')}`);
    }
  }
  return { ms, result };
}

/** Median of each phase over runs. */
function medianPhases(results: QueryResult[]): Record<string, number> {
  const names = new Set(results.flatMap((r) => Object.keys(r.stats.phases ?? {})));
  return Object.fromEntries([...names].map((n) => [n, median(results.map((r) => r.stats.phases?.[n] ?? 0))]));
}

/** New data for the lake: its file, and the reference of the real file plus it. */
interface NewData {
  file: string;
  rows: number;
  reference: ReferenceTicks;
}

async function measure(args: {
  config: TicklakeConfig;
  bundle: WorkflowBundle;
  examples: DocExample[];
  runs: number;
  keepCache: boolean;
  reference?: ReferenceTicks;
  newData?: NewData;
}): Promise<Measure[]> {
  const { config, bundle, examples, runs, reference, newData } = args;
  if (!args.keepCache) fs.rmSync(path.join(config.dataDir, 'query-cache'), { recursive: true, force: true });
  const worker = await startWorker(config, { workflowBundle: bundle, workflowsPath: undefined });
  const client = await connectClient(config.temporal);
  const out: Measure[] = [];
  try {
    for (const e of examples) {
      const cold = await timed(client, config, e, reference);
      const warm: { ms: number; result: QueryResult }[] = [];
      for (let i = 0; i < runs; i++) warm.push(await timed(client, config, e, reference));
      const m: Measure = {
        name: e.name,
        coldMs: cold.ms,
        warmMs: median(warm.map((w) => w.ms)),
        warmRuns: warm.map((w) => w.ms),
        engineWarmMs: median(warm.map((w) => w.result.stats.engineMs)),
        rows: cold.result.rowCount,
        objectsRead: cold.result.stats.objectsRead ?? 0,
        partitionsRead: cold.result.stats.partitionsRead,
        coldPhases: cold.result.stats.phases ?? {},
        warmPhases: medianPhases(warm.map((w) => w.result)),
      };
      if (newData) {
        // The lake changes: the next run builds it again.
        await createAwsClients(config.aws).s3.send(
          new DeleteObjectCommand({ Bucket: config.lake.bucket, Key: MARKER }),
        );
        const sink = await startSink(client, config);
        const replay = await startReplay(client, config, { file: newData.file, replayId: `${NAME}-new-${Date.now()}` });
        await replay.result();
        await waitForSinkCaughtUp(config, 120_000);
        await runCrawl(client, config);
        await sink.terminate('new data written');
        const after = await timed(client, config, e, newData.reference);
        m.afterNewData = {
          ms: after.ms,
          rows: after.result.rowCount,
          newRows: newData.rows,
          phases: after.result.stats.phases ?? {},
        };
      }
      out.push(m);
    }
  } finally {
    await client.connection.close();
    await worker.shutdown();
  }
  return out;
}

async function main(): Promise<void> {
  const csv = process.env.TICKLAKE_REAL_CSV;
  if (!csv || !fs.existsSync(csv)) {
    console.error('set TICKLAKE_REAL_CSV to the real data file, e.g. ../shared/data/stock-exchange/indexProcessed.csv');
    process.exit(2);
  }
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 9;
  const config = benchConfig();
  const examples = parseExamples(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'queries.md'), 'utf8'));
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
  await ensureLake(config, csv, bundle);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-query-'));
  const newFile = path.join(tmp, 'bench-query-new.csv');
  const newRows = newDataFile(csv, newFile, 5);
  const reference = await ReferenceTicks.load([csv]);
  const withNew = await ReferenceTicks.load([csv, newFile]);

  try {
    // Each example cold on a fresh worker with an empty cache, then warm on that worker.
    const results: Measure[] = [];
    for (const e of examples) {
      results.push(...(await measure({ config, bundle, examples: [e], runs, keepCache: false, reference })));
    }
    // A restarted worker: objects on disk (same ETags), nothing in memory.
    const [restart] = await measure({ config, bundle, examples: [examples[0]], runs: 0, keepCache: true, reference });
    // The floor: a query that reads no table, through Temporal.
    const [floor] = await measure({
      config,
      bundle,
      examples: [{ name: 'select-1', sql: 'SELECT 1', params: [] }],
      runs,
      keepCache: true,
    });
    // New data arriving, on a worker that has run the query warm.
    const [fresh] = await measure({
      config,
      bundle,
      examples: [examples[0]],
      runs: 3,
      keepCache: true,
      reference,
      newData: { file: newFile, rows: newRows, reference: withNew },
    });

    console.log('');
    console.log(
      `${'example'.padEnd(14)} ${'rows'.padStart(6)} ${'objects'.padStart(8)} ${'cold ms'.padStart(8)} ${'warm ms'.padStart(8)} ${'engine'.padStart(7)}  warm runs`,
    );
    for (const r of [...results, floor]) {
      console.log(
        `${r.name.padEnd(14)} ${String(r.rows).padStart(6)} ${String(r.objectsRead).padStart(8)} ${String(r.coldMs).padStart(8)} ` +
          `${String(r.warmMs).padStart(8)} ${String(r.engineWarmMs).padStart(7)}  ${r.warmRuns.join(' ')}`,
      );
    }
    const head = results[0];
    const after = fresh.afterNewData!;
    console.log('');
    console.log('every answer checked against DuckDB run on the CSV itself: all right');
    console.log(`per-symbol, cold phases (ms): ${JSON.stringify(head.coldPhases)}`);
    console.log(
      `per-symbol, warm phases (ms, median; the same query again, objects in memory: a cache hit): ${JSON.stringify(head.warmPhases)}`,
    );
    console.log(
      `per-symbol after a worker restart (objects cached on disk): ${restart.coldMs} ms ${JSON.stringify(restart.coldPhases)}`,
    );
    console.log(
      `per-symbol, the first query after ${after.newRows} new rows arrived (sink caught up, crawled) on a warm worker: ` +
        `${after.ms} ms ${JSON.stringify(after.phases)}`,
    );
    console.log(
      `load average: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} on ${os.cpus().length} CPUs`,
    );
    console.log(
      JSON.stringify({
        query: head.name,
        objects: head.objectsRead,
        answers_checked: true,
        cold_ms: head.coldMs,
        warm_ms: head.warmMs,
        warm_is_cache_hit: true,
        warm_engine_ms: head.engineWarmMs,
        after_new_data_ms: after.ms,
        new_rows: after.newRows,
        restart_ms: restart.coldMs,
        temporal_floor_ms: floor.warmMs,
        runs,
        examples: Object.fromEntries(
          results.map((r) => [r.name, { cold_ms: r.coldMs, warm_ms: r.warmMs, objects: r.objectsRead }]),
        ),
      }),
    );
  } finally {
    reference.close();
    withNew.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
