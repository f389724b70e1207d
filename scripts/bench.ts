/**
 * `npm run bench`: the whole pipeline, CSV to queryable, on the real data file (TICKLAKE_REAL_CSV),
 * against a baseline built like simple Kafka-to-S3 scripts, in one run. docs/benchmarks.md explains
 * the method and holds the figures.
 *
 * By default it runs on a stack of services of its own (port offset 5000, a temporary data dir,
 * stopped at the end), so other work on the default services neither slows it nor is disturbed;
 * `--shared` uses the configured services instead. The worker runs as a subprocess (src/worker-main.ts),
 * so its peak RSS (VmHWM) and CPU time are its own. Phases:
 *
 * 1. warm-up: the sample file through the whole pipeline under other names (a running worker and
 *    services are warm; a fresh Kafka's transaction coordinator is not);
 * 2. ticklake: sink started and joined, then the replay of the real file as fast as possible, the sink
 *    catching up, a crawl, the per-symbol query of docs/queries.md (cold), then warm runs of it. Total =
 *    first row read (the earliest `ingested_at` in the lake) to the query answering with every row;
 * 3. sink drain: a second sink group drains the same topic (all records waiting): records/s from its
 *    group join to lag 0;
 * 4. freshness: a replay at a steady rate (default 2,000 rows/s for 10 s) into a topic and table of its
 *    own; the table folder is listed every 100 ms and each record's freshness is the time from its
 *    `ingested_at` (the producer read it) to the listing that first showed its object;
 * 5. baseline on the first `--baseline-rows` rows (default 5,000), scaled to the file part by part
 *    (bench/baseline-model.ts: what grows with rows by rows, what grows with partitions by partitions,
 *    fixed costs once).
 *
 * Prints the figures side by side, writes bench-results/bench-<time>.json and .md, and prints as its
 * last line one JSON object.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { removeResources } from '../test/integration/sink-support';
import type { Admin } from 'kafkajs';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { registeredPartitions } from '../src/catalog/glue-catalog';
import { listKeys } from '../src/catalog/lake-scan';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { tableRoot } from '../src/lake-layout';
import {
  prepareInfrastructure,
  runCrawl,
  runQuery,
  sinkInput,
  startReplay,
  startSink,
  workflowIds,
} from '../src/pipeline';
import { parseExamples, type DocExample } from '../src/query/examples';
import type { QueryResult, ReplayProgress } from '../activities/types';
import { SERVICE_NAMES } from '../src/services';
import { baselineFolders, runBaseline, type BaselineResult } from './bench/baseline';
import { extrapolateBaseline, sampledReads } from './bench/baseline-model';
import {
  SAMPLE_CSV,
  Stack,
  WorkerProcess,
  cpuSeconds,
  groupJoined,
  loadAverage,
  probeKafka,
  readLakeObjects,
  realCsvOrExit,
  sleep,
  stopSink,
  tempDataDir,
  totalLag,
  uniqueNames,
  waitFor,
} from './bench/common';
import { markdownTable, median, percentile, round } from './bench/stats';
import { countsBySymbol, expectedRows, type ExpectedRow } from './bench/verify';
import { sinkWorkflow } from '../workflows';

interface Options {
  shared: boolean;
  offset: string;
  keepStack: boolean;
  dataDir?: string;
  warmup: boolean;
  baseline: boolean;
  baselineRows: string;
  baselineSampleSize: string;
  freshnessRate: string;
  freshnessSeconds: string;
  warmRuns: string;
  runs: string;
  out: string;
  profile?: string;
}

const log = (line: string) => console.error(line);
const s = (ms: number) => round(ms / 1000, 2);

/** CPU seconds of the worker and of each service process, read from /proc. */
type CpuSnapshot = Record<string, number>;

function cpuSnapshot(worker: WorkerProcess, stack: Stack | undefined): CpuSnapshot {
  const out: CpuSnapshot = { worker: worker.cpuSeconds() ?? NaN, bench: process.cpuUsage().user / 1e6 };
  out.bench += process.cpuUsage().system / 1e6;
  for (const name of SERVICE_NAMES) {
    const pid = stack?.pid(name);
    if (pid) out[name] = cpuSeconds(pid) ?? NaN;
  }
  return out;
}

function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  return Object.fromEntries(Object.keys(b).map((k) => [k, round(b[k] - (a[k] ?? 0), 1)]));
}

async function untilLagZero(admin: Admin, config: TicklakeConfig, timeoutMs: number): Promise<void> {
  await waitFor(
    `the sink group ${config.sink.groupId} to catch up`,
    async () => (await totalLag(admin, config.sink.groupId, config.kafka.topic)) === 0n,
    timeoutMs,
    25,
  );
}

/** Sum of the per-symbol query's `ticks` column. */
function answeredRows(result: QueryResult): number {
  const i = result.columns.findIndex((c) => c.name === 'ticks');
  if (i < 0) throw new Error(`the per-symbol query has no 'ticks' column: ${JSON.stringify(result.columns)}`);
  return result.rows.reduce((n, r) => n + Number(r[i]), 0);
}

interface PipelineRun {
  rows: number;
  firstReadAt: number;
  startedAt: number;
  replayDoneAt: number;
  caughtUpAt: number;
  crawledAt: number;
  answeredAt: number;
  replay: ReplayProgress;
  catalog: { via: 'notices' | 'crawl'; partitions: number };
  cold: QueryResult;
  cpu: Record<string, CpuSnapshot>;
  sink: WorkflowHandle;
}

/**
 * Waits until the catalog holds every partition folder of the lake: the sink's notices register them
 * as it writes (through the crawl workflow), so normally this only waits out the last notice. If they
 * have not all arrived within 20 s, a crawl registers the rest.
 */
async function catalogCaughtUp(
  client: Client,
  config: TicklakeConfig,
): Promise<{ via: 'notices' | 'crawl'; partitions: number }> {
  const { s3, glue } = createAwsClients(config.aws);
  const root = tableRoot(config.lake.prefix, config.glue.table);
  const folders = new Set(
    (await listKeys(s3, config.lake.bucket, root))
      .filter((k) => /\.json(\.gz|\.zst)?$/.test(k))
      .map((k) => k.slice(root.length, k.lastIndexOf('/'))),
  );
  try {
    await waitFor(
      `the catalog to register the lake's ${folders.size} partitions`,
      async () => (await registeredPartitions(glue, config.glue.database, config.glue.table)).size >= folders.size,
      20_000,
      100,
    );
    return { via: 'notices', partitions: folders.size };
  } catch (err) {
    log(`${(err as Error).message}: crawling`);
    await runCrawl(client, config);
    return { via: 'crawl', partitions: folders.size };
  }
}

/** Sink, replay, catch-up, catalog, cold query: the measured path (also the warm-up's). */
async function runPipeline(args: {
  client: Client;
  config: TicklakeConfig;
  file: string;
  query: DocExample;
  expectedCounts: Record<string, number>;
  worker: WorkerProcess;
  stack: Stack | undefined;
}): Promise<PipelineRun> {
  const { client, config, file, query, worker, stack } = args;
  const admin = probeKafka(config.kafka, 'bench').admin();
  await admin.connect();
  try {
    const sink = await startSink(client, config);
    await waitFor('the sink to join its group', () => groupJoined(admin, config.sink.groupId), 120_000, 50);
    const cpu: Record<string, CpuSnapshot> = { start: cpuSnapshot(worker, stack) };
    const startedAt = Date.now();
    const replay = await (await startReplay(client, config, { file })).result();
    const replayDoneAt = Date.now();
    cpu.replayDone = cpuSnapshot(worker, stack);
    await untilLagZero(admin, config, 600_000);
    const caughtUpAt = Date.now();
    cpu.caughtUp = cpuSnapshot(worker, stack);
    const catalog = await catalogCaughtUp(client, config);
    const crawledAt = Date.now();
    cpu.crawled = cpuSnapshot(worker, stack);
    const cold = await runQuery(client, config, query.sql, query.params);
    const answeredAt = Date.now();
    cpu.answered = cpuSnapshot(worker, stack);
    const got = countsFromResult(cold);
    if (JSON.stringify(got) !== JSON.stringify(args.expectedCounts)) {
      throw new Error(
        `the per-symbol query answered ${JSON.stringify(got)}, expected ${JSON.stringify(args.expectedCounts)}`,
      );
    }
    // The earliest ingested_at is when the producer read the first row.
    const first = await runQuery(client, config, 'SELECT min(ingested_at) AS first_read FROM ticks');
    const firstReadAt = Date.parse(String(first.rows[0][0]));
    return {
      rows: replay.produced,
      firstReadAt: Number.isFinite(firstReadAt) ? firstReadAt : startedAt,
      startedAt,
      replayDoneAt,
      caughtUpAt,
      crawledAt,
      answeredAt,
      replay,
      catalog,
      cold,
      cpu,
      sink,
    };
  } finally {
    await admin.disconnect();
  }
}

function countsFromResult(result: QueryResult): Record<string, number> {
  const sym = result.columns.findIndex((c) => c.name === 'symbol');
  const n = result.columns.findIndex((c) => c.name === 'ticks');
  const pairs: [string, number][] = result.rows.map((r) => [String(r[sym]), Number(r[n])]);
  return Object.fromEntries(pairs.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Phase 3: a second group drains the whole topic; records/s from its join to lag 0. */
async function measureDrain(client: Client, config: TicklakeConfig, records: number) {
  const drain = loadConfig({ ...envOf(config), SINK_GROUP_ID: `${config.sink.groupId}-drain`, LAKE_PREFIX: 'drain/' });
  const admin = probeKafka(config.kafka, 'bench-drain').admin();
  await admin.connect();
  try {
    const started = Date.now();
    const handle = await client.workflow.start(sinkWorkflow, {
      workflowId: `${workflowIds.sink(config.kafka.topic)}/drain`,
      taskQueue: config.temporal.taskQueue,
      // The sink alone: no partition notices to a crawl.
      args: [{ ...sinkInput(drain), crawl: undefined }],
    });
    await waitFor('the drain sink to join', () => groupJoined(admin, drain.sink.groupId), 120_000, 25);
    const joinedAt = Date.now();
    await untilLagZero(admin, drain, 600_000);
    const drainedAt = Date.now();
    await stopSink(handle);
    const { s3 } = createAwsClients(drain.aws);
    const files = (await listKeys(s3, drain.lake.bucket, tableRoot(drain.lake.prefix, drain.glue.table))).length;
    return {
      records,
      seconds: (drainedAt - joinedAt) / 1000,
      fromStartSeconds: (drainedAt - started) / 1000,
      perS: records / ((drainedAt - joinedAt) / 1000),
      files,
    };
  } finally {
    await admin.disconnect();
  }
}

/** The environment variables a config was built from, as far as the benchmark changes them. */
const configEnv = new WeakMap<TicklakeConfig, NodeJS.ProcessEnv>();
function envOf(config: TicklakeConfig): NodeJS.ProcessEnv {
  const env = configEnv.get(config);
  if (!env) throw new Error('configuration built outside benchConfig');
  return env;
}
function benchConfig(env: NodeJS.ProcessEnv): TicklakeConfig {
  const config = loadConfig(env);
  configEnv.set(config, env);
  return config;
}

/** Phase 4: freshness at a steady rate, by listing the table folder every 100 ms. */
async function measureFreshness(args: {
  client: Client;
  base: NodeJS.ProcessEnv;
  csv: string;
  rate: number;
  seconds: number;
  tmp: string;
}) {
  const { client, rate, seconds } = args;
  const names = uniqueNames('fresh');
  const config = benchConfig({ ...args.base, ...names, TICKLAKE_TASK_QUEUE: args.base.TICKLAKE_TASK_QUEUE });
  await prepareInfrastructure(config);
  const { s3 } = createAwsClients(config.aws);
  const lines = fs.readFileSync(args.csv, 'utf8').split(/\r?\n/);
  const file = path.join(args.tmp, `freshness-${rate}x${seconds}.csv`);
  fs.writeFileSync(file, lines.slice(0, 1 + rate * seconds).join('\n') + '\n');
  const admin = probeKafka(config.kafka, 'bench-fresh').admin();
  await admin.connect();
  const root = tableRoot(config.lake.prefix, config.glue.table);
  const seenAt = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const at = Date.now();
      for (const key of await listKeys(s3, config.lake.bucket, root).catch(() => [] as string[])) {
        if (!seenAt.has(key)) seenAt.set(key, at);
      }
      await sleep(Math.max(0, 100 - (Date.now() - at)));
    }
  })();
  try {
    const sink = await startSink(client, config);
    await waitFor('the freshness sink to join', () => groupJoined(admin, config.sink.groupId), 120_000, 50);
    const replay = await startReplay(client, config, { file, speed: { mode: 'rows', rowsPerSecond: rate } });
    const progress = await replay.result();
    await untilLagZero(admin, config, 120_000);
    await sleep(300);
    polling = false;
    await poller;
    await stopSink(sink);
    const objects = await readLakeObjects(s3, config.lake.bucket, root);
    const samples: number[] = [];
    for (const { key, records } of objects) {
      const seen = seenAt.get(key);
      if (seen === undefined) throw new Error(`object ${key} was never seen by the listing`);
      for (const r of records) samples.push(seen - Date.parse(String(r.ingested_at)));
    }
    return {
      rows: progress.produced,
      lakeRecords: samples.length,
      samples: samples.length,
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      max: Math.max(...samples),
      objects: objects.length,
      config,
    };
  } finally {
    polling = false;
    await poller;
    await admin.disconnect();
  }
}

/** Removes what a run made on shared services: workflows, topics, groups, buckets, Glue databases. */
async function cleanShared(client: Client, configs: TicklakeConfig[]): Promise<void> {
  for (const config of configs) {
    for (const id of [
      workflowIds.sink(config.kafka.topic),
      `${workflowIds.sink(config.kafka.topic)}/drain`,
      workflowIds.crawl(config.glue.database, config.glue.table),
    ]) {
      await client.workflow
        .getHandle(id)
        .terminate('benchmark over')
        .catch(() => undefined);
    }
    await removeResources(config).catch(() => undefined);
  }
}

/** One measured run of phase 2 on `config`'s names. */
async function measureTicklake(args: {
  client: Client;
  config: TicklakeConfig;
  csv: string;
  query: DocExample;
  expected: ExpectedRow[];
  worker: WorkerProcess;
  stack: Stack | undefined;
  warmRuns: number;
  first: boolean;
}) {
  const { client, config, csv, query, expected, worker, stack, warmRuns, first } = args;
  const run = await runPipeline({
    client,
    config,
    file: csv,
    query,
    expectedCounts: countsBySymbol(expected),
    worker,
    stack,
  });
  const warmMs: number[] = [];
  for (let i = 0; i < warmRuns; i++) {
    const t = performance.now();
    const r = await runQuery(client, config, query.sql, query.params);
    warmMs.push(performance.now() - t);
    if (answeredRows(r) !== expected.length) throw new Error(`a warm query answered ${answeredRows(r)} rows`);
  }
  // Measured after the first run only: later runs load more tables into the same worker.
  const peakRssMb = first ? worker.peakRssMb() : NaN;
  // The crawl `npm start` runs after the sink caught up (incremental: the manifests since the last crawl).
  const crawlStart = Date.now();
  const crawl = await runCrawl(client, config);
  const crawlMs = Date.now() - crawlStart;
  const fullCrawlStart = Date.now();
  const fullCrawl = await runCrawl(client, config, { full: true });
  const fullCrawlMs = Date.now() - fullCrawlStart;
  await stopSink(run.sink);
  const t0 = run.firstReadAt;
  const rows = run.rows;
  const tick = {
    rows,
    startedAt: new Date(run.startedAt).toISOString(),
    totalS: s(run.answeredAt - t0),
    fromStartS: s(run.answeredAt - run.startedAt),
    firstReadAfterStartMs: t0 - run.startedAt,
    replayS: s(run.replayDoneAt - t0),
    producerRowsPerS: Math.round(rows / ((run.replayDoneAt - t0) / 1000)),
    sinkTailS: s(run.caughtUpAt - run.replayDoneAt),
    catalogS: s(run.crawledAt - run.caughtUpAt),
    catalogVia: run.catalog.via,
    crawlS: s(crawlMs),
    crawlScan: crawl.scan,
    crawlPhases: crawl.phaseMs,
    fullCrawlS: s(fullCrawlMs),
    fullCrawlObjectsRead: fullCrawl.objectsRead,
    partitions: fullCrawl.partitionsFound,
    coldQueryMs: run.answeredAt - run.crawledAt,
    coldPhases: run.cold.stats.phases ?? {},
    coldObjects: run.cold.stats.objectsRead ?? 0,
    warmQueryMs: round(median(warmMs)),
    warmRunsMs: warmMs.map((m) => round(m)),
    peakRssMb,
    cpu: {
      replay: cpuDelta(run.cpu.start, run.cpu.replayDone),
      sinkTail: cpuDelta(run.cpu.replayDone, run.cpu.caughtUp),
      catalog: cpuDelta(run.cpu.caughtUp, run.cpu.crawled),
      coldQuery: cpuDelta(run.cpu.crawled, run.cpu.answered),
    },
  };
  log(
    `ticklake: ${rows} rows CSV to queryable in ${tick.totalS} s (first row read ${tick.firstReadAfterStartMs} ms after ` +
      `the replay was started): replay ${tick.replayS} s (${tick.producerRowsPerS} rows/s), sink caught up ` +
      `${tick.sinkTailS} s later, catalog complete (${tick.catalogVia}) ${tick.catalogS} s later, cold query ${tick.coldQueryMs} ms ` +
      `(${tick.coldObjects} objects; ${JSON.stringify(tick.coldPhases)}); warm query median ${tick.warmQueryMs} ms ` +
      `(${tick.warmRunsMs.join(' ')}); then a crawl (${tick.crawlScan}) ${tick.crawlS} s ` +
      `${JSON.stringify(tick.crawlPhases)} and a full crawl ${tick.fullCrawlS} s; worker peak RSS ${Number.isNaN(peakRssMb) ? 'measured on the first run only' : `${peakRssMb} MB`}`,
  );
  log(`ticklake: CPU seconds per phase (worker, services, this process): ${JSON.stringify(tick.cpu)}`);
  return tick;
}

type TicklakeFigures = Awaited<ReturnType<typeof measureTicklake>>;

/** The median of each figure over the runs (the first run's crawl and memory figures), and every run. */
function summarise(runs: TicklakeFigures[]) {
  const m = (pick: (r: TicklakeFigures) => number, digits = 2) => round(median(runs.map(pick)), digits);
  return {
    ...runs[0],
    totalS: m((r) => r.totalS),
    fromStartS: m((r) => r.fromStartS),
    firstReadAfterStartMs: m((r) => r.firstReadAfterStartMs, 0),
    replayS: m((r) => r.replayS),
    producerRowsPerS: m((r) => r.producerRowsPerS, 0),
    sinkTailS: m((r) => r.sinkTailS),
    catalogS: m((r) => r.catalogS),
    coldQueryMs: m((r) => r.coldQueryMs, 0),
    warmQueryMs: m((r) => r.warmQueryMs, 0),
    runs: runs.map((r) => ({
      startedAt: r.startedAt,
      totalS: r.totalS,
      fromStartS: r.fromStartS,
      replayS: r.replayS,
      producerRowsPerS: r.producerRowsPerS,
      sinkTailS: r.sinkTailS,
      catalogS: r.catalogS,
      catalogVia: r.catalogVia,
      coldQueryMs: r.coldQueryMs,
      warmQueryMs: r.warmQueryMs,
    })),
  };
}

async function main(): Promise<void> {
  const opts = new Command('npm run bench --')
    .description('CSV to queryable on the real data file, against a baseline of simple scripts')
    .option('--shared', 'use the configured services instead of a stack of its own')
    .option('--offset <n>', 'port offset of its own stack', '5000')
    .option('--keep-stack', 'leave its own stack running (and its data dir) at the end')
    .option(
      '--data-dir <dir>',
      'data dir of its own stack (default: a new temporary one); a stack running there is reused',
    )
    .option('--no-warmup', 'skip the warm-up run of the sample file')
    .option('--no-baseline', 'skip the baseline')
    .option('--baseline-rows <n>', 'rows of the file the baseline runs on (then extrapolated)', '5000')
    .option(
      '--baseline-sample-size <n>',
      "objects per partition folder the baseline's crawl reads the beginning of (Glue's SampleSize)",
      '10',
    )
    .option('--freshness-rate <n>', 'rows per second of the freshness run', '2000')
    .option('--freshness-seconds <n>', 'seconds of the freshness run', '10')
    .option('--runs <n>', 'measured runs of the pipeline (medians are reported)', '3')
    .option('--warm-runs <n>', 'warm runs of the query per run', '5')
    .option(
      '--profile <dir>',
      "write the worker's CPU profile (.cpuprofile, at its exit) to this dir; runs the warm-up and the measured runs only",
    )
    .option('--out <dir>', 'where the JSON and Markdown results go', path.join(REPO_ROOT, 'bench-results'))
    .parse(process.argv.slice(2), { from: 'user' })
    .opts<Options>();
  const csv = realCsvOrExit('npm run bench');
  const baselineRows = Number(opts.baselineRows);
  const sampleSize = Number(opts.baselineSampleSize);
  const rate = Number(opts.freshnessRate);
  const freshSeconds = Number(opts.freshnessSeconds);
  const warmRuns = Number(opts.warmRuns);
  const runCount = Math.max(1, Number(opts.runs));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(opts.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-bench-'));

  const stack = opts.shared
    ? undefined
    : new Stack(Number(opts.offset), opts.dataDir ? path.resolve(opts.dataDir) : tempDataDir('bench-stack'));
  if (stack) {
    log(`own stack on port offset ${stack.offset}, data in ${stack.dataDir}: starting...`);
    await stack.up();
  }
  const base: NodeJS.ProcessEnv = {
    ...(stack ? stack.env : process.env),
    ...uniqueNames('bench'),
    QUERY_ENGINE: 'duckdb',
    TICKLAKE_METRICS_PORT: '0',
  };
  const config = benchConfig(base);
  const configs = [config];
  await prepareInfrastructure(config);
  const workerLog = path.join(opts.out, `bench-${stamp}-worker.log`);
  const profileDir = opts.profile ? path.resolve(opts.profile) : undefined;
  const worker = new WorkerProcess(base, workerLog, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
  let client: Client | undefined;
  const loadBefore = loadAverage();
  try {
    await worker.ready();
    client = await connectClient(config.temporal);
    const examples = parseExamples(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'queries.md'), 'utf8'));
    const query = examples.find((e) => e.name === 'per-symbol');
    if (!query) throw new Error("docs/queries.md has no 'per-symbol' example");
    const source = path.basename(csv);
    const expected = expectedRows(fs.readFileSync(csv, 'utf8'), source).rows;

    // 1. Warm-up.
    if (opts.warmup) {
      const warm = benchConfig({ ...base, ...uniqueNames('warm'), TICKLAKE_TASK_QUEUE: base.TICKLAKE_TASK_QUEUE });
      configs.push(warm);
      await prepareInfrastructure(warm);
      const t = Date.now();
      const sample = expectedRows(fs.readFileSync(SAMPLE_CSV, 'utf8'), 'sample.csv').rows;
      const w = await runPipeline({
        client,
        config: warm,
        file: SAMPLE_CSV,
        query,
        expectedCounts: countsBySymbol(sample),
        worker,
        stack,
      });
      await stopSink(w.sink);
      log(
        `warm-up: the sample file (${w.rows} rows) through the pipeline in ${((Date.now() - t) / 1000).toFixed(1)} s`,
      );
    }

    // 2. ticklake, CSV to queryable, `--runs` times (each run on names of its own).
    const runs: TicklakeFigures[] = [];
    for (let i = 0; i < runCount; i++) {
      const runConfig =
        i === 0
          ? config
          : benchConfig({ ...base, ...uniqueNames(`run${i + 1}`), TICKLAKE_TASK_QUEUE: base.TICKLAKE_TASK_QUEUE });
      if (i > 0) {
        configs.push(runConfig);
        await prepareInfrastructure(runConfig);
      }
      log(`ticklake run ${i + 1}/${runCount}: ${csv} (${expected.length} rows), load average ${loadAverage()}`);
      runs.push(
        await measureTicklake({
          client,
          config: runConfig,
          csv,
          query,
          expected,
          worker,
          stack,
          warmRuns,
          first: i === 0,
        }),
      );
    }
    const tick = summarise(runs);
    const rows = tick.rows;
    const peakRssMb = tick.peakRssMb;

    if (profileDir) {
      log(`profile: the worker writes its CPU profile to ${profileDir} as it exits`);
      return;
    }

    // 3. Sink drain.
    const drain = await measureDrain(client, config, rows);
    log(
      `sink drain: ${drain.records} records in ${drain.seconds.toFixed(2)} s from the group join to lag 0 ` +
        `(${Math.round(drain.perS)} records/s; ${drain.fromStartSeconds.toFixed(1)} s from the workflow start; ${drain.files} objects)`,
    );

    // 4. Freshness.
    const fresh = await measureFreshness({ client, base, csv, rate, seconds: freshSeconds, tmp });
    configs.push(fresh.config);
    log(
      `freshness: ${fresh.rows} rows at ${rate} rows/s; produce to durable object p50 ${fresh.p50} ms, p99 ${fresh.p99} ms, ` +
        `max ${fresh.max} ms (${fresh.samples} records in ${fresh.objects} objects; listing every 100 ms)`,
    );

    // 5. Baseline.
    let baseline: BaselineResult | undefined;
    if (opts.baseline) {
      const bconfig = benchConfig({
        ...base,
        ...uniqueNames('base'),
        TICKLAKE_TASK_QUEUE: base.TICKLAKE_TASK_QUEUE,
        LAKE_PREFIX: 'base/',
      });
      configs.push(bconfig);
      log(`baseline: the first ${baselineRows} rows, one send and one PutObject per row...`);
      baseline = await runBaseline({
        config: bconfig,
        client,
        rows: expected.slice(0, baselineRows),
        query,
        sampleSize,
        log,
      });
      if (baseline.rowsAnswered !== baseline.rows) {
        throw new Error(`the baseline query answered ${baseline.rowsAnswered} of ${baseline.rows} rows`);
      }
    }

    // ---- report --------------------------------------------------------------------------------------
    const fullFolders = baselineFolders(expected);
    const estimate =
      baseline &&
      extrapolateBaseline(baseline, {
        rows,
        folders: fullFolders.size,
        sampledReads: sampledReads(fullFolders.values(), sampleSize),
      });
    const byRows = (v: number) => (baseline ? (v * rows) / baseline.rows : NaN);
    const base_ = baseline &&
      estimate && {
        rows_measured: baseline.rows,
        rows_extrapolated_to: rows,
        sample_size: sampleSize,
        produce_s: s(byRows(baseline.produceMs)),
        producer_rows_per_s: Math.round(baseline.rows / (baseline.produceMs / 1000)),
        sink_records_per_s: Math.round(baseline.rows / (baseline.sinkMs / 1000)),
        sink_caught_up_s: s(estimate.produceAndSinkMs),
        crawl_s: s(estimate.crawlMs),
        query_s: s(estimate.queryMs),
        query_fixed_s: s(estimate.queryFixedMs),
        total_s: s(estimate.totalMs),
        measured: baseline,
      };
    const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? round(a / b, 1) : NaN);
    const table = markdownTable(
      ['figure', 'ticklake', `baseline (first ${baselineRows} rows, scaled to ${rows})`, 'ratio'],
      [
        [
          `CSV to queryable, whole file (s)${runCount > 1 ? `, median of ${runCount} runs` : ''}`,
          tick.totalS,
          base_ ? base_.total_s : 'n/a',
          base_ ? `${ratio(base_.total_s, tick.totalS)}× faster` : '',
        ],
        [
          'producer (rows/s)',
          tick.producerRowsPerS,
          base_ ? base_.producer_rows_per_s : 'n/a',
          base_ ? `${ratio(tick.producerRowsPerS, base_.producer_rows_per_s)}×` : '',
        ],
        [
          'sink (records/s)',
          Math.round(drain.perS),
          base_ ? base_.sink_records_per_s : 'n/a',
          base_ ? `${ratio(drain.perS, base_.sink_records_per_s)}×` : '',
        ],
        [
          'crawl (s)',
          `${tick.crawlS} (incremental), ${tick.fullCrawlS} (full)`,
          base_ ? base_.crawl_s : 'n/a',
          base_ ? `${ratio(base_.crawl_s, tick.fullCrawlS)}× (full)` : '',
        ],
        [
          'query, cold (ms)',
          tick.coldQueryMs,
          base_ ? round(estimate.queryMs) : 'n/a',
          base_ ? `${ratio(estimate.queryMs, tick.coldQueryMs)}×` : '',
        ],
        ['query, warm median (ms; the same query again: its Parquet copies cached on disk)', tick.warmQueryMs, '', ''],
        [`freshness p50 / p99 at ${rate} rows/s (ms)`, `${fresh.p50} / ${fresh.p99}`, '', ''],
        ['worker peak RSS (MB)', peakRssMb, '', ''],
      ],
    );
    const summary = {
      total_s: tick.totalS,
      from_start_s: tick.fromStartS,
      first_read_after_start_ms: tick.firstReadAfterStartMs,
      producer_rows_per_s: tick.producerRowsPerS,
      sink_records_per_s: Math.round(drain.perS),
      freshness_p50_ms: fresh.p50,
      freshness_p99_ms: fresh.p99,
      crawl_s: tick.crawlS,
      full_crawl_s: tick.fullCrawlS,
      cold_query_ms: tick.coldQueryMs,
      warm_query_ms: tick.warmQueryMs,
      worker_peak_rss_mb: peakRssMb,
      baseline_total_s: base_ ? base_.total_s : null,
      baseline_rows_measured: base_ ? base_.rows_measured : null,
      baseline_crawl_sample_size: base_ ? sampleSize : null,
      speedup: base_ ? ratio(base_.total_s, tick.totalS) : null,
      rows,
      load_average: { before: loadBefore, after: loadAverage() },
      stack: stack ? `own (port offset ${stack.offset})` : 'shared',
    };
    console.log('');
    console.log(table);
    console.log('');
    console.log(
      base_
        ? `The baseline ran on the first ${baselineRows} rows (${baseline!.folders} partitions) and is scaled to ${rows} rows ` +
            `(${fullFolders.size} partitions): sends, object writes, listings and per-object reads by rows, the crawl's ` +
            `sampled reads (up to ${sampleSize} a folder) and partition registration by partitions, the table's creation ` +
            `and the query's fixed ${round(estimate.queryFixedMs)} ms once.`
        : 'No baseline (--no-baseline).',
    );
    if (runCount > 1) {
      console.log(
        `ticklake runs (total s / replay s / cold query ms): ${tick.runs
          .map((r) => `${r.totalS} / ${r.replayS} / ${r.coldQueryMs}`)
          .join(', ')}`,
      );
    }
    console.log(`load average ${loadBefore} before, ${loadAverage()} after, on ${os.cpus().length} CPUs`);
    const outBase = path.join(opts.out, `bench-${stamp}`);
    fs.writeFileSync(
      `${outBase}.json`,
      JSON.stringify(
        { summary, ticklake: tick, drain, freshness: { ...fresh, config: undefined }, baseline: base_ },
        null,
        2,
      ) + '\n',
    );
    fs.writeFileSync(`${outBase}.md`, `${table}\n`);
    log(`results: ${outBase}.json, ${outBase}.md; worker log ${workerLog}`);
    console.log(JSON.stringify(summary));
  } finally {
    await worker.stop();
    if (stack) {
      if (!opts.keepStack) {
        await stack.down().catch((err: unknown) => log(String(err)));
        fs.rmSync(stack.dataDir, { recursive: true, force: true });
      } else log(`stack left running: TICKLAKE_PORT_OFFSET=${stack.offset} TICKLAKE_DATA_DIR=${stack.dataDir}`);
    } else if (client) {
      await cleanShared(client, configs);
    }
    await client?.connection.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`npm run bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
