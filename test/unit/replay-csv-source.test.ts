/** Reading a source file for the replay: header check, the run scan, chunked reading, ordering, resuming. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import {
  MAX_LINE_BYTES,
  SourceFileError,
  openSource,
  orderKey,
  rawLine,
  scanSource,
  type Cursor,
  type SourceRow,
} from '../../src/replay/csv-source';
import { planRuns, type ReplayOrder } from '../../src/replay/ordered-rows';
import { openOrderedSource } from '../../src/replay/ordered-source';
import { MAX_RECORD_BYTES, UNCLOSED_QUOTE } from '../../src/replay/csv-records';
import { parseRow } from '../../src/tick';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'data', 'sample.csv');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const HEADER = 'Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-csv-source-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function row(symbol: string, date: string, close = 10): string {
  return `${symbol},${date},${close},${close + 1},${close - 1},${close},${close},100.0,${close}`;
}

/** Every row of a file in an order, from the start or from cursors, with small chunks to cross many boundaries. */
async function readAll(
  file: string,
  order: ReplayOrder,
  opts: { from?: Cursor[]; chunk?: number; max?: number; stopAfter?: number } = {},
) {
  const layout = await scanSource(file);
  const runs = planRuns(layout, order);
  const src = await openOrderedSource(file, runs, order, opts.from ?? runs.map((r) => r.start), opts.chunk);
  const rows: SourceRow[] = [];
  try {
    for (;;) {
      const want =
        opts.stopAfter === undefined ? (opts.max ?? 4096) : Math.min(opts.max ?? 4096, opts.stopAfter - rows.length);
      if (want === 0) break;
      const got = await src.next(want);
      if (got === null) break;
      rows.push(...got);
    }
    return { rows, cursors: src.cursors(), layout, runs };
  } finally {
    await src.close();
  }
}

describe('openSource', () => {
  it('accepts the sample and the BOM + CRLF fixture', async () => {
    const stat = fs.statSync(SAMPLE);
    expect(await openSource(SAMPLE)).toEqual({ size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) });
    await expect(openSource(path.join(FIXTURES, 'bom-crlf.csv'))).resolves.toBeDefined();
  });

  it('names the file and the problem for another header, a missing file, a directory and an empty file', async () => {
    const other = path.join(FIXTURES, 'other-header.csv');
    await expect(openSource(other)).rejects.toThrow(SourceFileError);
    await expect(openSource(other)).rejects.toThrow(
      `source file '${other}' has an unexpected header: header has 7 columns ('Date,Open,High,Low,Close,Adj Close,Volume')`,
    );
    const missing = path.join(dir, 'nope.csv');
    await expect(openSource(missing)).rejects.toThrow(`source file '${missing}' does not exist`);
    await expect(openSource(dir)).rejects.toThrow(`source '${dir}' is not a regular file`);
    const empty = write('empty.csv', '');
    await expect(openSource(empty)).rejects.toThrow(`source file '${empty}' is empty`);
  });
});

describe('orderKey', () => {
  it('is the date when it has the YYYY-MM-DD shape, else the previous key', () => {
    expect(orderKey('2021-05-24', '')).toBe('2021-05-24');
    expect(orderKey(' 2021-05-24\r', 'x')).toBe('2021-05-24');
    expect(orderKey('2021/05/24', '2021-05-23')).toBe('2021-05-23');
    expect(orderKey('', '2021-05-23')).toBe('2021-05-23');
    expect(orderKey(undefined, '')).toBe('');
  });
});

describe('scanSource', () => {
  it('finds one run per symbol in the sample, which is grouped by symbol', async () => {
    const layout = await scanSource(SAMPLE);
    const text = fs.readFileSync(SAMPLE, 'utf8');
    const lines = text.split('\n');
    expect(layout.size).toBe(Buffer.byteLength(text));
    expect(layout.dataStart).toBe(Buffer.byteLength(lines[0]) + 1);
    expect(layout.rows).toBe(4086);
    const symbols = [
      ...new Set(
        lines
          .slice(1)
          .filter(Boolean)
          .map((l) => l.split(',')[0]),
      ),
    ];
    expect(layout.runs).toHaveLength(symbols.length);
    for (const run of layout.runs) {
      expect(lines[run.line - 1].split(',')[0]).toBe(symbols[layout.runs.indexOf(run)]);
      expect(text.slice(run.offset).startsWith(lines[run.line - 1])).toBe(true);
    }
  });

  it('starts a run only where a well-formed date goes down; a broken date stays in its run', async () => {
    const file = write(
      'runs.csv',
      [
        HEADER,
        row('A', '2020-01-01'),
        row('A', 'garbage'),
        row('A', '2020-01-03'),
        row('B', '2020-01-02'),
        '',
        row('B', '2020-01-04'),
        row('C', '2019-12-31'),
      ].join('\r\n'),
    );
    const layout = await scanSource(file);
    expect(layout.rows).toBe(7);
    expect(layout.runs.map((r) => r.line)).toEqual([2, 5, 8]);
  });

  it('counts a last line without a line break, and a header-only file has no rows', async () => {
    expect((await scanSource(write('nolf.csv', `${HEADER}\n${row('A', '2020-01-01')}`))).rows).toBe(1);
    const headerOnly = await scanSource(write('header.csv', HEADER));
    expect(headerOnly).toMatchObject({ rows: 0, runs: [], dataStart: HEADER.length });
    expect((await scanSource(write('header-lf.csv', `${HEADER}\n`))).rows).toBe(0);
  });

  it('refuses a line longer than MAX_LINE_BYTES, naming the file and the line', async () => {
    const file = write('long.csv', `${HEADER}\n${row('A', '2020-01-01')}\n${'x'.repeat(MAX_LINE_BYTES + 10)}\n`);
    await expect(scanSource(file)).rejects.toThrow(
      new RegExp(`source file '.*long.csv': line 3 is longer than ${MAX_LINE_BYTES} bytes`),
    );
  });
});

/** The fixtures' rows as csv-parse reads whole files with the options of test/fixtures/README.md. */
function referenceRows(file: string): { line: number; fields: string[] }[] {
  const records = parse(fs.readFileSync(file), {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: false,
    quote: false,
    record_delimiter: ['\r\n', '\n'],
    info: true,
  }) as unknown as { record: string[]; info: { lines: number } }[];
  return records.slice(1).map((r) => ({ line: r.info.lines, fields: r.record }));
}

describe('reading rows', () => {
  it.each(['bad-rows.csv', 'bom-crlf.csv'])('gives the rows of %s as csv-parse reads the whole file', async (name) => {
    const file = path.join(FIXTURES, name);
    for (const chunk of [16, 64, 256 * 1024]) {
      const { rows } = await readAll(file, 'file', { chunk });
      expect(rows.map((r) => ({ line: r.line, fields: r.fields }))).toEqual(referenceRows(file));
    }
  });

  it('gives bad-rows.csv the line numbers and reasons of the fixture README', async () => {
    const { rows } = await readAll(path.join(FIXTURES, 'bad-rows.csv'), 'file');
    const outcome = new Map(rows.map((r) => [r.line, parseRow(r.fields)]));
    expect(rows).toHaveLength(27);
    expect([...outcome].filter(([, r]) => r.ok).map(([line]) => line)).toEqual([2, 14, 16, 18, 24, 26, 28]);
    const reason = (line: number) => {
      const r = outcome.get(line)!;
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason(3)).toBe("open is not a number: 'abc'");
    expect(reason(4)).toBe('empty line');
    expect(reason(5)).toBe('expected 9 fields, got 8');
    expect(reason(13)).toBe('repeated header line');
    expect(reason(25)).toBe("open is not a number: '29000.0\"'");
    expect(reason(27)).toBe("close_usd is not a number: '0x1F'");
  });

  it('hands out raw lines without line breaks, and no BOM or CR in values', async () => {
    const file = path.join(FIXTURES, 'bom-crlf.csv');
    const { rows } = await readAll(file, 'file');
    const lines = fs
      .readFileSync(file, 'utf8')
      .replace(/^\uFEFF/, '')
      .split('\r\n');
    expect(rows.map(rawLine)).toEqual(lines.slice(1, 4));
    for (const r of rows) {
      const t = parseRow(r.fields);
      expect(t.ok).toBe(true);
      expect(JSON.stringify(t)).not.toMatch(/\\r|\\ufeff/i);
    }
    const bad = await readAll(path.join(FIXTURES, 'bad-rows.csv'), 'file');
    expect(rawLine(bad.rows.find((r) => r.line === 4)!)).toBe('');
    expect(rawLine(bad.rows.find((r) => r.line === 3)!)).toBe(
      'HSI,2021-05-25,abc,28933.57031,28467.03906,28910.86914,28910.86914,1662390800.0,3758.4129882',
    );
  });

  it('orders the sample by (date, run) in market order, every row exactly once', async () => {
    const { rows } = await readAll(SAMPLE, 'market', { chunk: 4096 });
    expect(rows).toHaveLength(4086);
    expect(new Set(rows.map((r) => r.line)).size).toBe(4086);
    const outOfOrder = rows.filter((b, i) => {
      const a = rows[i - 1];
      return (
        a &&
        !(
          a.key < b.key ||
          (a.key === b.key && a.run < b.run) ||
          (a.key === b.key && a.run === b.run && a.line < b.line)
        )
      );
    });
    expect(outOfOrder).toEqual([]);
    expect(new Set(rows.map((r) => r.run)).size).toBe(5);
    const file = await readAll(SAMPLE, 'file');
    expect(file.rows.map((r) => r.line)).toEqual(Array.from({ length: 4086 }, (_, i) => i + 2));
  });

  it('resumes from cursors exactly where it stopped, in both orders and at any row', async () => {
    const file = write(
      'resume.csv',
      [
        HEADER,
        row('A', '2020-01-02'),
        row('A', 'bad-date'),
        row('A', '2020-01-03'),
        '',
        row('B', '2020-01-01'),
        row('B', '2020-01-03'),
        row('C', '2020-01-02'),
        'C,not,enough',
        row('C', '2020-01-05'),
        row('C', '2020-01-06'),
      ].join('\r\n') + '\r\n',
    );
    for (const f of [file, SAMPLE]) {
      for (const order of ['file', 'market'] as const) {
        const small = f === SAMPLE ? 4096 : 32;
        const whole = (await readAll(f, order, { chunk: small })).rows.map((r) => r.line);
        const cuts = f === SAMPLE ? [0, 1, 889, 890, 2000, 4085, 4086] : whole.map((_, i) => i).concat(whole.length);
        for (const cut of cuts) {
          const first = await readAll(f, order, { chunk: small, stopAfter: cut, max: 7 });
          const rest = await readAll(f, order, { chunk: small + 16, from: first.cursors });
          expect(first.rows.map((r) => r.line).concat(rest.rows.map((r) => r.line))).toEqual(whole);
        }
      }
    }
  });

  it('refuses a line longer than MAX_LINE_BYTES while reading', async () => {
    const file = write('long2.csv', `${HEADER}\n${row('A', '2020-01-01')}\n${'y'.repeat(MAX_LINE_BYTES + 1)}`);
    const src = await openOrderedSource(
      file,
      [{ start: { offset: HEADER.length + 1, line: 2, key: '' }, end: fs.statSync(file).size }],
      'file',
      [{ offset: HEADER.length + 1, line: 2, key: '' }],
    );
    try {
      await expect(
        (async () => {
          while ((await src.next(100)) !== null);
        })(),
      ).rejects.toThrow(/line 3 is longer than/);
    } finally {
      await src.close();
    }
  });
});

describe('RFC 4180 quoting', () => {
  /** A file as pandas, R or Excel write it: quoted header names, quoted text fields, CRLF. */
  const QUOTED_LINES = [
    '"Index","Date","Open","High","Low","Close","Adj Close","Volume","CloseUSD"',
    '"HSI","2020-01-02",10,11,9,10,10,100.0,10',
    '"N""225",2020-01-02,10,11,9,10,10,100.0,10',
    '"HS\r\nI",2020-01-03,10,11,9,10,10,100.0,10',
    'HSI,2020-01-06,"10","11","9","10","10","100.0","10"',
    '"NYA","2020-01-07","1,234.5",11,9,10,10,100.0,10',
    '"",2020-01-08,10,11,9,10,10,100.0,10',
    '"HSI", 2020-01-09 ,10,11,9,10,10,100.0,10',
    'HSI,2020-01-10,10,11,9,10,10,100.0,10',
  ];
  const quotedText = QUOTED_LINES.join('\r\n') + '\r\n';

  it('accepts a quoted header', async () => {
    const file = write('quoted-header.csv', quotedText);
    await expect(openSource(file)).resolves.toBeDefined();
    await expect(openSource(write('quoted-header-bom.csv', `\uFEFF${quotedText}`))).resolves.toBeDefined();
  });

  it('reads quoted fields, doubled quotes and quoted line breaks as csv-parse reads the whole file', async () => {
    const file = write('quoted.csv', quotedText);
    const records: string[][] = parse(fs.readFileSync(file), {
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n'],
    });
    const reference = records.slice(1);
    const layout = await scanSource(file);
    expect(layout.rows).toBe(8);
    expect(layout.dataStart).toBe(Buffer.byteLength(QUOTED_LINES[0]) + 2);
    for (const chunk of [8, 16, 33, 64, 256 * 1024]) {
      const { rows } = await readAll(file, 'file', { chunk });
      expect(rows.map((r) => r.fields)).toEqual(reference);
      expect(rows.map((r) => r.line)).toEqual([2, 3, 4, 6, 7, 8, 9, 10]);
      expect(rows.map((r) => r.nextLine)).toEqual([3, 4, 6, 7, 8, 9, 10, 11]);
    }
    const { rows } = await readAll(file, 'file');
    const outcome = rows.map((r) => {
      const t = parseRow(r.fields);
      return t.ok ? `${t.tick.symbol} ${t.tick.trade_date} ${t.tick.open}` : t.reason;
    });
    expect(outcome).toEqual([
      'HSI 2020-01-02 10',
      expect.stringMatching(/^symbol is not a ticker: 'N"225'/),
      expect.stringMatching(/^symbol is not a ticker: 'HS\r\nI'/),
      'HSI 2020-01-06 10',
      "open is not a number: '1,234.5'",
      'symbol is empty',
      'HSI 2020-01-09 10',
      'HSI 2020-01-10 10',
    ]);
  });

  it('keeps byte positions exact: each row ends where the next starts, raw text included line breaks', async () => {
    const file = write('quoted-pos.csv', quotedText);
    const bytes = fs.readFileSync(file);
    const { rows, layout } = await readAll(file, 'file', { chunk: 16 });
    let at = layout.dataStart;
    for (const r of rows) {
      const raw = rawLine(r);
      expect(bytes.subarray(at, r.end).toString('utf8')).toBe(`${raw}\r\n`);
      at = r.end;
    }
    expect(at).toBe(bytes.length);
    expect(rawLine(rows[2])).toBe('"HS\r\nI",2020-01-03,10,11,9,10,10,100.0,10');
  });

  it('resumes exactly at any row, also after a row with a quoted line break, in both orders', async () => {
    const file = write('quoted-resume.csv', quotedText);
    for (const order of ['file', 'market'] as const) {
      const whole = (await readAll(file, order, { chunk: 16 })).rows.map((r) => r.line);
      for (let cut = 0; cut <= whole.length; cut++) {
        const first = await readAll(file, order, { chunk: 16, stopAfter: cut, max: 3 });
        const rest = await readAll(file, order, { chunk: 40, from: first.cursors });
        expect(first.rows.map((r) => r.line).concat(rest.rows.map((r) => r.line))).toEqual(whole);
      }
    }
  });

  it('finds runs by the quoted date', async () => {
    const file = write(
      'quoted-runs.csv',
      [
        HEADER,
        '"A","2020-01-02",1,1,1,1,1,1,1',
        '"A","2020-01-03",1,1,1,1,1,1,1',
        '"B","2020-01-01",1,1,1,1,1,1,1',
      ].join('\n'),
    );
    expect((await scanSource(file)).runs.map((r) => r.line)).toEqual([2, 4]);
  });

  it('rejects text after a closing quote and an unclosed quote with the reason, and reads on after them', async () => {
    const file = write(
      'quoted-bad.csv',
      [
        HEADER,
        row('A', '2020-01-02'),
        '"A"B,2020-01-03,10,11,9,10,10,100.0,10',
        row('A', '2020-01-04'),
        '"A,2020-01-05,10,11,9,10,10,100.0,10',
        row('A', '2020-01-06'),
      ].join('\n') + '\n',
    );
    for (const chunk of [8, 64, 256 * 1024]) {
      const { rows, layout } = await readAll(file, 'file', { chunk });
      expect(layout.rows).toBe(5);
      expect(rows.map((r) => r.line)).toEqual([2, 3, 4, 5, 6]);
      // Text after a closing quote: csv-parse (relax_quotes) reads the field as written, quotes included.
      expect(parseRow(rows[1].fields)).toEqual({
        ok: false,
        reason: expect.stringMatching(/^symbol is not a ticker: '"A"B'/),
      });
      expect(rows[3].problem).toBe(UNCLOSED_QUOTE);
      expect(rawLine(rows[3])).toBe('"A,2020-01-05,10,11,9,10,10,100.0,10');
      expect([0, 1, 2, 4].map((i) => rows[i].problem)).toEqual([undefined, undefined, undefined, undefined]);
      expect(parseRow(rows[4].fields)).toMatchObject({ ok: true, tick: { trade_date: '2020-01-06' } });
    }
  });

  it('bounds a record whose quote never closes to MAX_RECORD_BYTES, then reads on line by line', async () => {
    const filler = Array.from({ length: 2000 }, (_, i) => row('A', `2020-01-${String((i % 28) + 1).padStart(2, '0')}`));
    const file = write('quoted-open.csv', [HEADER, '"A,2020-01-01,1,1,1,1,1,1,1', ...filler, '"'].join('\n'));
    expect(Buffer.byteLength(filler.join('\n'))).toBeGreaterThan(MAX_RECORD_BYTES);
    const { rows, layout } = await readAll(file, 'file', { chunk: 4096 });
    expect(layout.rows).toBe(2002);
    expect(rows[0].problem).toBe(UNCLOSED_QUOTE);
    expect(rows.slice(1, 2001).every((r) => r.problem === undefined && parseRow(r.fields).ok)).toBe(true);
    expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 2002 }, (_, i) => i + 2));
  });
});
