/**
 * The three queries of `npm run bench:scale` and the checks of their answers against what the generator
 * wrote (scripts/bench/market.ts). Pure: a check throws a message naming what differs.
 */
import type { QueryResult } from '../../activities/types';
import type { MarketTotals } from './market';

export interface ScaleQuery {
  /** Key in the results: per_symbol, one_symbol, one_day. */
  name: 'per_symbol' | 'one_symbol' | 'one_day';
  title: string;
  sql: string;
  params: (string | number)[];
  /** Throws when the answer is not what the file holds. */
  check(result: QueryResult): void;
}

/** Close in cents of a lake value (written with 2 decimals). */
const cents = (v: unknown) => Math.round(Number(v) * 100);

function columnIndex(result: QueryResult, name: string): number {
  const i = result.columns.findIndex((c) => c.name === name);
  if (i < 0) throw new Error(`the answer has no column '${name}': ${JSON.stringify(result.columns)}`);
  return i;
}

function whole(result: QueryResult, query: string, expectedRows: number): void {
  if (result.truncated || result.rows.length !== result.rowCount) {
    throw new Error(
      `${query}: the answer came back truncated (${result.rows.length} of ${result.rowCount} rows inline); ` +
        'the benchmark checks every row inline: choose fewer symbols or days',
    );
  }
  if (result.rows.length !== expectedRows) {
    throw new Error(`${query}: ${result.rows.length} rows answered, ${expectedRows} expected`);
  }
}

function same(query: string, what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${query}: ${what} is ${got}, expected ${want}`);
}

/** The date part of a DATE cell ('2000-01-03', or a timestamp text). */
const day = (v: unknown) => String(v).slice(0, 10);

export function scaleQueries(totals: MarketTotals): ScaleQuery[] {
  const index = new Map(totals.symbols.map((s, i) => [s, i]));
  return [
    {
      name: 'per_symbol',
      title: 'per symbol, over everything',
      sql:
        'SELECT symbol, count(*) AS ticks, sum(CAST(round(close * 100) AS BIGINT)) AS close_cents, ' +
        'sum(volume) AS volume FROM ticks GROUP BY symbol ORDER BY symbol',
      params: [],
      check(result) {
        const q = 'the per-symbol query';
        whole(result, q, totals.symbols.length);
        const [s, n, c, v] = ['symbol', 'ticks', 'close_cents', 'volume'].map((k) => columnIndex(result, k));
        let rows = 0;
        for (const r of result.rows) {
          const i = index.get(String(r[s]));
          if (i === undefined) throw new Error(`${q}: symbol ${String(r[s])} is not in the file`);
          const sym = String(r[s]);
          same(q, `the count of ${sym}`, Number(r[n]), totals.perSymbol.rows[i]);
          same(q, `the close checksum (cents) of ${sym}`, Number(r[c]), totals.perSymbol.closeCents[i]);
          same(q, `the volume of ${sym}`, Number(r[v]), totals.perSymbol.volume[i]);
          rows += Number(r[n]);
        }
        same(q, 'the sum of the counts', rows, totals.rows);
      },
    },
    {
      name: 'one_symbol',
      title: 'one symbol, over all dates',
      sql: 'SELECT trade_date, close, volume FROM ticks WHERE symbol = ? ORDER BY trade_date',
      params: [totals.probeSymbol.symbol],
      check(result) {
        const p = totals.probeSymbol;
        const q = `the query of symbol ${p.symbol}`;
        whole(result, q, p.rows);
        const [d, c, v] = ['trade_date', 'close', 'volume'].map((k) => columnIndex(result, k));
        let closeCents = 0;
        let volume = 0;
        let previous = '';
        for (const r of result.rows) {
          const date = day(r[d]);
          if (date <= previous) throw new Error(`${q}: ${date} follows ${previous} (repeated or out of order)`);
          previous = date;
          closeCents += cents(r[c]);
          volume += Number(r[v]);
        }
        if (day(result.rows[0][d]) !== p.first || previous !== p.last) {
          throw new Error(`${q}: dates ${day(result.rows[0][d])} to ${previous}, expected ${p.first} to ${p.last}`);
        }
        same(q, 'the close checksum (cents)', closeCents, p.closeCents);
        same(q, 'the volume', volume, p.volume);
      },
    },
    {
      name: 'one_day',
      title: 'every symbol, one day',
      sql: 'SELECT symbol, close, volume FROM ticks WHERE trade_date = CAST(? AS DATE) ORDER BY symbol',
      params: [totals.probeDay.date],
      check(result) {
        const p = totals.probeDay;
        const q = `the query of day ${p.date}`;
        whole(result, q, p.rows);
        const [s, c, v] = ['symbol', 'close', 'volume'].map((k) => columnIndex(result, k));
        const seen = new Set<string>();
        let closeCents = 0;
        let volume = 0;
        for (const r of result.rows) {
          const sym = String(r[s]);
          if (!index.has(sym)) throw new Error(`${q}: symbol ${sym} is not in the file`);
          if (seen.has(sym)) throw new Error(`${q}: symbol ${sym} answered twice`);
          seen.add(sym);
          closeCents += cents(r[c]);
          volume += Number(r[v]);
        }
        same(q, 'the close checksum (cents)', closeCents, p.closeCents);
        same(q, 'the volume', volume, p.volume);
      },
    },
  ];
}
