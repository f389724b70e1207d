import { countsBySymbol, diffLake, expectedRows, type ExpectedRow } from '../../scripts/bench/verify';

const CSV =
  '\uFEFFIndex,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\r\n' +
  'HSI,1986-12-31,2568.300049,2568.300049,2568.300049,2568.300049,2568.300049,0.0,333.87900637\r\n' +
  'N225, 1987-01-05 ,100,110,90,105,105,1234,1.5\r\n' +
  'bad,row\r\n' +
  '\r\n' +
  'GDAXI,1990-02-01,1e3,1000,1000,1000,1000,-0.0,2.25\r\n';

/** A lake record as the pipeline writes it (lineage and ingestion time added). */
function lakeRecord(r: ExpectedRow, changes: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...r, ingested_at: '2024-01-01T00:00:00.000Z', ...changes };
}

describe('expected rows from the CSV', () => {
  it('normalises fields independently of the pipeline: trims, numbers, lineage, BOM and CRLF', () => {
    const { rows, skipped } = expectedRows(CSV, 'x.csv');
    expect(skipped).toBe(2);
    expect(rows).toEqual([
      {
        symbol: 'HSI',
        trade_date: '1986-12-31',
        open: 2568.300049,
        high: 2568.300049,
        low: 2568.300049,
        close: 2568.300049,
        adj_close: 2568.300049,
        volume: 0,
        close_usd: 333.87900637,
        source: 'x.csv',
        row: 2,
      },
      expect.objectContaining({ symbol: 'N225', trade_date: '1987-01-05', volume: 1234, row: 3 }),
      expect.objectContaining({ symbol: 'GDAXI', open: 1000, volume: 0, close_usd: 2.25, row: 6 }),
    ]);
    expect(Object.is(rows[2].volume, -0)).toBe(false);
  });
});

describe('diffLake', () => {
  const { rows } = expectedRows(CSV, 'x.csv');

  it('finds nothing wrong with a lake holding each row once, in any order', () => {
    const diff = diffLake(
      rows,
      [...rows].reverse().map((r) => lakeRecord(r)),
    );
    expect(diff).toEqual({
      rows: 3,
      lakeRecords: 3,
      missing: 0,
      duplicated: 0,
      differing: 0,
      unexpected: 0,
      examples: [],
    });
  });

  it('counts missing, duplicated, differing and unexpected records', () => {
    const lake = [
      lakeRecord(rows[0]),
      lakeRecord(rows[0]),
      lakeRecord(rows[1], { close: 105.0001 }),
      lakeRecord(rows[1]),
      lakeRecord(rows[1], { symbol: 'NYA' }),
    ];
    const diff = diffLake(rows, lake);
    expect(diff).toMatchObject({ rows: 3, lakeRecords: 5, missing: 1, duplicated: 2, differing: 1, unexpected: 1 });
    expect(diff.examples.join('\n')).toMatch(
      /N225\|1987-01-05 differs from line 3 in close \(lake 105.0001, csv 105\)/,
    );
    expect(diff.examples.join('\n')).toMatch(/missing GDAXI\|1990-02-01 \(line 6\)/);
    expect(diff.examples.join('\n')).toMatch(/duplicate record HSI\|1986-12-31/);
    expect(diff.examples.join('\n')).toMatch(/unexpected record NYA\|1987-01-05/);
  });

  it('checks the lineage and the types, not only the prices', () => {
    const diff = diffLake(rows, [
      lakeRecord(rows[0], { row: 3 }),
      lakeRecord(rows[1], { source: 'other.csv' }),
      lakeRecord(rows[2], { volume: '0' }),
    ]);
    expect(diff.differing).toBe(3);
  });

  it('caps the examples', () => {
    const diff = diffLake(rows, [], 2);
    expect(diff.missing).toBe(3);
    expect(diff.examples).toHaveLength(2);
  });

  it('refuses a source whose (symbol, trade_date) repeat', () => {
    expect(() => diffLake([rows[0], rows[0]], [])).toThrow(/repeated/);
  });

  it('counts per symbol, sorted', () => {
    expect(countsBySymbol([{ symbol: 'b' }, { symbol: 'a' }, { symbol: 'b' }])).toEqual({ a: 1, b: 2 });
    expect(Object.keys(countsBySymbol([{ symbol: 'b' }, { symbol: 'a' }]))).toEqual(['a', 'b']);
  });
});
