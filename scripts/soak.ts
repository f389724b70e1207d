/**
 * `npm run soak [-- --hours H] [--rate N] [--every S]`: a long run of the sink and a replay on the
 * local services (npm run services -- up), watching what a months-long pipeline must keep flat.
 *
 * A worker runs in a child process (src/worker-main.ts, as `ticklake worker` runs it). The sink
 * workflow starts on a topic of the run's own, and a replay of the real file (TICKLAKE_REAL_CSV, else
 * the sample) feeds it in a loop at a steady `--rate` rows/s (default 200). Every 2 s the script
 * describes both workflows; every `--every` s (default 60, or 600 for runs of an hour or more) it
 * prints a line: elapsed time, history length of each workflow, the sink's and the replay's activity
 * attempt, activity runs started, continue-as-new so far, the worker's RSS, rows produced and records
 * written. Per 10-minute window it prints the sink's freshness (receipt to durable, the
 * `lastFreshnessMs` of the sink's heartbeat details, sampled every 2 s): p50, p99 and max.
 *
 * Steady state starts after the first minute (the start, the sink's first join, the replay's first
 * transaction): history events per hour count the events written after it, over the time after it.
 * An activity restart is a new activity run of the same workflow (the workflow cancelled it and
 * started it again, as a continue-as-new does); a retry after a failure is an attempt, counted apart.
 *
 * At the end the replay is paused, the sink catches up, and the script checks that the sink wrote
 * every record the replay produced (records + dead letters = rows produced). Every name (topics,
 * group, bucket, database, task queue) is the run's own and removed at the end.
 *
 * With `--compact-every S` the curated zone runs beside the stream, as a user's schedule runs it: a
 * compaction every S seconds (COMPACT_QUIET `--quiet` seconds, default 30, so each run takes the cuts
 * of the last S seconds and a looped file keeps bringing late data to compacted windows), and a reader
 * asks `SELECT count(*) FROM ticks` of the local engine every 5 s, one read listing the table whole,
 * the next folder by folder. A count lower than the reader's previous one (a record lost for a while)
 * or higher than the rows produced by then (a record read twice) fails the run. At the end, after the
 * sink has caught up, one more compaction takes every cut: the lake's count and the curated zone's
 * rows must both equal the records the sink wrote.
 *
 * Last line: one JSON object with at least `history_events_per_hour` (the worse of the sink and the
 * replay), `activity_restarts` and `continue_as_new` (and, compacting, `compaction`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { CompactResult } from '../activities/types';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { prepareInfrastructure, startCompaction, startReplay, startSink } from '../src/pipeline';
import { DuckDBEngine } from '../src/query/duckdb-engine';
import { replayStatus, sinkStatus } from '../src/progress';
import { pauseSignal } from '../workflows/definitions';
import { engineQuery, uniqueEnv, terminateRunning } from '../test/integration/support';
import { removeResources } from '../test/integration/sink-support';
import { WorkerProcess, loadAverage, sleep, statusKb, waitFor } from './bench/common';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(v > 0)) throw new Error(`--${name} must be a number greater than 0`);
  return v;
}

const HOURS = arg('hours', 0.1);
const RATE = arg('rate', 200);
const EVERY_S = arg('every', HOURS >= 1 ? 600 : 60);
const WINDOW_MS = 10 * 60_000;
const WARMUP_MS = 60_000;
const SAMPLE_MS = 2_000;
const FILE = process.env.TICKLAKE_REAL_CSV ?? path.join(REPO_ROOT, 'data', 'sample.csv');
const COMPACT_EVERY_S = process.argv.includes('--compact-every') ? arg('compact-every', 300) : undefined;
const QUIET_S = arg('quiet', 30);
const READ_EVERY_MS = 5_000;

interface Watch {
  runId: string;
  continuedAsNew: number;
  historyLength: number;
  /** History length at the end of the warm-up. */
  steadyFrom?: { at: number; length: number };
  attempt: number;
  maxAttempt: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Activity runs a workflow has started (ActivityTaskScheduled events over all its runs so far). */
async function activityRuns(h: WorkflowHandle): Promise<number> {
  let n = 0;
  const history = await h.fetchHistory();
  for (const e of history.events ?? []) if (e.activityTaskScheduledEventAttributes) n++;
  return n;
}

async function main(): Promise<void> {
  const env = {
    ...uniqueEnv('soak'),
    TICKLAKE_METRICS_PORT: '0',
    ...(COMPACT_EVERY_S ? { COMPACT_QUIET: `${QUIET_S}s` } : {}),
  };
  const config = loadConfig(env);
  const runMs = HOURS * 3_600_000;
  console.log(
    `soak: ${HOURS} h, replay of ${path.basename(FILE)} in a loop at ${RATE} rows/s into topic ${config.kafka.topic}; ` +
      `${os.cpus().length} cores, load ${loadAverage()}` +
      (COMPACT_EVERY_S ? `; compaction every ${COMPACT_EVERY_S} s (quiet ${QUIET_S} s), a count every 5 s` : ''),
  );
  await prepareInfrastructure(config);
  const logFile = path.join(os.tmpdir(), `ticklake-soak-${Date.now()}.log`);
  const worker = new WorkerProcess(env, logFile);
  const client = await connectClient(config.temporal);
  let ok = false;
  let curated: CuratedRun | undefined;
  try {
    await worker.ready();
    const sink = await startSink(client, config);
    const replay = await startReplay(client, config, {
      file: FILE,
      replayId: `soak-${Date.now().toString(36)}`,
      speed: { mode: 'rows', rowsPerSecond: RATE },
      loop: true,
    });
    const watched: Record<'sink' | 'replay', { h: WorkflowHandle; w: Watch; activity: string }> = {
      sink: { h: sink, w: await initialWatch(sink), activity: 'sinkToLake' },
      replay: { h: replay, w: await initialWatch(replay), activity: 'produceTicks' },
    };
    const started = Date.now();
    if (COMPACT_EVERY_S) curated = new CuratedRun(client, config, COMPACT_EVERY_S, () => produced);
    const rss: { at: number; mb: number }[] = [];
    let freshness: number[] = [];
    const windows: { to_min: number; p50_ms: number; p99_ms: number; max_ms: number; samples: number }[] = [];
    let lastFreshAt = '';
    let produced = 0;
    let records = 0;
    let windowStart = started;
    let nextLine = started + EVERY_S * 1000;
    console.log('time    sink hist  replay hist  sink att  replay att  cont-as-new  worker RSS MB  produced  records');
    for (;;) {
      const now = Date.now();
      for (const { h, w, activity } of Object.values(watched)) {
        const d = await h.describe();
        if (d.runId !== w.runId) {
          w.continuedAsNew++;
          w.runId = d.runId;
        }
        w.historyLength = d.historyLength;
        if (!w.steadyFrom && now - started >= WARMUP_MS) w.steadyFrom = { at: now, length: d.historyLength };
        const pending = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === activity);
        w.attempt = pending?.attempt ?? 0;
        w.maxAttempt = Math.max(w.maxAttempt, w.attempt);
      }
      const s = await sinkStatus(sink).catch(() => undefined);
      const r = await replayStatus(replay).catch(() => undefined);
      if (s) {
        records = s.records + s.deadLetters;
        // One sample per flush seen: the same flush shows in several heartbeats.
        if (s.lastFreshnessMs !== undefined && s.lastFlushAt !== lastFreshAt) {
          freshness.push(s.lastFreshnessMs);
          lastFreshAt = s.lastFlushAt ?? '';
        }
      }
      if (r) produced = r.produced;
      const mb = Math.round((statusKb(worker.pid, 'VmRSS') ?? 0) / 1024);
      if (now >= nextLine || now - started >= runMs) {
        rss.push({ at: now - started, mb });
        const min = ((now - started) / 60_000).toFixed(1).padStart(6);
        const { sink: sk, replay: rp } = watched;
        console.log(
          `${min}m  ${String(sk.w.historyLength).padStart(9)}  ${String(rp.w.historyLength).padStart(11)}  ` +
            `${String(sk.w.attempt).padStart(8)}  ${String(rp.w.attempt).padStart(10)}  ` +
            `${String(sk.w.continuedAsNew + rp.w.continuedAsNew).padStart(11)}  ${String(mb).padStart(13)}  ` +
            `${String(produced).padStart(8)}  ${String(records).padStart(7)}`,
        );
        nextLine += EVERY_S * 1000;
      }
      if (now - windowStart >= WINDOW_MS || now - started >= runMs) {
        const sorted = [...freshness].sort((a, b) => a - b);
        const win = {
          to_min: Math.round((now - started) / 60_000),
          p50_ms: percentile(sorted, 50),
          p99_ms: percentile(sorted, 99),
          max_ms: sorted[sorted.length - 1] ?? NaN,
          samples: sorted.length,
        };
        windows.push(win);
        console.log(
          `  freshness up to ${win.to_min} min: p50 ${win.p50_ms} ms, p99 ${win.p99_ms} ms, max ${win.max_ms} ms (${win.samples} flushes sampled)`,
        );
        freshness = [];
        windowStart = now;
      }
      if (now - started >= runMs) break;
      if (!worker.alive) throw new Error(`the worker exited; see ${logFile}`);
      curated?.check();
      await sleep(SAMPLE_MS);
    }

    // The answer: every row the replay produced is in the lake once the sink has caught up.
    await replay.signal(pauseSignal);
    const stopped = await waitFor(
      'the replay to pause',
      async () => {
        const r = await replayStatus(replay);
        const d = await replay.describe();
        return r.state === 'paused' && (d.raw.pendingActivities ?? []).length === 0 ? r : undefined;
      },
      60_000,
    );
    const caughtUp = await waitFor(
      'the sink to write every produced record',
      async () => {
        const s = await sinkStatus(sink);
        return s.records + s.deadLetters >= stopped.produced ? s : undefined;
      },
      120_000,
      500,
    ).catch(() => undefined);
    const finalSink = caughtUp ?? (await sinkStatus(sink));
    const written = finalSink.records + finalSink.deadLetters;
    const compaction = curated ? await curated.finish(finalSink.records) : undefined;

    const elapsedH = (Date.now() - started) / 3_600_000;
    const perHour = (w: Watch) =>
      w.steadyFrom
        ? Math.round((w.historyLength - w.steadyFrom.length) / ((Date.now() - w.steadyFrom.at) / 3_600_000))
        : NaN;
    const sinkRuns = await activityRuns(sink);
    const replayRuns = await activityRuns(replay);
    // The replay's last run is the one paused above: it is not a restart of the steady state.
    const restarts = Math.max(0, sinkRuns - 1) + Math.max(0, replayRuns - 2);
    const result = {
      hours: Math.round(elapsedH * 1000) / 1000,
      rate_rows_per_s: RATE,
      file: path.basename(FILE),
      history_events_per_hour: Math.max(perHour(watched.sink.w), perHour(watched.replay.w)),
      sink_history_events_per_hour: perHour(watched.sink.w),
      replay_history_events_per_hour: perHour(watched.replay.w),
      sink_history_length: watched.sink.w.historyLength,
      replay_history_length: watched.replay.w.historyLength,
      activity_restarts: restarts,
      activity_max_attempt: Math.max(watched.sink.w.maxAttempt, watched.replay.w.maxAttempt),
      continue_as_new: watched.sink.w.continuedAsNew + watched.replay.w.continuedAsNew,
      worker_rss_mb: rss.map((x) => ({ min: Math.round(x.at / 6_000) / 10, mb: x.mb })),
      worker_peak_rss_mb: worker.peakRssMb(),
      freshness_windows: windows,
      rows_produced: stopped.produced,
      records_written: written,
      all_written: written === stopped.produced,
      ...(compaction ? { compaction } : {}),
    };
    console.log(
      `history events per hour in steady state: sink ${result.sink_history_events_per_hour}, replay ${result.replay_history_events_per_hour}; ` +
        `activity restarts ${restarts}, highest attempt ${result.activity_max_attempt}, continue-as-new ${result.continue_as_new}`,
    );
    console.log(
      `rows produced ${stopped.produced}, records written by the sink ${written}: ${result.all_written ? 'all written' : 'MISMATCH'}`,
    );
    if (compaction)
      console.log(
        `compaction: ${compaction.runs} runs, ${compaction.windows} windows (${compaction.runs_with_late_data} runs merged late data into curated files), ` +
          `${compaction.rows} rows; reader: ${compaction.reads} counts, ${compaction.failed_reads} failed reads, ` +
          `${compaction.violations.length} wrong; at the end the lake holds ${compaction.final_count} rows, ` +
          `${compaction.final_curated_rows} of them curated, the sink wrote ${finalSink.records}: ${compaction.ok ? 'exactly once' : 'MISMATCH'}`,
      );
    console.log(JSON.stringify(result));
    ok = result.all_written && (compaction?.ok ?? true);
    await sink.signal(pauseSignal).catch(() => undefined);
  } finally {
    await curated?.stop();
    await terminateRunning(client, config.temporal.taskQueue).catch(() => undefined);
    await worker.stop();
    await client.connection.close();
    await removeResources(config).catch(() => undefined);
    if (ok) fs.rmSync(logFile, { force: true });
    else console.error(`the worker's log is kept: ${logFile}`);
  }
  if (!ok) process.exitCode = 1;
}

/**
 * Compactions every `everyS` seconds and a reader counting the table every 5 s, beside the stream.
 * `check` throws once a read has been wrong; `finish` compacts what is left and checks the totals.
 */
class CuratedRun {
  private stopped = false;
  private readonly results: CompactResult[] = [];
  private readonly engines: DuckDBEngine[];
  private readonly loops: Promise<void>[];
  private reads = 0;
  private failedReads = 0;
  private lastCount = 0;
  private lastError = '';
  private readonly violations: string[] = [];
  private readonly cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-soak-cache-'));

  constructor(
    private readonly client: Client,
    private readonly config: TicklakeConfig,
    everyS: number,
    private readonly produced: () => number,
  ) {
    const aws = createAwsClients(config.aws);
    const options = { s3: aws.s3, glue: aws.glue, resultsDir: path.join(this.cacheDir, 'results') };
    this.engines = [
      new DuckDBEngine({ ...options, cacheDir: path.join(this.cacheDir, 'whole') }),
      new DuckDBEngine({ ...options, cacheDir: path.join(this.cacheDir, 'by-folder'), tableListingPages: 0 }),
    ];
    this.loops = [this.compactEvery(everyS * 1000), this.readEvery()];
  }

  check(): void {
    if (this.violations.length > 0) throw new Error(`wrong beside the stream: ${this.violations[0]}`);
  }

  private async compactEvery(ms: number): Promise<void> {
    while (await this.pause(ms)) {
      try {
        this.results.push(await (await startCompaction(this.client, this.config)).result());
      } catch (err) {
        this.violations.push(`a compaction failed: ${(err as Error).message}`);
      }
    }
  }

  private async readEvery(): Promise<void> {
    while (await this.pause(READ_EVERY_MS)) {
      const before = this.produced();
      const n = await this.count(this.engines[this.reads % 2]).catch((err: Error) => {
        this.failedReads++;
        this.lastError = err.message;
        return undefined;
      });
      this.reads++;
      if (n === undefined) continue;
      // The replay's count is read every SAMPLE_MS: a record may be in the lake before the count shows it.
      const produced = Math.max(before, this.produced());
      const slack = ((2 * SAMPLE_MS) / 1000) * RATE;
      if (n < this.lastCount) this.violations.push(`${n} rows after ${this.lastCount} (read ${this.reads})`);
      if (n > produced + slack) this.violations.push(`${n} rows with ${produced} produced (read ${this.reads})`);
      this.lastCount = Math.max(this.lastCount, n);
    }
  }

  private async count(engine: DuckDBEngine): Promise<number> {
    const out = await engineQuery(
      engine,
      this.config.glue.database,
      'SELECT count(*) FROM ticks',
      `soak-${this.reads}`,
    );
    return Number(out.rows[0][0]);
  }

  /** Waits `ms`; false once stopped. */
  private async pause(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.stopped && Date.now() < until) await sleep(Math.min(500, until - Date.now()));
    return !this.stopped;
  }

  /** Stops the loops, lets every cut pass the quiet period, compacts, and checks the lake against the sink. */
  async finish(sinkRecords: number) {
    await this.stopLoops();
    await sleep((QUIET_S + 2) * 1000);
    const last = await (await startCompaction(this.client, this.config)).result();
    this.results.push(last);
    const counts = await Promise.all(this.engines.map((e) => this.count(e)));
    return {
      runs: this.results.length,
      windows: this.results.reduce((a, r) => a + r.windows, 0),
      runs_with_late_data: this.results.filter((r) => r.replacedParquetBytes > 0).length,
      rows: this.results.reduce((a, r) => a + r.rows, 0),
      run_ms: this.results.map((r) => r.durationMs),
      failed_windows: this.results.reduce((a, r) => a + r.failed.length, 0),
      reads: this.reads,
      failed_reads: this.failedReads,
      last_read_error: this.lastError || undefined,
      violations: this.violations,
      final_count: counts[0],
      final_count_by_folder: counts[1],
      final_curated_rows: last.totals.rows,
      curated_parquet_bytes: last.totals.parquetBytes,
      ok:
        this.violations.length === 0 &&
        counts.every((c) => c === sinkRecords) &&
        last.totals.rows === sinkRecords &&
        this.results.every((r) => r.failed.length === 0),
    };
  }

  private async stopLoops(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
  }

  async stop(): Promise<void> {
    await this.stopLoops();
    await Promise.allSettled(this.engines.map((e) => e.close()));
    fs.rmSync(this.cacheDir, { recursive: true, force: true });
  }
}

async function initialWatch(h: WorkflowHandle): Promise<Watch> {
  const d = await h.describe();
  return { runId: d.runId, continuedAsNew: 0, historyLength: d.historyLength, attempt: 0, maxAttempt: 0 };
}

main().catch((err: unknown) => {
  console.error(`error: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
