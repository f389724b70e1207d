/**
 * `npm run bench:compact`: the curated Parquet zone on the lake of `bench:scale` (default 5,000 symbols ×
 * 2,000 trading days = 10 M rows; `--quick` is 200 × 100). docs/benchmarks.md ("npm run bench:compact")
 * explains the method.
 *
 * The raw lake is NOT built through Kafka and the sink: at 10 M rows that takes far too long on this
 * machine. It is written directly, in the sink's exact format (scripts/bench/compact-lake.ts): the
 * seeded market data of scripts/bench/market.ts, each row parsed and turned into the replay's message
 * value (src/message.ts, stored byte for byte as the sink stores it), cut as a live sink streaming one
 * trading day per second cuts it: one cut per Kafka partition per trading day, each record in the
 * partition Kafka's partitioner gives its symbol (murmur2, src/symbol-bucket.ts), one gz NDJSON object
 * per lake partition per cut, keyed as the sink keys them (src/lake-layout.ts), the manifest written
 * before its objects, `writtenAt` in the past (one trading day per second, ending an hour ago) so the
 * quiet period has passed. So the raw lake has the many small objects a live sink leaves behind.
 * `--via-pipeline` is not offered: bench:scale measures that path.
 *
 * On a stack of services of its own (port offset 5300 by default), the worker a subprocess:
 * 1. the raw lake written (timed), the crawl run;
 * 2. before compaction: the per-symbol aggregate through the query workflow, checked against the
 *    generator's totals, cold (worker restarted, `<data dir>/query-cache` emptied) and warm (median of
 *    `--warm-runs`); the one-symbol query, checked;
 * 3. compaction: `startCompaction(client, config, { quietMs: 0 })`, timed from the start to the result;
 * 4. bytes: raw objects, curated files, and what a one-symbol query must read of each;
 * 5. after compaction: the same queries, cold and warm, each answer equal to the one before.
 *
 * Prints a table, writes bench-results/bench-compact-<time>.json, and prints as its last line one JSON
 * object.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAwsClients } from '../src/adapters/aws';
import { getObjectBytes, putObject } from '../src/adapters/s3';
import { connectClient } from '../src/adapters/temporal';
import { mapLimit } from '../src/catalog/lake-scan';
import { readLatestState } from '../src/compact/store';
import type { CompactState } from '../src/compact/state';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { parseDataObjectKey, tableRoot } from '../src/lake-layout';
import {
  prepareInfrastructure,
  runCrawl,
  runQuery,
  startCompaction,
  workflowIds,
  type QueryOptions,
} from '../src/pipeline';
import { symbolBucket } from '../src/symbol-bucket';
import type { QueryResult } from '../activities/types';
import { removeResources } from '../test/integration/sink-support';
import { Stack, WorkerProcess, loadAverage, tempDataDir, uniqueNames } from './bench/common';
import {
  answerDifference,
  cutManifest,
  dayCuts,
  encodeCut,
  symbolChunkBytes,
  type ColumnChunk,
  type LakeCut,
  type LakeSpec,
} from './bench/compact-lake';
import { parseSizes, sizeLabel } from './bench/growth';
import { MarketGenerator, type MarketTotals } from './bench/market';
import { scaleQueries, type ScaleQuery } from './bench/scale-queries';
import { markdownTable, median, round } from './bench/stats';

interface Options {
  size: string;
  quick?: boolean;
  seed: string;
  warmRuns: string;
  offset: string;
  keepStack?: boolean;
  keepLake?: boolean;
  dataDir?: string;
  out: string;
}

const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const secs = (ms: number) => round(ms / 1000, 2);
const mb = (bytes: number) => round(bytes / (1024 * 1024), 1);
const DATA_OBJECT = /\.json(\.gz|\.zst)?$/;
/** The columns the one-symbol query reads (its filter's column included). */
const ONE_SYMBOL_COLUMNS = ['symbol', 'trade_date', 'close', 'volume'];

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

/** The per-symbol aggregate: bench:scale's (a), with each symbol's first and last date. */
function perSymbolQuery(totals: MarketTotals): ScaleQuery {
  const base = scaleQueries(totals).find((q) => q.name === 'per_symbol')!;
  return {
    ...base,
    sql:
      'SELECT symbol, count(*) AS ticks, min(trade_date) AS first_day, max(trade_date) AS last_day, ' +
      'sum(CAST(round(close * 100) AS BIGINT)) AS close_cents, sum(volume) AS volume FROM ticks ' +
      'GROUP BY symbol ORDER BY symbol',
    check(result) {
      base.check(result);
      const f = result.columns.findIndex((c) => c.name === 'first_day');
      const l = result.columns.findIndex((c) => c.name === 'last_day');
      for (const r of result.rows) {
        const [first, last] = [String(r[f]).slice(0, 10), String(r[l]).slice(0, 10)];
        if (first !== totals.days.first || last !== totals.days.last)
          throw new Error(`the per-symbol query: ${String(r[0])} spans ${first} to ${last}, not the file's days`);
      }
    },
  };
}

/** Keys and sizes of the objects under a prefix. */
async function listWithSizes(s3: S3Client, bucket: string, prefix: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const page of paginateListObjectsV2({ client: s3, pageSize: 1000 }, { Bucket: bucket, Prefix: prefix })) {
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
  }
  return out;
}

/** Writes the raw lake in the sink's format; returns its figures. */
async function writeRawLake(args: {
  s3: S3Client;
  config: TicklakeConfig;
  gen: MarketGenerator;
  source: string;
}): Promise<{ cuts: number; objects: number; jsonBytes: number; seconds: number }> {
  const { s3, config, gen } = args;
  const spec: LakeSpec = {
    prefix: config.lake.prefix,
    table: config.glue.table,
    topic: config.kafka.topic,
    groupId: config.sink.groupId,
    partitions: config.kafka.partitions,
    partitionBy: config.lake.partitionBy,
    symbolBuckets: config.lake.symbolBuckets,
    compression: config.sink.compression,
    maxMessageBytes: 1024 * 1024,
    writer: `${workflowIds.sink(config.kafka.topic)}/bench-compact`,
  };
  const bucket = config.lake.bucket;
  const next = new Array<number>(spec.partitions).fill(0);
  // One trading day per second of ingestion, the last day an hour ago: every cut is past the quiet period.
  const days = gen.dates.length;
  const base = Date.now() - 3_600_000 - days * 1000;
  let row = 2;
  let cuts = 0;
  let objects = 0;
  let jsonBytes = 0;
  const started = Date.now();
  let pending: LakeCut[] = [];
  const writeCuts = async (batch: LakeCut[], writtenAt: Map<LakeCut, Date>) => {
    await mapLimit(batch, 16, async (cut) => {
      const bodies = await encodeCut(cut, spec.compression);
      const bytes = bodies.reduce((n, b) => n + b.length, 0);
      const manifest = cutManifest(spec, cut, bytes, writtenAt.get(cut)!);
      // The manifest first, then the objects: the sink's order.
      await putObject(s3, bucket, cut.manifestKey, Buffer.from(JSON.stringify(manifest)), 'application/json');
      for (let i = 0; i < cut.objects.length; i++)
        await putObject(s3, bucket, cut.objects[i].key, bodies[i], 'application/x-ndjson');
    });
  };
  let writtenAt = new Map<LakeCut, Date>();
  let d = 0;
  for (const chunk of gen.chunks()) {
    if (chunk.startsWith('Index,')) continue; // the header line
    const lines = chunk.slice(0, -1).split('\n');
    const ingestedAt = new Date(base + d * 1000);
    const dayCutList = dayCuts(spec, lines, { source: args.source, firstRow: row, ingestedAt, next });
    row += lines.length;
    for (const c of dayCutList) {
      writtenAt.set(c, new Date(ingestedAt.getTime() + 1000));
      cuts++;
      objects += c.objects.length;
      jsonBytes += c.jsonBytes;
    }
    pending.push(...dayCutList);
    d++;
    if (pending.length >= 64 || d === days) {
      await writeCuts(pending, writtenAt);
      pending = [];
      writtenAt = new Map();
    }
    if (d % 200 === 0) log(`  raw lake: ${d} of ${days} trading days written (${cuts} cuts)`);
  }
  return { cuts, objects, jsonBytes, seconds: secs(Date.now() - started) };
}

/** Workers started fresh for each cold query. */
class Workers {
  current: WorkerProcess | undefined;
  private count = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logBase: string,
  ) {}

  async start(tag: string): Promise<WorkerProcess> {
    await this.stop();
    this.count++;
    const worker = new WorkerProcess(this.env, `${this.logBase}-${this.count}-${tag}.log`);
    this.current = worker;
    await worker.ready();
    return worker;
  }

  async stop(): Promise<void> {
    const w = this.current;
    this.current = undefined;
    if (w) await w.stop();
  }
}

interface Timed {
  cold_ms: number;
  warm_ms: number;
  warm_runs_ms: number[];
  objects_read?: number;
  bytes_scanned?: number;
  /** The engine's own time and its phases (catalog, list, fetch, execute...), of the cold run and the last warm one. */
  cold_engine: { ms: number; phases?: Record<string, number> };
  warm_engine: { ms: number; phases?: Record<string, number> };
}

async function timedQuery(
  client: Client,
  config: TicklakeConfig,
  q: ScaleQuery,
  opts: QueryOptions,
): Promise<{ ms: number; result: QueryResult }> {
  const t = performance.now();
  const result = await runQuery(client, config, q.sql, q.params, opts);
  const ms = performance.now() - t;
  q.check(result);
  return { ms, result };
}

/** Cold (a new worker, the query cache emptied) then warm runs of a query; every answer checked. */
async function coldWarm(args: {
  client: Client;
  config: TicklakeConfig;
  workers: Workers;
  cacheDir: string;
  q: ScaleQuery;
  opts: QueryOptions;
  warmRuns: number;
  tag: string;
}): Promise<{ figures: Timed; answers: QueryResult[] }> {
  const { client, config, workers, q, opts } = args;
  await workers.stop();
  fs.rmSync(args.cacheDir, { recursive: true, force: true });
  await workers.start(args.tag);
  const cold = await timedQuery(client, config, q, opts);
  const answers = [cold.result];
  const warm: number[] = [];
  for (let i = 0; i < args.warmRuns; i++) {
    const w = await timedQuery(client, config, q, opts);
    warm.push(w.ms);
    answers.push(w.result);
  }
  return {
    figures: {
      cold_ms: Math.round(cold.ms),
      warm_ms: Math.round(median(warm)),
      warm_runs_ms: warm.map((m) => Math.round(m)),
      objects_read: cold.result.stats.objectsRead,
      bytes_scanned: cold.result.stats.bytesScanned,
      cold_engine: { ms: cold.result.stats.engineMs, phases: cold.result.stats.phases },
      warm_engine: { ms: answers[answers.length - 1].stats.engineMs, phases: answers[answers.length - 1].stats.phases },
    },
    answers,
  };
}

/** Time per activity type in a workflow's history (sum of scheduled-to-closed), and the count of each. */
async function activityTimes(handle: WorkflowHandle): Promise<Record<string, { count: number; ms: number }>> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, { type: string; at: number }>();
  const out: Record<string, { count: number; ms: number }> = {};
  const ms = (t: unknown) => {
    const ts = t as { seconds?: { toNumber?: () => number } | number; nanos?: number } | null | undefined;
    const s = typeof ts?.seconds === 'number' ? ts.seconds : (ts?.seconds?.toNumber?.() ?? 0);
    return s * 1000 + (ts?.nanos ?? 0) / 1e6;
  };
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(id, {
        type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        at: ms(e.eventTime),
      });
    const closed = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (closed) {
      const s = scheduled.get(String(closed.scheduledEventId));
      if (!s) continue;
      const o = (out[s.type] ??= { count: 0, ms: 0 });
      o.count++;
      o.ms += Math.round(ms(e.eventTime) - s.at);
    }
  }
  return out;
}

/** Bytes the one-symbol query must read of the curated files of its bucket (row groups its statistics keep). */
async function curatedSymbolBytes(args: {
  s3: S3Client;
  bucket: string;
  state: CompactState;
  bucketColumn: number;
  symbolBucketValue: string;
  symbol: string;
  tmp: string;
}): Promise<{ bytes: number; files: number; fileBytes: number; rowGroups: number; rowGroupsKept: number }> {
  const entries = Object.values(args.state.partitions).filter(
    (p) => p.values[args.bucketColumn] === args.symbolBucketValue,
  );
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await db.connect();
  let bytes = 0;
  let rowGroups = 0;
  let rowGroupsKept = 0;
  try {
    for (const [i, p] of entries.entries()) {
      const body = await getObjectBytes(args.s3, args.bucket, p.file.key);
      if (!body) throw new Error(`curated file ${p.file.key} is named by the state but cannot be read`);
      const file = path.join(args.tmp, `curated-${i}.parquet`);
      fs.writeFileSync(file, body);
      const reader = await c.runAndReadAll(
        `SELECT file_name, row_group_id, path_in_schema, stats_min_value, stats_max_value, total_compressed_size ` +
          `FROM parquet_metadata('${file.replace(/'/g, "''")}')`,
      );
      const chunks = (reader.getRowObjectsJS() as Record<string, unknown>[]).map((r): ColumnChunk => ({
        file_name: String(r.file_name),
        row_group_id: Number(r.row_group_id),
        path_in_schema: String(r.path_in_schema),
        stats_min_value: typeof r.stats_min_value === 'string' ? r.stats_min_value : null,
        stats_max_value: typeof r.stats_max_value === 'string' ? r.stats_max_value : null,
        total_compressed_size: Number(r.total_compressed_size),
      }));
      bytes += symbolChunkBytes(chunks, args.symbol, ONE_SYMBOL_COLUMNS);
      const groups = chunks.filter((ch) => ch.path_in_schema === 'symbol');
      rowGroups += groups.length;
      rowGroupsKept += groups.filter(
        (g) =>
          g.stats_min_value === null ||
          g.stats_max_value === null ||
          (args.symbol >= g.stats_min_value && args.symbol <= g.stats_max_value),
      ).length;
      fs.rmSync(file, { force: true });
    }
  } finally {
    c.closeSync();
    db.closeSync();
  }
  return {
    bytes,
    files: entries.length,
    fileBytes: entries.reduce((a, p) => a + p.file.bytes, 0),
    rowGroups,
    rowGroupsKept,
  };
}

async function main(): Promise<void> {
  const program = new Command('npm run bench:compact --')
    .description('compaction into the curated Parquet zone on the 10 M-row lake of bench:scale')
    .option('--size <SYMBOLSxDAYS>', 'size of the generated lake', '5000x2000')
    .option('--sizes <SYMBOLSxDAYS>', 'the same as --size (one size)')
    .option('--quick', 'a smoke run: 200x100 (unless --size is given)')
    .option('--seed <n>', 'seed of the generated data (bench:scale uses 16)', '16')
    .option('--warm-runs <n>', 'warm runs of each query (the median is reported)', '5')
    .option('--offset <n>', 'port offset of its own stack', '5300')
    .option('--keep-stack', 'leave its own stack running (and its data dir) at the end')
    .option(
      '--keep-lake',
      'with --keep-stack: also keep the lake, its catalog and the query cache, to query them after',
    )
    .option('--data-dir <dir>', 'data dir of its own stack (default: a new temporary one)')
    .option('--via-pipeline', 'not offered: the raw lake is written directly in the sink format (see --help)')
    .option('--out <dir>', 'where the JSON results and worker logs go', path.join(REPO_ROOT, 'bench-results'));
  program.parse(process.argv.slice(2), { from: 'user' });
  const opts = program.opts<Options & { sizes?: string; viaPipeline?: boolean }>();
  if (opts.viaPipeline) {
    console.error(
      'npm run bench:compact: --via-pipeline is not offered: building 10 M rows through Kafka and the sink is ' +
        "bench:scale's measure (npm run bench:scale); this benchmark writes the raw lake in the sink's format directly",
    );
    process.exit(2);
  }
  const given = (name: string) => program.getOptionValueSource(name) === 'cli';
  const sizeText = given('sizes') ? opts.sizes! : opts.quick && !given('size') ? '200x100' : opts.size;
  const sizes = parseSizes(sizeText);
  if (sizes.length !== 1) throw new Error(`--size takes one size, e.g. 5000x2000; got '${sizeText}'`);
  const size = sizes[0];
  const seed = Number(opts.seed);
  const warmRuns = Number(opts.warmRuns);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be a whole number, got '${opts.seed}'`);
  if (!(Number.isInteger(warmRuns) && warmRuns >= 1)) throw new Error(`--warm-runs must be at least 1`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(opts.out, { recursive: true });
  const outBase = path.join(opts.out, `bench-compact-${stamp}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-compact-bench-'));
  const stack = new Stack(
    Number(opts.offset),
    opts.dataDir ? path.resolve(opts.dataDir) : tempDataDir('compact-stack'),
  );
  const loadBefore = loadAverage();
  onInterrupt.push(async () => {
    if (!opts.keepStack) {
      await stack.down();
      if (!opts.dataDir) fs.rmSync(stack.dataDir, { recursive: true, force: true });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  log(`own stack on port offset ${stack.offset}, data in ${stack.dataDir}: starting... (load average ${loadBefore})`);
  await stack.up();

  const label = sizeLabel(size);
  const base: NodeJS.ProcessEnv = {
    ...stack.env,
    ...uniqueNames(`c${label}`),
    QUERY_ENGINE: 'duckdb',
    TICKLAKE_METRICS_PORT: '0',
  };
  const config = loadConfig(base);
  const cacheDir = path.join(config.dataDir, 'query-cache');
  const workers = new Workers(base, `${outBase}-worker`);
  onInterrupt.push(() => workers.stop());
  let client: Client | undefined;
  let results: Record<string, unknown>;
  let rowsTable: [string, string, string, string][];
  try {
    await prepareInfrastructure(config);
    const { s3 } = createAwsClients(config.aws);
    client = await connectClient(config.temporal);
    if (!config.lake.partitionBy.includes('symbol_bucket'))
      throw new Error(
        `LAKE_PARTITION_BY=${config.lake.partitionBy.join(',')}: this benchmark measures the default layout with symbol_bucket`,
      );

    // 1. The raw lake.
    const gen = new MarketGenerator({ symbols: size.symbols, days: size.days, seed });
    const source = `market-${label}.csv`;
    log(`${label}: writing the raw lake (${size.symbols} symbols × ${size.days} trading days) in the sink's format...`);
    const raw = await writeRawLake({ s3, config, gen, source });
    const totals = gen.totals;
    log(
      `${label}: ${totals.rows} rows in ${raw.cuts} cuts, ${raw.objects} objects, ${mb(raw.jsonBytes)} MB of JSON lines, ` +
        `written in ${raw.seconds} s`,
    );
    await workers.start('crawl');
    const crawlStart = Date.now();
    const crawl = await runCrawl(client, config);
    log(`${label}: crawled in ${secs(Date.now() - crawlStart)} s (${JSON.stringify(crawl).slice(0, 160)})`);

    const root = tableRoot(config.lake.prefix, config.glue.table);
    const listed = (await listWithSizes(s3, config.lake.bucket, root)).filter((o) => DATA_OBJECT.test(o.key));
    const rawBytes = listed.reduce((a, o) => a + o.size, 0);
    if (listed.length !== raw.objects)
      throw new Error(`${raw.objects} raw objects written, ${listed.length} listed under ${root}`);
    const probe = totals.probeSymbol.symbol;
    const probeBucket = String(symbolBucket(probe, config.lake.symbolBuckets));
    const bucketColumn = config.lake.partitionBy.indexOf('symbol_bucket');
    const probeObjects = listed.filter(
      (o) => parseDataObjectKey(o.key, root, config.lake.partitionBy)?.values[bucketColumn] === probeBucket,
    );
    const symbolQueryBytesRaw = probeObjects.reduce((a, o) => a + o.size, 0);

    const perSymbol = perSymbolQuery(totals);
    const oneSymbol = scaleQueries(totals).find((q) => q.name === 'one_symbol')!;
    const qopts: QueryOptions = { maxRows: Math.max(size.symbols, size.days) + 1, maxBytes: 4 * 1024 * 1024 };

    // 2. Before compaction.
    log(`${label}: before compaction: per-symbol aggregate, cold then ${warmRuns} warm...`);
    const before = await coldWarm({
      client,
      config,
      workers,
      cacheDir,
      q: perSymbol,
      opts: qopts,
      warmRuns,
      tag: 'raw',
    });
    log(
      `${label}: raw lake: cold ${before.figures.cold_ms} ms (${before.figures.objects_read} objects), warm ${before.figures.warm_ms} ms`,
    );
    const oneBefore = await timedQuery(client, config, oneSymbol, qopts);

    // 3. Compaction.
    log(`${label}: compacting...`);
    // The worker's CPU seconds over the compaction: a figure that other work on the machine inflates less.
    const cpuBefore = workers.current?.cpuSeconds();
    const compactStart = performance.now();
    const handle = await startCompaction(client, config, { quietMs: 0 });
    const compacted = await handle.result();
    const compactMs = performance.now() - compactStart;
    const cpuAfter = workers.current?.cpuSeconds();
    const compactCpuS = cpuBefore !== undefined && cpuAfter !== undefined ? round(cpuAfter - cpuBefore, 1) : null;
    const activities = await activityTimes(handle);
    if (compacted.failed.length > 0) throw new Error(`compaction refused windows: ${JSON.stringify(compacted.failed)}`);
    if (compacted.rows !== totals.rows)
      throw new Error(`compaction compacted ${compacted.rows} rows, the lake holds ${totals.rows}`);
    log(
      `${label}: compacted ${compacted.rows} rows in ${compacted.windows} windows in ${Math.round(compactMs)} ms ` +
        `(${Math.round(totals.rows / (compactMs / 1000))} rows/s; worker CPU ${compactCpuS ?? '?'} s); activities ` +
        JSON.stringify(activities),
    );

    // 4. Bytes.
    const state = (
      await readLatestState(s3, config.lake.bucket, config.lake.prefix, config.glue.database, config.glue.table)
    )?.state;
    if (!state) throw new Error('the compaction committed no state');
    const parquetBytes = Object.values(state.partitions).reduce((a, p) => a + p.file.bytes, 0);
    const stateRows = Object.values(state.partitions).reduce((a, p) => a + p.rows, 0);
    if (stateRows !== totals.rows)
      throw new Error(`the state's curated files hold ${stateRows} rows, not ${totals.rows}`);
    const curatedProbe = await curatedSymbolBytes({
      s3,
      bucket: config.lake.bucket,
      state,
      bucketColumn,
      symbolBucketValue: probeBucket,
      symbol: probe,
      tmp,
    });

    // 5. After compaction: the same answers.
    log(`${label}: after compaction: per-symbol aggregate, cold then ${warmRuns} warm...`);
    const after = await coldWarm({
      client,
      config,
      workers,
      cacheDir,
      q: perSymbol,
      opts: qopts,
      warmRuns,
      tag: 'curated',
    });
    const oneAfter = await timedQuery(client, config, oneSymbol, qopts);
    const differences = [
      ...before.answers.slice(1).map((a) => answerDifference(before.answers[0].rows, a.rows)),
      ...after.answers.map((a) => answerDifference(before.answers[0].rows, a.rows)),
      answerDifference(oneBefore.result.rows, oneAfter.result.rows),
    ].filter((d): d is string => d !== undefined);
    const answersEqual = differences.length === 0;
    if (!answersEqual) log(`${label}: ANSWERS DIFFER: ${differences.slice(0, 3).join('; ')}`);
    log(
      `${label}: curated: cold ${after.figures.cold_ms} ms (${after.figures.objects_read} objects), warm ${after.figures.warm_ms} ms`,
    );
    await workers.stop();

    const compactRowsPerS = Math.round(totals.rows / (compactMs / 1000));
    const ratio = (a: number, b: number) => round(a / b, 4);
    results = {
      rows: totals.rows,
      symbols: size.symbols,
      trading_days: size.days,
      compact_rows_per_s: compactRowsPerS,
      compact_s: secs(compactMs),
      compact_worker_cpu_s: compactCpuS,
      compact_rows_per_worker_cpu_s: compactCpuS ? Math.round(totals.rows / compactCpuS) : null,
      compact_windows: compacted.windows,
      compact_raw_objects: compacted.rawObjects,
      compact_activities: activities,
      raw_objects: listed.length,
      raw_cuts: raw.cuts,
      raw_json_bytes: raw.jsonBytes,
      raw_bytes: rawBytes,
      parquet_bytes: parquetBytes,
      parquet_files: Object.keys(state.partitions).length,
      parquet_to_raw: ratio(parquetBytes, rawBytes),
      parquet_to_raw_json: ratio(parquetBytes, raw.jsonBytes),
      probe_symbol: probe,
      probe_bucket: Number(probeBucket),
      symbol_query_bytes_raw: symbolQueryBytesRaw,
      symbol_query_objects_raw: probeObjects.length,
      symbol_query_bytes_parquet: curatedProbe.bytes,
      symbol_query_files_parquet: curatedProbe.files,
      symbol_query_row_groups_parquet: `${curatedProbe.rowGroupsKept} of ${curatedProbe.rowGroups}`,
      symbol_query_parquet_to_raw: ratio(curatedProbe.bytes, symbolQueryBytesRaw),
      cold_query_ms: after.figures.cold_ms,
      warm_query_ms: after.figures.warm_ms,
      raw_cold_query_ms: before.figures.cold_ms,
      raw_warm_query_ms: before.figures.warm_ms,
      cold_speedup: round(before.figures.cold_ms / after.figures.cold_ms, 1),
      warm_speedup: round(before.figures.warm_ms / after.figures.warm_ms, 1),
      query_before: before.figures,
      query_after: after.figures,
      one_symbol_ms: { before: Math.round(oneBefore.ms), after: Math.round(oneAfter.ms) },
      answers_equal: answersEqual,
      raw_write_s: raw.seconds,
      seed,
    };
    rowsTable = [
      ['figure', 'raw lake (before)', 'curated (after)', 'after / before'],
      [
        'data objects / files',
        String(listed.length),
        String(Object.keys(state.partitions).length),
        String(ratio(Object.keys(state.partitions).length, listed.length)),
      ],
      ['bytes (MB)', String(mb(rawBytes)), String(mb(parquetBytes)), String(ratio(parquetBytes, rawBytes))],
      [
        `one-symbol query must read (MB; ${probe})`,
        String(mb(symbolQueryBytesRaw)),
        String(round(curatedProbe.bytes / 1048576, 3)),
        String(ratio(curatedProbe.bytes, symbolQueryBytesRaw)),
      ],
      [
        'per-symbol aggregate, cold (ms)',
        String(before.figures.cold_ms),
        String(after.figures.cold_ms),
        String(ratio(after.figures.cold_ms, before.figures.cold_ms)),
      ],
      [
        'per-symbol aggregate, warm median (ms)',
        String(before.figures.warm_ms),
        String(after.figures.warm_ms),
        String(ratio(after.figures.warm_ms, before.figures.warm_ms)),
      ],
      [
        'one-symbol query, warm (ms)',
        String(Math.round(oneBefore.ms)),
        String(Math.round(oneAfter.ms)),
        String(ratio(oneAfter.ms, oneBefore.ms)),
      ],
    ];
  } finally {
    await workers.stop();
    if (client) {
      await client.workflow
        .getHandle(workflowIds.crawl(config.glue.database, config.glue.table))
        .terminate('benchmark over')
        .catch(() => undefined);
      await client.connection.close();
    }
    if (opts.keepLake && opts.keepStack)
      log(
        `lake kept: ${Object.entries(base)
          .filter(([k]) => /^(LAKE_BUCKET|GLUE_DATABASE|KAFKA_TOPIC|TICKLAKE_TASK_QUEUE|QUERY_ENGINE)$/.test(k))
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    else {
      await removeResources(config).catch((err: unknown) => log(`cleanup: ${String(err)}`));
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
    if (!opts.keepStack) {
      await stack.down().catch((err: unknown) => log(String(err)));
      if (!opts.dataDir) fs.rmSync(stack.dataDir, { recursive: true, force: true });
    } else log(`stack left running: TICKLAKE_PORT_OFFSET=${stack.offset} TICKLAKE_DATA_DIR=${stack.dataDir}`);
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const loadAfter = loadAverage();
  const summary: Record<string, unknown> = {
    ...results,
    load_average: { before: loadBefore, after: loadAfter },
    cpus: os.cpus().length,
    stack: `own (port offset ${stack.offset})`,
    lake: 'written directly in the sink format, one cut per Kafka partition per trading day',
  };
  console.log('');
  console.log(
    `${label}: ${summary.rows as number} rows; compaction ${summary.compact_rows_per_s as number} rows/s (${summary.compact_s as number} s; ` +
      `worker CPU ${String(summary.compact_worker_cpu_s)} s, ${String(summary.compact_rows_per_worker_cpu_s)} rows per CPU second)`,
  );
  console.log(markdownTable(rowsTable[0], rowsTable.slice(1)));
  console.log('');
  console.log(
    'Cold: the worker restarted and its query cache emptied, then the first run. Warm: the median of ' +
      `${warmRuns} runs after it. Every answer checked against the generated data; after compaction equal to before: ${String(summary.answers_equal)}.`,
  );
  console.log(
    `load average ${loadBefore} before, ${loadAfter} after, on ${os.cpus().length} CPUs (shared: figures include other work)`,
  );
  fs.writeFileSync(`${outBase}.json`, JSON.stringify(summary, null, 2) + '\n');
  log(`results: ${outBase}.json`);
  console.log(JSON.stringify(summary));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`npm run bench:compact failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
