import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  hivePathMatches,
  keepPartition,
  partitionPredicate,
  referencedTables,
  valueMatches,
} from '../../src/query/pruning';
import { symbolBucket } from '../../src/symbol-bucket';

const KEYS = ['symbol', 'year'];
const PARTITIONS = [
  ['HSI', '1987'],
  ['HSI', '2020'],
  ['N225', '2020'],
  ['N225', '2021'],
  ['GDAXI', '02020'],
  ['weird', 'abc'],
];

let instance: DuckDBInstance;
let c: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  c = await instance.connect();
});
afterAll(() => {
  c.closeSync();
  instance.closeSync();
});

/** DuckDB's own parse tree of a statement, as the engine gets it. */
async function tree(sql: string): Promise<unknown> {
  const reader = await c.runAndReadAll('SELECT json_serialize_sql(?::VARCHAR)', [sql]);
  return JSON.parse(reader.getRowsJS()[0][0] as string);
}

async function kept(sql: string, params: unknown[] = []): Promise<string[]> {
  const predicate = partitionPredicate(await tree(sql), 'ticks', KEYS, params);
  return PARTITIONS.filter((p) => keepPartition(p, KEYS, predicate)).map((p) => p.join('/'));
}

const ALL = PARTITIONS.map((p) => p.join('/'));

describe('partition pruning from the parse tree', () => {
  it.each([
    ["SELECT * FROM ticks WHERE symbol = 'HSI'", [], ['HSI/1987', 'HSI/2020']],
    ["SELECT * FROM ticks WHERE 'HSI' = symbol", [], ['HSI/1987', 'HSI/2020']],
    ['SELECT * FROM ticks WHERE symbol = ?', ['N225'], ['N225/2020', 'N225/2021']],
    ['SELECT * FROM ticks WHERE symbol = $1', ['N225'], ['N225/2020', 'N225/2021']],
    ["SELECT * FROM ticks WHERE symbol IN ('HSI', 'N225') AND year = '2020'", [], ['HSI/2020', 'N225/2020']],
    ['SELECT * FROM ticks WHERE symbol IN (?, ?) AND year = ?', ['HSI', 'GDAXI', '2020'], ['HSI/2020']],
    ["SELECT * FROM ticks t WHERE t.symbol = 'HSI' AND t.close > 1", [], ['HSI/1987', 'HSI/2020']],
    ["SELECT * FROM ticks WHERE (symbol = 'HSI' OR symbol = 'N225') AND year = '2021'", [], ['N225/2021']],
    ["SELECT count(*) FROM (SELECT * FROM ticks WHERE symbol = 'N225') s", [], ['N225/2020', 'N225/2021']],
    ["WITH x AS (SELECT * FROM ticks WHERE symbol = 'HSI') SELECT * FROM x", [], ['HSI/1987', 'HSI/2020']],
    ["SELECT * FROM ticks t JOIN other o ON t.symbol = o.s WHERE t.symbol = 'HSI'", [], ['HSI/1987', 'HSI/2020']],
    ["SELECT * FROM ticks WHERE symbol = 'HSI' AND symbol = 'N225'", [], []],
    ["SELECT * FROM ticks WHERE symbol = 'nothing'", [], []],
    // An integer compares after a cast: '02020' may equal 2020 and 'abc' cannot be ruled out.
    ['SELECT * FROM ticks WHERE year = 2020', [], ['HSI/2020', 'N225/2020', 'GDAXI/02020', 'weird/abc']],
    ['SELECT * FROM ticks WHERE year = ?', [2021], ['N225/2021', 'weird/abc']],
    ["SELECT * FROM ticks WHERE year = '2020' AND year = 2020", [], ['HSI/2020', 'N225/2020']],
  ])('%s %j reads %j', async (sql, params, expected) => {
    expect(await kept(sql, params)).toEqual(expected);
  });

  it.each([
    ["SELECT * FROM ticks WHERE symbol = 'HSI' OR close > 1", []],
    ["SELECT * FROM ticks WHERE symbol <> 'HSI'", []],
    ["SELECT * FROM ticks WHERE NOT symbol = 'HSI'", []],
    ["SELECT * FROM ticks WHERE lower(symbol) = 'hsi'", []],
    ['SELECT * FROM ticks WHERE symbol = CAST(1 AS VARCHAR)', []],
    ["SELECT * FROM ticks WHERE symbol LIKE 'H%'", []],
    ["SELECT * FROM ticks WHERE year > '2019'", []],
    ['SELECT * FROM ticks WHERE symbol = NULL', []],
    ['SELECT * FROM ticks WHERE year = 2020.0', []],
    ['SELECT * FROM ticks WHERE symbol = ?', [null]],
    ['SELECT * FROM ticks WHERE symbol = ?', [true]],
    ['SELECT * FROM ticks WHERE symbol = $name', []],
    // Referenced twice: one view serves both references, so neither filter may narrow it.
    ["SELECT * FROM ticks WHERE symbol = 'HSI' UNION ALL SELECT * FROM ticks", []],
    ["SELECT * FROM ticks a JOIN ticks b ON a.trade_date = b.trade_date WHERE a.symbol = 'HSI'", []],
    // The filter is on another table's column, or in another scope.
    ["SELECT * FROM ticks t JOIN other o ON true WHERE o.symbol = 'HSI'", []],
    ["SELECT * FROM (SELECT * FROM ticks) s WHERE symbol = 'HSI'", []],
    ["SELECT * FROM ticks, (SELECT 'HSI' AS symbol) s WHERE s.symbol = 'x'", []],
    ["SELECT * FROM ticks GROUP BY ALL HAVING symbol = 'HSI'", []],
    ["SELECT * FROM other WHERE symbol = 'HSI'", []],
  ])('reads every partition for %s %j', async (sql, params) => {
    expect(await kept(sql, params)).toEqual(ALL);
  });

  it('finds the tables a statement reads, with how often', async () => {
    const refs = referencedTables(
      await tree('WITH x AS (SELECT * FROM ticks) SELECT * FROM x JOIN Ticks USING (symbol), other.t'),
    );
    expect(Object.fromEntries(refs)).toEqual({ ticks: 2, x: 1 });
  });

  it('compares partition values as the engine would', () => {
    expect(valueMatches('2020', { kind: 'integer', value: 2020n })).toBe(true);
    expect(valueMatches('02020', { kind: 'integer', value: 2020n })).toBe(true);
    expect(valueMatches('2021', { kind: 'integer', value: 2020n })).toBe(false);
    expect(valueMatches(' 2020', { kind: 'integer', value: 2021n })).toBe(true);
    expect(valueMatches('HSI', { kind: 'string', value: 'hsi' })).toBe(false);
  });
});

describe('pruning of partitions derived from symbol and trade_date', () => {
  const LAYOUT = ['year', 'symbol_bucket'];
  const BUCKETS = 4;
  const partitions = ['1987', '2020', '2021'].flatMap((y) => [0, 1, 2, 3].map((b) => [y, String(b)]));
  const keptIn = async (sql: string, params: unknown[] = [], keys = LAYOUT, parts = partitions) => {
    const predicate = partitionPredicate(await tree(sql), 'ticks', keys, params, { symbolBuckets: BUCKETS });
    return parts.filter((p) => keepPartition(p, keys, predicate)).map((p) => p.join('/'));
  };
  const bucketOf = (s: string) => String(symbolBucket(s, BUCKETS));

  it('keeps only the bucket of a symbol, in every year', async () => {
    const b = bucketOf('HSI');
    expect(await keptIn("SELECT * FROM ticks WHERE symbol = 'HSI'")).toEqual([`1987/${b}`, `2020/${b}`, `2021/${b}`]);
    expect(await keptIn('SELECT * FROM ticks WHERE symbol = ?', ['HSI'])).toEqual([
      `1987/${b}`,
      `2020/${b}`,
      `2021/${b}`,
    ]);
  });

  it('keeps the buckets of every symbol of an IN list or an OR', async () => {
    const buckets = new Set(['HSI', 'N225', 'GDAXI'].map(bucketOf));
    const expected = partitions.filter((p) => buckets.has(p[1])).map((p) => p.join('/'));
    expect(await keptIn("SELECT * FROM ticks WHERE symbol IN ('HSI', 'N225', 'GDAXI')")).toEqual(expected);
    expect(await keptIn("SELECT * FROM ticks WHERE symbol = 'HSI' OR symbol = 'N225' OR symbol = 'GDAXI'")).toEqual(
      expected,
    );
  });

  it('keeps only the year of a date, given as a DATE literal, a cast or a string', async () => {
    const of2020 = partitions.filter((p) => p[0] === '2020').map((p) => p.join('/'));
    expect(await keptIn("SELECT * FROM ticks WHERE trade_date = DATE '2020-03-02'")).toEqual(of2020);
    expect(await keptIn("SELECT * FROM ticks WHERE trade_date = '2020-03-02'::DATE")).toEqual(of2020);
    expect(await keptIn("SELECT * FROM ticks WHERE trade_date = '2020-03-02'")).toEqual(of2020);
    expect(await keptIn("SELECT * FROM ticks WHERE trade_date IN (DATE '2020-03-02', DATE '1987-01-02')")).toEqual(
      partitions.filter((p) => p[0] !== '2021').map((p) => p.join('/')),
    );
  });

  it('combines a symbol and a date into one partition', async () => {
    expect(await keptIn("SELECT * FROM ticks WHERE symbol = 'HSI' AND trade_date = DATE '2021-06-01'")).toEqual([
      `2021/${bucketOf('HSI')}`,
    ]);
  });

  it('derives month and trade_date partitions from a date too', async () => {
    const keys = ['month', 'trade_date'];
    const parts = [
      ['2020-03', '2020-03-02'],
      ['2020-03', '2020-03-03'],
      ['2020-04', '2020-04-01'],
    ];
    expect(await keptIn("SELECT * FROM ticks WHERE trade_date = DATE '2020-03-02'", [], keys, parts)).toEqual([
      '2020-03/2020-03-02',
    ]);
  });

  it.each([
    ["SELECT * FROM ticks WHERE trade_date >= DATE '2020-01-01'"],
    ["SELECT * FROM ticks WHERE trade_date = DATE '2020-1-2'"],
    ["SELECT * FROM ticks WHERE trade_date = TRY_CAST('2020-01-02' AS DATE)"],
    ["SELECT * FROM ticks WHERE lower(symbol) = 'hsi'"],
    ["SELECT * FROM ticks WHERE symbol = 'HSI' OR close > 1"],
    ['SELECT * FROM ticks WHERE symbol = 1'],
  ])('reads every partition for %s', async (sql) => {
    expect(await keptIn(sql)).toEqual(partitions.map((p) => p.join('/')));
  });

  it('does not derive a bucket without the bucket count', async () => {
    const predicate = partitionPredicate(await tree("SELECT * FROM ticks WHERE symbol = 'HSI'"), 'ticks', LAYOUT, []);
    expect(partitions.filter((p) => keepPartition(p, LAYOUT, predicate))).toHaveLength(partitions.length);
  });
});

describe('hivePathMatches', () => {
  const keys = ['year', 'symbol_bucket'];
  const file =
    '/data/query-cache/parquet/lake/curated/ticks/year=2003/symbol_bucket=2/g000000000001/a.parquet.0f.parquet';
  it("holds when the path's key=value folders are the partition's, in order and nothing else", () => {
    expect(hivePathMatches(file, keys, ['2003', '2'])).toBe(true);
  });
  it('fails on another value, another order, a missing or an extra folder', () => {
    expect(hivePathMatches(file, keys, ['2003', '3'])).toBe(false);
    expect(hivePathMatches(file, ['symbol_bucket', 'year'], ['2', '2003'])).toBe(false);
    expect(hivePathMatches(file, ['year'], ['2003'])).toBe(false);
    expect(hivePathMatches(`/data/a=b${file}`, keys, ['2003', '2'])).toBe(false);
    expect(hivePathMatches('/data/ticks/x.parquet', [], [])).toBe(false);
  });
  it('fails on a value DuckDB would not read back unchanged', () => {
    const odd = '/c/ticks/exchange=NYSE%20A/x.parquet';
    expect(hivePathMatches(odd, ['exchange'], ['NYSE%20A'])).toBe(false);
    expect(hivePathMatches('/c/ticks/exchange=/x.parquet', ['exchange'], [''])).toBe(false);
  });
});
