/**
 * `npm start`: brings the local services up, starts a worker, replays a CSV end to end (produce,
 * sink until caught up, crawl), runs the sample query and prints it; then keeps the worker running
 * (or exits with --once).
 */
import path from 'node:path';
import { Command } from 'commander';
import Table from 'cli-table3';
import { SingleBar, Presets } from 'cli-progress';
import type { Client } from '@temporalio/client';
import { loadConfig, REPO_ROOT, LOCAL_PORTS, type TicklakeConfig } from './config';
import { ensureServices } from './services';
import { createKafka } from './adapters/kafka';
import { readProducerDeadLetters } from './dead-letters';
import { ensureCompactSchedule, ensureCrawlSchedule } from './schedules';
import { connectClient } from './adapters/temporal';
import { moreSymbols, replaySummary } from './cli/output';
import { startWorker } from './worker';
import {
  prepareInfrastructure,
  replayIdFor,
  runCrawl,
  runQuery,
  startReplay,
  startSink,
  waitForSinkCaughtUp,
} from './pipeline';
import { type ReplayStatus } from '../workflows/definitions';
import type { ReplayProgress } from '../activities/types';
import { replayStatus } from './progress';

/** Each install and start step of the local services, as `npm run services -- up` shows them. */
const printServiceProgress = (service: string, message: string) => console.error(`[${service}] ${message}`);

export const SAMPLE_QUERY =
  'SELECT symbol, count(*) AS ticks, round(avg(close), 2) AS avg_close, min(trade_date) AS first_day, max(trade_date) AS last_day ' +
  'FROM ticks WHERE source = ? GROUP BY symbol ORDER BY symbol';

/** The closing line's figures: counted by the engine, not summed from the rows shown. */
export const SAMPLE_TOTALS_QUERY =
  'SELECT count(*) AS ticks, count(DISTINCT symbol) AS symbols FROM ticks WHERE source = ?';

/** Symbols shown in npm start's table at most; the rest are counted and pointed to. */
export const SUMMARY_SYMBOLS = 20;

/** The per-symbol table of the replayed file (its first symbols) and the closing line, counted by the engine. */
async function summarize(
  client: Client,
  config: TicklakeConfig,
  source: string,
  tableName: string,
  progress: ReplayProgress,
  file: string,
  t0: number,
): Promise<void> {
  const result = await runQuery(client, config, SAMPLE_QUERY, [source]);
  const totals = await runQuery(client, config, SAMPLE_TOTALS_QUERY, [source]);
  const total = Number(totals.rows[0]?.[0] ?? 0);
  const symbols = Number(totals.rows[0]?.[1] ?? 0);
  const table = new Table({ head: result.columns.map((c) => c.name), style: { head: [], border: [] } });
  for (const row of result.rows.slice(0, SUMMARY_SYMBOLS)) table.push(row.map((v) => (v === null ? '' : String(v))));
  console.log(table.toString());
  if (symbols > SUMMARY_SYMBOLS) console.log(moreSymbols(symbols, SUMMARY_SYMBOLS, SAMPLE_QUERY, source));
  console.log(
    replaySummary({
      total,
      symbols,
      file: source,
      replayId: replayIdFor(file),
      produced: progress.produced,
      table: tableName,
      seconds: (Date.now() - t0) / 1000,
    }),
  );
}

async function waitForReplay(client: Client, workflowId: string, quiet: boolean): Promise<ReplayProgress> {
  const handle = client.workflow.getHandle(workflowId);
  const bar = quiet
    ? undefined
    : new SingleBar(
        { format: 'replay  {bar} {value} rows | {rate} rows/s | rejected {rejected}' },
        Presets.shades_classic,
      );
  bar?.start(0, 0, { rate: 0, rejected: 0 });
  const timer = setInterval(() => {
    replayStatus(handle)
      .then((p: ReplayStatus) => {
        bar?.setTotal(Math.max(p.rowsRead, 1));
        bar?.update(p.rowsRead, { rate: p.rate, rejected: p.rejected });
      })
      .catch(() => undefined);
  }, 500);
  try {
    const result = (await handle.result()) as ReplayProgress;
    bar?.setTotal(Math.max(result.rowsRead, 1));
    bar?.update(result.rowsRead, { rate: 0, rejected: result.rejected });
    return result;
  } finally {
    clearInterval(timer);
    bar?.stop();
  }
}

/** Rejected rows `npm start` names; `npx ticklake dlq --replay ID` lists all. */
const FIRST_REJECTED = 5;

async function printFirstRejected(config: TicklakeConfig, replayId: string, rejected: number): Promise<void> {
  try {
    const letters = await readProducerDeadLetters(createKafka(config.kafka, '-start'), config.kafka.dlqTopic, {
      replayId,
    });
    const first = letters.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)).slice(0, FIRST_REJECTED);
    for (const d of first) console.log(`  line ${d.line ?? '?'}: ${d.reason}`);
    const rest = rejected - first.length;
    console.log(
      `  ${rest > 0 ? `and ${rest} more; ` : ''}every rejected row with its text: npx ticklake dlq --replay ${replayId}`,
    );
  } catch (err) {
    console.log(`  (could not read them back: ${(err as Error).message}); npx ticklake dlq --replay ${replayId}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('npm start --')
    .option('--once', 'exit after printing the result (services stay up)')
    .option(
      '--file <path>',
      'CSV of the indexProcessed.csv schema to replay',
      path.join(REPO_ROOT, 'data', 'sample.csv'),
    )
    .option('--no-services', 'do not start the local services (use what the configuration points at)')
    .parse(argv, { from: 'user' });
  const opts = program.opts<{ once?: boolean; file: string; services: boolean }>();
  const config = loadConfig();
  const file = path.resolve(opts.file);
  const t0 = Date.now();

  if (opts.services && config.profile === 'local') {
    console.log('local services (installed into the cache the first time: a few minutes):');
    await ensureServices(undefined, { onProgress: printServiceProgress });
  }
  await prepareInfrastructure(config);
  const worker = await startWorker(config);
  const client = await connectClient(config.temporal);
  try {
    console.log(`worker running on task queue '${config.temporal.taskQueue}'`);
    await startSink(client, config);
    const replay = await startReplay(client, config, { file });
    console.log(`replaying ${file} (workflow ${replay.workflowId})`);
    const progress = await waitForReplay(client, replay.workflowId, !process.stdout.isTTY);
    console.log(
      `produced ${progress.produced} rows, rejected ${progress.rejected} rows (dead-letter topic '${config.kafka.dlqTopic}')`,
    );
    if (progress.rejected > 0) await printFirstRejected(config, replayIdFor(file), progress.rejected);
    await waitForSinkCaughtUp(config, 10 * 60_000);
    console.log('sink caught up: every record is in the lake');
    const schedule = await ensureCrawlSchedule(client, config);
    console.log(`crawl schedule ${schedule.scheduleId}: every ${schedule.every}${schedule.paused ? ' (paused)' : ''}`);
    const compaction = await ensureCompactSchedule(client, config);
    console.log(
      `compaction schedule ${compaction.scheduleId}: every ${compaction.every}${compaction.paused ? ' (paused)' : ''} ` +
        `(raw windows quiet for ${Math.round(config.compact.quietMs / 1000)} s become Parquet under s3://${config.lake.bucket}/${config.compact.curatedPrefix})`,
    );
    const crawl = await runCrawl(client, config);
    // A full scan sees every partition of the lake; the others only those with new data.
    const seen = crawl.scan === 'full' ? 'in the lake' : 'with new data';
    console.log(
      `crawl (${crawl.scan} scan): table ${crawl.database}.${crawl.table} ` +
        `${crawl.tableCreated ? 'created' : 'up to date'}, ${crawl.partitionsAdded} partitions added ` +
        `(${crawl.partitionsFound} ${seen})`,
    );
    const source = path.basename(file);
    if (progress.produced === 0 && crawl.partitionsFound === 0) {
      // No table to ask: nothing of any file has reached the lake yet.
      console.log(`the lake holds no ticks yet: no row of ${source} was valid (see the reasons above)`);
    } else {
      await summarize(client, config, source, `${crawl.database}.${crawl.table}`, progress, file, t0);
    }
    if (opts.once) return;
    console.log(
      `\nThe worker keeps running. Temporal Web UI: http://127.0.0.1:${LOCAL_PORTS.temporalUi}  (Ctrl-C to stop the worker)`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    await client.connection.close();
    await worker.shutdown();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`error: ${(err as Error).message}`);
      if (process.env.TICKLAKE_VERBOSE) console.error(err);
      process.exit(1);
    },
  );
}
