/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard page (bundled by esbuild with uPlot when the server starts). It reads the market
 * through the server's fixed queries, follows the pipeline through server-sent events, and refreshes
 * the market when the server says the lake has new data. Data behind the chart is on
 * `window.ticklakeDashboard` for the tests and for anyone curious.
 */
import uPlot from 'uplot';
import type { HeldAnswer, MarketView, SeriesView } from '../server';
import type { PipelineSnapshot, ReplayView, ServiceState, SinkView } from '../pipeline-state';
import type { HistoryView } from '../history';

interface PipelineEvent {
  snapshot: PipelineSnapshot;
  history: HistoryView;
  lakeVersion: number;
}

interface Config {
  allowControl: boolean;
  engine: string;
  table: string;
  maxPoints: number;
  /** The chart to draw first, which the server started reading when it sent the page. */
  symbol?: string;
}

interface DashboardState {
  config?: Config;
  market?: MarketView & HeldAnswer;
  series?: SeriesView & HeldAnswer;
  pipeline?: PipelineEvent;
  /** ms from navigation start to the first chart drawn (maybe an answer read earlier, marked as such). */
  firstChartMs?: number;
  /** ms from navigation start to the first chart drawn from a current answer. */
  firstCurrentChartMs?: number;
  /** Times the chart was drawn, and how long the last drawing took in the page (data in hand), ms. */
  chartDraws: number;
  drawMs?: number;
  lakeVersion: number;
}

const state: DashboardState = { chartDraws: 0, lakeVersion: 0 };
(window as unknown as { ticklakeDashboard: DashboardState }).ticklakeDashboard = state;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

type Child = Node | string | number | null | undefined | false;

/** An element with attributes and children; text is always text (no HTML from data). */
function h(tag: string, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'object' ? c : String(c));
  }
  return e;
}

function fill(id: string, ...children: Child[]): void {
  const e = $(id);
  e.replaceChildren();
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'object' ? c : String(c));
}

const num = (n: number | undefined | null, digits = 0) =>
  n === undefined || n === null || Number.isNaN(n)
    ? ''
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function ago(iso: string | undefined): string {
  if (!iso) return 'never';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 90
    ? `${s.toFixed(0)} s ago`
    : s < 5400
      ? `${(s / 60).toFixed(0)} min ago`
      : new Date(iso).toLocaleString();
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { Accept: 'application/json' } });
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

// Market ---------------------------------------------------------------------------------------------

let chart: uPlot | undefined;
let marketFailed = false;
let marketTried = 0;
let seriesAsked = 0;
/** The latest chart request (symbol and range), and the number of the request whose answer is drawn. */
let seriesWanted = '';
let seriesDrawn = 0;
/** The symbol whose chart is being read, if any. */
let seriesLoading: string | undefined;

const REMEMBERED = 'ticklake.symbol';

/** The symbol shown last time, or the one the server prepared; kept in a cookie too, for the server. */
function rememberedSymbol(): string {
  return localStorage.getItem(REMEMBERED) ?? state.config?.symbol ?? '';
}

function rememberSymbol(symbol: string): void {
  localStorage.setItem(REMEMBERED, symbol);
  document.cookie = `ticklake_symbol=${encodeURIComponent(symbol)}; Path=/; SameSite=Strict; Max-Age=31536000`;
}

/** The symbol shown; before the symbols are known, the one remembered (so both load at once). */
function selectedSymbol(): string {
  return $<HTMLSelectElement>('symbol').value || (state.market ? '' : rememberedSymbol());
}

function daysBefore(day: string, n: number, unit: 'y' | 'm'): string {
  const d = new Date(`${day}T00:00:00Z`);
  if (unit === 'y') d.setUTCFullYear(d.getUTCFullYear() - n);
  else d.setUTCMonth(d.getUTCMonth() - n);
  return d.toISOString().slice(0, 10);
}

/** The range asked for: a preset counts back from the symbol's last day. */
function range(): { from: string; to: string } {
  const preset = $<HTMLSelectElement>('range').value;
  const from = $<HTMLInputElement>('from');
  const to = $<HTMLInputElement>('to');
  if (preset === 'custom') return { from: from.value, to: to.value };
  const last = state.market?.symbols.find((s) => s.symbol === selectedSymbol())?.lastDay;
  const m = /^(\d+)([ym])$/.exec(preset);
  if (!last || !m) {
    from.value = '';
    to.value = '';
    return { from: '', to: '' };
  }
  from.value = daysBefore(last, Number(m[1]), m[2] as 'y' | 'm');
  to.value = last;
  return { from: from.value, to: '' };
}

/** Marks an answer read earlier, drawn while the current one is read (a first visit's). */
function heldNote(heldMs: number): HTMLElement {
  const at = new Date(Date.now() - heldMs).toLocaleTimeString();
  return h('span', { class: 'held' }, `the lake as of ${at} (${num(heldMs / 1000)} s ago), reading it now…`);
}

/**
 * Reads the symbols and the chart again; `refreshing`: the lake changed (else the chart may be current).
 * `held`: an answer read earlier will do while the current one is read (then asked for at once).
 */
async function refreshMarket(refreshing = true, held = false): Promise<void> {
  marketTried = Date.now();
  // A chart over all days or fixed days does not depend on the symbols' last days: both are read at once.
  const preset = $<HTMLSelectElement>('range').value;
  const askedFor = selectedSymbol();
  const alongside =
    refreshing && state.market && (preset === 'all' || preset === 'custom') ? refreshSeries() : undefined;
  try {
    const market = await getJson<MarketView & HeldAnswer>(`/api/market${held ? '?held=1' : ''}`);
    state.market = market;
    marketFailed = false;
    renderSymbols(market);
    fill(
      'market-status',
      market.truncated && `showing ${market.symbols.length} of ${market.totalSymbols} symbols `,
      market.heldMs !== undefined && heldNote(market.heldMs),
    );
    if (market.heldMs !== undefined) void refreshMarket(false);
    const shown = selectedSymbol();
    if (alongside && shown === askedFor) return await alongside;
    if (!refreshing && (state.series?.symbol === shown || seriesLoading === shown)) return;
    await refreshSeries();
  } catch (err) {
    marketFailed = true;
    fill('market-status', h('span', { class: 'unavailable' }, (err as Error).message));
  }
}

function renderSymbols(market: MarketView): void {
  const select = $<HTMLSelectElement>('symbol');
  const current = select.value || rememberedSymbol();
  const names = market.symbols.map((s) => s.symbol);
  if (names.join('\n') !== [...select.options].map((o) => o.value).join('\n')) {
    select.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    select.value = names.includes(current) ? current : (names[0] ?? '');
  }
  const rows = market.symbols.map((s) => {
    const dir = s.change === null ? '' : s.change >= 0 ? 'up' : 'down';
    return h(
      'tr',
      { class: s.symbol === select.value ? 'selected' : undefined, 'data-symbol': s.symbol },
      h('td', {}, s.symbol),
      h('td', {}, s.lastDay),
      h('td', {}, num(s.close, 2)),
      h('td', { class: dir }, s.change === null ? '' : `${s.change >= 0 ? '+' : ''}${num(s.change, 2)}`),
      h('td', { class: dir }, s.changePct === null ? '' : `${s.changePct >= 0 ? '+' : ''}${num(s.changePct, 2)}%`),
      h('td', {}, num(s.ticks)),
    );
  });
  $('latest')
    .querySelector('tbody')!
    .replaceChildren(...rows);
}

async function refreshSeries(held = false): Promise<void> {
  const symbol = selectedSymbol();
  if (!symbol) {
    fill('series-note', 'the lake has no ticks yet: start a replay (npx ticklake replay start <file>)');
    return;
  }
  const { from, to } = range();
  const asked = ++seriesAsked;
  const q = new URLSearchParams({ symbol, from, to }).toString();
  seriesWanted = q;
  seriesLoading = symbol;
  try {
    const s = await getJson<SeriesView & HeldAnswer>(`/api/series?${q}${held ? '&held=1' : ''}`).finally(() => {
      if (asked === seriesAsked) seriesLoading = undefined;
    });
    // Another chart was asked for since, or a newer answer is drawn already. (An answer to the same
    // request as the latest is drawn: the newer one, on its way, replaces it.)
    if (q !== seriesWanted || asked < seriesDrawn) return;
    seriesDrawn = asked;
    state.series = s;
    rememberSymbol(s.symbol);
    drawChart(s);
    fill(
      'series-note',
      s.note ??
        `${num(s.points)} ticks of ${s.symbol}${s.days.length ? ` from ${s.days[0]} to ${s.days[s.days.length - 1]}` : ''}`,
      s.heldMs !== undefined && ' · ',
      s.heldMs !== undefined && heldNote(s.heldMs),
    );
    if (s.heldMs !== undefined) void refreshSeries();
  } catch (err) {
    marketFailed = true;
    if (asked === seriesAsked) fill('series-note', h('span', { class: 'unavailable' }, (err as Error).message));
  }
}

const toSeconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

function drawChart(s: SeriesView & HeldAnswer): void {
  const t0 = performance.now();
  const el = $('chart');
  const data: uPlot.AlignedData = [s.days.map(toSeconds), s.close, s.high, s.low];
  const width = Math.max(300, el.clientWidth || 700);
  if (chart && chart.series[1].label === s.symbol) {
    chart.setData(data);
  } else {
    chart?.destroy();
    chart = new uPlot(
      {
        width,
        height: 320,
        series: [
          {},
          { label: s.symbol, stroke: '#1f5fa8', width: 1.5 },
          { label: 'high', stroke: 'rgba(31,95,168,0.25)', width: 1 },
          { label: 'low', stroke: 'rgba(31,95,168,0.25)', width: 1 },
        ],
        bands: [{ series: [2, 3], fill: 'rgba(31,95,168,0.12)' }],
        scales: { x: { time: true } },
        axes: [{}, { size: 70 }],
      },
      data,
      el,
    );
  }
  state.chartDraws++;
  state.drawMs = performance.now() - t0;
  state.firstChartMs ??= performance.now();
  if (s.heldMs === undefined) state.firstCurrentChartMs ??= performance.now();
}

// Pipeline -------------------------------------------------------------------------------------------

function link(href: string, text: string): HTMLElement {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer', title: 'open in the Temporal Web UI' }, text);
}

function unavailable(reason: string): HTMLElement {
  return h('span', { class: 'unavailable' }, reason);
}

function renderServices(services: ServiceState[]): void {
  fill('services', ...services.map((s) => h('li', { class: s.ok ? 'ok' : 'bad', title: s.detail }, s.label)));
  const down = services.filter((s) => !s.ok);
  fill('alerts', ...down.map((s) => h('div', { 'data-service': s.name }, `${s.label} unavailable: ${s.detail}`)));
}

async function send(action: string, body: Record<string, string>): Promise<string> {
  const res = await fetch(`/api/replays/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Ticklake-Dashboard': '1' },
    body: JSON.stringify(body),
  });
  const out = (await res.json()) as { error?: string; state?: string; speed?: string };
  if (!res.ok) throw new Error(out.error ?? res.statusText);
  return out.state ?? `speed ${out.speed ?? ''}`;
}

function controls(r: ReplayView): HTMLElement | string {
  if (!state.config?.allowControl) return '';
  const note = h('span', { class: 'muted' });
  const act = (action: string, body: Record<string, string>) => {
    note.textContent = '…';
    send(action, body).then(
      (t) => (note.textContent = t),
      (err: unknown) => (note.textContent = (err as Error).message),
    );
  };
  const paused = r.state === 'paused';
  const button = h(
    'button',
    { type: 'button', 'data-action': paused ? 'resume' : 'pause', 'data-replay': r.replayId },
    paused ? 'resume' : 'pause',
  );
  button.addEventListener('click', () => act(paused ? 'resume' : 'pause', { id: r.workflowId }));
  const speed = h('input', {
    class: 'speed',
    placeholder: r.speed ?? 'max',
    'aria-label': `speed of ${r.replayId}`,
  }) as HTMLInputElement;
  const set = h('button', { type: 'button', 'data-action': 'speed', 'data-replay': r.replayId }, 'set speed');
  set.addEventListener('click', () => act('speed', { id: r.workflowId, speed: speed.value || 'max' }));
  return h('span', {}, button, ' ', speed, set, ' ', note);
}

function renderReplays(p: PipelineSnapshot['replays']): void {
  if (!p.ok) return fill('replays', unavailable(p.reason));
  if (p.value.length === 0) return fill('replays', h('span', { class: 'muted' }, 'none running'));
  fill(
    'replays',
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h('tr', {}, ...['replay', 'state', 'speed', 'position', 'line', 'rows/s', ''].map((t) => h('th', {}, t))),
      ),
      h(
        'tbody',
        {},
        ...p.value.map((r) =>
          h(
            'tr',
            { 'data-replay': r.replayId, 'data-state': r.state },
            h('td', {}, link(r.link, r.replayId)),
            h('td', { title: r.failure }, r.failure ? `${r.state}: ${r.failure}` : r.state),
            h('td', {}, r.speed ?? ''),
            h('td', {}, num(r.position)),
            h('td', {}, num(r.line)),
            h('td', {}, num(r.rate)),
            h('td', { class: 'controls' }, controls(r)),
          ),
        ),
      ),
    ),
  );
}

function renderSink(p: PipelineSnapshot['sink'], history: HistoryView): void {
  if (!p.ok) return fill('sink', unavailable(p.reason));
  const s: SinkView | null = p.value;
  if (!s) return fill('sink', h('span', { class: 'muted' }, 'not running (npx ticklake sink start)'));
  const rate = history.rate.length ? history.rate[history.rate.length - 1].value : undefined;
  const dl = h(
    'dl',
    {},
    h('dt', {}, 'workflow'),
    h('dd', {}, link(s.link, s.workflowId)),
    h('dt', {}, 'state'),
    h('dd', {}, s.failure ? `${s.state}: ${s.failure}` : s.state),
    h('dt', {}, 'records/s'),
    h('dd', { 'data-field': 'rate' }, rate === undefined ? '' : num(rate)),
    h('dt', {}, 'records written'),
    h('dd', {}, num(s.records)),
    h('dt', {}, 'freshness p50 / p99'),
    h(
      'dd',
      {},
      history.flushesSeen
        ? `${num(history.freshnessP50)} / ${num(history.freshnessP99)} ms over ${history.flushesSeen} flushes seen`
        : 'no flush seen yet',
    ),
    h('dt', {}, 'last flush'),
    h('dd', {}, ago(s.lastFlushAt)),
    h('dt', {}, 'dead letters'),
    h('dd', {}, num(s.deadLetters)),
  );
  const lag = s.partitions.length
    ? h(
        'table',
        {},
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, 'partition'), h('th', {}, `lag (${s.lagSource === 'sink' ? 'sink' : 'broker'})`)),
        ),
        h('tbody', {}, ...s.partitions.map((x) => h('tr', {}, h('td', {}, x.partition), h('td', {}, x.lag)))),
      )
    : null;
  fill('sink', dl, lag);
}

function renderCrawl(p: PipelineSnapshot['crawl']): void {
  if (!p.ok) return fill('crawl', unavailable(p.reason));
  const c = p.value;
  if (!c) return fill('crawl', h('span', { class: 'muted' }, 'no crawl yet (npx ticklake crawl now)'));
  const last = c.lastCrawl;
  fill(
    'crawl',
    h(
      'dl',
      {},
      h('dt', {}, 'workflow'),
      h('dd', {}, link(c.link, c.workflowId)),
      h('dt', {}, 'state'),
      h('dd', {}, c.state),
      h('dt', {}, 'last crawl'),
      h(
        'dd',
        {},
        last
          ? `${last.scan}: ${last.partitionsFound} partitions seen, ${last.partitionsAdded} added, ${last.durationMs} ms`
          : c.state === 'running'
            ? 'none yet'
            : `the workflow is ${c.state}`,
      ),
      c.partitionsRegistered !== undefined && h('dt', {}, 'from sink notices'),
      c.partitionsRegistered !== undefined && h('dd', {}, `${c.partitionsRegistered} partitions registered`),
      c.lastError && h('dt', {}, 'last error'),
      c.lastError && h('dd', { class: 'unavailable' }, c.lastError),
    ),
  );
}

function renderCompaction(p: PipelineSnapshot['compaction']): void {
  if (!p.ok) return fill('compaction', unavailable(p.reason));
  const c = p.value;
  if (!c) return fill('compaction', h('span', { class: 'muted' }, 'no compaction yet'));
  fill('compaction', link(c.link, c.workflowId), ` ${c.state}`, c.summary ? `: ${c.summary}` : '');
}

function renderSchedules(p: PipelineSnapshot['schedules']): void {
  if (!p.ok) return fill('schedules', unavailable(p.reason));
  if (p.value.length === 0)
    return fill('schedules', h('span', { class: 'muted' }, 'none (npx ticklake schedule create)'));
  fill(
    'schedules',
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', {}, 'schedule'), h('th', {}, 'workflow'), h('th', {}, 'next run'))),
      h(
        'tbody',
        {},
        ...p.value.map((s) =>
          h(
            'tr',
            {},
            h('td', {}, link(s.link, s.scheduleId)),
            h('td', {}, s.workflowType),
            h('td', {}, s.paused ? 'paused' : s.next[0] ? new Date(s.next[0]).toLocaleTimeString() : ''),
          ),
        ),
      ),
    ),
  );
}

const sparks = new Map<string, uPlot>();

function spark(id: string, points: { at: number; value: number }[], stroke: string): void {
  const data: uPlot.AlignedData = [points.map((p) => p.at / 1000), points.map((p) => p.value)];
  const existing = sparks.get(id);
  if (existing) return existing.setData(data);
  sparks.set(
    id,
    new uPlot(
      {
        width: 260,
        height: 90,
        legend: { show: false },
        cursor: { show: false },
        series: [{}, { stroke, width: 1.5, fill: `${stroke}22` }],
        axes: [{ show: false }, { size: 50, font: '10px system-ui' }],
      },
      data,
      $(id),
    ),
  );
}

function renderPipeline(e: PipelineEvent): void {
  state.pipeline = e;
  const snap = e.snapshot;
  renderServices(snap.services);
  renderReplays(snap.replays);
  renderSink(snap.sink, e.history);
  renderCrawl(snap.crawl);
  renderCompaction(snap.compaction);
  renderSchedules(snap.schedules);
  spark('spark-rate', e.history.rate, '#1f5fa8');
  spark('spark-freshness', e.history.freshness, '#b36b00');
  // The market could not be read while a service was down: read it again once they are all back.
  if (marketFailed && Date.now() - marketTried > 3_000 && snap.services.every((s) => s.ok || s.name === 'kafka')) {
    void refreshMarket();
  }
}

// Start ------------------------------------------------------------------------------------------------

async function start(): Promise<void> {
  state.config = await getJson<Config>('/api/config');
  fill('engine', `${state.config.table} on ${state.config.engine}`);
  $('symbol').addEventListener('change', () => {
    if (state.market) renderSymbols(state.market);
    void refreshSeries();
  });
  $('range').addEventListener('change', () => void refreshSeries());
  for (const id of ['from', 'to']) {
    $(id).addEventListener('change', () => {
      $<HTMLSelectElement>('range').value = 'custom';
      void refreshSeries();
    });
  }
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => fill('connection', 'live'));
  events.addEventListener('error', () =>
    fill('connection', h('span', { class: 'unavailable' }, 'dashboard server unreachable; retrying')),
  );
  events.addEventListener('pipeline', (m) =>
    renderPipeline(JSON.parse((m as MessageEvent<string>).data) as PipelineEvent),
  );
  events.addEventListener('lake', (m) => {
    state.lakeVersion = (JSON.parse((m as MessageEvent<string>).data) as { lakeVersion: number }).lakeVersion;
    void refreshMarket();
  });
  // The chart of the symbol shown last time (or prepared by the server) loads beside the symbols.
  // Both may be answers read earlier (by the server's warm-up), marked as such while it reads them now.
  const first = rememberedSymbol() ? refreshSeries(true) : Promise.resolve();
  await Promise.all([refreshMarket(false, true), first]);
}

void start();
