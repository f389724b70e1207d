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
import { loadConfig, REPO_ROOT, LOCAL_PORTS } from './config';
import { ensureServices } from './services';
import { ensureCrawlSchedule } from './schedules';
import { connectClient } from './adapters/temporal';
import { replaySummary } from './cli/output';
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

export const SAMPLE_QUERY =
  'SELECT symbol, count(*) AS ticks, round(avg(close), 2) AS avg_close, min(trade_date) AS first_day, max(trade_date) AS last_day ' +
  'FROM ticks WHERE source = ? GROUP BY symbol ORDER BY symbol';

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
    await ensureServices();
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
    await waitForSinkCaughtUp(config, 10 * 60_000);
    console.log('sink caught up: every record is in the lake');
    const schedule = await ensureCrawlSchedule(client, config);
    console.log(`crawl schedule ${schedule.scheduleId}: every ${schedule.every}${schedule.paused ? ' (paused)' : ''}`);
    const crawl = await runCrawl(client, config);
    // A full scan sees every partition of the lake; the others only those with new data.
    const seen = crawl.scan === 'full' ? 'in the lake' : 'with new data';
    console.log(
      `crawl (${crawl.scan} scan): table ${crawl.database}.${crawl.table} ` +
        `${crawl.tableCreated ? 'created' : 'up to date'}, ${crawl.partitionsAdded} partitions added ` +
        `(${crawl.partitionsFound} ${seen})`,
    );
    const result = await runQuery(client, config, SAMPLE_QUERY, [path.basename(file)]);
    const table = new Table({ head: result.columns.map((c) => c.name), style: { head: [], border: [] } });
    for (const row of result.rows) table.push(row.map((v) => (v === null ? '' : String(v))));
    console.log(table.toString());
    const total = result.rows.reduce((n, r) => n + Number(r[1]), 0);
    console.log(
      replaySummary({
        total,
        symbols: result.rows.length,
        file: path.basename(file),
        replayId: replayIdFor(file),
        produced: progress.produced,
        table: `${crawl.database}.${crawl.table}`,
        seconds: (Date.now() - t0) / 1000,
      }),
    );
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
