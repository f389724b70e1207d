/**
 * `npm run chaos`: the whole pipeline (replay → Kafka → sink → S3 → catalog → query) on a stack of its
 * own while faults are injected at random moments, then a row-by-row check of the lake against the CSV.
 *
 * Faults (`--faults N`, default 10; spread evenly over the kinds, every kind at least once, in a random order):
 * - worker:   SIGKILL of the worker process (src/worker-main.ts), and a new worker started at once;
 * - kafka:    SIGKILL of the broker, restarted (same log dirs);
 * - s3:       SIGKILL of the S3 server, down for 3-10 s, started again;
 * - temporal: SIGKILL of the Temporal server, restarted (same SQLite file).
 * Before each fault the run waits 1-5 s; after it, it measures the time until the producer (end offsets of
 * the topic) and the sink (its group's committed offsets) make progress again. The replay is slowed
 * (`--rate`, default: the file over about 20 s per fault, slowed further if it would end early) so faults land while data flows; after the last
 * fault it is set to full speed. Then the run waits for the replay to finish, the sink to catch up and a
 * crawl, and compares every record of the lake with the CSV: count per symbol, no duplicate
 * (symbol, trade_date), every field equal.
 *
 * Stack: port offset 15000 (`--offset`), a temporary data dir, stopped at the end (logs kept on failure).
 * File: TICKLAKE_CHAOS_CSV, else TICKLAKE_REAL_CSV; `--sample` for data/sample.csv (a quick run).
 * The last line is one JSON object: faults, rows, missing, duplicated, differing, ...; the exit code is
 * non-zero when any of missing, duplicated, differing, unexpected is not 0 or a fault did not recover.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Admin } from 'kafkajs';
import { createAwsClients } from '../src/adapters/aws';
import { connectClient } from '../src/adapters/temporal';
import { loadConfig, REPO_ROOT, type TicklakeConfig } from '../src/config';
import { tableRoot } from '../src/lake-layout';
import { prepareInfrastructure, runCrawl, runQuery, startReplay, startSink } from '../src/pipeline';
import { parseExamples } from '../src/query/examples';
import type { ReplayProgress } from '../activities/types';
import { setSpeedUpdate } from '../workflows/definitions';
import {
  SAMPLE_CSV,
  Stack,
  WorkerProcess,
  groupCommitted,
  groupJoined,
  loadAverage,
  probeKafka,
  readLakeObjects,
  sleep,
  tempDataDir,
  topicEnd,
  totalLag,
  uniqueNames,
  waitFor,
} from './bench/common';
import { median, round } from './bench/stats';
import { FAULT_KINDS, faultPlan, rng, slowerRate, type FaultKind } from './bench/faults';
import { countsBySymbol, diffLake, expectedRows } from './bench/verify';
import { sinkStatus, replayStatus } from '../src/progress';

interface Options {
  faults: string;
  sample?: boolean;
  file?: string;
  rate?: string;
  secondsPerFault: string;
  seed?: string;
  offset: string;
  recoveryTimeout: string;
  keep?: boolean;
}

interface FaultRecord {
  n: number;
  kind: FaultKind;
  /** Seconds since the replay started. */
  at: number;
  detail: string;
  /** How long the fault itself lasted (kill and respawn, restart, outage), ms. */
  downMs: number;
  /** From the end of the fault until the producer made progress (or had nothing left to produce), ms. */
  producerMs?: number;
  /** From the end of the fault until the sink committed more (or had nothing left to commit), ms. */
  sinkMs?: number;
  /** The larger of the two; undefined when it did not recover within the timeout. */
  recoveredMs?: number;
  /** No data was flowing any more when the fault ended (the replay was done and the sink caught up). */
  idle: boolean;
}

const log = (line: string) => console.error(line);

/** Kafka progress probes that survive a broker restart (a failed admin is replaced). */
class Progress {
  private admin: Admin | undefined;

  constructor(private readonly config: TicklakeConfig) {}

  private async connected(): Promise<Admin> {
    if (!this.admin) {
      const admin = probeKafka(this.config.kafka, 'chaos').admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  private async probe<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.connected());
    } catch (err) {
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      throw err;
    }
  }

  produced(): Promise<bigint> {
    return this.probe((a) => topicEnd(a, this.config.kafka.topic));
  }

  committed(): Promise<bigint> {
    return this.probe((a) => groupCommitted(a, this.config.sink.groupId, this.config.kafka.topic));
  }

  lag(): Promise<bigint> {
    return this.probe((a) => totalLag(a, this.config.sink.groupId, this.config.kafka.topic));
  }

  joined(): Promise<boolean> {
    return this.probe((a) => groupJoined(a, this.config.sink.groupId));
  }

  /** Both figures, retried while the broker is unreachable. */
  snapshot(timeoutMs: number): Promise<{ produced: bigint; committed: bigint }> {
    return waitFor(
      'the broker to answer',
      async () => ({ produced: await this.produced(), committed: await this.committed() }),
      timeoutMs,
      250,
    );
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
  }
}

async function isDone(handle: WorkflowHandle): Promise<boolean> {
  const d = await handle.describe();
  if (d.status.name === 'COMPLETED') return true;
  if (d.status.name !== 'RUNNING') throw new Error(`workflow ${handle.workflowId} is ${d.status.name}`);
  return false;
}

async function main(): Promise<void> {
  const opts = new Command('npm run chaos --')
    .description('the whole pipeline under injected faults, then a row-by-row check of the lake')
    .option('--faults <n>', 'faults to inject (each kind at least once)', '10')
    .option('--sample', 'replay data/sample.csv (a quick run)')
    .option('--file <csv>', 'replay this file (default TICKLAKE_CHAOS_CSV, else TICKLAKE_REAL_CSV)')
    .option('--rate <rows/s>', 'replay speed while faults are injected (default: the file over ~20 s per fault)')
    .option('--seconds-per-fault <s>', 'replay time planned per fault (sets the default --rate)', '20')
    .option('--seed <n>', 'seed of the fault order and timing (default: random, printed)')
    .option('--offset <n>', 'port offset of the stack', '15000')
    .option('--recovery-timeout <s>', 'how long a fault may take to recover', '300')
    .option('--keep', 'leave the stack and its data dir in place at the end')
    .parse(process.argv.slice(2), { from: 'user' })
    .opts<Options>();

  const file = path.resolve(
    opts.file ??
      (opts.sample ? SAMPLE_CSV : undefined) ??
      process.env.TICKLAKE_CHAOS_CSV ??
      process.env.TICKLAKE_REAL_CSV ??
      '',
  );
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    console.error(
      'npm run chaos: no data file. Set TICKLAKE_REAL_CSV (e.g. ../shared/data/stock-exchange/indexProcessed.csv) ' +
        'or TICKLAKE_CHAOS_CSV, or pass --sample for a quick run on data/sample.csv',
    );
    process.exit(2);
  }
  const faultCount = Number(opts.faults);
  const seed = opts.seed !== undefined ? Number(opts.seed) : Math.floor(Math.random() * 2 ** 31);
  const random = rng(seed);
  const plan = faultPlan(faultCount, random);
  const between = (min: number, max: number) => Math.round(min + random() * (max - min));
  const recoveryTimeoutMs = Number(opts.recoveryTimeout) * 1000;

  const source = path.basename(file);
  const { rows: expected, skipped } = expectedRows(fs.readFileSync(file, 'utf8'), source);
  const rate = opts.rate
    ? Number(opts.rate)
    : Math.max(5, Math.ceil(expected.length / (faultCount * Number(opts.secondsPerFault))));

  const stack = new Stack(Number(opts.offset), tempDataDir('chaos'));
  const env: NodeJS.ProcessEnv = { ...stack.env, ...uniqueNames('chaos'), QUERY_ENGINE: 'duckdb' };
  const config = loadConfig(env);
  const logDir = path.join(stack.dataDir, 'chaos-logs');
  fs.mkdirSync(logDir, { recursive: true });
  log(
    `chaos: ${file} (${expected.length} rows${skipped ? `, ${skipped} invalid` : ''}) at ${rate} rows/s; ` +
      `${faultCount} faults [${plan.join(', ')}], seed ${seed}; stack on port offset ${stack.offset}, data in ${stack.dataDir}`,
  );

  let worker: WorkerProcess | undefined;
  let workers = 0;
  const newWorker = () => {
    worker = new WorkerProcess(env, path.join(logDir, `worker-${++workers}.log`));
    return worker;
  };
  let client: Client | undefined;
  const progress = new Progress(config);
  const faults: FaultRecord[] = [];
  let ok = false;
  let summary: Record<string, unknown> | undefined;
  const runStarted = Date.now();
  try {
    log('starting the stack...');
    await stack.up();
    await prepareInfrastructure(config);
    await newWorker().ready();
    client = await connectClient(config.temporal);

    const sink = await startSink(client, config);
    await waitFor('the sink to join its group', () => progress.joined(), 120_000, 100);
    const replay = await startReplay(client, config, { file, speed: { mode: 'rows', rowsPerSecond: rate } });
    const replayStarted = Date.now();
    const since = () => round((Date.now() - replayStarted) / 1000, 1);
    await waitFor('the sink to commit its first records', async () => (await progress.committed()) > 0n, 120_000, 250);

    for (let i = 0; i < plan.length; i++) {
      const kind = plan[i];
      await sleep(between(1000, 5000));
      const at = since();
      const faultStart = Date.now();
      let detail: string;
      switch (kind) {
        case 'worker': {
          const dead = worker!;
          dead.kill('SIGKILL');
          await dead.exited();
          const next = newWorker();
          detail = `worker pid ${dead.pid} SIGKILLed, worker pid ${next.pid} started`;
          break;
        }
        case 'kafka':
          await stack.restart('kafka', true);
          detail = 'broker SIGKILLed and restarted';
          break;
        case 's3': {
          await stack.down(['s3'], true);
          const outage = between(3000, 10_000);
          await sleep(outage);
          await stack.waitClosed('s3');
          await stack.upAgain('s3');
          detail = `S3 server SIGKILLed, down for ${round(outage / 1000, 1)} s, started`;
          break;
        }
        case 'temporal':
          await stack.restart('temporal', true);
          detail = 'Temporal server SIGKILLed and restarted';
          break;
      }
      const faultEnd = Date.now();
      const record: FaultRecord = { n: i + 1, kind, at, detail, downMs: faultEnd - faultStart, idle: false };
      faults.push(record);
      log(`t+${at}s fault ${record.n}/${plan.length} ${kind}: ${detail} (${record.downMs} ms)`);

      // Recovery: the producer and the sink both make progress past where they stood when the fault ended.
      const before = await progress.snapshot(recoveryTimeoutMs);
      let replayDone = false;
      const recovered = await waitFor(
        `recovery from fault ${record.n} (${kind})`,
        async () => {
          const now = await progress.snapshot(10_000);
          if (record.producerMs === undefined && now.produced > before.produced)
            record.producerMs = Date.now() - faultEnd;
          if (record.sinkMs === undefined && now.committed > before.committed) record.sinkMs = Date.now() - faultEnd;
          if (record.producerMs === undefined || record.sinkMs === undefined) {
            // Nothing left to flow: the replay is done and the sink has everything.
            replayDone ||= await isDone(replay).catch(() => false);
            if (replayDone && record.producerMs === undefined) record.producerMs = Date.now() - faultEnd;
            if (replayDone && record.sinkMs === undefined && (await progress.lag()) === 0n) {
              record.sinkMs = Date.now() - faultEnd;
              record.idle = true;
            }
          }
          return record.producerMs !== undefined && record.sinkMs !== undefined;
        },
        recoveryTimeoutMs,
        250,
      ).catch((err: unknown) => {
        log(`fault ${record.n}: ${(err as Error).message}`);
        return false;
      });
      if (!recovered) break;
      record.recoveredMs = Math.max(record.producerMs!, record.sinkMs!);
      log(
        `  recovered: producer progressing after ${round(record.producerMs! / 1000, 1)} s, sink committing after ` +
          `${round(record.sinkMs! / 1000, 1)} s${record.idle ? ' (no data left to flow)' : ''}`,
      );

      // Keep data flowing for the faults still to come: slow the replay down if it would end too soon.
      const left = plan.length - i - 1;
      if (left > 0 && !replayDone) {
        const status = await replayStatus(replay).catch(() => undefined);
        if (status && status.state === 'running') {
          const rowsLeft = expected.length - status.position;
          const wanted = slowerRate({
            rowsLeft,
            faultsLeft: left,
            currentRate: status.speed.mode === 'rows' ? status.speed.rowsPerSecond : Infinity,
            secondsPerFault: Number(opts.secondsPerFault),
          });
          if (wanted !== undefined) {
            await replay.executeUpdate(setSpeedUpdate, { args: [{ mode: 'rows', rowsPerSecond: wanted }] });
            log(`  replay slowed to ${wanted} rows/s (${rowsLeft} rows left for ${left} faults)`);
          }
        }
      }
    }

    // Finish: full speed, replay done, sink caught up, crawl.
    if (!(await isDone(replay).catch(() => false))) {
      await replay.executeUpdate(setSpeedUpdate, { args: [{ mode: 'max' }] }).catch(() => undefined);
    }
    log(`t+${since()}s faults over; replay at full speed`);
    const finished = await waitFor<ReplayProgress>(
      'the replay to finish',
      async () => ((await isDone(replay)) ? await replay.result() : undefined),
      15 * 60_000,
      500,
    );
    log(`t+${since()}s replay done: ${finished.produced} produced, ${finished.rejected} rejected`);
    await waitFor('the sink to catch up', async () => (await progress.lag()) === 0n, 15 * 60_000, 250);
    log(`t+${since()}s sink caught up`);
    const crawl = await runCrawl(client, config);
    log(`t+${since()}s crawl (${crawl.scan}): ${crawl.partitionsFound} partitions, ${crawl.partitionsAdded} added`);

    // ---- verification -------------------------------------------------------------------------------
    const { s3 } = createAwsClients(config.aws);
    const objects = await readLakeObjects(s3, config.lake.bucket, tableRoot(config.lake.prefix, config.glue.table));
    const lake = objects.flatMap((o) => o.records);
    const diff = diffLake(expected, lake);
    const wantCounts = countsBySymbol(expected);
    const lakeCounts = countsBySymbol(lake);
    const query = parseExamples(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'queries.md'), 'utf8')).find(
      (e) => e.name === 'per-symbol',
    )!;
    const answer = await runQuery(client, config, query.sql, query.params);
    const sym = answer.columns.findIndex((c) => c.name === 'symbol');
    const n = answer.columns.findIndex((c) => c.name === 'ticks');
    const queryCounts = Object.fromEntries(answer.rows.map((r) => [String(r[sym]), Number(r[n])]));
    const queryRows = Object.values(queryCounts).reduce((a, b) => a + b, 0);
    const countsEqual = JSON.stringify(lakeCounts) === JSON.stringify(wantCounts);
    const sorted = (o: Record<string, number>) =>
      JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
    const queryEqual = sorted(queryCounts) === sorted(wantCounts);
    const sinkState = await sinkStatus(sink).catch(() => undefined);
    const describedSink = await sink.describe();
    const sinkAttempt = describedSink.raw.pendingActivities?.[0]?.attempt ?? 1;

    console.log('');
    console.log('fault  at (s)  kind      down (ms)  producer (s)  sink (s)  recovered (s)  detail');
    for (const f of faults) {
      const sec = (ms?: number) => (ms === undefined ? '-' : String(round(ms / 1000, 1)));
      console.log(
        `${String(f.n).padStart(5)}  ${String(f.at).padStart(6)}  ${f.kind.padEnd(8)}  ${String(f.downMs).padStart(9)}  ` +
          `${sec(f.producerMs).padStart(12)}  ${sec(f.sinkMs).padStart(8)}  ${sec(f.recoveredMs).padStart(13)}  ${f.detail}` +
          (f.idle ? ' (idle)' : ''),
      );
    }
    console.log('');
    console.log(
      `lake: ${diff.lakeRecords} records in ${objects.length} objects for ${diff.rows} rows; missing ${diff.missing}, ` +
        `duplicated ${diff.duplicated}, differing ${diff.differing}, unexpected ${diff.unexpected}; counts per symbol ` +
        `${countsEqual ? 'equal' : `differ: lake ${JSON.stringify(lakeCounts)} csv ${JSON.stringify(wantCounts)}`}`,
    );
    for (const e of diff.examples) console.log(`  ${e}`);
    console.log(
      `query (per-symbol, DuckDB): ${queryRows} rows, counts per symbol ${queryEqual ? 'equal to the CSV' : `differ: ${JSON.stringify(queryCounts)}`}`,
    );
    console.log(
      `sink: activity attempt ${sinkAttempt}, status records ${sinkState?.records ?? '?'}, rewritten ${sinkState?.rewrittenRecords ?? '?'}; ` +
        `${workers} worker processes; load average ${loadAverage()}`,
    );
    const unrecovered = plan.length - faults.filter((f) => f.recoveredMs !== undefined).length;
    const recoveries = faults.flatMap((f) => (f.recoveredMs === undefined ? [] : [f.recoveredMs]));
    const byKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, faults.filter((f) => f.kind === k).length]));
    ok =
      diff.missing === 0 &&
      diff.duplicated === 0 &&
      diff.differing === 0 &&
      diff.unexpected === 0 &&
      unrecovered === 0 &&
      queryEqual &&
      FAULT_KINDS.every((k) => byKind[k] > 0);
    summary = {
      faults: faults.length,
      faults_by_kind: byKind,
      unrecovered,
      recovery_median_s: recoveries.length ? round(median(recoveries) / 1000, 1) : null,
      recovery_max_s: recoveries.length ? round(Math.max(...recoveries) / 1000, 1) : null,
      rows: diff.rows,
      lake_records: diff.lakeRecords,
      missing: diff.missing,
      duplicated: diff.duplicated,
      differing: diff.differing,
      unexpected: diff.unexpected,
      query_rows: queryRows,
      rate,
      seed,
      file: source,
      duration_s: round((Date.now() - runStarted) / 1000, 1),
      worker_processes: workers,
      fault_log: faults.map((f) => ({
        n: f.n,
        kind: f.kind,
        at_s: f.at,
        down_ms: f.downMs,
        producer_ms: f.producerMs ?? null,
        sink_ms: f.sinkMs ?? null,
        recovered_ms: f.recoveredMs ?? null,
        idle: f.idle,
      })),
    };
  } catch (err) {
    console.error(`npm run chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    summary = {
      faults: faults.length,
      rows: expected.length,
      missing: null,
      duplicated: null,
      differing: null,
      error: err instanceof Error ? err.message : String(err),
      seed,
      fault_log: faults,
    };
  } finally {
    await progress.close();
    await worker?.stop().catch(() => undefined);
    await client?.connection.close().catch(() => undefined);
    if (!opts.keep) {
      await stack.down().catch((err: unknown) => log(`could not stop the chaos stack: ${String(err)}`));
      if (ok) fs.rmSync(stack.dataDir, { recursive: true, force: true });
      else log(`logs and state kept in ${stack.dataDir} (worker logs in ${logDir})`);
    } else log(`stack left running: TICKLAKE_PORT_OFFSET=${stack.offset} TICKLAKE_DATA_DIR=${stack.dataDir}`);
  }
  console.log(JSON.stringify(summary));
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(`npm run chaos failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
