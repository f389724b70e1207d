/**
 * `npx tsx scripts/profile-compact.ts`: where one compaction window's time and CPU go, phase by phase
 * (src/compact/window.ts `onPhase`), on the local S3 server of TICKLAKE_PORT_OFFSET's services.
 *
 * Writes one lake partition's raw objects as bench:compact writes them (the seeded market data of
 * scripts/bench/market.ts, one cut per Kafka partition per trading day, gzip NDJSON in the sink's
 * format), then compacts that window `--runs` times with one DuckDB instance set up as the worker's
 * (2 threads, 1 GB), one window at a time, and prints each phase's wall and CPU milliseconds (the
 * process's CPU: DuckDB's threads included). `--previous` also compacts the window as a second run
 * would: half the objects into a first file, then the other half together with that file. Options:
 * `--symbols` (default 5000, four buckets: 1,250 symbols in the window), `--days` (default 250: one
 * year, a window of about 312,000 rows as in the 10 M-row lake), `--runs` (default 3).
 * `--every-window` compacts every window of the lake instead, one at a time and in the plan's batches
 * (`compactWindows`), and checks that both write the same bytes; with `--days-per-cut` (default 1) a cut
 * holds several trading days, as a sink draining a backlog cuts: `--symbols 13 --days 8000
 * --days-per-cut 200 --every-window` is a lake shaped like the index file's (124 windows of 840 rows).
 * Last line: one JSON object.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAwsClients } from '../src/adapters/aws';
import { putObject } from '../src/adapters/s3';
import { mapLimit } from '../src/catalog/lake-scan';
import { inferType } from '../src/catalog/schema';
import { compactWindow, compactWindows } from '../src/compact/window';
import { planBatches } from '../src/compact/state';
import type { ColumnType, WindowObject, WindowPlan } from '../src/compact/state';
import { loadConfig } from '../src/config';
import { dayCuts, encodeCut, type LakeSpec } from './bench/compact-lake';
import { MarketGenerator } from './bench/market';
import { round } from './bench/stats';

const program = new Command('profile-compact')
  .option('--symbols <n>', 'symbols of the generated data', '5000')
  .option('--days <n>', 'trading days of the generated data', '250')
  .option('--runs <n>', 'compactions of the window', '3')
  .option('--bucket <name>', 'a bucket an earlier run wrote with the same --symbols and --days (kept)')
  .option('--previous', 'also compact the window in two runs (the second with a previous curated file)')
  .option('--days-per-cut <n>', 'trading days in one sink cut (a sink draining a backlog cuts several)', '1')
  .option('--every-window', 'compact every window of the lake (a lake of many small windows), not the largest')
  .parse();
const opts = program.opts<{
  symbols: string;
  days: string;
  runs: string;
  bucket?: string;
  previous?: boolean;
  daysPerCut: string;
  everyWindow?: boolean;
}>();
const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main() {
  const config = loadConfig(process.env);
  const { s3 } = createAwsClients(config.aws);
  const bucket = opts.bucket ?? `profile-compact-${process.pid}`;
  if (!opts.bucket) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const spec: LakeSpec = {
    prefix: 'lake/',
    table: 'ticks',
    topic: 'ticks',
    groupId: 'profile',
    partitions: 4,
    partitionBy: ['year', 'symbol_bucket'],
    symbolBuckets: 4,
    compression: 'gzip',
    maxMessageBytes: 1024 * 1024,
    writer: 'profile',
  };
  const gen = new MarketGenerator({ symbols: Number(opts.symbols), days: Number(opts.days), seed: 16 });
  const next = [0, 0, 0, 0];
  const byPartition = new Map<string, WindowObject[]>();
  let sample: Record<string, unknown> | undefined;
  let row = 2;
  let d = 0;
  const base = Date.now() - 3_600_000;
  const started = Date.now();
  const perCut = Number(opts.daysPerCut);
  let pending: string[] = [];
  let pendingDays = 0;
  const days = (function* () {
    for (const chunk of gen.chunks()) {
      if (chunk.startsWith('Index,')) continue;
      pending.push(...chunk.slice(0, -1).split('\n'));
      if (++pendingDays === perCut) {
        yield pending;
        pending = [];
        pendingDays = 0;
      }
    }
    if (pending.length > 0) yield pending;
  })();
  for (const lines of days) {
    const cuts = dayCuts(spec, lines, {
      source: 'market.csv',
      firstRow: row,
      ingestedAt: new Date(base + d++ * 1000),
      next,
    });
    row += lines.length;
    await mapLimit(cuts, 4, async (cut) => {
      const bodies = opts.bucket ? [] : await encodeCut(cut, spec.compression);
      if (!opts.bucket)
        await mapLimit(cut.objects, 4, (o, i) => putObject(s3, bucket, o.key, bodies[i], 'application/x-ndjson'));
      for (const o of cut.objects) {
        sample ??= JSON.parse(o.values[0].toString()) as Record<string, unknown>;
        const list = byPartition.get(o.partition) ?? [];
        list.push({
          key: o.key,
          source: `${spec.topic}+${cut.partition}`,
          first: String(cut.first),
          records: o.values.length,
        });
        byPartition.set(o.partition, list);
      }
    });
  }
  const [partition, objects] = [...byPartition.entries()].sort((a, b) => b[1].length - a[1].length)[0];
  const rows = objects.reduce((a, o) => a + o.records, 0);
  log(
    `${opts.bucket ? 'reused' : 'wrote'} ${gen.totals.rows} rows in ${round((Date.now() - started) / 1000, 1)} s; window ${partition}: ${objects.length} objects, ${rows} rows`,
  );
  const columns: ColumnType[] = Object.entries(sample!).map(([name, v]) => ({ name, type: inferType(v) ?? 'string' }));
  log(`columns: ${columns.map((c) => `${c.name} ${c.type}`).join(', ')}`);

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'profile-compact-'));
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '2',
    memory_limit: '1GB',
    temp_directory: path.join(workDir, '.duckdb-tmp'),
  });
  if (opts.everyWindow) {
    const windows: WindowPlan[] = [...byPartition.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([p, objs]) => ({
        partition: p,
        values: p.split('/').map((x) => x.split('=')[1]),
        objects: objs,
        watermarks: {},
      }));
    const all = await everyWindow({ s3, bucket, instance, workDir, columns, windows, runs: Number(opts.runs) });
    instance.closeSync();
    fs.rmSync(workDir, { recursive: true, force: true });
    console.log(JSON.stringify({ ...all, load_average: os.loadavg().map((x) => round(x, 1)) }));
    return;
  }
  const values = partition.split('/').map((p) => p.split('=')[1]);
  const runs: { ms: number; cpuMs: number; phases: Record<string, [number, number]>; bytes: number }[] = [];
  const once = async (window: WindowPlan, key: string) => {
    const phases: Record<string, [number, number]> = {};
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = await compactWindow({
      s3,
      bucket,
      instance,
      workDir,
      columns,
      window,
      key,
      onPhase: (name, ms, cpuMs) => (phases[name] = [round(ms, 0), round(cpuMs, 0)]),
    });
    const cpu = process.cpuUsage(c0);
    return { out, ms: round(performance.now() - t0, 0), cpuMs: round((cpu.user + cpu.system) / 1000, 0), phases };
  };
  const whole: WindowPlan = { partition, values, objects, watermarks: {} };
  for (let i = 0; i < Number(opts.runs); i++) {
    const r = await once(whole, `curated/${partition}/run-${i}.parquet`);
    runs.push({ ms: r.ms, cpuMs: r.cpuMs, phases: r.phases, bytes: r.out.bytes });
    log(`run ${i + 1}: ${r.ms} ms, ${r.cpuMs} CPU ms, ${r.out.bytes} bytes; ${JSON.stringify(r.phases)}`);
  }
  let second: (typeof runs)[number] | undefined;
  if (opts.previous) {
    const half = Math.floor(objects.length / 2);
    const first = await once({ ...whole, objects: objects.slice(0, half) }, `curated/${partition}/first.parquet`);
    const prev = first.out;
    const r = await once(
      {
        ...whole,
        objects: objects.slice(half),
        previous: {
          file: { key: prev.key, rows: prev.rows, bytes: prev.bytes, etag: prev.etag, columns: prev.columns },
          rows: prev.rows,
          checksum: prev.checksum,
        },
      },
      `curated/${partition}/second.parquet`,
    );
    if (r.out.rows !== rows) throw new Error(`the second run holds ${r.out.rows} rows, not ${rows}`);
    second = { ms: r.ms, cpuMs: r.cpuMs, phases: r.phases, bytes: r.out.bytes };
    log(`with a previous file: ${r.ms} ms, ${r.cpuMs} CPU ms; ${JSON.stringify(r.phases)}`);
  }
  instance.closeSync();
  fs.rmSync(workDir, { recursive: true, force: true });
  const best = runs.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
  console.log(
    JSON.stringify({
      partition,
      objects: objects.length,
      rows,
      best_ms: best.ms,
      best_cpu_ms: best.cpuMs,
      rows_per_s: Math.round(rows / (best.ms / 1000)),
      rows_per_cpu_s: Math.round(rows / (best.cpuMs / 1000)),
      parquet_bytes: best.bytes,
      runs,
      ...(second ? { second } : {}),
      load_average: os.loadavg().map((x) => round(x, 1)),
    }),
  );
}

/**
 * Every window of the lake compacted as the worker compacts them, `runs` times each way: one
 * `compactWindow` a window (one activity each, as before batches), and the batches the plan makes
 * (`planBatches` over two lanes: one `compactWindows` each). Phases summed over the windows or
 * batches; every batch-written file must have the ETag (the bytes) of the one-at-a-time file.
 */
async function everyWindow(args: {
  s3: S3Client;
  bucket: string;
  instance: DuckDBInstance;
  workDir: string;
  columns: ColumnType[];
  windows: WindowPlan[];
  runs: number;
}) {
  const records = (w: WindowPlan) => w.objects.reduce((b, o) => b + o.records, 0);
  const rows = args.windows.reduce((a, w) => a + records(w), 0);
  const objects = args.windows.reduce((a, w) => a + w.objects.length, 0);
  const byPartition = new Map(args.windows.map((w) => [w.partition, w]));
  const batches = planBatches(
    args.windows.map((w) => ({ partition: w.partition, records: records(w) })),
    2,
  ).map((b) => b.map((p) => byPartition.get(p)!));
  log(`every window: ${args.windows.length} windows, ${objects} objects, ${rows} rows; ${batches.length} batches`);
  type Run = {
    path: string;
    ms: number;
    cpuMs: number;
    cpuMsPerWindow: number;
    phases: Record<string, [number, number]>;
  };
  const runs: Run[] = [];
  const etags = new Map<string, string>();
  let differ = 0;
  for (let i = 0; i < args.runs; i++) {
    for (const way of ['one window at a time', 'batches'] as const) {
      const phases: Record<string, [number, number]> = {};
      const onPhase = (name: string, ms: number, cpuMs: number) => {
        const [a, b] = phases[name] ?? [0, 0];
        phases[name] = [a + ms, b + cpuMs];
      };
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      if (way === 'one window at a time') {
        for (const window of args.windows) {
          const out = await compactWindow({
            ...args,
            window,
            key: `curated/${window.partition}/single-${i}.parquet`,
            onPhase,
          });
          etags.set(window.partition, out.etag);
        }
      } else {
        for (const batch of batches) {
          const outs = await compactWindows({
            ...args,
            windows: batch.map((window) => ({ window, key: `curated/${window.partition}/batch-${i}.parquet` })),
            onPhase,
          });
          for (const o of outs) {
            if (!o.outcome) throw new Error(`window ${o.partition} was refused: ${o.refused?.message}`);
            if (o.outcome.etag !== etags.get(o.partition)) differ++;
          }
        }
      }
      const cpu = process.cpuUsage(c0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const run: Run = {
        path: way,
        ms: round(performance.now() - t0, 0),
        cpuMs: round(cpuMs, 0),
        cpuMsPerWindow: round(cpuMs / args.windows.length, 1),
        phases: Object.fromEntries(
          Object.entries(phases).map(([k, [a, b]]) => [k, [round(a, 0), round(b, 0)] as [number, number]]),
        ),
      };
      runs.push(run);
      log(
        `${run.path}, run ${i + 1}: ${run.ms} ms, ${run.cpuMs} CPU ms (${run.cpuMsPerWindow} a window); ${JSON.stringify(run.phases)}`,
      );
    }
  }
  if (differ > 0) throw new Error(`${differ} batch-written files differ from the same windows' files written alone`);
  const best = (way: string) => runs.filter((r) => r.path === way).reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
  const single = best('one window at a time');
  const batched = best('batches');
  return {
    windows: args.windows.length,
    objects,
    rows,
    batches: batches.length,
    single_cpu_ms_per_window: single.cpuMsPerWindow,
    batch_cpu_ms_per_window: batched.cpuMsPerWindow,
    batch_over_single_cpu: round(batched.cpuMs / single.cpuMs, 2),
    same_bytes: true,
    runs,
  };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
