/**
 * Generated market data for `npm run bench:scale`: N fictional symbols over D trading days, in market-time
 * order (every symbol's row of a day, then the next day: what a live feed looks like), in the schema of
 * the real file (`Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD`). Seeded: the same seed and
 * sizes give the same file byte for byte.
 *
 * While it writes, it sums what the benchmark's queries must answer (rows and checksums per symbol, one
 * symbol over all dates, every symbol on one day), so every answer can be checked without reading the
 * file again. Prices are whole cents, so the checksums are exact integers (sums of cents), on both sides.
 *
 * Pure except {@link writeMarketCsv}, which streams the lines to a file.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { CSV_HEADER } from '../../src/tick';

export interface MarketSpec {
  /** Distinct symbols (fictional tickers of 3 to 6 uppercase letters). */
  symbols: number;
  /** Trading days (weekdays from `startDate`). */
  days: number;
  /** Seed of the pseudo-random generator. */
  seed: number;
  /** First trading day, `YYYY-MM-DD`; a weekend date starts on the following Monday. Default 2000-01-03. */
  startDate?: string;
}

/** What the file holds, summed while it was generated. Cents are exact integers (prices have 2 decimals). */
export interface MarketTotals {
  rows: number;
  symbols: string[];
  days: { first: string; last: string; count: number };
  /** Per symbol, in `symbols` order: rows, sum of close in cents, sum of volume. */
  perSymbol: { rows: number[]; closeCents: number[]; volume: number[] };
  /** The symbol of query (b), one symbol over all dates. */
  probeSymbol: { symbol: string; rows: number; closeCents: number; volume: number; first: string; last: string };
  /** The day of query (c), every symbol on one day. */
  probeDay: { date: string; rows: number; closeCents: number; volume: number };
}

/** mulberry32: a small, fast, well-distributed 32-bit generator; plenty for fictional prices. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller) from a uniform generator. */
function normal(rand: () => number): number {
  const u = 1 - rand(); // (0, 1]: log(0) is -Infinity
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** `n` distinct tickers of 3 to 6 uppercase letters, in a seeded order. */
export function makeTickers(n: number, rand: () => number): string[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`symbols must be a whole number >= 1, got ${n}`);
  if (n > 1_000_000) throw new RangeError(`symbols must be at most 1,000,000, got ${n}`);
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < n) {
    const length = 3 + Math.floor(rand() * 4);
    let t = '';
    for (let i = 0; i < length; i++) t += String.fromCharCode(65 + Math.floor(rand() * 26));
    if (seen.has(t)) continue;
    seen.add(t);
    out.push(t);
  }
  return out;
}

const DAY_MS = 86_400_000;

/** `n` trading days (Monday to Friday; no holidays) from `start` on, as `YYYY-MM-DD`. */
export function tradingDays(start: string, n: number): string[] {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || Number.isNaN(Date.parse(`${start}T00:00:00Z`))) {
    throw new RangeError(`startDate must be a YYYY-MM-DD date, got '${start}'`);
  }
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`days must be a whole number >= 1, got ${n}`);
  const out: string[] = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); out.length < n; t += DAY_MS) {
    const weekday = new Date(t).getUTCDay();
    if (weekday !== 0 && weekday !== 6) out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** Cents as a decimal with 2 digits: 123456 -> '1234.56'. */
export function formatCents(cents: number): string {
  const whole = Math.floor(cents / 100);
  const frac = cents - whole * 100;
  return `${whole}.${frac < 10 ? '0' : ''}${frac}`;
}

/** Exchange rates to USD of the fictional listings (the CloseUSD column); a symbol keeps one. */
const FX = [1, 1, 1, 0.1282, 0.0091, 1.0873, 0.7412, 0.0127];

/**
 * The file as chunks of lines, one chunk per trading day (the header first), with the totals filled in
 * as the chunks are taken. Holds one day of lines and a few numbers per symbol, never the file.
 */
export class MarketGenerator {
  readonly tickers: string[];
  readonly dates: string[];
  readonly totals: MarketTotals;
  private readonly rand: () => number;
  private readonly close: Float64Array;
  private readonly fx: Float64Array;
  private readonly probeSymbolIndex: number;
  private readonly probeDayIndex: number;

  constructor(readonly spec: MarketSpec) {
    if (!Number.isInteger(spec.seed)) throw new RangeError(`seed must be a whole number, got ${spec.seed}`);
    this.rand = mulberry32(spec.seed);
    this.tickers = makeTickers(spec.symbols, this.rand);
    this.dates = tradingDays(spec.startDate ?? '2000-01-03', spec.days);
    this.close = new Float64Array(spec.symbols);
    this.fx = new Float64Array(spec.symbols);
    for (let i = 0; i < spec.symbols; i++) {
      this.close[i] = 1000 + Math.floor(this.rand() * 49_000); // $10 to $500
      this.fx[i] = FX[Math.floor(this.rand() * FX.length)];
    }
    this.probeSymbolIndex = Math.floor(spec.symbols / 2);
    this.probeDayIndex = Math.floor(spec.days / 2);
    this.totals = {
      rows: 0,
      symbols: this.tickers,
      days: { first: this.dates[0], last: this.dates[this.dates.length - 1], count: this.dates.length },
      perSymbol: {
        rows: new Array<number>(spec.symbols).fill(0),
        closeCents: new Array<number>(spec.symbols).fill(0),
        volume: new Array<number>(spec.symbols).fill(0),
      },
      probeSymbol: {
        symbol: this.tickers[this.probeSymbolIndex],
        rows: 0,
        closeCents: 0,
        volume: 0,
        first: this.dates[0],
        last: this.dates[this.dates.length - 1],
      },
      probeDay: { date: this.dates[this.probeDayIndex], rows: 0, closeCents: 0, volume: 0 },
    };
  }

  /** The header line, then one chunk of lines per trading day; each ends with a newline. */
  *chunks(): Generator<string> {
    yield `${CSV_HEADER.join(',')}\n`;
    for (let d = 0; d < this.dates.length; d++) yield this.day(d);
  }

  private day(d: number): string {
    const date = this.dates[d];
    const t = this.totals;
    const lines: string[] = new Array<string>(this.tickers.length);
    for (let i = 0; i < this.tickers.length; i++) {
      // A multiplicative random walk in whole cents: an overnight gap, then the day's move.
      const open = Math.max(1, Math.round(this.close[i] * (1 + 0.004 * normal(this.rand))));
      const close = Math.max(1, Math.round(open * (1 + 0.018 * normal(this.rand))));
      const top = Math.max(open, close);
      const bottom = Math.min(open, close);
      const high = top + Math.round(top * 0.01 * Math.abs(normal(this.rand)));
      const low = Math.max(1, bottom - Math.round(bottom * 0.01 * Math.abs(normal(this.rand))));
      const volume = 1000 + Math.floor(this.rand() * 2_000_000);
      this.close[i] = close;
      const c = formatCents(close);
      const usd = ((close / 100) * this.fx[i]).toFixed(4);
      lines[i] =
        `${this.tickers[i]},${date},${formatCents(open)},${formatCents(high)},${formatCents(low)},${c},${c},${volume},${usd}`;
      t.rows++;
      t.perSymbol.rows[i]++;
      t.perSymbol.closeCents[i] += close;
      t.perSymbol.volume[i] += volume;
      if (i === this.probeSymbolIndex) {
        t.probeSymbol.rows++;
        t.probeSymbol.closeCents += close;
        t.probeSymbol.volume += volume;
      }
      if (d === this.probeDayIndex) {
        t.probeDay.rows++;
        t.probeDay.closeCents += close;
        t.probeDay.volume += volume;
      }
    }
    return lines.join('\n') + '\n';
  }
}

/** Writes the generated file to `file`, streamed (one day in memory at a time); returns its totals and size. */
export async function writeMarketCsv(file: string, spec: MarketSpec): Promise<{ totals: MarketTotals; bytes: number }> {
  const gen = new MarketGenerator(spec);
  const out = fs.createWriteStream(file);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let bytes = 0;
  for (const chunk of gen.chunks()) {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return { totals: gen.totals, bytes };
}
