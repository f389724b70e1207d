/**
 * The only SQL the dashboard runs: fixed statements whose values (symbol, dates) are bound to `?`
 * placeholders, never spliced in. They run through the query workflow on the configured engine, and
 * read the same in DuckDB and Athena (Trino). Pure: statements, checks and the shaping of results.
 */
import { SYMBOL_PATTERN } from '../tick';

const TABLE = /^[a-z0-9_]+$/;

/** The table name, checked as GLUE_TABLE is: the one name the statements take from configuration. */
function tableName(table: string): string {
  if (!TABLE.test(table)) throw new Error(`'${table}' is not a table name (lowercase letters, digits and _)`);
  return table;
}

/**
 * Every symbol with its tick count, first and last day, latest close and the close of the day before
 * (by day, not by row: a file replayed twice holds each day twice).
 */
export function marketSql(table: string): string {
  return `WITH ranked AS (
  SELECT symbol, trade_date, close,
         dense_rank() OVER (PARTITION BY symbol ORDER BY trade_date DESC) AS rn,
         count(*) OVER (PARTITION BY symbol) AS ticks,
         min(trade_date) OVER (PARTITION BY symbol) AS first_day
  FROM ${tableName(table)}
)
SELECT symbol, ticks, first_day,
       max(CASE WHEN rn = 1 THEN trade_date END) AS last_day,
       max(CASE WHEN rn = 1 THEN close END) AS close,
       max(CASE WHEN rn = 2 THEN close END) AS prev_close
FROM ranked WHERE rn <= 2
GROUP BY symbol, ticks, first_day
ORDER BY symbol`;
}

/** How a chart's points are made: one per tick ('tick'), or one per week, month, quarter or year. */
export type Granularity = 'tick' | 'week' | 'month' | 'quarter' | 'year';

const DAYS: Record<Exclude<Granularity, 'tick'>, number> = { week: 7, month: 31, quarter: 92, year: 366 };

/**
 * The ticks of one symbol in a range, at most `limit` of them. The caller asks for one more than it
 * shows: a full answer means the range is too long to draw tick by tick, and it aggregates instead.
 */
export function ticksSql(table: string, limit: number): string {
  if (!Number.isInteger(limit) || limit < 1) throw new Error('limit must be a whole number > 0');
  return `SELECT trade_date AS day, close, high, low
FROM ${tableName(table)}
WHERE symbol = ? AND trade_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
ORDER BY trade_date, close
LIMIT ${limit}`;
}

/** One point per period: the period's last close, its highest high and lowest low, and its tick count. */
export function aggregateSql(table: string, g: Exclude<Granularity, 'tick'>): string {
  if (!(g in DAYS)) throw new Error(`unknown granularity '${String(g)}'`);
  return `SELECT CAST(date_trunc('${g}', trade_date) AS DATE) AS day,
       max_by(close, trade_date) AS close, max(high) AS high, min(low) AS low, count(*) AS ticks
FROM ${tableName(table)}
WHERE symbol = ? AND trade_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
GROUP BY CAST(date_trunc('${g}', trade_date) AS DATE)
ORDER BY day`;
}

/** The finest period whose points over `[from, to]` stay within `maxPoints`. */
export function granularityFor(from: string, to: string, maxPoints: number): Exclude<Granularity, 'tick'> {
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000 + 1;
  for (const g of ['week', 'month', 'quarter'] as const) {
    if (Math.ceil(days / DAYS[g]) + 1 <= maxPoints) return g;
  }
  return 'year';
}

/** The first and last day a range may name; the defaults of an open range. */
export const EARLIEST_DAY = '1900-01-01';
export const LATEST_DAY = '2999-12-31';

export interface SeriesRequest {
  symbol: string;
  from: string;
  to: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Checks a chart request from the page; throws a message fit for the page when it is malformed. */
export function seriesRequest(params: URLSearchParams): SeriesRequest {
  const symbol = params.get('symbol') ?? '';
  if (!SYMBOL_PATTERN.test(symbol)) throw new Error(`'${symbol.slice(0, 40)}' is not a symbol`);
  const from = params.get('from') || EARLIEST_DAY;
  const to = params.get('to') || LATEST_DAY;
  for (const d of [from, to]) {
    if (!DAY.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)))
      throw new Error(`'${d.slice(0, 20)}' is not a day (YYYY-MM-DD)`);
  }
  if (from > to) throw new Error(`the range starts (${from}) after it ends (${to})`);
  return { symbol, from, to };
}

export interface SymbolRow {
  symbol: string;
  ticks: number;
  firstDay: string;
  lastDay: string;
  close: number;
  prevClose: number | null;
  /** close - prevClose, and in percent of prevClose; null for a symbol with one tick. */
  change: number | null;
  changePct: number | null;
}

type Cell = string | number | boolean | null;

/** A query's date cell as `YYYY-MM-DD` (engines answer dates as text or timestamps). */
export function dayOf(v: Cell): string {
  return String(v).slice(0, 10);
}

/** The rows of {@link marketSql}, in its column order. */
export function symbolRows(rows: Cell[][]): SymbolRow[] {
  return rows.map(([symbol, ticks, first, last, close, prev]) => {
    const c = Number(close);
    const p = prev === null ? null : Number(prev);
    return {
      symbol: String(symbol),
      ticks: Number(ticks),
      firstDay: dayOf(first),
      lastDay: dayOf(last),
      close: c,
      prevClose: p,
      change: p === null ? null : c - p,
      changePct: p === null || p === 0 ? null : ((c - p) / p) * 100,
    };
  });
}

export interface Series {
  symbol: string;
  from: string;
  to: string;
  granularity: Granularity;
  /** Days (`YYYY-MM-DD`, the period's first day when aggregated), closes, highs and lows, in order. */
  days: string[];
  close: number[];
  high: number[];
  low: number[];
  /** Ticks behind the points: equal to the points unless aggregated. */
  ticks: number;
}

/** The columnar series of a {@link ticksSql} or {@link aggregateSql} answer. */
export function toSeries(req: SeriesRequest, granularity: Granularity, rows: Cell[][]): Series {
  return {
    ...req,
    granularity,
    days: rows.map((r) => dayOf(r[0])),
    close: rows.map((r) => Number(r[1])),
    high: rows.map((r) => Number(r[2])),
    low: rows.map((r) => Number(r[3])),
    ticks: granularity === 'tick' ? rows.length : rows.reduce((n, r) => n + Number(r[4]), 0),
  };
}
