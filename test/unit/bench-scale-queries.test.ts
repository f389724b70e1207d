import type { QueryResult } from '../../activities/types';
import { MarketGenerator } from '../../scripts/bench/market';
import { scaleQueries } from '../../scripts/bench/scale-queries';
import { expectedRows, type ExpectedRow } from '../../scripts/bench/verify';

const gen = new MarketGenerator({ symbols: 12, days: 9, seed: 21 });
const rows: ExpectedRow[] = expectedRows([...gen.chunks()].join(''), 'm.csv').rows;
const [perSymbol, oneSymbol, oneDay] = scaleQueries(gen.totals);

function result(columns: string[], data: (string | number)[][]): QueryResult {
  return {
    columns: columns.map((name) => ({ name, type: 'x' })),
    rows: data,
    truncated: false,
    rowCount: data.length,
    stats: {} as QueryResult['stats'],
  };
}

/** What a correct engine answers, computed from the rows of the file. */
function perSymbolAnswer(): QueryResult {
  const by = new Map<string, [number, number, number]>();
  for (const r of rows) {
    const a = by.get(String(r.symbol)) ?? [0, 0, 0];
    by.set(String(r.symbol), [a[0] + 1, a[1] + Math.round(Number(r.close) * 100), a[2] + Number(r.volume)]);
  }
  return result(
    ['symbol', 'ticks', 'close_cents', 'volume'],
    [...by].sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, [n, c, v]]) => [s, n, String(c), v]),
  );
}

const oneSymbolAnswer = () =>
  result(
    ['trade_date', 'close', 'volume'],
    rows.filter((r) => r.symbol === gen.totals.probeSymbol.symbol).map((r) => [r.trade_date, r.close, r.volume]),
  );

const oneDayAnswer = () =>
  result(
    ['symbol', 'close', 'volume'],
    rows.filter((r) => r.trade_date === gen.totals.probeDay.date).map((r) => [r.symbol, r.close, r.volume]),
  );

describe('bench:scale query checks', () => {
  it('accept the answers the file holds', () => {
    expect(() => perSymbol.check(perSymbolAnswer())).not.toThrow();
    expect(() => oneSymbol.check(oneSymbolAnswer())).not.toThrow();
    expect(() => oneDay.check(oneDayAnswer())).not.toThrow();
    expect(oneSymbol.params).toEqual([gen.totals.probeSymbol.symbol]);
    expect(oneDay.params).toEqual([gen.totals.probeDay.date]);
  });

  it('reject a missing symbol, a wrong count and a wrong checksum', () => {
    const missing = perSymbolAnswer();
    missing.rows.pop();
    missing.rowCount--;
    expect(() => perSymbol.check(missing)).toThrow(/11 rows answered, 12 expected/);
    const count = perSymbolAnswer();
    count.rows[0][1] = Number(count.rows[0][1]) - 1;
    expect(() => perSymbol.check(count)).toThrow(/the count of/);
    const sum = perSymbolAnswer();
    sum.rows[3][2] = String(Number(sum.rows[3][2]) + 1);
    expect(() => perSymbol.check(sum)).toThrow(/close checksum/);
  });

  it('reject a repeated day, a changed price and a repeated symbol', () => {
    const repeated = oneSymbolAnswer();
    repeated.rows[2] = [...repeated.rows[1]];
    expect(() => oneSymbol.check(repeated)).toThrow(/repeated or out of order/);
    const price = oneSymbolAnswer();
    price.rows[0][1] = Number(price.rows[0][1]) + 0.01;
    expect(() => oneSymbol.check(price)).toThrow(/close checksum/);
    const twice = oneDayAnswer();
    twice.rows[1] = [...twice.rows[0]];
    expect(() => oneDay.check(twice)).toThrow(/answered twice/);
  });

  it('reject a truncated answer, saying why', () => {
    const cut = perSymbolAnswer();
    cut.truncated = true;
    cut.rowCount = 20;
    expect(() => perSymbol.check(cut)).toThrow(/truncated/);
  });
});
