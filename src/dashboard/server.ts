/**
 * The dashboard's HTTP server (`npx ticklake dashboard`, or the worker with TICKLAKE_DASHBOARD_PORT):
 * the page, its JSON endpoints, a server-sent event stream of the pipeline's state, and (only with
 * `allowControl`) the replay controls, which send what `npx ticklake replay pause|resume|speed` sends.
 *
 * Safe by default: it listens on 127.0.0.1 and answers only requests addressed to a loopback name
 * (no DNS rebinding); off loopback it needs a token. The page can run no SQL of its own: the market
 * endpoints run the fixed statements of ./market.ts with bound values. While a page is open the
 * server samples the pipeline every second; with none open it only keeps the engine warm: every
 * `warmMs` it asks the sink whether it wrote, and when it did runs the market statement and the
 * statement of the chart a page draws first, so that a first visit does not wait for the engine to
 * fetch what the sink wrote meanwhile. A request for the page itself starts its two queries at once
 * (answers younger than a few seconds are reused, as with a page open): the page's script, which asks
 * for them, then finds them under way or answered.
 */
import http from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { TicklakeConfig } from '../config';
import { startQuery } from '../pipeline';
import type { QueryResult } from '../../activities/types';
import { setReplaySpeed, steerReplay } from '../cli/replay-commands';
import { buildAssets, type Asset } from './assets';
import { SinkHistory } from './history';
import { SYMBOL_PATTERN } from '../tick';
import {
  aggregateSql,
  EARLIEST_DAY,
  granularityFor,
  LATEST_DAY,
  marketSql,
  seriesRequest,
  symbolRows,
  ticksSql,
  toSeries,
  type Series,
  type SeriesRequest,
  type SymbolRow,
} from './market';
import { isLoopback, type DashboardOptions } from './options';
import { PipelineReader, withTimeout, type PipelineSnapshot, type ServiceState } from './pipeline-state';

export interface DashboardLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

export interface RunningDashboard {
  /** The page's address, e.g. http://127.0.0.1:8300/ (with the token when one is set). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** An answer the page can show as it is: what is unavailable and why. */
class Unavailable extends Error {
  override name = 'Unavailable';
}

/** How long a market query may take before the page is told so (the query workflow is cancelled). */
const QUERY_TIMEOUT_MS = 30_000;
const COOKIE = 'ticklake_dashboard';
/** The symbol a page drew last, which it draws first on its next visit (the page sets it). */
const SYMBOL_COOKIE = 'ticklake_symbol';

interface SseClient {
  res: http.ServerResponse;
}

export interface MarketView {
  symbols: SymbolRow[];
  /** Symbols in the lake, when the answer holds fewer than all of them. */
  totalSymbols: number;
  truncated: boolean;
  engine: string;
}

export type SeriesView = Series & { points: number; note?: string; truncated: boolean };

/**
 * Set on an answer read earlier, sent to a first visit while the current one is read: how old it is
 * (ms since its query started). The page says so and asks again.
 */
export interface HeldAnswer {
  heldMs?: number;
}

interface CacheEntry {
  version: number;
  at: number;
  value: Promise<unknown>;
  done: boolean;
}

/** How old an answer may be and still be drawn while the current one is read (then marked as such). */
const HELD_MAX_MS = 10 * 60_000;

export class DashboardServer {
  private readonly reader: PipelineReader;
  private readonly history = new SinkHistory();
  private readonly clients = new Set<SseClient>();
  private assets?: Map<string, Asset>;
  private snapshot?: PipelineSnapshot;
  private lakeVersion = 0;
  private lastCrawlCount?: number;
  private lakeChanged = false;
  private lastLakeEvent = 0;
  /** Per chart request: whether the range held more ticks than a chart draws (the lake only grows). */
  private readonly aggregated = new Map<string, boolean>();
  private sampling?: Promise<void>;
  private warming?: NodeJS.Timeout;
  private warmedAtRecords?: number;
  private warmedLookAt = 0;
  /** The latest market answer (maybe older than the lake): symbols, and a count each that only grows. */
  private heldMarket?: MarketView;
  /** The symbol the last visit drew first: the chart the warm-up prepares. */
  private pageSymbol?: string;
  private readonly cache = new Map<string, CacheEntry>();
  /** The latest answer of each statement and when its query started: what a first visit draws, marked, meanwhile. */
  private readonly held = new Map<string, { at: number; value: unknown }>();
  private server?: http.Server;
  /** Query workflows started and not answered yet: cancelled when the server closes. */
  private readonly pending = new Set<Promise<unknown>>();
  private closing = false;
  private markClosed!: () => void;
  private readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(
    private readonly config: TicklakeConfig,
    private readonly client: () => Promise<Client>,
    readonly options: DashboardOptions,
    private readonly log: DashboardLogger,
  ) {
    this.reader = new PipelineReader(config, client, options);
  }

  async start(): Promise<RunningDashboard> {
    this.assets = await buildAssets();
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.warn('dashboard request failed', { url: req.url, error: (err as Error).message });
        if (!res.headersSent) this.json(res, 500, { error: (err as Error).message });
        else res.end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    // The first page then finds the symbols ready (the answer is kept until the lake changes).
    this.market().catch(() => undefined);
    this.scheduleWarm();
    const port = (server.address() as AddressInfo).port;
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    const url = `http://${host}:${port}/${this.options.token ? `?token=${this.options.token}` : ''}`;
    return { url, port, close: () => this.close() };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.warming);
    this.markClosed();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    await this.sampling;
    await Promise.allSettled([...this.pending]);
    await this.reader.close();
  }

  // Requests ---------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (!this.hostAllowed(req)) return this.json(res, 421, { error: 'this dashboard answers only at its own address' });
    if (this.options.token) {
      const given = url.searchParams.get('token');
      if (given !== null && url.pathname === '/' && this.tokenMatches(given)) {
        // Keep the token in a cookie of this origin and take it out of the address bar.
        res.setHeader('Set-Cookie', `${COOKIE}=${given}; HttpOnly; SameSite=Strict; Path=/`);
        res.writeHead(303, { Location: '/' }).end();
        return;
      }
      if (!this.tokenMatches(this.presentedToken(req))) {
        return this.json(res, 401, { error: 'open the page with ?token=<the dashboard token>' });
      }
    }
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    switch (route) {
      case 'GET /':
        this.prepareFirstChart(req);
        return this.serveAsset(req, res, this.assets!.get(url.pathname)!);
      case 'GET /app.js':
      case 'GET /app.css':
        return this.serveAsset(req, res, this.assets!.get(url.pathname)!);
      case 'GET /api/config':
        return this.json(res, 200, {
          allowControl: this.options.allowControl,
          engine: this.config.query.engine,
          table: `${this.config.glue.database}.${this.config.glue.table}`,
          maxPoints: this.options.maxPoints,
          sampleMs: this.options.sampleMs,
          // The chart to draw first, before the symbols are known: the one prepared by the request for the page.
          symbol: this.firstSymbol(req),
        });
      case 'GET /api/market':
        return this.answer(res, () => this.orHeld('market', this.market(), url.searchParams.get('held') === '1'));
      case 'GET /api/series': {
        let request: SeriesRequest;
        try {
          request = seriesRequest(url.searchParams);
        } catch (err) {
          return this.json(res, 400, { error: (err as Error).message });
        }
        return this.answer(res, () =>
          this.orHeld(seriesKey(request), this.series(request), url.searchParams.get('held') === '1'),
        );
      }
      case 'GET /api/pipeline':
        return this.json(res, 200, {
          snapshot: this.snapshot ?? (await this.reader.read()),
          history: this.history.view(),
        });
      case 'GET /api/events':
        return this.events(req, res);
      case 'POST /api/replays/pause':
      case 'POST /api/replays/resume':
      case 'POST /api/replays/speed':
        return this.control(req, res, url.pathname.split('/').pop() as 'pause' | 'resume' | 'speed');
      default:
        return this.json(res, 404, { error: `no such page: ${url.pathname}` });
    }
  }

  /** On loopback, only requests addressed to a loopback name: a page of another site cannot rebind its name to us. */
  private hostAllowed(req: http.IncomingMessage): boolean {
    if (!isLoopback(this.options.host)) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    return isLoopback(host);
  }

  private presentedToken(req: http.IncomingMessage): string {
    const auth = req.headers.authorization ?? '';
    if (auth.startsWith('Bearer ')) return auth.slice(7);
    return cookieValue(req, COOKIE) ?? '';
  }

  /**
   * The symbol a page draws first: the one it drew last (its cookie) while the lake holds it, else the
   * first of the latest market answer; none before the server has read the market once.
   */
  private firstSymbol(req?: http.IncomingMessage): string | undefined {
    let remembered = req ? cookieValue(req, SYMBOL_COOKIE) : this.pageSymbol;
    try {
      remembered = remembered === undefined ? undefined : decodeURIComponent(remembered);
    } catch {
      remembered = undefined;
    }
    const known = this.heldMarket?.symbols;
    const symbol =
      remembered && SYMBOL_PATTERN.test(remembered) && (!known || known.some((s) => s.symbol === remembered))
        ? remembered
        : known?.[0]?.symbol;
    if (req) this.pageSymbol = symbol;
    return symbol;
  }

  /**
   * A request for the page: starts the queries its script will ask for (the symbols, and the chart it
   * draws first over its default range, all days), so that they run while the browser loads the script.
   */
  private prepareFirstChart(req: http.IncomingMessage): void {
    if (this.closing) return;
    this.market().catch(() => undefined);
    const symbol = this.firstSymbol(req);
    if (symbol) this.series({ symbol, from: EARLIEST_DAY, to: LATEST_DAY }).catch(() => undefined);
  }

  private tokenMatches(given: string): boolean {
    const want = Buffer.from(this.options.token ?? '');
    const got = Buffer.from(given);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private serveAsset(req: http.IncomingMessage, res: http.ServerResponse, a: Asset): void {
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    res.setHeader('ETag', a.etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304).end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, {
      'Content-Type': a.type,
      'Content-Length': gzip ? a.gzip.length : a.body.length,
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
      Vary: 'Accept-Encoding',
    });
    res.end(gzip ? a.gzip : a.body);
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(text);
  }

  private async answer(res: http.ServerResponse, produce: () => Promise<unknown>): Promise<void> {
    try {
      this.json(res, 200, await produce());
    } catch (err) {
      const unavailable = err instanceof Unavailable;
      this.json(res, unavailable ? 503 : 500, { error: (err as Error).message, unavailable });
    }
  }

  // Market -----------------------------------------------------------------------------------------

  /** Why the market cannot be read now, from the latest sample (or a look at the services a query needs). */
  private async marketBlocked(): Promise<string | undefined> {
    const fresh = this.snapshot && Date.now() - Date.parse(this.snapshot.at) < 5_000;
    const services: ServiceState[] = fresh ? this.snapshot!.services : await this.reader.queryServices();
    const down = services.filter((s) => !s.ok && s.name !== 'kafka');
    if (down.length === 0) return undefined;
    return down.map((s) => `${s.label} unavailable: ${s.detail}`).join('; ');
  }

  /** A fixed statement through the query workflow; answers are kept until the lake changes. */
  private cached<T>(key: string, produce: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    // Without a page open nothing watches the lake: keep answers a few seconds only.
    const live = this.sampling !== undefined;
    if (hit && hit.version === this.lakeVersion && (live || Date.now() - hit.at < 5_000))
      return hit.value as Promise<T>;
    const at = Date.now();
    const value = produce();
    const entry: CacheEntry = { version: this.lakeVersion, at, value, done: false };
    this.cache.set(key, entry);
    value.then(
      (v) => {
        entry.done = true;
        this.held.delete(key);
        this.held.set(key, { at, value: v });
        if (this.held.size > 200) this.held.delete(this.held.keys().next().value!);
      },
      () => {
        if (this.cache.get(key) === entry) this.cache.delete(key);
      },
    );
    if (this.cache.size > 200) this.cache.delete(this.cache.keys().next().value!);
    return value;
  }

  /**
   * With `acceptHeld` (a page's first requests), while the current answer is still being read: the
   * latest earlier one, with its age, which the page draws marked as such and then asks again.
   */
  private orHeld<T>(key: string, current: Promise<T>, acceptHeld: boolean): Promise<T & HeldAnswer> {
    const entry = this.cache.get(key);
    const held = this.held.get(key);
    if (acceptHeld && held && entry && !entry.done && Date.now() - held.at < HELD_MAX_MS) {
      current.catch(() => undefined);
      return Promise.resolve({ ...(held.value as T), heldMs: Date.now() - held.at });
    }
    return current as Promise<T & HeldAnswer>;
  }

  /** A fixed statement through the query workflow; waited for (or cancelled) when the server closes. */
  private query(sql: string, params: (string | number)[], maxRows: number, checkServices = true): Promise<QueryResult> {
    const p = this.runQuery(sql, params, maxRows, checkServices);
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  private async runQuery(
    sql: string,
    params: (string | number)[],
    maxRows: number,
    checkServices = true,
  ): Promise<QueryResult> {
    // The look at the services runs beside the query, not before it: a visit waits for the longer of
    // the two, not for both. When it finds a service down, the query is cancelled and the page told why.
    const blocked = checkServices ? this.marketBlocked() : Promise.resolve(undefined);
    let h: Awaited<ReturnType<typeof startQuery>>;
    try {
      const c = await this.client();
      const id = `dashboard-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      if (this.closing) throw new Unavailable('the dashboard is closing');
      h = await startQuery(c, this.config, sql, params, { id, maxRows, maxBytes: 1024 * 1024 });
    } catch (err) {
      const why = await blocked.catch(() => undefined);
      throw why ? new Unavailable(`market data unavailable: ${why}`) : err;
    }
    try {
      const why = await blocked;
      if (why) throw new Unavailable(`market data unavailable: ${why}`);
      return await Promise.race([
        withTimeout('the market query', QUERY_TIMEOUT_MS, h.result()),
        this.closed.then(() => {
          throw new Unavailable('the dashboard is closing');
        }),
      ]);
    } catch (err) {
      await h.cancel().catch(() => undefined);
      if (err instanceof Unavailable) throw err;
      const blockedNow = await this.marketBlocked().catch(() => undefined);
      throw blockedNow ? new Unavailable(`market data unavailable: ${blockedNow}`) : err;
    }
  }

  async market(checkServices = true): Promise<MarketView> {
    return this.cached('market', async () => {
      const r = await this.query(marketSql(this.config.glue.table), [], 10_000, checkServices);
      const view: MarketView = {
        symbols: symbolRows(r.rows),
        totalSymbols: r.rowCount,
        truncated: r.truncated,
        engine: this.config.query.engine,
      };
      this.heldMarket = view;
      return view;
    });
  }

  async series(req: SeriesRequest, checkServices = true): Promise<SeriesView> {
    const key = seriesKey(req);
    return this.cached(key, async () => {
      const max = this.options.maxPoints;
      const table = this.config.glue.table;
      const params = [req.symbol, req.from, req.to];
      // A range found too long once stays so (ticks are only added): aggregate at once. So does a range
      // over all the days of a symbol that held more ticks than a chart draws in the latest market answer.
      const held = this.heldMarket?.symbols.find((s) => s.symbol === req.symbol);
      if (held && held.ticks > max && req.from <= held.firstDay && req.to >= held.lastDay) {
        if (this.aggregated.size > 500) this.aggregated.clear();
        this.aggregated.set(key, true);
      }
      let first: string | undefined;
      if (!this.aggregated.get(key)) {
        const ticks = await this.query(ticksSql(table, max + 1), params, max + 1, checkServices);
        if (ticks.rows.length <= max && !ticks.truncated) {
          const s = toSeries(req, 'tick', ticks.rows);
          return { ...s, points: s.days.length, truncated: false };
        }
        if (this.aggregated.size > 500) this.aggregated.clear();
        this.aggregated.set(key, true);
        first = String(ticks.rows[0][0]).slice(0, 10);
      }
      // Too many ticks to draw one by one: one point per period, computed by the engine, the period
      // chosen from the symbol's days in the latest market answer. That answer may be a few seconds
      // older than the lake: when its days give more periods than a chart draws, once more with the
      // market read now.
      const aggregate = async (market: MarketView | undefined) => {
        const known = market?.symbols.find((s) => s.symbol === req.symbol);
        const from = first ?? known?.firstDay ?? req.from;
        const last = known && known.lastDay < req.to ? known.lastDay : req.to;
        const g = granularityFor(from > req.from ? from : req.from, last, max);
        return { g, agg: await this.query(aggregateSql(table, g), params, max, checkServices) };
      };
      const fresh = () => this.market(checkServices).catch(() => undefined);
      const heldMarket = this.heldMarket;
      let { g, agg } = await aggregate(heldMarket ?? (await fresh()));
      if (agg.truncated && heldMarket) ({ g, agg } = await aggregate(await fresh()));
      const s = toSeries(req, g, agg.rows);
      return {
        ...s,
        points: s.days.length,
        truncated: agg.truncated,
        note: agg.truncated
          ? `showing the first ${s.days.length} of ${agg.rowCount} ${g}ly points: choose a shorter range`
          : `${s.ticks} ticks, one point per ${g} (more than ${max} ticks in the range)`,
      };
    });
  }

  // Pipeline and events ----------------------------------------------------------------------------

  private events(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n`);
    const client: SseClient = { res };
    this.clients.add(client);
    req.on('close', () => this.clients.delete(client));
    if (this.snapshot) this.send(client, 'pipeline', this.pipelineEvent());
    this.sampling ??= this.sample().finally(() => (this.sampling = undefined));
  }

  private pipelineEvent() {
    return { snapshot: this.snapshot, history: this.history.view(), lakeVersion: this.lakeVersion };
  }

  private send(c: SseClient, event: string, data: unknown): void {
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(event: string, data: unknown): void {
    for (const c of this.clients) this.send(c, event, data);
  }

  /** With no page open: when the sink wrote since the last look, the market statement once (see the header). */
  private scheduleWarm(): void {
    if (this.options.warmMs <= 0 || this.closing) return;
    this.warming = setTimeout(() => {
      void this.warm().finally(() => this.scheduleWarm());
    }, this.options.warmMs);
    this.warming.unref();
  }

  private async warm(): Promise<void> {
    if (this.clients.size > 0 || this.closing) return;
    try {
      const lookedAt = Date.now();
      const records = await this.reader.sinkRecords();
      if (records === undefined) return;
      if (records === this.warmedAtRecords) {
        // Nothing written since the look before the last warm-up: answers read after it are still the
        // lake's. Only on the local engine, which lists the lake's objects itself; Athena reads the
        // partitions the crawl has registered, which may come after the sink's write.
        if (this.config.query.engine === 'duckdb') {
          for (const e of this.cache.values()) {
            if (e.done && e.version === this.lakeVersion && e.at >= this.warmedLookAt) e.at = lookedAt;
          }
        }
        return;
      }
      // The market statement reads every object, so the engine fetches and converts what the sink wrote,
      // and a page opened in the next seconds finds its answer, and that of the chart it draws first. No
      // look at the other services first (a page does that): a failure is tried again at the next look.
      this.cache.delete('market');
      await this.market(false);
      const symbol = this.firstSymbol();
      if (symbol) {
        this.cache.delete(seriesKey({ symbol, from: EARLIEST_DAY, to: LATEST_DAY }));
        await this.series({ symbol, from: EARLIEST_DAY, to: LATEST_DAY }, false);
      }
      this.warmedAtRecords = records;
      this.warmedLookAt = lookedAt;
    } catch {
      // No sink, or a service down: the next look tries again; a page says what is wrong.
    }
  }

  /** Samples the pipeline while a page is open; tells the pages when the lake has new data. */
  private async sample(): Promise<void> {
    while (this.clients.size > 0) {
      const started = Date.now();
      try {
        const snap = await this.reader.read();
        this.snapshot = snap;
        let changed = false;
        const sink = snap.sink.ok ? snap.sink.value : null;
        if (sink && sink.records !== undefined) {
          changed = this.history.add({
            at: Date.parse(snap.at),
            records: sink.records,
            lastFlushAt: sink.lastFlushAt,
            lastFreshnessMs: sink.lastFreshnessMs,
          });
        }
        // A crawl that registers partitions makes older data visible too.
        const crawls = snap.crawl.ok ? snap.crawl.value?.partitionsRegistered : undefined;
        if (crawls !== undefined && this.lastCrawlCount !== undefined && crawls !== this.lastCrawlCount) changed = true;
        if (crawls !== undefined) this.lastCrawlCount = crawls;
        // Each lake event costs the pages' queries: at most one per refresh interval, none lost.
        this.lakeChanged ||= changed;
        if (this.lakeChanged && Date.now() - this.lastLakeEvent >= this.options.refreshMs) {
          this.lakeChanged = false;
          this.lastLakeEvent = Date.now();
          this.lakeVersion++;
          this.broadcast('lake', { lakeVersion: this.lakeVersion, at: snap.at });
        }
        this.broadcast('pipeline', this.pipelineEvent());
      } catch (err) {
        this.log.warn('dashboard could not sample the pipeline', { error: (err as Error).message });
      }
      const wait = this.options.sampleMs - (Date.now() - started);
      if (wait > 0 && this.clients.size > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  // Control ----------------------------------------------------------------------------------------

  private async control(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    action: 'pause' | 'resume' | 'speed',
  ): Promise<void> {
    if (!this.options.allowControl) {
      return this.json(res, 403, { error: 'read-only dashboard: start it with --allow-control to steer replays' });
    }
    // A form or image of another site cannot send this header or this type without the browser asking first.
    const origin = req.headers.origin;
    const own = `http://${req.headers.host ?? ''}`;
    if (
      req.headers['x-ticklake-dashboard'] !== '1' ||
      !String(req.headers['content-type'] ?? '').startsWith('application/json') ||
      (origin !== undefined && origin !== own)
    ) {
      return this.json(res, 403, { error: 'controls are sent by the dashboard page only' });
    }
    const body = await readBody(req, 4096);
    let input: { id?: unknown; speed?: unknown };
    try {
      input = JSON.parse(body) as typeof input;
    } catch {
      return this.json(res, 400, { error: 'the body must be JSON: {"id": "<replay id>"}' });
    }
    if (typeof input.id !== 'string' || !/^[\w.:/=^-]{1,200}$/.test(input.id)) {
      return this.json(res, 400, { error: 'id must be a replay id or a workflow id replay/<id>' });
    }
    const c = await this.client();
    try {
      if (action === 'speed') {
        if (typeof input.speed !== 'string')
          return this.json(res, 400, { error: 'speed must be max, <n>rows or <n>days' });
        const out = await setReplaySpeed(c, input.id, input.speed);
        this.log.info('dashboard set a replay speed', { workflowId: out.workflowId, speed: out.described });
        return this.json(res, 200, { workflowId: out.workflowId, speed: out.described });
      }
      const out = await steerReplay(c, input.id, action);
      this.log.info(`dashboard ${out.state} a replay`, { workflowId: out.workflowId });
      return this.json(res, 200, out);
    } catch (err) {
      return this.json(res, 400, { error: (err as Error).message });
    }
  }
}

function seriesKey(req: SeriesRequest): string {
  return `series ${req.symbol} ${req.from} ${req.to}`;
}

function cookieValue(req: http.IncomingMessage, name: string): string | undefined {
  const cookies = (req.headers.cookie ?? '').split(';').map((c) => c.trim());
  return cookies.find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1);
}

function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error(`request body over ${max} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts a dashboard server; `client` gives the Temporal client it shares with its host (CLI or worker). */
export async function startDashboard(
  config: TicklakeConfig,
  client: () => Promise<Client>,
  options: DashboardOptions,
  log: DashboardLogger,
): Promise<RunningDashboard> {
  return new DashboardServer(config, client, options, log).start();
}
