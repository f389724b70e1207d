import { createReadStream, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parse, type Options } from 'csv-parse';
import { CSV_HEADER, MAX_SYMBOL_LENGTH, checkHeader, parseRow, type Tick } from '../../src/tick';
import { itWhen, NO_REAL_CSV, REAL_CSV } from '../support/environment';
import { generateSample, SAMPLE_SYMBOLS } from '../../scripts/generate-sample';

/** The symbols of the real indexProcessed.csv. */
const REAL_SYMBOLS = [
  '000001.SS',
  '399001.SZ',
  'GDAXI',
  'GSPTSE',
  'HSI',
  'IXIC',
  'J203.JO',
  'N100',
  'N225',
  'NSEI',
  'NYA',
  'SSMI',
  'TWII',
];

const ROOT = resolve(__dirname, '..', '..');
const SAMPLE = resolve(ROOT, 'data', 'sample.csv');
const FIXTURES = resolve(ROOT, 'test', 'fixtures');

/**
 * The csv-parse options the replay producer uses, so these tests see rows exactly as it does:
 * - `bom`: a UTF-8 BOM from spreadsheet exports is dropped before the header;
 * - `relax_column_count`: rows with too few or too many fields reach parseRow (and the dead-letter
 *   topic) instead of aborting the parse;
 * - `skip_empty_lines: false` (the default): an empty line is a record [''] that parseRow rejects, so
 *   nothing disappears without a trace;
 * - `quote: false`: no field of this schema can contain a comma, quote or newline, so one physical line
 *   is exactly one record; a stray quote then fails validation on its own line instead of swallowing the
 *   lines after it until the quote closes;
 * - `record_delimiter`: CRLF and LF, even mixed in one file (auto-detection locks onto the first one);
 * - `info`: `info.lines` is the 1-based line number of the record, the header being line 1.
 */
const CSV_OPTIONS: Options = {
  bom: true,
  relax_column_count: true,
  skip_empty_lines: false,
  quote: false,
  record_delimiter: ['\r\n', '\n'],
  info: true,
};

interface CsvLine {
  line: number;
  fields: string[];
}

async function readCsv(path: string): Promise<CsvLine[]> {
  const lines: CsvLine[] = [];
  const parser = createReadStream(path).pipe(parse(CSV_OPTIONS));
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    lines.push({ line: info.lines, fields: record });
  }
  return lines;
}

const HEADER_LINE = 'Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD';
const GOOD_LINE = 'HSI,1986-12-31,2568.300049,2568.300049,2568.300049,2568.300049,2568.300049,0.0,333.87900637';
const GOOD_RANGE_LINE =
  'NYA,2021-05-28,16531.94922,16588.68945,16531.94922,16555.66016,16555.66016,4199270000.0,16555.66016';

const COLUMN_INDEX = {
  symbol: 0,
  date: 1,
  open: 2,
  high: 3,
  low: 4,
  close: 5,
  adj_close: 6,
  volume: 7,
  close_usd: 8,
} as const;
type Column = keyof typeof COLUMN_INDEX;

/** A valid row (open 100, high 110, low 90, close 105) with some fields replaced. */
function row(overrides: Partial<Record<Column, string>> = {}): string[] {
  const fields = ['SSMI', '2021-05-28', '100.0', '110.0', '90.0', '105.0', '104.5', '1000.0', '116.55'];
  for (const [column, value] of Object.entries(overrides)) fields[COLUMN_INDEX[column as Column]] = value;
  return fields;
}

function reasonOf(fields: readonly string[]): string {
  const result = parseRow(fields);
  if (result.ok) throw new Error(`expected a rejection, got ${JSON.stringify(result.tick)}`);
  return result.reason;
}

function tickOf(fields: readonly string[]): Tick {
  const result = parseRow(fields);
  if (!result.ok) throw new Error(`expected a valid row, got '${result.reason}'`);
  return result.tick;
}

describe('CSV_HEADER', () => {
  it('is the header of indexProcessed.csv, in order', () => {
    expect(CSV_HEADER).toEqual(['Index', 'Date', 'Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume', 'CloseUSD']);
  });

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(CSV_HEADER)).toBe(true);
  });
});

describe('checkHeader', () => {
  const EXPECTED = 'expected header: Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD';

  it('accepts the expected header', () => {
    expect(checkHeader(HEADER_LINE.split(','))).toBeUndefined();
  });

  it('accepts a UTF-8 BOM before the first name', () => {
    expect(checkHeader(`\uFEFF${HEADER_LINE}`.split(','))).toBeUndefined();
  });

  it('accepts whitespace around names, including a CR left by a CRLF file split on LF', () => {
    expect(checkHeader(` Index , Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\r`.split(','))).toBeUndefined();
  });

  it('accepts a BOM followed by whitespace', () => {
    expect(checkHeader(`\uFEFF Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD`.split(','))).toBeUndefined();
  });

  it('names the column count and the expected header when there are too few columns', () => {
    expect(checkHeader(['Index', 'Date', 'Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume'])).toBe(
      `header has 8 columns ('Index,Date,Open,High,Low,Close,Adj Close,Volume'), ${EXPECTED}`,
    );
  });

  it('names the column count when there are too many columns', () => {
    expect(checkHeader([...CSV_HEADER, 'Currency'])).toMatch(
      /^header has 10 columns \('Index,.*,CloseUSD,Currency'\), /,
    );
  });

  it('rejects an empty header line', () => {
    expect(checkHeader([''])).toBe(`header has 1 column (''), ${EXPECTED}`);
  });

  it('names a renamed column, its position and the expected name', () => {
    const fields = HEADER_LINE.replace('Adj Close', 'Adj_Close').split(',');
    expect(checkHeader(fields)).toBe(`column 7 is 'Adj_Close', expected 'Adj Close' (${EXPECTED})`);
  });

  it('compares names case-sensitively', () => {
    expect(checkHeader(HEADER_LINE.replace('Index', 'index').split(','))).toBe(
      `column 1 is 'index', expected 'Index' (${EXPECTED})`,
    );
  });

  it('lists every differing column', () => {
    const snake = ['symbol', 'trade_date', 'open', 'high', 'low', 'close', 'adj_close', 'volume', 'close_usd'];
    const message = checkHeader(snake);
    expect(message).toContain("column 1 is 'symbol', expected 'Index'; column 2 is 'trade_date', expected 'Date';");
    expect(message).toContain("column 9 is 'close_usd', expected 'CloseUSD' (");
    expect(message?.split('; ')).toHaveLength(9);
  });

  it('detects swapped columns', () => {
    const swapped = HEADER_LINE.replace('High,Low', 'Low,High').split(',');
    expect(checkHeader(swapped)).toBe(
      `column 4 is 'Low', expected 'High'; column 5 is 'High', expected 'Low' (${EXPECTED})`,
    );
  });

  it('treats a BOM anywhere as surrounding whitespace, as String.prototype.trim does', () => {
    const fields = HEADER_LINE.split(',');
    fields[1] = `\uFEFF${fields[1]}`;
    expect(checkHeader(fields)).toBeUndefined();
  });

  it('rejects the header of a daily-prices download with a different schema (fixture other-header.csv)', async () => {
    const [header, ...rows] = await readCsv(resolve(FIXTURES, 'other-header.csv'));
    expect(checkHeader(header.fields)).toBe(
      `header has 7 columns ('Date,Open,High,Low,Close,Adj Close,Volume'), ${EXPECTED}`,
    );
    expect(rows.map((r) => reasonOf(r.fields))).toEqual(['expected 9 fields, got 7', 'expected 9 fields, got 7']);
  });
});

describe('parseRow', () => {
  describe('a valid row', () => {
    it('becomes a tick with lowercase snake_case columns', () => {
      expect(parseRow(GOOD_LINE.split(','))).toEqual({
        ok: true,
        tick: {
          symbol: 'HSI',
          trade_date: '1986-12-31',
          open: 2568.300049,
          high: 2568.300049,
          low: 2568.300049,
          close: 2568.300049,
          adj_close: 2568.300049,
          volume: 0,
          close_usd: 333.87900637,
        },
      });
    });

    it('keeps every value of a row with a real intraday range and volume', () => {
      expect(tickOf(GOOD_RANGE_LINE.split(','))).toEqual({
        symbol: 'NYA',
        trade_date: '2021-05-28',
        open: 16531.94922,
        high: 16588.68945,
        low: 16531.94922,
        close: 16555.66016,
        adj_close: 16555.66016,
        volume: 4199270000,
        close_usd: 16555.66016,
      });
    });

    it('has exactly the nine tick columns, in schema order', () => {
      expect(Object.keys(tickOf(row()))).toEqual([
        'symbol',
        'trade_date',
        'open',
        'high',
        'low',
        'close',
        'adj_close',
        'volume',
        'close_usd',
      ]);
    });

    it('trims whitespace around every field', () => {
      const padded = row().map((field) => ` ${field}\t`);
      expect(tickOf(padded)).toEqual(tickOf(row()));
    });

    it('does not modify its input', () => {
      const fields = Object.freeze(row({ symbol: ' HSI ' }));
      expect(tickOf(fields).symbol).toBe('HSI');
      expect(fields[0]).toBe(' HSI ');
    });

    it('accepts a symbol that happens to end like the header', () => {
      expect(tickOf(row({ symbol: 'Index' })).symbol).toBe('Index');
      expect(tickOf(row({ symbol: 'DJIndex' })).symbol).toBe('DJIndex');
    });

    it('accepts symbols with dots and digits', () => {
      expect(tickOf(row({ symbol: '000001.SS' })).symbol).toBe('000001.SS');
    });
  });

  describe('field count', () => {
    it.each([0, 1, 2, 8, 10, 20])('rejects %d fields', (count) => {
      const fields = Array.from({ length: count }, (_, i) => row()[i % 9]);
      expect(reasonOf(fields)).toBe(`expected 9 fields, got ${count}`);
    });

    it('rejects a row with a trailing comma', () => {
      expect(reasonOf(`${GOOD_LINE},`.split(','))).toBe('expected 9 fields, got 10');
    });

    it('checks the count before any value', () => {
      expect(reasonOf(['', 'not a date', 'abc', 'abc', 'abc', 'abc', 'abc', '-1'])).toBe('expected 9 fields, got 8');
    });

    it.each([[''], [' '], ['\t'], ['\r']])('rejects an empty line %j as such', (field) => {
      expect(reasonOf([field])).toBe('empty line');
    });
  });

  describe('repeated header', () => {
    it('rejects a header line in the middle of the data', () => {
      expect(reasonOf(HEADER_LINE.split(','))).toBe('repeated header line');
    });

    it('rejects a repeated header with a BOM or whitespace (concatenated files)', () => {
      expect(reasonOf(`\uFEFF${HEADER_LINE}`.split(','))).toBe('repeated header line');
      expect(reasonOf(HEADER_LINE.split(',').map((name) => ` ${name} `))).toBe('repeated header line');
    });

    it('treats a header of another schema as a malformed row', () => {
      expect(reasonOf(HEADER_LINE.replace('CloseUSD', 'Close USD').split(','))).toBe(
        "date is not in YYYY-MM-DD form: 'Date'",
      );
    });
  });

  describe('symbol', () => {
    it.each(['', ' ', '\t  '])('rejects the empty symbol %j', (symbol) => {
      expect(reasonOf(row({ symbol }))).toBe('symbol is empty');
    });

    it('trims the symbol', () => {
      expect(tickOf(row({ symbol: '  N225 ' })).symbol).toBe('N225');
    });

    it.each(['HSI', '000001.SS', '^GSPC', 'BRK-B', 'EURUSD=X', 'J203.JO', 'A', 'X'.repeat(MAX_SYMBOL_LENGTH)])(
      'accepts the ticker %s',
      (symbol) => {
        expect(tickOf(row({ symbol })).symbol).toBe(symbol);
      },
    );

    it.each([
      '"HSI"',
      "'HSI'",
      'HSI INDEX',
      'a/b',
      '../HSI',
      'HSI\u0000',
      'sym=bol?',
      'X'.repeat(MAX_SYMBOL_LENGTH + 1),
      'ÄKTIE',
    ])('rejects %j, which is not a ticker, with the reason', (symbol) => {
      expect(reasonOf(row({ symbol }))).toMatch(
        /^symbol is not a ticker: '.*' \(letters, digits, '\.', '-', '\^', '=', at most 24 characters\)$/s,
      );
    });
  });

  describe('date', () => {
    it.each(['1965-01-05', '2021-05-31', '2020-02-29', '2000-02-29', '2021-12-31', '2021-01-01', '1999-04-30'])(
      'accepts the real date %s',
      (date) => {
        expect(tickOf(row({ date })).trade_date).toBe(date);
      },
    );

    it('trims the date', () => {
      expect(tickOf(row({ date: ' 2021-05-31\r' })).trade_date).toBe('2021-05-31');
    });

    it.each([
      '2021-02-29', // not a leap year
      '1900-02-29', // divisible by 100, not by 400
      '2021-02-30',
      '2021-04-31',
      '2021-06-31',
      '2021-09-31',
      '2021-11-31',
      '2021-01-32',
      '2021-13-01',
      '2021-00-10',
      '2021-01-00',
      '2021-99-99',
    ])('rejects the impossible date %s', (date) => {
      expect(reasonOf(row({ date }))).toBe(`date is not a real date: '${date}'`);
    });

    it.each([
      '2021/02/03', // slashes are not guessed at: the lake stores the date as written
      '2021.02.03',
      '03/02/2021',
      '21-02-03',
      '2021-2-3',
      '2021-02-3',
      '20210203',
      '2021-02-03T00:00:00Z',
      '2021-02-03 00:00',
      '+021-02-03',
      '2021-0a-03',
      '2021--2-03',
      'abcd-ef-gh',
      '1986-12-31x',
      'Date',
    ])('rejects %j as not YYYY-MM-DD', (date) => {
      expect(reasonOf(row({ date }))).toBe(`date is not in YYYY-MM-DD form: '${date}'`);
    });

    it('quotes the date as written, before trimming', () => {
      expect(reasonOf(row({ date: ' 2021/02/03' }))).toBe("date is not in YYYY-MM-DD form: ' 2021/02/03'");
    });

    it.each(['', '  '])('rejects an empty date %j', (date) => {
      expect(reasonOf(row({ date }))).toBe('date is empty');
    });
  });

  describe('numbers', () => {
    const NUMERIC: Column[] = ['open', 'high', 'low', 'close', 'adj_close', 'volume', 'close_usd'];

    // adj_close has no range check, so it shows how each accepted spelling is read.
    it.each([
      ['1234.5', 1234.5],
      ['-0.5', -0.5],
      ['1e3', 1000],
      ['1E3', 1000],
      ['1.5e-3', 0.0015],
      ['2.5E+2', 250],
      ['+12', 12],
      ['.5', 0.5],
      ['5.', 5],
      ['007.50', 7.5],
      ['0', 0],
      ['2568.300049', 2568.300049],
      ['3789.7341014000003', 3789.7341014000003],
      [' 42.0 ', 42],
    ])('accepts %j as %d', (text, value) => {
      expect(tickOf(row({ adj_close: text })).adj_close).toBe(value);
    });

    const NOT_NUMBERS = [
      'null',
      'NULL',
      'NaN',
      'nan',
      'Infinity',
      '-Infinity',
      'inf',
      '1e',
      '1e+',
      'e3',
      '12abc',
      'abc',
      '0x1F',
      '0b101',
      '0o17',
      '1,5',
      '1 000',
      '1_000',
      '--1',
      '+-1',
      '1.2.3',
      '1e5.5',
      '.',
      '-',
      '+',
      '$12.50',
      '12%',
      '"12.5"',
      '١٢',
    ];
    const cases = NUMERIC.flatMap((column) => NOT_NUMBERS.map((text) => [column, text] as const));

    it.each(cases)('rejects %s = %j as not a number', (column, text) => {
      expect(reasonOf(row({ [column]: text }))).toBe(`${column} is not a number: '${text}'`);
    });

    it.each(NUMERIC.flatMap((column) => ['', '  '].map((text) => [column, text] as const)))(
      'rejects an empty %s (%j)',
      (column, text) => {
        expect(reasonOf(row({ [column]: text }))).toBe(`${column} is empty`);
      },
    );

    it.each(NUMERIC)('rejects a %s too large for a double', (column) => {
      expect(reasonOf(row({ [column]: '1e400' }))).toBe(`${column} is out of range: '1e400'`);
    });

    it('reports the first bad field in column order', () => {
      expect(reasonOf(row({ date: '2021-02-30', open: 'abc', volume: '-1' }))).toBe(
        "date is not a real date: '2021-02-30'",
      );
      expect(reasonOf(row({ close: 'x', high: 'y' }))).toBe("high is not a number: 'y'");
    });

    it('shortens a long value in the reason', () => {
      const reason = reasonOf(row({ open: 'x'.repeat(10_000) }));
      expect(reason).toBe(`open is not a number: '${'x'.repeat(40)}...'`);
    });
  });

  describe('volume', () => {
    it.each([
      ['0.0', 0],
      ['0', 0],
      ['1234.0', 1234],
      ['1234', 1234],
      ['1234.000', 1234],
      ['2188580800.0', 2188580800],
      ['1e3', 1000],
      ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ])('accepts %j as %d', (volume, value) => {
      expect(tickOf(row({ volume })).volume).toBe(value);
    });

    it('normalises a negative zero to zero', () => {
      expect(Object.is(tickOf(row({ volume: '-0.0' })).volume, 0)).toBe(true);
    });

    it.each(['-1', '-1234.0', '-0.5', '-1e3'])('rejects the negative volume %j', (volume) => {
      expect(reasonOf(row({ volume }))).toBe('volume is negative');
    });

    it.each(['12.5', '0.1', '1234.0001', '1e-3'])('rejects the fractional volume %j', (volume) => {
      expect(reasonOf(row({ volume }))).toBe(`volume is not a whole number: '${volume}'`);
    });

    it('rejects a volume beyond the exactly representable integers', () => {
      expect(reasonOf(row({ volume: '9007199254740993' }))).toBe("volume is too large: '9007199254740993'");
    });
  });

  describe('price consistency', () => {
    it('rejects high < low', () => {
      expect(reasonOf(row({ high: '89.0' }))).toBe('high < low');
    });

    it('checks high < low before open and close', () => {
      expect(reasonOf(row({ open: '100.0', close: '100.0', high: '95.0', low: '105.0' }))).toBe('high < low');
    });

    it.each([
      [{ open: '110.5' }, 'open > high'],
      [{ open: '89.5' }, 'open < low'],
      [{ close: '110.01' }, 'close > high'],
      [{ close: '89.99' }, 'close < low'],
    ] as const)('rejects %j with %s', (overrides, reason) => {
      expect(reasonOf(row(overrides))).toBe(reason);
    });

    it('accepts open and close on the bounds, and a flat day', () => {
      expect(tickOf(row({ open: '110.0', close: '90.0' })).open).toBe(110);
      expect(tickOf(row({ open: '90.0', close: '110.0' })).close).toBe(110);
      expect(tickOf(row({ open: '5.0', high: '5.0', low: '5.0', close: '5.0' })).high).toBe(5);
    });

    it.each(['150.0', '10.0', '0.0'])('does not range-check adj_close (%s)', (adjClose) => {
      expect(tickOf(row({ adj_close: adjClose })).adj_close).toBe(Number(adjClose));
    });

    it('compares numerically, not as text', () => {
      expect(tickOf(row({ open: '1e2', high: '1.1e2', low: '9e1', close: '105' })).high).toBe(110);
      expect(reasonOf(row({ open: '100.0', high: '9e1', low: '90', close: '90' }))).toBe('open > high');
    });

    it('accepts negative prices that are consistent (futures can settle below zero)', () => {
      const tick = tickOf(row({ open: '-10.5', high: '-1.0', low: '-40.32', close: '-37.63', adj_close: '-37.63' }));
      expect(tick.low).toBe(-40.32);
    });
  });
});

describe('fixtures', () => {
  it('bad-rows.csv: every line is seen with its line number, and each bad one is rejected for its reason', async () => {
    const lines = await readCsv(resolve(FIXTURES, 'bad-rows.csv'));
    expect(checkHeader(lines[0].fields)).toBeUndefined();
    const outcomes = lines.slice(1).map(({ line, fields }) => {
      const result = parseRow(fields);
      return [line, result.ok ? 'ok' : result.reason];
    });
    // Kept in step with test/fixtures/README.md.
    expect(outcomes).toEqual([
      [2, 'ok'],
      [3, "open is not a number: 'abc'"],
      [4, 'empty line'],
      [5, 'expected 9 fields, got 8'],
      [6, 'expected 9 fields, got 10'],
      [7, 'high < low'],
      [8, 'volume is negative'],
      [9, "date is not a real date: '2021-02-30'"],
      [10, "open is not a number: 'null'"],
      [11, "close is not a number: 'NaN'"],
      [12, "high is not a number: 'Infinity'"],
      [13, 'repeated header line'],
      [14, 'ok'],
      [15, 'symbol is empty'],
      [16, 'ok'],
      [17, "volume is not a whole number: '12.5'"],
      [18, 'ok'],
      [19, 'open > high'],
      [20, 'close < low'],
      [21, "date is not in YYYY-MM-DD form: '2021/03/15'"],
      [22, 'open is empty'],
      [23, "open is not a number: '12abc'"],
      [24, 'ok'],
      [25, `open is not a number: '29000.0"'`],
      [26, 'ok'],
      [27, "close_usd is not a number: '0x1F'"],
      [28, 'ok'],
    ]);
  });

  it('bad-rows.csv: the good rows are read correctly around the bad ones', async () => {
    const lines = await readCsv(resolve(FIXTURES, 'bad-rows.csv'));
    const ticks = lines.slice(1).flatMap(({ fields }) => {
      const result = parseRow(fields);
      return result.ok ? [result.tick] : [];
    });
    expect(ticks.map((t) => `${t.symbol} ${t.trade_date}`)).toEqual([
      'HSI 2021-05-24',
      'NYA 2021-03-04',
      'NYA 2021-03-08',
      'NYA 2021-03-10',
      'N225 2021-03-18',
      'N225 2021-03-22',
      'N225 2021-03-24',
    ]);
    expect(ticks[2].volume).toBe(1234);
    expect(ticks[3].adj_close).toBe(15612.34961);
    expect(ticks[4].open).toBe(29000);
  });

  it('bom-crlf.csv: the BOM and the CRs never reach a field', async () => {
    const lines = await readCsv(resolve(FIXTURES, 'bom-crlf.csv'));
    const raw = readFileSync(resolve(FIXTURES, 'bom-crlf.csv'), 'utf8');
    expect(raw.startsWith('\uFEFF')).toBe(true);
    expect(raw.split('\r\n')).toHaveLength(5);

    expect(lines.map((l) => l.line)).toEqual([1, 2, 3, 4]);
    expect(lines[0].fields).toEqual(CSV_HEADER);
    expect(checkHeader(lines[0].fields)).toBeUndefined();
    for (const { fields } of lines) expect(fields.join(',')).not.toMatch(/[\r\n\uFEFF]/);
    const ticks = lines.slice(1).map(({ fields }) => tickOf(fields));
    expect(ticks.map((t) => t.trade_date)).toEqual(['2021-05-26', '2021-05-27', '2021-05-28']);
    expect(ticks[2]).toEqual({
      symbol: 'GDAXI',
      trade_date: '2021-05-28',
      open: 15473.79004,
      high: 15542.08984,
      low: 15434.58984,
      close: 15519.12988,
      adj_close: 15519.12988,
      volume: 60744600,
      close_usd: 18933.3384536,
    });
  });

  it('a file mixing LF and CRLF is still one record per line', async () => {
    const path = resolve(FIXTURES, 'bom-crlf.csv');
    const mixed = readFileSync(path, 'utf8').replace('\r\n', '\n');
    const records: string[][] = [];
    const parser = parse(mixed, CSV_OPTIONS);
    for await (const { record } of parser as AsyncIterable<{ record: string[] }>) records.push(record);
    expect(records).toHaveLength(4);
    expect(records.every((r) => r.length === 9)).toBe(true);
  });
});

describe('data/sample.csv', () => {
  let lines: CsvLine[];
  let ticks: Tick[];

  beforeAll(async () => {
    lines = await readCsv(SAMPLE);
    ticks = lines.slice(1).map(({ fields, line }) => {
      const result = parseRow(fields);
      if (!result.ok) throw new Error(`${basename(SAMPLE)} line ${line}: ${result.reason}`);
      return result.tick;
    });
  });

  it('is what the generator produces (regenerate with npm run generate-sample)', () => {
    expect(readFileSync(SAMPLE, 'utf8') === generateSample()).toBe(true);
  });

  it('has the expected header and every row is valid', () => {
    expect(checkHeader(lines[0].fields)).toBeUndefined();
    expect(ticks).toHaveLength(lines.length - 1);
    expect(lines.map((l) => l.line)).toEqual(lines.map((_, i) => i + 1));
  });

  it('has a few thousand rows over the sample symbols, grouped by symbol like the real file', () => {
    expect(ticks.length).toBeGreaterThanOrEqual(3000);
    expect(ticks.length).toBeLessThanOrEqual(6000);
    const blocks = ticks.map((t) => t.symbol).filter((symbol, i, all) => i === 0 || all[i - 1] !== symbol);
    expect(blocks).toEqual(SAMPLE_SYMBOLS.map((s) => s.symbol));
  });

  it('does not pose as real data: none of its symbols is one of the real file', () => {
    // REAL_SYMBOLS is checked against the real file below, when TICKLAKE_REAL_CSV is set.
    const symbols = [...new Set(ticks.map((t) => t.symbol))];
    expect(symbols.filter((s) => REAL_SYMBOLS.includes(s))).toEqual([]);
    expect(symbols.every((s) => s.startsWith('SAMPLE-'))).toBe(true);
  });

  it('has trading days only, strictly increasing within each symbol', () => {
    const weekends = ticks.filter((t) => [0, 6].includes(new Date(`${t.trade_date}T00:00:00Z`).getUTCDay()));
    expect(weekends).toEqual([]);
    const outOfOrder = ticks.filter(
      (t, i) => i > 0 && ticks[i - 1].symbol === t.symbol && ticks[i - 1].trade_date >= t.trade_date,
    );
    expect(outOfOrder).toEqual([]);
  });

  it('has adj_close = close and close_usd = close × a fixed rate per symbol', () => {
    const rates = new Map(SAMPLE_SYMBOLS.map((s) => [s.symbol, s.usdRate]));
    expect(ticks.filter((t) => t.adj_close !== t.close)).toEqual([]);
    expect(ticks.filter((t) => t.close_usd !== t.close * rates.get(t.symbol)!)).toEqual([]);
  });

  it('has some days without volume and an intraday range on most days', () => {
    const zeroVolume = ticks.filter((t) => t.volume === 0).length;
    expect(zeroVolume).toBeGreaterThan(0);
    expect(zeroVolume).toBeLessThan(ticks.length / 2);
    expect(ticks.filter((t) => t.high > t.low).length).toBeGreaterThan(ticks.length * 0.9);
  });

  it('writes numbers like the real file', () => {
    const rows = lines.slice(1).map((l) => l.fields);
    expect(rows.filter((fields) => !/^\d+\.0$/.test(fields[7]))).toEqual([]);
    expect(rows.filter((fields) => !fields.slice(2, 7).every((price) => /^\d+\.\d+$/.test(price)))).toEqual([]);
    expect(rows.filter((fields) => !/^\d+\.\d+$/.test(fields[8]))).toEqual([]);
  });
});

describe('the real indexProcessed.csv (TICKLAKE_REAL_CSV)', () => {
  itWhen(REAL_CSV !== undefined, NO_REAL_CSV)(
    'parses every one of its 104,224 rows as valid, over 13 symbols in contiguous blocks',
    async () => {
      const lines = await readCsv(REAL_CSV!);
      expect(checkHeader(lines[0].fields)).toBeUndefined();
      const symbols: string[] = [];
      const rejected: string[] = [];
      for (const { line, fields } of lines.slice(1)) {
        const result = parseRow(fields);
        if (!result.ok) rejected.push(`line ${line}: ${result.reason}`);
        else if (symbols[symbols.length - 1] !== result.tick.symbol) symbols.push(result.tick.symbol);
      }
      expect(rejected).toEqual([]);
      expect(lines).toHaveLength(104_225);
      expect(symbols).toHaveLength(13);
      expect(new Set(symbols).size).toBe(13);
      expect([...symbols].sort()).toEqual(REAL_SYMBOLS);
    },
  );
});
