/**
 * The dashboard in a real headless browser (Debian's Chromium, driven by playwright-core) against the
 * real local services, with a worker in the test process: the page loads without console errors, its
 * picker holds every symbol of the lake, its chart holds the lake's rows, a tick produced during the
 * test appears within 5 s, pause and resume from the page reach the replay (checked with the CLI),
 * and with the S3 server stopped the page says so and recovers when it is back. Screenshots go to
 * .data/screenshots/ (TICKLAKE_SCREENSHOTS), for the docs.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { runCrawl, runQuery, startReplay, startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { ensureServices, stopServices } from '../../src/services';
import { marketSql } from '../../src/dashboard/market';
import type { QueryResult } from '../../activities/types';
import { dashboardOptions } from '../../src/dashboard/options';
import {
  startDashboard,
  type HeldAnswer,
  type RunningDashboard,
  type SeriesView,
  type MarketView,
} from '../../src/dashboard/server';
import { chromiumPath, launchBrowser, NO_CHROMIUM } from '../support/browser';
import { itWhen } from '../support/environment';
import { startHarness, uniqueEnv, waitFor, type Harness } from './support';

const exec = promisify(execFile);
const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');
const BIN = path.join(REPO_ROOT, 'bin', 'ticklake.js');
const SHOTS = process.env.TICKLAKE_SCREENSHOTS ?? path.join(REPO_ROOT, '.data', 'screenshots');
const itBrowser = itWhen(chromiumPath() !== undefined, NO_CHROMIUM);

interface PageState {
  market?: MarketView;
  series?: SeriesView;
  firstChartMs?: number;
  chartDraws: number;
}

const pageState = (page: Page) =>
  page.evaluate(() => (window as unknown as { ticklakeDashboard: PageState }).ticklakeDashboard);

describe('dashboard in a browser', () => {
  const env = uniqueEnv('dash');
  const id = env.KAFKA_TOPIC!.replace(/^t-/, '');
  let h: Harness;
  let dashboard: RunningDashboard;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!chromiumPath()) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    h = await startHarness(loadConfig(env));
    await startSink(h.client, h.config);
    await (await startReplay(h.client, h.config, { file: SAMPLE, replayId: `${id}-sample` })).result();
    await waitForSinkCaughtUp(h.config, 60_000);
    await runCrawl(h.client, h.config);
    dashboard = await startDashboard(
      h.config,
      () => Promise.resolve(h.client),
      // It looks for the sink's writes every second while no page is open.
      dashboardOptions({ port: 0, allowControl: true }, { ...env, TICKLAKE_DASHBOARD_WARM_MS: '1000' }),
      { info: () => undefined, warn: () => undefined },
    );
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewportSize({ width: 1400, height: 900 });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 240_000);

  /** Answers of the dashboard's query workflows started since `since`, closed or not (unanswered ones empty). */
  async function dashboardQueriesSince(since: string): Promise<QueryResult[]> {
    const out: QueryResult[] = [];
    for await (const w of h.client.workflow.list({
      query: `WorkflowType = 'queryWorkflow' AND WorkflowId STARTS_WITH 'query/dashboard-' AND StartTime > '${since}'`,
    })) {
      const done = w.status.name === 'COMPLETED';
      out.push(
        done
          ? ((await h.client.workflow.getHandle(w.workflowId).result()) as QueryResult)
          : ({ columns: [], rows: [] } as unknown as QueryResult),
      );
    }
    return out;
  }

  afterAll(async () => {
    await ensureServices(['s3']).catch(() => undefined);
    await browser?.close();
    await dashboard?.close();
    await h?.close();
  }, 60_000);

  itBrowser('with no page open, has the engine fetch what the sink wrote before the first visit', async () => {
    const since = new Date().toISOString();
    const late = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dash-late-')), 'late.csv');
    fs.writeFileSync(
      late,
      [
        fs.readFileSync(SAMPLE, 'utf8').split('\n')[0],
        'SAMPLE-JP,2021-06-07,24500.0,24700.0,24400.0,24600.0,24600.0,0.0,246.0',
        'SAMPLE-JP,2021-06-08,24600.0,24800.0,24500.0,24700.0,24700.0,0.0,247.0',
      ].join('\n') + '\n',
    );
    await (await startReplay(h.client, h.config, { file: late, replayId: `${id}-late` })).result();
    await waitForSinkCaughtUp(h.config, 60_000);
    // The sink's count changed: the server runs its market statement once, with no page open.
    const holdsLateRows = (r: QueryResult) => r.rows.some((row) => row[0] === 'SAMPLE-JP' && row[3] === '2021-06-08');
    await waitFor('a market statement of the dashboard that saw the new rows', async () => {
      for await (const w of h.client.workflow.list({
        query: `WorkflowType = 'queryWorkflow' AND WorkflowId STARTS_WITH 'query/dashboard-' AND StartTime > '${since}' AND ExecutionStatus = 'Completed'`,
      })) {
        if (holdsLateRows((await h.client.workflow.getHandle(w.workflowId).result()) as QueryResult)) return true;
      }
      return false;
    });
    // So a query of the same statement now downloads nothing: every object is converted already.
    const market = await runQuery(h.client, h.config, marketSql(h.config.glue.table));
    expect(holdsLateRows(market)).toBe(true);
    expect(market.stats?.objectsDownloaded).toBe(0);
    // And the chart a first visit draws (the first symbol, all its days) was read after the new rows too.
    await waitFor('the chart of the first symbol read by the warm-up', async () => {
      for (const r of await dashboardQueriesSince(since)) {
        if (r.columns[0]?.name === 'day' && r.rows.length === 716) return true;
      }
      return false;
    });
  });

  itBrowser('starts the queries of the chart a page draws first when the page is requested', async () => {
    // A symbol nothing has charted yet, remembered by the page's cookie from an earlier visit.
    const since = new Date().toISOString();
    const res = await fetch(dashboard.url, { headers: { Cookie: 'ticklake_symbol=SAMPLE-IN' } });
    expect(res.status).toBe(200);
    // No script runs here: the server reads the symbols and the chart of SAMPLE-IN by itself.
    const started = await waitFor('the request for the page to start the chart of SAMPLE-IN', async () => {
      const answers = await dashboardQueriesSince(since);
      return answers.some((r) => r.columns[0]?.name === 'day' && r.rows.length === 587) && answers.length;
    });
    // What the page's script asks for next is answered at once, without a query of its own.
    const config = (await (
      await fetch(new URL('api/config', dashboard.url), { headers: { Cookie: 'ticklake_symbol=SAMPLE-IN' } })
    ).json()) as { symbol?: string };
    expect(config.symbol).toBe('SAMPLE-IN');
    const series = (await (
      await fetch(new URL('api/series?symbol=SAMPLE-IN&from=&to=', dashboard.url))
    ).json()) as SeriesView;
    expect(series.ticks).toBe(587);
    expect((await dashboardQueriesSince(since)).length).toBe(started);
  });

  itBrowser(
    'gives a first visit the answer it read earlier, marked with its age, while it reads the current one',
    async () => {
      // A second server without the warm-up: nothing keeps its answers current with no page open.
      const other = await startDashboard(
        h.config,
        () => Promise.resolve(h.client),
        dashboardOptions({ port: 0 }, { ...env, TICKLAKE_DASHBOARD_WARM_MS: '0' }),
        { info: () => undefined, warn: () => undefined },
      );
      try {
        const get = async (q: string) => {
          const res = await fetch(new URL(`api/series?symbol=SAMPLE-IN&from=&to=${q}`, other.url));
          expect(res.status).toBe(200);
          return (await res.json()) as SeriesView & HeldAnswer;
        };
        const read = await get('');
        const readAt = Date.now();
        expect(read.heldMs).toBeUndefined();
        // With no page open an answer is current for 5 s; after that a page's first request gets it at
        // once, with its age, while the server reads it again.
        await new Promise((r) => setTimeout(r, Math.max(0, readAt + 5_100 - Date.now())));
        const held = await get('&held=1');
        expect(held.heldMs).toBeGreaterThanOrEqual(5_000);
        expect(held.days).toEqual(read.days);
        // The page then asks again (without held=1) and gets the answer read now.
        const current = await get('');
        expect(current.heldMs).toBeUndefined();
        expect(current.ticks).toBe(587);
      } finally {
        await other.close();
      }
    },
  );

  itBrowser('loads with no console errors and draws its first chart', async () => {
    const started = Date.now();
    await page.goto(dashboard.url, { waitUntil: 'load' });
    await page.waitForFunction(
      () => (window as unknown as { ticklakeDashboard: PageState }).ticklakeDashboard.firstChartMs !== undefined,
      undefined,
      { timeout: 20_000 },
    );
    const s = await pageState(page);
    console.log(`first chart drawn ${s.firstChartMs!.toFixed(0)} ms after navigation (${Date.now() - started} ms)`);
    // A first visit (nothing remembered) asks for its chart beside the symbols, not after them: the
    // server names the symbol it prepared.
    const requests = await page.evaluate(() =>
      (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map((e) => ({
        path: new URL(e.name).pathname,
        startTime: e.startTime,
        responseEnd: e.responseEnd,
      })),
    );
    const market = requests.find((r) => r.path === '/api/market')!;
    const series = requests.find((r) => r.path === '/api/series')!;
    expect(series.startTime).toBeLessThan(market.responseEnd);
    await page.waitForSelector('#replays', { state: 'attached', timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('#services li.ok') !== null, undefined, {
      timeout: 10_000,
    });
    await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  });

  itBrowser('lists every symbol of the lake in the picker', async () => {
    const lake = await runQuery(h.client, h.config, 'SELECT DISTINCT symbol FROM ticks ORDER BY symbol');
    const picker = await page.$$eval('#symbol option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(lake.rows.map((r) => r[0])).toEqual(['SAMPLE-DE', 'SAMPLE-HK', 'SAMPLE-IN', 'SAMPLE-JP', 'SAMPLE-NY']);
    expect(picker).toEqual(lake.rows.map((r) => r[0]));
  });

  itBrowser("draws one symbol's rows exactly as the lake holds them", async () => {
    await page.selectOption('#symbol', 'SAMPLE-HK');
    await waitFor('the chart of SAMPLE-HK', async () => (await pageState(page)).series?.symbol === 'SAMPLE-HK');
    const s = (await pageState(page)).series!;
    const lake = await runQuery(
      h.client,
      h.config,
      'SELECT trade_date, close, high, low FROM ticks WHERE symbol = ? ORDER BY trade_date',
      ['SAMPLE-HK'],
      { maxRows: 5000 },
    );
    expect(lake.truncated).toBe(false);
    expect(s.granularity).toBe('tick');
    expect(s.days).toHaveLength(890);
    expect(s.days).toEqual(lake.rows.map((r) => String(r[0]).slice(0, 10)));
    expect(s.close).toEqual(lake.rows.map((r) => Number(r[1])));
    expect(s.high).toEqual(lake.rows.map((r) => Number(r[2])));
    expect(s.low).toEqual(lake.rows.map((r) => Number(r[3])));
    // The chart's own data (what uPlot draws) is the same series.
    const drawn = await page.$$eval('#chart .u-legend', (ls) => ls.length);
    expect(drawn).toBe(1);
  });

  itBrowser('aggregates a range of more ticks than it draws in the query, and says so', async () => {
    await page.selectOption('#symbol', 'SAMPLE-NY');
    await waitFor('the chart of SAMPLE-NY', async () => (await pageState(page)).series?.symbol === 'SAMPLE-NY');
    const s = (await pageState(page)).series!;
    // 1,042 ticks over 2017-2021, more than the 1,000 points a chart draws: one point per week.
    expect(s.granularity).toBe('week');
    expect(s.ticks).toBe(1042);
    expect(s.truncated).toBe(false);
    const note = await page.$eval('#series-note', (e) => e.textContent ?? '');
    expect(note).toMatch(/1042 ticks, one point per week/);
    // Each weekly point is its week's last close, highest high and lowest low (weeks start on Monday).
    const lake = await runQuery(
      h.client,
      h.config,
      'SELECT trade_date, close, high, low FROM ticks WHERE symbol = ? ORDER BY trade_date',
      ['SAMPLE-NY'],
      { maxRows: 5000 },
    );
    const weeks = new Map<string, { close: number; high: number; low: number }>();
    for (const [d, close, high, low] of lake.rows) {
      const day = new Date(`${String(d).slice(0, 10)}T00:00:00Z`);
      day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7));
      const key = day.toISOString().slice(0, 10);
      const w = weeks.get(key);
      weeks.set(key, {
        close: Number(close),
        high: Math.max(w?.high ?? -Infinity, Number(high)),
        low: Math.min(w?.low ?? Infinity, Number(low)),
      });
    }
    expect(s.days).toEqual([...weeks.keys()]);
    expect(s.close).toEqual([...weeks.values()].map((w) => w.close));
    expect(s.high).toEqual([...weeks.values()].map((w) => w.high));
    expect(s.low).toEqual([...weeks.values()].map((w) => w.low));
  });

  itBrowser('shows a tick produced during the test within 5 s', async () => {
    await page.selectOption('#symbol', 'SAMPLE-HK');
    await waitFor('the chart of SAMPLE-HK', async () => (await pageState(page)).series?.symbol === 'SAMPLE-HK');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dash-tick-'));
    const file = path.join(dir, 'tick.csv');
    fs.writeFileSync(
      file,
      'Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\n' +
        'SAMPLE-HK,2021-06-01,29000.5,29400.25,28900.75,29123.25,29123.25,0.0,3790.1\n',
    );
    const produced = await (await startReplay(h.client, h.config, { file, replayId: `${id}-tick` })).result();
    expect(produced.produced).toBe(1);
    const at = Date.now();
    await page.waitForFunction(
      () =>
        (window as unknown as { ticklakeDashboard: PageState }).ticklakeDashboard.series?.days.includes('2021-06-01'),
      undefined,
      { timeout: 5_000, polling: 50 },
    );
    const seen = Date.now() - at;
    console.log(`a produced tick was on the page ${seen} ms after its replay committed it`);
    const s = (await pageState(page)).series!;
    const i = s.days.indexOf('2021-06-01');
    expect([s.close[i], s.high[i], s.low[i]]).toEqual([29123.25, 29400.25, 28900.75]);
    // The latest-close table moved on too, its change from the day before.
    await page.waitForFunction(
      () => document.querySelector('#latest tr[data-symbol="SAMPLE-HK"] td:nth-child(2)')?.textContent === '2021-06-01',
      undefined,
      { timeout: 5_000 },
    );
    const hk = (await pageState(page)).market!.symbols.find((m) => m.symbol === 'SAMPLE-HK')!;
    expect([hk.lastDay, hk.close, hk.prevClose]).toEqual(['2021-06-01', 29123.25, 35342.37891]);
    expect(seen).toBeLessThan(5_000);
  });

  itBrowser(
    'pauses a replay from the page and resumes it (as the CLI sees it)',
    async () => {
      const replayId = `${id}-slow`;
      await startReplay(h.client, h.config, { file: SAMPLE, replayId, speed: { mode: 'rows', rowsPerSecond: 20 } });
      const status = async () => {
        const { stdout } = await exec('node', [BIN, '--json', 'replay', 'status', replayId], {
          cwd: REPO_ROOT,
          env,
          timeout: 60_000,
        });
        return JSON.parse(stdout) as { state: string; produced: number };
      };
      await waitFor('the replay running on the page', () =>
        page.$(`#replays tr[data-replay="${replayId}"][data-state="running"] button[data-action="pause"]`),
      );
      await waitFor('the replay producing', async () => (await status()).produced > 0);
      await page.click(`#replays tr[data-replay="${replayId}"] button[data-action="pause"]`);
      const paused = await waitFor('the replay paused', async () => {
        const s = await status();
        return s.state === 'paused' && s;
      });
      await waitFor('the page showing it paused', () =>
        page.$(`#replays tr[data-replay="${replayId}"][data-state="paused"] button[data-action="resume"]`),
      );
      await page.screenshot({ path: path.join(SHOTS, 'dashboard-paused.png'), fullPage: true });
      // Paused: nothing more is produced (the pause stops the producer within about a second).
      await new Promise((r) => setTimeout(r, 3_000));
      const still = await status();
      expect(still.state).toBe('paused');
      expect(still.produced).toBeLessThanOrEqual(paused.produced + 25);
      const settled = still.produced;
      await page.click(`#replays tr[data-replay="${replayId}"] button[data-action="resume"]`);
      await waitFor(
        'the replay producing again',
        async () => {
          const s = await status();
          return s.state === 'running' && s.produced > settled;
        },
        30_000,
      );
    },
    120_000,
  );

  itBrowser(
    'says when the S3 server is down, and recovers when it is back',
    async () => {
      try {
        await stopServices(['s3']);
        await page.waitForSelector('#alerts [data-service="s3"]', { timeout: 15_000 });
        const alert = await page.$eval('#alerts [data-service="s3"]', (e) => e.textContent ?? '');
        expect(alert).toMatch(/S3 \(the lake\) unavailable/);
        // The market cannot be read meanwhile, and the page says why instead of failing silently.
        await page.selectOption('#symbol', 'SAMPLE-DE');
        await page.waitForFunction(
          () => /unavailable/.test(document.querySelector('#series-note')?.textContent ?? ''),
          undefined,
          { timeout: 15_000 },
        );
        await page.screenshot({ path: path.join(SHOTS, 'dashboard-s3-down.png'), fullPage: true });
        // The rest of the page keeps working: the pipeline is still shown.
        expect(await page.$('#sink dl')).not.toBeNull();
      } finally {
        await ensureServices(['s3']);
      }
      await page.waitForFunction(() => document.querySelector('#alerts [data-service="s3"]') === null, undefined, {
        timeout: 20_000,
      });
      await waitFor(
        'the chart of SAMPLE-DE once S3 is back',
        async () => (await pageState(page)).series?.symbol === 'SAMPLE-DE',
        30_000,
      );
      const note = await page.$eval('#series-note', (e) => e.textContent ?? '');
      expect(note).toMatch(/716 ticks of SAMPLE-DE/);
      expect(consoleErrors.filter((e) => !/status of 50[03]/.test(e))).toEqual([]);
    },
    120_000,
  );
});
