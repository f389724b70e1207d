/**
 * Where a CSV row becomes a tick: the schema of the public "Stock Exchange Data" file
 * (`indexProcessed.csv`), its validation and its normalisation to lake column names.
 * Pure: no I/O. Runs once per row on the replay hot path, so every pattern is compiled once at
 * module load and the happy path allocates little and throws nothing.
 */

/** The header of `indexProcessed.csv`, in column order. */
export const CSV_HEADER: readonly string[] = Object.freeze([
  'Index',
  'Date',
  'Open',
  'High',
  'Low',
  'Close',
  'Adj Close',
  'Volume',
  'CloseUSD',
]);

/** A normalised market tick; lowercase snake_case column names (Glue/Athena reject spaces). */
export interface Tick {
  /** Ticker symbol, trimmed, of {@link SYMBOL_PATTERN} (`HSI`, `000001.SS`, `^GSPC`, `BRK-B`, `EURUSD=X`). */
  symbol: string;
  /** Trading day, `YYYY-MM-DD`, a real calendar date. */
  trade_date: string;
  open: number;
  /** `high >= max(open, close)`. */
  high: number;
  /** `low <= min(open, close)`. */
  low: number;
  close: number;
  /** Close adjusted for dividends and splits; may legitimately fall outside [low, high]. */
  adj_close: number;
  /** Whole number of shares or contracts, `>= 0` and at most `Number.MAX_SAFE_INTEGER` (a Glue bigint). */
  volume: number;
  /** Close converted to US dollars by the data set's publisher. */
  close_usd: number;
}

export type RowResult = { ok: true; tick: Tick } | { ok: false; reason: string };

const FIELD_COUNT = CSV_HEADER.length;

/** Longest raw value quoted in a reason; reasons travel in Kafka headers, so they stay short. */
const MAX_QUOTED = 40;
/** Longest header quoted in checkHeader's message: enough to show a whole header of another schema. */
const MAX_QUOTED_HEADER = 200;

/** Longest symbol accepted; real tickers (exchange suffix included) are far shorter. */
export const MAX_SYMBOL_LENGTH = 24;

/**
 * What a symbol may be: letters, digits, `.`, `-`, `^` and `=`, 1 to {@link MAX_SYMBOL_LENGTH} characters
 * (Yahoo-style tickers: `HSI`, `000001.SS`, `^GSPC`, `BRK-B`, `EURUSD=X`). The symbol becomes a Kafka key
 * and part of a lake object's key (`symbol=HSI`), so quotes, slashes, spaces, control characters
 * and other text a broken export leaves there are refused rather than turned into a new symbol.
 */
export const SYMBOL_PATTERN = new RegExp(`^[A-Za-z0-9.^=-]{1,${MAX_SYMBOL_LENGTH}}$`);

/**
 * A plain decimal number with an optional exponent: what `indexProcessed.csv` and common CSV writers
 * produce. `Number()` alone is too lenient: it maps '' and whitespace to 0 and accepts '0x1f', '0b1'
 * and 'Infinity'.
 */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function quote(value: string, max = MAX_QUOTED): string {
  const shown = value.length > max ? `${value.slice(0, max)}...` : value;
  return `'${shown}'`;
}

/**
 * Returns undefined when the header matches {@link CSV_HEADER} (after stripping a UTF-8 BOM and
 * surrounding whitespace from each name), else a message naming what differs and what is expected.
 * Names are compared case-sensitively: the file's own spelling is the schema. (String.prototype.trim
 * counts U+FEFF as whitespace, so trimming also drops the BOM.)
 */
export function checkHeader(fields: readonly string[]): string | undefined {
  const expected = `expected header: ${CSV_HEADER.join(',')}`;
  if (fields.length !== FIELD_COUNT) {
    const got = fields.map((field) => field.trim()).join(',');
    const columns = fields.length === 1 ? 'column' : 'columns';
    return `header has ${fields.length} ${columns} (${quote(got, MAX_QUOTED_HEADER)}), ${expected}`;
  }
  const differences: string[] = [];
  for (let i = 0; i < FIELD_COUNT; i++) {
    const name = fields[i].trim();
    if (name !== CSV_HEADER[i]) differences.push(`column ${i + 1} is ${quote(name)}, expected '${CSV_HEADER[i]}'`);
  }
  return differences.length === 0 ? undefined : `${differences.join('; ')} (${expected})`;
}

function isRepeatedHeader(fields: readonly string[]): boolean {
  for (let i = 0; i < FIELD_COUNT; i++) {
    if (fields[i].trim() !== CSV_HEADER[i]) return false;
  }
  return true;
}

/** Parsed value, or the reason it is not a number. Kept as a tiny tagged union to avoid throwing. */
type NumberResult = number | string;

function parseNumber(column: string, raw: string): NumberResult {
  const text = raw.trim();
  if (text === '') return `${column} is empty`;
  if (!DECIMAL.test(text)) return `${column} is not a number: ${quote(raw)}`;
  const value = Number(text);
  // Only an exponent too large for a double can get here non-finite ('1e400').
  if (!Number.isFinite(value)) return `${column} is out of range: ${quote(raw)}`;
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const ZERO = 48; // '0'
const DASH = 45; // '-'

/** Value of the `count` decimal digits starting at `start`, or -1 if any is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = text.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Reason the date is not a real `YYYY-MM-DD` calendar date, or undefined when it is. */
function checkDate(text: string, raw: string): string | undefined {
  if (text === '') return 'date is empty';
  if (text.length !== 10 || text.charCodeAt(4) !== DASH || text.charCodeAt(7) !== DASH) {
    return `date is not in YYYY-MM-DD form: ${quote(raw)}`;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  if (year < 0 || month < 0 || day < 0) return `date is not in YYYY-MM-DD form: ${quote(raw)}`;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return `date is not a real date: ${quote(raw)}`;
  }
  return undefined;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return leap ? 29 : 28;
}

/**
 * Validates and normalises one data row (already split into fields by csv-parse).
 *
 * Accepted: exactly 9 fields in {@link CSV_HEADER} order; surrounding whitespace in any field; numbers in
 * plain decimal or exponent form ('1234.5', '-0.5', '1e3'); dates only as `YYYY-MM-DD` (other forms such
 * as `YYYY/MM/DD` are rejected rather than guessed at, so the lake holds the date exactly as the source
 * wrote it); volume written as a whole number with or without a fractional zero ('1234.0').
 *
 * Rejected, with a short reason: a wrong field count, an empty line, a repeated header line, an empty
 * symbol or one that is not a ticker ({@link SYMBOL_PATTERN}), a malformed or impossible date, a price or volume that is empty or not a finite number, a
 * negative or fractional volume, and prices inconsistent with the day's range (high < low, or open or
 * close outside [low, high]). adj_close is not range-checked: adjustments legitimately move it outside.
 */
export function parseRow(fields: readonly string[]): RowResult {
  if (fields.length !== FIELD_COUNT) {
    if (fields.length === 1 && fields[0].trim() === '') return { ok: false, reason: 'empty line' };
    return { ok: false, reason: `expected ${FIELD_COUNT} fields, got ${fields.length}` };
  }

  const symbol = fields[0].trim();
  if (symbol === '') return { ok: false, reason: 'symbol is empty' };
  // Comparing the symbol first keeps the full header comparison off the hot path.
  if (symbol === CSV_HEADER[0] && isRepeatedHeader(fields)) return { ok: false, reason: 'repeated header line' };
  if (!SYMBOL_PATTERN.test(symbol)) {
    return {
      ok: false,
      reason: `symbol is not a ticker: ${quote(fields[0])} (letters, digits, '.', '-', '^', '=', at most ${MAX_SYMBOL_LENGTH} characters)`,
    };
  }

  const tradeDate = fields[1].trim();
  const dateProblem = checkDate(tradeDate, fields[1]);
  if (dateProblem !== undefined) return { ok: false, reason: dateProblem };

  const open = parseNumber('open', fields[2]);
  if (typeof open === 'string') return { ok: false, reason: open };
  const high = parseNumber('high', fields[3]);
  if (typeof high === 'string') return { ok: false, reason: high };
  const low = parseNumber('low', fields[4]);
  if (typeof low === 'string') return { ok: false, reason: low };
  const close = parseNumber('close', fields[5]);
  if (typeof close === 'string') return { ok: false, reason: close };
  const adjClose = parseNumber('adj_close', fields[6]);
  if (typeof adjClose === 'string') return { ok: false, reason: adjClose };

  const volume = parseNumber('volume', fields[7]);
  if (typeof volume === 'string') return { ok: false, reason: volume };
  if (volume < 0) return { ok: false, reason: 'volume is negative' };
  if (!Number.isInteger(volume)) return { ok: false, reason: `volume is not a whole number: ${quote(fields[7])}` };
  if (volume > Number.MAX_SAFE_INTEGER) return { ok: false, reason: `volume is too large: ${quote(fields[7])}` };

  const closeUsd = parseNumber('close_usd', fields[8]);
  if (typeof closeUsd === 'string') return { ok: false, reason: closeUsd };

  if (high < low) return { ok: false, reason: 'high < low' };
  if (open > high) return { ok: false, reason: 'open > high' };
  if (open < low) return { ok: false, reason: 'open < low' };
  if (close > high) return { ok: false, reason: 'close > high' };
  if (close < low) return { ok: false, reason: 'close < low' };

  return {
    ok: true,
    tick: {
      symbol,
      trade_date: tradeDate,
      open,
      high,
      low,
      close,
      adj_close: adjClose,
      // '-0.0' parses to -0; keep the lake free of negative zero.
      volume: volume === 0 ? 0 : volume,
      close_usd: closeUsd,
    },
  };
}
