/**
 * npm run bench:query: latency of the example queries of docs/queries.md over the lake of the real
 * data file (TICKLAKE_REAL_CSV), through the query workflow on the local services, cold and warm.
 *
 * The lake is built once (replay → Kafka → sink → S3, crawl → Glue; about 30 s) under names of its
 * own and reused by later runs. For each example: a fresh worker with an empty object cache runs it
 * once (cold: downloads, loads, runs), then again and again (warm: the worker's DuckDB instance holds
 * the objects); the median of the warm runs is reported. The last line is one JSON object; `cold_ms`
 * and `warm_ms` are those of the per-symbol aggregate over all ticks.
 *
 *   TICKLAKE_REAL_CSV=../shared/data/stock-exchange/indexProcessed.csv npm run bench:query [-- --runs 9]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand } from '@aws-sdk/client-s3';
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
} from '../src/pipeline';
import { parseExamples, type DocExample } from '../src/query/examples';
import { startWorker } from '../src/worker';
import type { QueryResult } from '../activities/types';

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

/** Builds the lake of the real file unless a previous run did (a marker records which file). */
async function ensureLake(config: TicklakeConfig, csv: string, bundle: WorkflowBundle): Promise<void> {
  const aws = createAwsClients(config.aws);
  const stat = fs.statSync(csv);
  const identity = JSON.stringify({ file: path.resolve(csv), size: stat.size, mtimeMs: stat.mtimeMs });
  await prepareInfrastructure(config);
  let built = false;
  try {
    const out = await aws.s3.send(new GetObjectCommand({ Bucket: config.lake.bucket, Key: MARKER }));
    built = (await out.Body!.transformToString()) === identity;
  } catch (err) {
    if (!(err instanceof NoSuchKey)) throw err;
  }
  const worker = await startWorker(config, { workflowBundle: bundle, workflowsPath: undefined });
  const client = await connectClient(config.temporal);
  try {
    if (!built) {
      const t0 = Date.now();
      console.log(`building the lake of ${csv} in s3://${config.lake.bucket}/${config.lake.prefix} ...`);
      const sink = await startSink(client, config);
      const replay = await startReplay(client, config, { file: csv, replayId: NAME });
      await replay.result();
      await waitForSinkCaughtUp(config, 600_000);
      await sink.terminate('lake built');
      await aws.s3.send(new PutObjectCommand({ Bucket: config.lake.bucket, Key: MARKER, Body: identity }));
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
}

async function timed(
  client: Client,
  config: TicklakeConfig,
  e: DocExample,
): Promise<{ ms: number; result: QueryResult }> {
  const t = performance.now();
  const result = await runQuery(client, config, e.sql, e.params);
  return { ms: Math.round(performance.now() - t), result };
}

/** Median of each phase over runs. */
function medianPhases(results: QueryResult[]): Record<string, number> {
  const names = new Set(results.flatMap((r) => Object.keys(r.stats.phases ?? {})));
  return Object.fromEntries([...names].map((n) => [n, median(results.map((r) => r.stats.phases?.[n] ?? 0))]));
}

async function measure(
  config: TicklakeConfig,
  bundle: WorkflowBundle,
  examples: DocExample[],
  runs: number,
  keepCache: boolean,
): Promise<Measure[]> {
  if (!keepCache) fs.rmSync(path.join(config.dataDir, 'query-cache'), { recursive: true, force: true });
  const worker = await startWorker(config, { workflowBundle: bundle, workflowsPath: undefined });
  const client = await connectClient(config.temporal);
  const out: Measure[] = [];
  try {
    for (const e of examples) {
      const cold = await timed(client, config, e);
      const warm: { ms: number; result: QueryResult }[] = [];
      for (let i = 0; i < runs; i++) warm.push(await timed(client, config, e));
      out.push({
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
      });
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

  // Each example cold on a fresh worker with an empty cache, then warm on that worker.
  const results: Measure[] = [];
  for (const e of examples) results.push(...(await measure(config, bundle, [e], runs, false)));
  // A restarted worker: objects on disk (same ETags), nothing in memory.
  const [restart] = await measure(config, bundle, [examples[0]], 0, true);
  // The floor: a query that reads no table, through Temporal.
  const [floor] = await measure(config, bundle, [{ name: 'select-1', sql: 'SELECT 1', params: [] }], runs, true);

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
  console.log('');
  console.log(`per-symbol, cold phases (ms): ${JSON.stringify(head.coldPhases)}`);
  console.log(`per-symbol, warm phases (ms, median): ${JSON.stringify(head.warmPhases)}`);
  console.log(
    `per-symbol after a worker restart (objects cached on disk): ${restart.coldMs} ms ${JSON.stringify(restart.coldPhases)}`,
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
      cold_ms: head.coldMs,
      warm_ms: head.warmMs,
      warm_engine_ms: head.engineWarmMs,
      restart_ms: restart.coldMs,
      temporal_floor_ms: floor.warmMs,
      runs,
      examples: Object.fromEntries(
        results.map((r) => [r.name, { cold_ms: r.coldMs, warm_ms: r.warmMs, objects: r.objectsRead }]),
      ),
    }),
  );
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
