import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  MarketGenerator,
  formatCents,
  makeTickers,
  mulberry32,
  tradingDays,
  writeMarketCsv,
  type MarketSpec,
} from '../../scripts/bench/market';
import { countsBySymbol, expectedRows } from '../../scripts/bench/verify';
import { CSV_HEADER, parseRow } from '../../src/tick';

const text = (spec: MarketSpec) => [...new MarketGenerator(spec).chunks()].join('');

describe('generated market data', () => {
  it('is the same for the same seed and sizes, and differs for another seed', () => {
    const spec = { symbols: 50, days: 30, seed: 7 };
    expect(text(spec)).toBe(text(spec));
    expect(text({ ...spec, seed: 8 })).not.toBe(text(spec));
  });

  it('writes the header of the real file, then every symbol of a day before the next day', () => {
    const gen = new MarketGenerator({ symbols: 20, days: 12, seed: 1 });
    const lines = [...gen.chunks()].join('').trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER.join(','));
    expect(lines).toHaveLength(1 + 20 * 12);
    const dates = lines.slice(1).map((l) => l.split(',')[1]);
    for (let i = 0; i < dates.length; i++) expect(dates[i]).toBe(gen.dates[Math.floor(i / 20)]);
    const firstDay = lines.slice(1, 21).map((l) => l.split(',')[0]);
    expect(firstDay).toEqual(gen.tickers);
  });

  it('writes rows the pipeline accepts: a valid tick each, high and low around open and close', () => {
    const lines = text({ symbols: 40, days: 60, seed: 3 }).trimEnd().split('\n').slice(1);
    for (const line of lines) {
      const r = parseRow(line.split(','));
      if (!r.ok) throw new Error(`${line}: ${r.reason}`);
      expect(r.tick.high).toBeGreaterThanOrEqual(Math.max(r.tick.open, r.tick.close));
      expect(r.tick.low).toBeLessThanOrEqual(Math.min(r.tick.open, r.tick.close));
      expect(r.tick.low).toBeGreaterThan(0);
    }
  });

  it('sums what the queries must answer while it writes, as a plain reading of the file finds', () => {
    const gen = new MarketGenerator({ symbols: 30, days: 25, seed: 11 });
    const csv = [...gen.chunks()].join('');
    const rows = expectedRows(csv, 'market.csv');
    expect(rows.skipped).toBe(0);
    const t = gen.totals;
    expect(t.rows).toBe(30 * 25);
    expect(rows.rows).toHaveLength(t.rows);
    const counts = countsBySymbol(rows.rows);
    const cents = new Map<string, number>();
    const volume = new Map<string, number>();
    for (const r of rows.rows) {
      const s = String(r.symbol);
      cents.set(s, (cents.get(s) ?? 0) + Math.round(Number(r.close) * 100));
      volume.set(s, (volume.get(s) ?? 0) + Number(r.volume));
    }
    t.symbols.forEach((s, i) => {
      expect(t.perSymbol.rows[i]).toBe(counts[s]);
      expect(t.perSymbol.closeCents[i]).toBe(cents.get(s));
      expect(t.perSymbol.volume[i]).toBe(volume.get(s));
    });
    const probe = rows.rows.filter((r) => r.symbol === t.probeSymbol.symbol);
    expect(t.probeSymbol.rows).toBe(25);
    expect(t.probeSymbol.closeCents).toBe(probe.reduce((n, r) => n + Math.round(Number(r.close) * 100), 0));
    expect(t.probeSymbol.volume).toBe(probe.reduce((n, r) => n + Number(r.volume), 0));
    expect([t.probeSymbol.first, t.probeSymbol.last]).toEqual([probe[0].trade_date, probe[24].trade_date]);
    const day = rows.rows.filter((r) => r.trade_date === t.probeDay.date);
    expect(t.probeDay.rows).toBe(30);
    expect(t.probeDay.closeCents).toBe(day.reduce((n, r) => n + Math.round(Number(r.close) * 100), 0));
    expect(t.probeDay.volume).toBe(day.reduce((n, r) => n + Number(r.volume), 0));
  });

  it('streams the same bytes to a file and reports its size', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'market-test-'));
    try {
      const spec = { symbols: 25, days: 10, seed: 5 };
      const file = path.join(dir, 'm.csv');
      const { totals, bytes } = await writeMarketCsv(file, spec);
      const written = fs.readFileSync(file, 'utf8');
      expect(written).toBe(text(spec));
      expect(bytes).toBe(Buffer.byteLength(written));
      expect(totals.rows).toBe(250);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('market data parts', () => {
  it('makes distinct tickers of 3 to 6 uppercase letters', () => {
    const tickers = makeTickers(5000, mulberry32(16));
    expect(new Set(tickers).size).toBe(5000);
    for (const t of tickers) expect(t).toMatch(/^[A-Z]{3,6}$/);
    expect(() => makeTickers(0, mulberry32(1))).toThrow(/at least|>= 1/);
  });

  it('counts trading days Monday to Friday from the start, a weekend start moving to Monday', () => {
    expect(tradingDays('2000-01-06', 4)).toEqual(['2000-01-06', '2000-01-07', '2000-01-10', '2000-01-11']);
    expect(tradingDays('2000-01-08', 1)).toEqual(['2000-01-10']);
    expect(tradingDays('2000-01-03', 1000).at(-1)).toBe('2003-10-31');
    expect(() => tradingDays('2000/01/03', 1)).toThrow(/YYYY-MM-DD/);
  });

  it('writes cents with two decimals', () => {
    expect(formatCents(1)).toBe('0.01');
    expect(formatCents(10)).toBe('0.10');
    expect(formatCents(123456)).toBe('1234.56');
    expect(formatCents(100)).toBe('1.00');
  });

  it('draws uniform numbers in [0, 1) from a seed, the same for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const draws = Array.from({ length: 1000 }, () => a());
    expect(draws).toEqual(Array.from({ length: 1000 }, () => b()));
    for (const d of draws) expect(d >= 0 && d < 1).toBe(true);
    const mean = draws.reduce((n, d) => n + d, 0) / draws.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});
