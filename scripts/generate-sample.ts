/**
 * Generates data/sample.csv: a few thousand synthetic ticks in the exact schema and number formatting
 * of the public `indexProcessed.csv`, so the project can be tried without the real file. Its symbols
 * (`SAMPLE-HK`, ...) are fictional, so generated values never pose as real ones.
 *
 *   npm run generate-sample            # writes data/sample.csv
 *   npm run generate-sample -- out.csv # writes elsewhere
 *
 * Deterministic: a seeded PRNG and UTC calendar arithmetic only, so two runs give byte-identical files.
 * Every generated row is checked with the same parseRow the producer uses before anything is written.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CSV_HEADER, parseRow } from '../src/tick';

interface SymbolSpec {
  symbol: string;
  /** The real file's symbol whose price level and USD rate this one is shaped after. */
  shapedLike: string;
  /** First and last calendar day (inclusive); weekends are skipped. */
  from: string;
  to: string;
  /** Close on the day before `from`, in local currency. */
  startPrice: number;
  /** Mean and standard deviation of the daily log return. */
  drift: number;
  volatility: number;
  /** Local currency to USD, applied to close for the CloseUSD column (the real file uses a fixed rate too). */
  usdRate: number;
  /** Median daily volume; 0 means the exchange never reports one (as N225 in the real file's early years). */
  medianVolume: number;
  /** Leading days with only a close known: open = high = low = close and zero volume, as in early real data. */
  closeOnlyDays: number;
  /** Share of later days whose volume is missing and written as 0.0. */
  missingVolumeRate: number;
}

/**
 * Five made-up symbols, each shaped like one of the real file's indices (its USD rate and roughly its
 * price level in 2017-2021: SAMPLE-HK like HSI, SAMPLE-NY like NYA, SAMPLE-JP like N225, SAMPLE-DE like
 * GDAXI, SAMPLE-IN like NSEI). The sample's values are generated, so its symbols are its own: replayed
 * into the same lake as the real file, it adds five symbols and leaves every real symbol's answers alone.
 */
export const SAMPLE_SYMBOLS: readonly SymbolSpec[] = [
  {
    symbol: 'SAMPLE-HK',
    shapedLike: 'HSI',
    from: '2018-01-02',
    to: '2021-05-31',
    startPrice: 29919.15,
    drift: 0.0001,
    volatility: 0.0125,
    usdRate: 0.13,
    medianVolume: 1_900_000_000,
    closeOnlyDays: 40,
    missingVolumeRate: 0.01,
  },
  {
    symbol: 'SAMPLE-NY',
    shapedLike: 'NYA',
    from: '2017-06-01',
    to: '2021-05-28',
    startPrice: 11630.72,
    drift: 0.0003,
    volatility: 0.0105,
    usdRate: 1,
    medianVolume: 3_800_000_000,
    closeOnlyDays: 0,
    missingVolumeRate: 0,
  },
  {
    symbol: 'SAMPLE-JP',
    shapedLike: 'N225',
    from: '2018-03-01',
    to: '2021-06-03',
    startPrice: 22068.24,
    drift: 0.0002,
    volatility: 0.013,
    usdRate: 0.01,
    medianVolume: 0,
    closeOnlyDays: 0,
    missingVolumeRate: 0,
  },
  {
    symbol: 'SAMPLE-DE',
    shapedLike: 'GDAXI',
    from: '2018-09-03',
    to: '2021-05-31',
    startPrice: 12364.06,
    drift: 0.0002,
    volatility: 0.012,
    usdRate: 1.22,
    medianVolume: 80_000_000,
    closeOnlyDays: 0,
    missingVolumeRate: 0.02,
  },
  {
    symbol: 'SAMPLE-IN',
    shapedLike: 'NSEI',
    from: '2019-03-01',
    to: '2021-05-31',
    startPrice: 10792.5,
    drift: 0.0004,
    volatility: 0.0115,
    usdRate: 0.01,
    medianVolume: 450_000,
    closeOnlyDays: 60,
    missingVolumeRate: 0.005,
  },
];

const SEED = 0x5eed0007;

/** mulberry32: 32-bit state, good enough for synthetic prices and fully reproducible. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal variate (Box-Muller). */
function normal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) is not a number
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function* tradingDays(from: string, to: string): Generator<string> {
  const day = new Date(`${from}T00:00:00Z`);
  const last = new Date(`${to}T00:00:00Z`);
  for (; day <= last; day.setUTCDate(day.getUTCDate() + 1)) {
    const weekday = day.getUTCDay();
    if (weekday !== 0 && weekday !== 6) yield day.toISOString().slice(0, 10);
  }
}

/**
 * Like the real file: quotes in cents stored as float32 and printed with 10 significant digits
 * (29225.46 becomes '29225.46094'), always with a decimal point ('100.0'). Every step is monotonic, so
 * low <= open, close <= high survives formatting.
 */
function formatPrice(price: number): string {
  const text = Math.fround(Math.round(price * 100) / 100).toPrecision(10);
  if (text.includes('e')) throw new Error(`price ${price} is out of the range this generator formats`);
  const trimmed = text.replace(/0+$/, '');
  return trimmed.endsWith('.') ? `${trimmed}0` : trimmed;
}

/** Like the real file: the shortest round-trip form of a double, with '.0' on whole numbers. */
function formatDouble(value: number): string {
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function symbolRows(spec: SymbolSpec, seed: number): string[] {
  const random = mulberry32(seed);
  const rows: string[] = [];
  let previousClose = spec.startPrice;
  let index = 0;
  for (const date of tradingDays(spec.from, spec.to)) {
    const close = previousClose * Math.exp(spec.drift + spec.volatility * normal(random));
    const closeOnly = index < spec.closeOnlyDays;
    // The overnight gap and intraday range are a fraction of the daily volatility.
    const open = closeOnly ? close : previousClose * Math.exp(0.3 * spec.volatility * normal(random));
    const high = closeOnly ? close : Math.max(open, close) * Math.exp(0.4 * spec.volatility * Math.abs(normal(random)));
    const low = closeOnly ? close : Math.min(open, close) * Math.exp(-0.4 * spec.volatility * Math.abs(normal(random)));
    const volumeMissing = closeOnly || spec.medianVolume === 0 || random() < spec.missingVolumeRate;
    const volume = volumeMissing ? 0 : Math.round((spec.medianVolume * Math.exp(0.35 * normal(random))) / 100) * 100;

    const closeText = formatPrice(close);
    rows.push(
      [
        spec.symbol,
        date,
        formatPrice(open),
        formatPrice(high),
        formatPrice(low),
        closeText,
        closeText,
        `${volume}.0`,
        formatDouble(Number(closeText) * spec.usdRate),
      ].join(','),
    );
    previousClose = close;
    index++;
  }
  return rows;
}

/** The whole sample as CSV text: header, then rows grouped by symbol in date order, '\n' line endings. */
export function generateSample(): string {
  const lines = [CSV_HEADER.join(',')];
  // One stream per symbol, so editing one symbol's spec leaves the others' rows unchanged.
  SAMPLE_SYMBOLS.forEach((spec, i) => lines.push(...symbolRows(spec, (SEED + i * 0x9e3779b9) >>> 0)));
  for (let i = 1; i < lines.length; i++) {
    const result = parseRow(lines[i].split(','));
    if (!result.ok) throw new Error(`generated line ${i + 1} is invalid (${result.reason}): ${lines[i]}`);
  }
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const out = resolve(process.argv[2] ?? resolve(__dirname, '..', 'data', 'sample.csv'));
  const csv = generateSample();
  writeFileSync(out, csv);
  const rows = csv.split('\n').length - 2;
  console.log(`wrote ${rows} rows for ${SAMPLE_SYMBOLS.length} symbols to ${out}`);
}

if (require.main === module) main();
