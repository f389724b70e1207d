import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { keepPartition, partitionPredicate, referencedTables, valueMatches } from '../../src/query/pruning';

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
