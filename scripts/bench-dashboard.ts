/**
 * How light the dashboard is, on the local services (`npm run services -- up` first):
 *
 *   npm run bench:dashboard [-- --minutes 10 --baseline-minutes 3 --rate 50]
 *
 * 1. the page's assets, raw and gzipped (what a first visit downloads);
 * 2. render time in Debian's Chromium (headless, playwright-core): navigation start to the first chart
 *    drawn, on the first visit and the median of 5 reloads;
 * 3. the CPU of the worker process, which serves the dashboard (TICKLAKE_DASHBOARD_PORT) and runs its
 *    query workflows, during a live replay (a loop of data/sample.csv at --rate rows/s into the sink):
 *    first `--baseline-minutes` with no page open, then `--minutes` with the page open; the ratio is
 *    the load the page adds.
 *
 * A screenshot of the page at the end of the window goes to .data/screenshots/dashboard-live.png.
 *
 * Checks: no console error on the page over the whole window; at the end (the replay paused, the sink
 * caught up) the page's symbols are the lake's, and the ticks behind its chart are the lake's count
 * for that symbol. The last line is one JSON object with the figures.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import type { Client } from '@temporalio/client';
import { connectClient } from '../src/adapters/temporal';
import type { QueryResult } from '../activities/types';
import { loadConfig, REPO_ROOT } from '../src/config';
import {
  prepareInfrastructure,
  runCrawl,
  runQuery,
  startReplay,
  startSink,
  waitForSinkCaughtUp,
} from '../src/pipeline';
import { steerReplay } from '../src/cli/replay-commands';
import { assetSizes, buildAssets } from '../src/dashboard/assets';
import type { MarketView, SeriesView } from '../src/dashboard/server';
import { launchBrowser } from '../test/support/browser';
import { removeResources } from '../test/integration/sink-support';
import { terminateRunning } from '../test/integration/support';
import { loadAverage, SAMPLE_CSV, sleep, uniqueNames, waitFor, WorkerProcess } from './bench/common';

const SHOTS = process.env.TICKLAKE_SCREENSHOTS ?? path.join(REPO_ROOT, '.data', 'screenshots');

interface PageState {
  market?: MarketView;
  series?: SeriesView;
  firstChartMs?: number;
  firstCurrentChartMs?: number;
  chartDraws: number;
  drawMs?: number;
  lakeVersion: number;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pageState = (page: Page) =>
  page.evaluate(() => (window as unknown as { ticklakeDashboard: PageState }).ticklakeDashboard);

/** The page's requests of one visit: when each started and answered, ms from navigation start. */
interface RequestTiming {
  path: string;
  startMs: number;
  firstByteMs: number;
  endMs: number;
}

const requestTimings = (page: Page): Promise<RequestTiming[]> =>
  page.evaluate(() =>
    (performance.getEntriesByType('navigation') as PerformanceResourceTiming[])
      .concat(performance.getEntriesByType('resource') as PerformanceResourceTiming[])
      .map((e) => ({
        path: new URL(e.name).pathname + new URL(e.name).search,
        startMs: Math.round(e.startTime),
        firstByteMs: Math.round(e.responseStart),
        endMs: Math.round(e.responseEnd),
      })),
  );

/** The query workflows of the dashboard started since `since`: what each waited for, in the worker. */
async function dashboardQueries(client: Client, taskQueue: string, since: Date): Promise<string[]> {
  const out: { start: number; line: string }[] = [];
  for await (const w of client.workflow.list({
    query: `WorkflowType = 'queryWorkflow' AND TaskQueue = '${taskQueue}' AND StartTime > '${since.toISOString()}'`,
  })) {
    const r = (await client.workflow
      .getHandle(w.workflowId)
      .result()
      .catch(() => undefined)) as QueryResult | undefined;
    const start = w.startTime.getTime() - since.getTime();
    const took = (w.closeTime?.getTime() ?? Date.now()) - w.startTime.getTime();
    const phases = Object.entries(r?.stats.phases ?? {})
      .map(([k, v]) => `${k} ${Math.round(v)}`)
      .join(', ');
    out.push({
      start,
      line:
        `  +${start} ms ${w.workflowId}: ${took} ms start to close, engine ${Math.round(r?.stats.engineMs ?? -1)} ms ` +
        `(${phases}); ${r?.stats.objectsDownloaded ?? '?'} objects fetched, ${r?.stats.objectsCached ?? '?'} cached, ` +
        `${r?.rowCount ?? '?'} rows`,
    });
  }
  return out.sort((a, b) => a.start - b.start).map((o) => o.line);
}

/** ms from navigation start to the first chart drawn, and to the first drawn from a current answer. */
async function firstChart(page: Page, url: string): Promise<{ first: number; current: number }> {
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(
    () => (window as unknown as { ticklakeDashboard: PageState }).ticklakeDashboard.firstCurrentChartMs !== undefined,
    undefined,
    { timeout: 60_000 },
  );
  const s = await pageState(page);
  return { first: s.firstChartMs!, current: s.firstCurrentChartMs! };
}

async function main(): Promise<void> {
  const minutes = flag('minutes', 10);
  const baselineMinutes = flag('baseline-minutes', 3);
  const rate = flag('rate', 50);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...uniqueNames('dashbench'),
    TICKLAKE_DASHBOARD_PORT: String(port),
    TICKLAKE_METRICS_PORT: '0',
  };
  const config = loadConfig(env);
  await prepareInfrastructure(config);

  // 1. assets ------------------------------------------------------------------------------------
  const started = Date.now();
  const sizes = assetSizes(await buildAssets());
  const buildMs = Date.now() - started;
  for (const a of sizes) console.log(`asset ${a.path.padEnd(8)} ${a.bytes} bytes, ${a.gzipBytes} gzipped`);
  const totalGzip = sizes.reduce((n, a) => n + a.gzipBytes, 0);
  console.log(`assets: ${sizes.reduce((n, a) => n + a.bytes, 0)} bytes, ${totalGzip} gzipped (built in ${buildMs} ms)`);

  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dashboard-')), 'worker.log');
  const worker = new WorkerProcess(env, log);
  const client = await connectClient(config.temporal);
  const browser = await launchBrowser();
  try {
    await worker.ready();
    const url = `http://127.0.0.1:${port}/`;
    await waitFor('the dashboard in the worker', async () => (await fetch(`${url}api/config`)).ok, 30_000);

    // The lake of the sample, then a live replay into it.
    await startSink(client, config);
    await (await startReplay(client, config, { file: SAMPLE_CSV, replayId: 'seed' })).result();
    await waitForSinkCaughtUp(config, 120_000);
    await runCrawl(client, config);
    await startReplay(client, config, {
      file: SAMPLE_CSV,
      replayId: 'live',
      loop: true,
      speed: { mode: 'rows', rowsPerSecond: rate },
    });

    // 3a. no page open ----------------------------------------------------------------------------
    console.log(`live replay at ${rate} rows/s; ${baselineMinutes} min with no page open ...`);
    const cpu0 = worker.cpuSeconds()!;
    const t0 = Date.now();
    await sleep(baselineMinutes * 60_000);
    const baselinePct = ((worker.cpuSeconds()! - cpu0) / ((Date.now() - t0) / 1000)) * 100;
    const loadNoPage = loadAverage();
    console.log(`worker CPU with no page open: ${baselinePct.toFixed(1)} % of a core (load average ${loadNoPage})`);

    // 2. render time --------------------------------------------------------------------------------
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1400, height: 900 });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    const visitAt = new Date();
    const cold = await firstChart(page, url);
    const coldMs = cold.first;
    // What the first visit waited for: the page's requests, and the query workflows they started.
    console.log(`first visit, requests (ms from navigation start: started, first byte, done):`);
    for (const t of await requestTimings(page))
      console.log(`  ${t.path.padEnd(60)} ${t.startMs} / ${t.firstByteMs} / ${t.endMs}`);
    console.log(`first visit, the dashboard's query workflows (from the navigation):`);
    for (const line of await dashboardQueries(client, config.temporal.taskQueue, visitAt)) console.log(line);
    const warm: number[] = [];
    const warmCurrent: number[] = [];
    const draws: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await firstChart(page, url);
      warm.push(r.first);
      warmCurrent.push(r.current);
      draws.push((await pageState(page)).drawMs!);
    }
    const loadAtRender = loadAverage();
    console.log(
      `first chart: ${coldMs.toFixed(0)} ms on the first visit, ${median(warm).toFixed(0)} ms (median of 5 reloads; ` +
        `drawing it ${median(draws).toFixed(1)} ms of that); load average ${loadAtRender}`,
    );
    console.log(
      `first chart from a current answer (not one read earlier, marked as such): ${cold.current.toFixed(0)} ms ` +
        `on the first visit, ${median(warmCurrent).toFixed(0)} ms (median of 5 reloads)`,
    );

    // 3b. the page open ------------------------------------------------------------------------------
    console.log(`${minutes} min with the page open ...`);
    const queriesBefore = (
      await client.workflow.count(`WorkflowType = 'queryWorkflow' AND TaskQueue = '${config.temporal.taskQueue}'`)
    ).count;
    const cpu1 = worker.cpuSeconds()!;
    const t1 = Date.now();
    const draws0 = (await pageState(page)).chartDraws;
    await sleep(minutes * 60_000);
    const openPct = ((worker.cpuSeconds()! - cpu1) / ((Date.now() - t1) / 1000)) * 100;
    const loadPageOpen = loadAverage();
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'dashboard-live.png'), fullPage: true });
    const s = await pageState(page);
    const queries =
      (await client.workflow.count(`WorkflowType = 'queryWorkflow' AND TaskQueue = '${config.temporal.taskQueue}'`))
        .count - queriesBefore;
    console.log(
      `worker CPU with the page open: ${openPct.toFixed(1)} % of a core (${(openPct - baselinePct).toFixed(1)} points more); ` +
        `${s.chartDraws - draws0} chart updates, ${queries} query workflows, lake version ${s.lakeVersion}; ` +
        `load average ${loadPageOpen}`,
    );

    // Checks ------------------------------------------------------------------------------------------
    await steerReplay(client, 'live', 'pause');
    await waitForSinkCaughtUp(config, 60_000);
    const lakeSymbols = (await runQuery(client, config, 'SELECT DISTINCT symbol FROM ticks ORDER BY symbol')).rows.map(
      (r) => String(r[0]),
    );
    const shown = await waitFor(
      'the page to show the whole lake',
      async () => {
        const st = await pageState(page);
        const symbol = st.series?.symbol;
        if (!symbol) return false;
        const count = Number(
          (await runQuery(client, config, 'SELECT count(*) FROM ticks WHERE symbol = ?', [symbol])).rows[0][0],
        );
        return st.series!.ticks === count && { symbol, count, symbols: st.market!.symbols.map((m) => m.symbol) };
      },
      60_000,
      1_000,
    );
    const problems: string[] = [];
    if (errors.length > 0) problems.push(`console errors: ${errors.slice(0, 3).join(' | ')}`);
    if (shown.symbols.join() !== lakeSymbols.join())
      problems.push(`picker ${shown.symbols.join()} != lake ${lakeSymbols.join()}`);
    console.log(`check: the chart of ${shown.symbol} stands for ${shown.count} ticks, the lake's count`);
    const figures = {
      bench: 'dashboard',
      assets: Object.fromEntries(sizes.map((a) => [a.path, { bytes: a.bytes, gzipBytes: a.gzipBytes }])),
      assetsGzipBytes: totalGzip,
      assetBuildMs: buildMs,
      firstChartMs: Math.round(coldMs),
      firstChartWarmMedianMs: Math.round(median(warm)),
      firstCurrentChartMs: Math.round(cold.current),
      firstCurrentChartWarmMedianMs: Math.round(median(warmCurrent)),
      drawMedianMs: Number(median(draws).toFixed(1)),
      loadAverageAtRender: loadAtRender,
      loadAverageNoPage: loadNoPage,
      loadAveragePageOpen: loadPageOpen,
      replayRowsPerSecond: rate,
      baselineMinutes,
      pageMinutes: minutes,
      workerCpuPctNoPage: Number(baselinePct.toFixed(2)),
      workerCpuPctPageOpen: Number(openPct.toFixed(2)),
      workerCpuRatio: Number((openPct / baselinePct).toFixed(2)),
      chartUpdates: s.chartDraws - draws0,
      queryWorkflows: queries,
      workerPeakRssMb: worker.peakRssMb(),
      consoleErrors: errors.length,
      ok: problems.length === 0,
    };
    if (problems.length > 0) {
      for (const p of problems) console.error(`FAILED: ${p}`);
      process.exitCode = 1;
    }
    console.log(JSON.stringify(figures));
  } finally {
    await browser.close();
    await terminateRunning(client, config.temporal.taskQueue).catch(() => undefined);
    await client.connection.close();
    await worker.stop();
    await removeResources(config).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});
