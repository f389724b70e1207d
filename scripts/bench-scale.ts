/**
 * `npm run bench:scale`: the lake at real scale. Generated, seeded market data in market-time order
 * (scripts/bench/market.ts: N fictional symbols over D trading days, every symbol's row of a day, then
 * the next day), through the whole pipeline, at each size given (default 2,000 × 1,000 = 2 M rows and
 * 5,000 × 2,000 = 10 M rows; `--quick` is 200 × 100). docs/benchmarks.md ("At scale") explains the method.
 *
 * It runs on a stack of services of its own (port offset 5100 by default, a temporary data dir, stopped
 * at the end), the worker as a subprocess (its peak RSS is its own), with the configured lake layout and
 * the DuckDB engine. Per size, on topic, bucket, Glue database and task queue names of its own:
 *
 * 1. the file is generated into a temporary directory (streamed; never into the repository), with the
 *    totals every answer is checked against;
 * 2. CSV to queryable: sink started and joined, the replay as fast as possible, the sink catching up,
 *    the crawl `npm start` runs, then the per-symbol query, answered with every row. Timed from the first
 *    row read (the earliest `ingested_at` in the lake) to that answer;
 * 3. the lake: data objects under the table folder and their bytes, the sink's manifests, the Glue
 *    partitions, a full crawl (timed), the query cache's size on disk;
 * 4. the three queries (per symbol over everything; one symbol over all dates; every symbol on one day),
 *    each cold (the worker stopped, `<data dir>/query-cache` emptied, a new worker started and ready: the
 *    first run of the query in it) and warm (the median of `--warm-runs` runs right after), every answer
 *    checked;
 * 5. sink drain (unless --no-drain): a second sink group drains the whole topic: records/s from its join
 *    to lag 0;
 * 6. live (unless --no-live): a file of the same symbols over `--live-seconds` trading days replayed at
 *    1 trading day per second with the default freshness bound; the table folder is listed every 100 ms
 *    and each record's freshness is the listing that first showed its object minus its `ingested_at`.
 *
 * Prints a growth table (each figure at each size, and the ratio from the first size to the last),
 * writes bench-results/bench-scale-<time>.json and .md, and prints as its last line one JSON object: the
 * figures of the last (largest) size, and each size's under its `SYMBOLSxDAYS` key.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { Admin } from 'kafkajs';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { registeredPartitions } from '../src/catalog/glue-catalog';
import { listKeys } from '../src/catalog/lake-scan';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { manifestPrefix, tableRoot } from '../src/lake-layout';
import {
  prepareInfrastructure,
  runCrawl,
  runQuery,
  sinkInput,
  startReplay,
  startSink,
  workflowIds,
  type QueryOptions,
} from '../src/pipeline';
import { removeResources } from '../test/integration/sink-support';
import {
  Stack,
  WorkerProcess,
  groupJoined,
  loadAverage,
  probeKafka,
  readLakeObjects,
  stopSink,
  tempDataDir,
  totalLag,
  uniqueNames,
  waitFor,
} from './bench/common';
import { growthTable, parseSizes, sizeLabel, type GrowthFigure, type ScaleSize } from './bench/growth';
import { writeMarketCsv } from './bench/market';
import { scaleQueries, type ScaleQuery } from './bench/scale-queries';
import { median, percentile, round } from './bench/stats';

interface Options {
  sizes: string;
  quick?: boolean;
  seed: string;
  warmRuns: string;
  live: boolean;
  liveSeconds: string;
  drain: boolean;
  offset: string;
  keepStack?: boolean;
  dataDir?: string;
  tmpDir?: string;
  queryCacheDir?: string;
  keepFiles?: boolean;
  out: string;
}

const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const secs = (ms: number) => round(ms / 1000, 2);
const mb = (bytes: number) => round(bytes / (1024 * 1024), 1);
const DATA_OBJECT = /\.json(\.gz|\.zst)?$/;

/** Where the worker keeps its query cache: `--query-cache-dir`, else `<data dir>/query-cache` (src/worker.ts). */
function queryCacheDir(config: TicklakeConfig, opts: Options): string {
  return opts.queryCacheDir ? path.resolve(opts.queryCacheDir) : path.join(config.dataDir, 'query-cache');
}

/** The lake settings of a run, without its bucket (a name of its own per run). */
function layoutOf(config: TicklakeConfig): Record<string, unknown> {
  const { bucket: _bucket, ...layout } = config.lake;
  return layout;
}

/** Bytes of the files below a directory (0 when it does not exist). */
function directoryBytes(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += directoryBytes(p);
    else if (e.isFile()) total += fs.statSync(p, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

/** Keys and sizes of the objects under a prefix. */
async function listWithSizes(s3: S3Client, bucket: string, prefix: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const page of paginateListObjectsV2({ client: s3, pageSize: 1000 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
  }
  return out;
}

async function untilLagZero(admin: Admin, config: TicklakeConfig, timeoutMs: number): Promise<void> {
  await waitFor(
    `the sink group ${config.sink.groupId} to catch up`,
    async () => (await totalLag(admin, config.sink.groupId, config.kafka.topic)) === 0n,
    timeoutMs,
    50,
  );
}

/** Run on SIGINT or SIGTERM, last registered first: the workers and the stack stop, the files go. */
const onInterrupt: (() => Promise<void>)[] = [];

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the worker and the stack...`);
    void (async () => {
      for (const cleanup of onInterrupt.reverse()) await cleanup().catch(() => undefined);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    })();
  });
}

/** The workers of one size: each started fresh; the peak RSS over all of them is kept. */
class Workers {
  current: WorkerProcess | undefined;
  peakMb = 0;
  private count = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logBase: string,
  ) {}

  async start(tag: string): Promise<WorkerProcess> {
    await this.stop();
    this.count++;
    const worker = new WorkerProcess(this.env, `${this.logBase}-${this.count}-${tag}.log`, [], { compiled: true });
    this.current = worker;
    await worker.ready();
    return worker;
  }

  async stop(): Promise<void> {
    const w = this.current;
    if (!w) return;
    this.peakMb = Math.max(this.peakMb, w.peakRssMb());
    this.current = undefined;
    await w.stop();
  }
}

interface QueryFigures {
  title: string;
  cold_ms: number;
  warm_ms: number;
  warm_runs_ms: number[];
  rows: number;
  objects_read?: number;
  /** The engine's phases (ms) of the cold run and of the last warm run. */
  cold_phases?: Record<string, number>;
  warm_phases?: Record<string, number>;
}

async function timedQuery(
  client: Client,
  config: TicklakeConfig,
  q: ScaleQuery,
  opts: QueryOptions,
): Promise<{ ms: number; rows: number; objectsRead?: number; phases?: Record<string, number> }> {
  const t = performance.now();
  const result = await runQuery(client, config, q.sql, q.params, opts);
  const ms = performance.now() - t;
  q.check(result);
  return {
    ms,
    rows: result.rowCount,
    objectsRead: result.stats.objectsRead,
    phases: { engineMs: result.stats.engineMs, ...result.stats.phases },
  };
}

/** Phase 5: a second sink group drains the whole topic (no notices); records/s from its join to lag 0. */
async function measureDrain(client: Client, base: NodeJS.ProcessEnv, config: TicklakeConfig, records: number) {
  const drain = loadConfig({ ...base, SINK_GROUP_ID: `${config.sink.groupId}-drain`, LAKE_PREFIX: 'drain/' });
  const admin = probeKafka(drain.kafka, 'scale-drain').admin();
  await admin.connect();
  try {
    const handle = await client.workflow.start('sinkWorkflow', {
      workflowId: `${workflowIds.sink(config.kafka.topic)}/drain`,
      taskQueue: drain.temporal.taskQueue,
      args: [{ ...sinkInput(drain), crawl: undefined }],
    });
    await waitFor('the drain sink to join', () => groupJoined(admin, drain.sink.groupId), 120_000, 25);
    const joinedAt = Date.now();
    await untilLagZero(admin, drain, Math.max(600_000, records));
    const drainedAt = Date.now();
    await stopSink(handle);
    const { s3 } = createAwsClients(drain.aws);
    const objects = (await listKeys(s3, drain.lake.bucket, tableRoot(drain.lake.prefix, drain.glue.table))).filter(
      (k) => DATA_OBJECT.test(k),
    ).length;
    return {
      seconds: secs(drainedAt - joinedAt),
      records_per_s: Math.round(records / ((drainedAt - joinedAt) / 1000)),
      objects,
    };
  } finally {
    await admin.disconnect();
  }
}

/** Phase 6: the live segment, 1 trading day per second, freshness by listing the table every 100 ms. */
async function measureLive(args: {
  client: Client;
  base: NodeJS.ProcessEnv;
  size: ScaleSize;
  seconds: number;
  seed: number;
  tmp: string;
  keepFiles: boolean;
}) {
  const { client, size, seconds } = args;
  const file = path.join(args.tmp, `live-${sizeLabel(size)}.csv`);
  const { totals } = await writeMarketCsv(file, { symbols: size.symbols, days: seconds, seed: args.seed });
  const config = loadConfig({
    ...args.base,
    ...uniqueNames(`l${sizeLabel(size)}`),
    TICKLAKE_TASK_QUEUE: args.base.TICKLAKE_TASK_QUEUE,
  });
  await prepareInfrastructure(config);
  const { s3 } = createAwsClients(config.aws);
  const root = tableRoot(config.lake.prefix, config.glue.table);
  const admin = probeKafka(config.kafka, 'scale-live').admin();
  await admin.connect();
  const seenAt = new Map<string, number>();
  const passMs: number[] = [];
  let passesStarted = 0;
  let passesDone = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const at = Date.now();
      passesStarted++;
      for (const key of await listKeys(s3, config.lake.bucket, root).catch(() => [] as string[])) {
        if (!seenAt.has(key)) seenAt.set(key, at);
      }
      passesDone++;
      passMs.push(Date.now() - at);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - at))));
    }
  })();
  try {
    const sink = await startSink(client, config);
    await waitFor('the live sink to join', () => groupJoined(admin, config.sink.groupId), 120_000, 50);
    const startedAt = Date.now();
    const replay = await startReplay(client, config, { file, speed: { mode: 'days', tradingDaysPerSecond: 1 } });
    const progress = await replay.result();
    const replayedAt = Date.now();
    await untilLagZero(admin, config, 600_000);
    // Every object is committed now; one whole listing pass started after this point sees all of them.
    const after = passesStarted;
    await waitFor('a listing pass after the sink caught up', () => Promise.resolve(passesDone > after), 120_000, 20);
    polling = false;
    await poller;
    await stopSink(sink);
    const objects = await readLakeObjects(s3, config.lake.bucket, root);
    const samples: number[] = [];
    for (const { key, records } of objects) {
      const seen = seenAt.get(key);
      if (seen === undefined) throw new Error(`live: object ${key} was never seen by the listing`);
      for (const r of records) samples.push(seen - Date.parse(String(r.ingested_at)));
    }
    if (progress.produced !== totals.rows || samples.length !== totals.rows) {
      throw new Error(
        `live: ${totals.rows} rows in the file, ${progress.produced} produced, ${samples.length} records in the lake`,
      );
    }
    const manifests = (
      await listKeys(
        s3,
        config.lake.bucket,
        manifestPrefix(config.lake.prefix, config.sink.groupId, config.kafka.topic),
      )
    ).length;
    const replayS = (replayedAt - startedAt) / 1000;
    return {
      config,
      figures: {
        rows: progress.produced,
        trading_days: seconds,
        replay_s: round(replayS, 2),
        objects: objects.length,
        manifests,
        objects_per_s: round(objects.length / replayS, 1),
        manifests_per_s: round(manifests / replayS, 1),
        records_per_object: round(samples.length / Math.max(1, objects.length), 1),
        freshness_p50_ms: percentile(samples, 50),
        freshness_p99_ms: percentile(samples, 99),
        freshness_max_ms: percentile(samples, 100),
        listing_pass_p50_ms: percentile(passMs, 50),
        listing_pass_max_ms: percentile(passMs, 100),
      },
    };
  } finally {
    polling = false;
    await poller;
    await admin.disconnect();
    if (!args.keepFiles) fs.rmSync(file, { force: true });
  }
}

/** Terminates what a size left running on its task queue (the crawl workflow waits for notices). */
async function endWorkflows(client: Client, configs: TicklakeConfig[]): Promise<void> {
  for (const c of configs) {
    for (const id of [workflowIds.crawl(c.glue.database, c.glue.table), workflowIds.sink(c.kafka.topic)]) {
      await client.workflow
        .getHandle(id)
        .terminate('benchmark over')
        .catch(() => undefined);
    }
  }
}

/** Every phase at one size; returns its figures. */
async function measureSize(args: {
  stack: Stack;
  size: ScaleSize;
  opts: Options;
  seed: number;
  warmRuns: number;
  liveSeconds: number;
  tmp: string;
  logBase: string;
}) {
  const { stack, size, opts, seed, warmRuns, tmp } = args;
  const label = sizeLabel(size);
  const file = path.join(tmp, `market-${label}.csv`);
  log(`${label}: generating ${size.symbols} symbols × ${size.days} trading days into ${file}...`);
  const genStart = Date.now();
  const { totals, bytes } = await writeMarketCsv(file, { symbols: size.symbols, days: size.days, seed });
  const generateS = secs(Date.now() - genStart);
  log(`${label}: ${totals.rows} rows, ${mb(bytes)} MB in ${generateS} s (${totals.days.first} to ${totals.days.last})`);

  const base: NodeJS.ProcessEnv = {
    ...stack.env,
    ...uniqueNames(`s${label}`),
    QUERY_ENGINE: 'duckdb',
    TICKLAKE_METRICS_PORT: '0',
  };
  const config = loadConfig(base);
  const configs = [config];
  await prepareInfrastructure(config);
  const { s3, glue } = createAwsClients(config.aws);
  const cacheDir = queryCacheDir(config, opts);
  fs.rmSync(cacheDir, { recursive: true, force: true });
  const workers = new Workers(base, `${args.logBase}-${label}-worker`);
  const stopWorkers = () => workers.stop();
  onInterrupt.push(stopWorkers);
  const queries = scaleQueries(totals);
  const qopts: QueryOptions = { maxRows: Math.max(size.symbols, size.days) + 1, maxBytes: 1024 * 1024 };
  const rowsTimeout = Math.max(600_000, totals.rows); // a millisecond a row, at least 10 minutes
  let client: Client | undefined;
  const admin = probeKafka(config.kafka, 'scale').admin();
  try {
    const pipelineWorker = await workers.start('pipeline');
    client = await connectClient(config.temporal);
    await admin.connect();

    // 2. CSV to queryable.
    log(`${label}: CSV to queryable (layout ${JSON.stringify(layoutOf(config))})...`);
    const sink = await startSink(client, config);
    await waitFor('the sink to join its group', () => groupJoined(admin, config.sink.groupId), 120_000, 50);
    const startedAt = Date.now();
    const replay = await (await startReplay(client, config, { file })).result();
    const replayDoneAt = Date.now();
    if (replay.produced !== totals.rows || replay.rejected !== 0) {
      throw new Error(
        `${label}: the replay produced ${replay.produced} rows and rejected ${replay.rejected} (dead-letter topic ` +
          `${config.kafka.dlqTopic}); the file has ${totals.rows} valid rows`,
      );
    }
    log(`${label}: replayed ${replay.produced} rows in ${secs(replayDoneAt - startedAt)} s; waiting for the sink...`);
    await untilLagZero(admin, config, rowsTimeout);
    const caughtUpAt = Date.now();
    log(`${label}: sink caught up ${secs(caughtUpAt - replayDoneAt)} s after the replay; crawling...`);
    const crawl = await runCrawl(client, config);
    const crawledAt = Date.now();
    const perSymbol = queries[0];
    const first = await runQuery(client, config, perSymbol.sql, perSymbol.params, qopts);
    const answeredAt = Date.now();
    perSymbol.check(first);
    const pipelinePeakMb = pipelineWorker.peakRssMb();
    const firstRead = await runQuery(client, config, 'SELECT min(ingested_at) AS first_read FROM ticks');
    const firstReadAt = Date.parse(String(firstRead.rows[0]?.[0]));
    if (!Number.isFinite(firstReadAt)) throw new Error(`min(ingested_at) answered ${JSON.stringify(firstRead.rows)}`);
    const csvToQueryableS = secs(answeredAt - firstReadAt);
    let cacheBytes = directoryBytes(cacheDir);
    log(
      `${label}: CSV to queryable ${csvToQueryableS} s (replay ${secs(replayDoneAt - firstReadAt)} s, sink tail ` +
        `${secs(caughtUpAt - replayDoneAt)} s, crawl ${secs(crawledAt - caughtUpAt)} s, per-symbol query ` +
        `${answeredAt - crawledAt} ms); pipeline worker peak RSS ${pipelinePeakMb} MB`,
    );

    // 3. The lake.
    const root = tableRoot(config.lake.prefix, config.glue.table);
    const listed = await listWithSizes(s3, config.lake.bucket, root);
    const dataObjects = listed.filter((o) => DATA_OBJECT.test(o.key));
    const lakeBytes = dataObjects.reduce((n, o) => n + o.size, 0);
    const manifests = (
      await listKeys(
        s3,
        config.lake.bucket,
        manifestPrefix(config.lake.prefix, config.sink.groupId, config.kafka.topic),
      )
    ).length;
    const partitions = (await registeredPartitions(glue, config.glue.database, config.glue.table)).size;
    const fullCrawlStart = Date.now();
    const fullCrawl = await runCrawl(client, config, { full: true });
    const fullCrawlS = secs(Date.now() - fullCrawlStart);
    await stopSink(sink);
    log(
      `${label}: ${dataObjects.length} data objects (${round(totals.rows / Math.max(1, dataObjects.length), 1)} records ` +
        `per object), ${mb(lakeBytes)} MB, ${manifests} manifests, ${partitions} Glue partitions; full crawl ${fullCrawlS} s ` +
        `(${fullCrawl.partitionsFound} partitions, ${fullCrawl.objectsFound} objects); query cache ${mb(cacheBytes)} MB`,
    );

    // 4. Cold and warm queries.
    const queryFigures: Record<string, QueryFigures> = {};
    for (const q of queries) {
      await workers.stop();
      fs.rmSync(cacheDir, { recursive: true, force: true });
      await workers.start(`cold-${q.name}`);
      const cold = await timedQuery(client, config, q, qopts);
      const warm: number[] = [];
      let warmPhases: Record<string, number> | undefined;
      for (let i = 0; i < warmRuns; i++) {
        const run = await timedQuery(client, config, q, qopts);
        warm.push(run.ms);
        warmPhases = run.phases;
      }
      const cached = directoryBytes(cacheDir);
      if (cached === 0) {
        log(
          `${label}: WARNING: ${cacheDir} is empty after the ${q.name} query: if the engine caches elsewhere, ` +
            'cold runs are not cold and the cache size is not measured; give its directory with --query-cache-dir',
        );
      }
      cacheBytes = Math.max(cacheBytes, cached);
      queryFigures[q.name] = {
        title: q.title,
        cold_ms: Math.round(cold.ms),
        warm_ms: Math.round(median(warm)),
        warm_runs_ms: warm.map((m) => Math.round(m)),
        rows: cold.rows,
        objects_read: cold.objectsRead,
        cold_phases: cold.phases,
        warm_phases: warmPhases,
      };
      log(
        `${label}: ${q.title}: cold ${Math.round(cold.ms)} ms (${cold.objectsRead ?? '?'} objects read), warm median ` +
          `${Math.round(median(warm))} ms (${warm.map((m) => Math.round(m)).join(' ')}); ${cold.rows} rows checked; ` +
          `engine phases cold ${JSON.stringify(cold.phases)}, warm ${JSON.stringify(warmPhases)}`,
      );
    }

    // 5. Sink drain.
    const drain = opts.drain ? await measureDrain(client, base, config, totals.rows) : undefined;
    if (drain) {
      log(`${label}: sink drain ${drain.records_per_s} records/s (${drain.seconds} s, ${drain.objects} objects)`);
    }

    // 6. Live.
    let live: Awaited<ReturnType<typeof measureLive>>['figures'] | undefined;
    if (opts.live) {
      log(`${label}: live, ${size.symbols} symbols at 1 trading day per second for ${args.liveSeconds} s...`);
      const l = await measureLive({
        client,
        base,
        size,
        seconds: args.liveSeconds,
        seed,
        tmp,
        keepFiles: !!opts.keepFiles,
      });
      configs.push(l.config);
      live = l.figures;
      log(
        `${label}: live ${live.objects_per_s} objects/s, ${live.manifests_per_s} manifests/s ` +
          `(${live.records_per_object} records per object); freshness p50 ${live.freshness_p50_ms} ms, p99 ` +
          `${live.freshness_p99_ms} ms, max ${live.freshness_max_ms} ms (listing pass p50 ${live.listing_pass_p50_ms} ms, ` +
          `max ${live.listing_pass_max_ms} ms)`,
      );
    }
    await workers.stop();

    const worst = (pick: (f: QueryFigures) => number) => Math.max(...Object.values(queryFigures).map(pick));
    return {
      rows: totals.rows,
      symbols: size.symbols,
      trading_days: size.days,
      csv_mb: mb(bytes),
      generate_s: generateS,
      csv_to_queryable_s: csvToQueryableS,
      replay_s: secs(replayDoneAt - firstReadAt),
      replay_rows_per_s: Math.round(totals.rows / ((replayDoneAt - firstReadAt) / 1000)),
      sink_tail_s: secs(caughtUpAt - replayDoneAt),
      ingest_records_per_s: Math.round(totals.rows / ((caughtUpAt - firstReadAt) / 1000)),
      sink_records_per_s: drain?.records_per_s ?? null,
      drain_objects: drain?.objects ?? null,
      catalog_s: secs(crawledAt - caughtUpAt),
      catalog_scan: crawl.scan,
      queryable_query_ms: answeredAt - crawledAt,
      objects: dataObjects.length,
      records_per_object: round(totals.rows / Math.max(1, dataObjects.length), 1),
      manifests,
      lake_mb: mb(lakeBytes),
      glue_partitions: partitions,
      crawl_s: fullCrawlS,
      worker_peak_rss_mb: workers.peakMb,
      pipeline_worker_peak_rss_mb: pipelinePeakMb,
      query_cache_mb: mb(cacheBytes),
      cold_query_s: secs(worst((f) => f.cold_ms)),
      warm_query_ms: worst((f) => f.warm_ms),
      queries: queryFigures,
      live_objects_per_s: live?.objects_per_s ?? null,
      live_manifests_per_s: live?.manifests_per_s ?? null,
      live_freshness_p50_ms: live?.freshness_p50_ms ?? null,
      live_freshness_p99_ms: live?.freshness_p99_ms ?? null,
      live: live ?? null,
      layout: layoutOf(config),
    };
  } finally {
    onInterrupt.splice(onInterrupt.indexOf(stopWorkers), 1);
    await workers.stop();
    await admin.disconnect().catch(() => undefined);
    if (client) {
      await endWorkflows(client, configs);
      await client.connection.close();
    }
    for (const c of configs) await removeResources(c).catch((err: unknown) => log(`cleanup: ${String(err)}`));
    fs.rmSync(cacheDir, { recursive: true, force: true });
    if (!opts.keepFiles) fs.rmSync(file, { force: true });
  }
}

type SizeFigures = Awaited<ReturnType<typeof measureSize>>;

const GROWTH: GrowthFigure[] = [
  { key: 'csv_to_queryable_s', label: 'CSV to queryable (s)', digits: 1 },
  { key: 'replay_rows_per_s', label: 'replay (rows/s)' },
  { key: 'ingest_records_per_s', label: 'ingest, first row read to sink caught up (records/s)' },
  { key: 'sink_records_per_s', label: 'sink drain (records/s)' },
  { key: 'objects', label: 'data objects' },
  { key: 'records_per_object', label: 'records per object', digits: 1 },
  { key: 'manifests', label: 'manifests' },
  { key: 'lake_mb', label: 'lake (MB)', digits: 1 },
  { key: 'glue_partitions', label: 'Glue partitions' },
  { key: 'catalog_s', label: 'crawl after catch-up (s)', digits: 2 },
  { key: 'crawl_s', label: 'full crawl (s)', digits: 2 },
  { key: 'worker_peak_rss_mb', label: 'worker peak RSS (MB)' },
  { key: 'query_cache_mb', label: 'query cache on disk (MB)', digits: 1 },
  { key: 'q_per_symbol_cold', label: 'per symbol, cold (ms)' },
  { key: 'q_per_symbol_warm', label: 'per symbol, warm (ms)' },
  { key: 'q_one_symbol_cold', label: 'one symbol, cold (ms)' },
  { key: 'q_one_symbol_warm', label: 'one symbol, warm (ms)' },
  { key: 'q_one_day_cold', label: 'one day, cold (ms)' },
  { key: 'q_one_day_warm', label: 'one day, warm (ms)' },
  { key: 'live_objects_per_s', label: 'live: data objects/s', digits: 1 },
  { key: 'live_manifests_per_s', label: 'live: manifests/s', digits: 1 },
  { key: 'live_freshness_p50_ms', label: 'live: freshness p50 (ms)' },
  { key: 'live_freshness_p99_ms', label: 'live: freshness p99 (ms)' },
];

/** The numbers of a size's figures, flat, for the growth table. */
function flatFigures(f: SizeFigures): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const [k, v] of Object.entries(f)) if (typeof v === 'number') out[k] = v;
  for (const [name, q] of Object.entries(f.queries)) {
    out[`q_${name}_cold`] = q.cold_ms;
    out[`q_${name}_warm`] = q.warm_ms;
  }
  return out;
}

async function main(): Promise<void> {
  const program = new Command('npm run bench:scale --')
    .description('the whole pipeline on generated market data of thousands of symbols, at several sizes')
    .option('--sizes <list>', 'sizes as SYMBOLSxDAYS, comma-separated (run smallest first)', '2000x1000,5000x2000')
    .option('--quick', 'a smoke run: 200x100 and a 10 s live segment (unless --sizes or --live-seconds is given)')
    .option('--seed <n>', 'seed of the generated data', '16')
    .option('--warm-runs <n>', 'warm runs of each query (the median is reported)', '5')
    .option('--live-seconds <n>', 'trading days (= seconds) of the live segment', '60')
    .option('--no-live', 'skip the live segment')
    .option('--no-drain', 'skip the sink drain')
    .option('--offset <n>', 'port offset of its own stack', '5100')
    .option('--keep-stack', 'leave its own stack running (and its data dir) at the end')
    .option('--data-dir <dir>', 'data dir of its own stack (default: a new temporary one)')
    .option('--tmp-dir <dir>', 'where the generated files go (default: the system temporary directory)')
    .option('--keep-files', 'keep the generated files')
    .option(
      '--query-cache-dir <dir>',
      "the worker's query cache, emptied before each cold query and measured (default: <data dir>/query-cache)",
    )
    .option('--out <dir>', 'where the JSON and Markdown results go', path.join(REPO_ROOT, 'bench-results'));
  program.parse(process.argv.slice(2), { from: 'user' });
  const opts = program.opts<Options>();
  const given = (name: string) => program.getOptionValueSource(name) === 'cli';
  // Smallest first: the growth table's ratio is from the first size to the last.
  const sizes = (opts.quick && !given('sizes') ? [{ symbols: 200, days: 100 }] : parseSizes(opts.sizes)).sort(
    (a, b) => a.symbols * a.days - b.symbols * b.days,
  );
  const liveSeconds = opts.quick && !given('liveSeconds') ? 10 : Number(opts.liveSeconds);
  const seed = Number(opts.seed);
  const warmRuns = Number(opts.warmRuns);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be a whole number, got '${opts.seed}'`);
  if (!(Number.isInteger(warmRuns) && warmRuns >= 1)) throw new Error(`--warm-runs must be at least 1`);
  if (!(Number.isInteger(liveSeconds) && liveSeconds >= 2)) throw new Error(`--live-seconds must be at least 2`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(opts.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(opts.tmpDir ? path.resolve(opts.tmpDir) : os.tmpdir(), 'ticklake-scale-'));
  const resolvedRepo = path.resolve(REPO_ROOT) + path.sep;
  if ((tmp + path.sep).startsWith(resolvedRepo)) {
    throw new Error(`--tmp-dir ${tmp} is inside the repository: generated files go outside it`);
  }
  const stack = new Stack(Number(opts.offset), opts.dataDir ? path.resolve(opts.dataDir) : tempDataDir('scale-stack'));
  const loadBefore = loadAverage();
  onInterrupt.push(async () => {
    if (!opts.keepStack) {
      await stack.down();
      if (!opts.dataDir) fs.rmSync(stack.dataDir, { recursive: true, force: true });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  log(`own stack on port offset ${stack.offset}, data in ${stack.dataDir}: starting...`);
  await stack.up();
  const results: Record<string, SizeFigures> = {};
  const outBase = path.join(opts.out, `bench-scale-${stamp}`);
  try {
    for (const size of sizes) {
      log(`size ${sizeLabel(size)}, load average ${loadAverage()}`);
      results[sizeLabel(size)] = await measureSize({
        stack,
        size,
        opts,
        seed,
        warmRuns,
        liveSeconds,
        tmp,
        logBase: outBase,
      });
      // Each size's figures are kept as soon as they are measured, should a later size fail.
      fs.writeFileSync(`${outBase}.json`, JSON.stringify({ sizes: results }, null, 2) + '\n');
    }
  } finally {
    if (!opts.keepStack) {
      await stack.down().catch((err: unknown) => log(String(err)));
      if (!opts.dataDir) fs.rmSync(stack.dataDir, { recursive: true, force: true });
    } else log(`stack left running: TICKLAKE_PORT_OFFSET=${stack.offset} TICKLAKE_DATA_DIR=${stack.dataDir}`);
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const labels = Object.keys(results);
  const table = growthTable(
    labels.map((l) => ({ label: l, rows: results[l].rows, figures: flatFigures(results[l]) })),
    GROWTH,
  );
  const last = results[labels[labels.length - 1]];
  const pick = (f: SizeFigures) => ({
    rows: f.rows,
    symbols: f.symbols,
    trading_days: f.trading_days,
    csv_to_queryable_s: f.csv_to_queryable_s,
    replay_rows_per_s: f.replay_rows_per_s,
    sink_records_per_s: f.sink_records_per_s,
    objects: f.objects,
    records_per_object: f.records_per_object,
    manifests: f.manifests,
    lake_mb: f.lake_mb,
    glue_partitions: f.glue_partitions,
    crawl_s: f.crawl_s,
    live_objects_per_s: f.live_objects_per_s,
    live_manifests_per_s: f.live_manifests_per_s,
    live_freshness_p50_ms: f.live_freshness_p50_ms,
    live_freshness_p99_ms: f.live_freshness_p99_ms,
    worker_peak_rss_mb: f.worker_peak_rss_mb,
    query_cache_mb: f.query_cache_mb,
    cold_query_s: f.cold_query_s,
    warm_query_ms: f.warm_query_ms,
  });
  const summary = {
    ...pick(last),
    ...Object.fromEntries(labels.map((l) => [l, pick(results[l])])),
    seed,
    layout: last.layout,
    load_average: { before: loadBefore, after: loadAverage() },
    stack: `own (port offset ${stack.offset})`,
  };
  console.log('');
  console.log(table);
  console.log('');
  console.log(
    'Cold: the worker restarted and its query cache emptied, then the first run of the query. Warm: the median ' +
      `of ${warmRuns} runs after it. Every answer checked against the generated file.`,
  );
  console.log(`load average ${loadBefore} before, ${loadAverage()} after, on ${os.cpus().length} CPUs`);
  fs.writeFileSync(`${outBase}.json`, JSON.stringify({ summary, sizes: results }, null, 2) + '\n');
  fs.writeFileSync(`${outBase}.md`, `${table}\n`);
  log(`results: ${outBase}.json, ${outBase}.md`);
  console.log(JSON.stringify(summary));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`npm run bench:scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
