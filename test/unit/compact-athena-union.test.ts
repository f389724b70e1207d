/**
 * The exactly-once union Athena runs (src/compact/athena-union.ts), executed for real on DuckDB over
 * tables shaped like the Glue ones (the raw table with Athena's "$path" column): each record once,
 * raw or curated, whatever generation the curated table's partitions are at.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { namesTable, unionSql, withUnion } from '../../src/compact/athena-union';
import { emptyState, type CompactState, type CuratedPartition } from '../../src/compact/state';

const part = (values: string[], watermarks: Record<string, string>): CuratedPartition => ({
  values,
  watermarks,
  file: { key: 'k', rows: 0, bytes: 0, etag: '"e"', columns: [] },
  rows: 0,
  checksum: '0',
  rawBytes: 0,
  rawObjects: 0,
  generation: 1,
  compactedAt: '',
});
const state: CompactState = {
  ...emptyState('db', 'ticks', ['year', 'symbol_bucket']),
  generation: 2,
  partitions: {
    'year=2020/symbol_bucket=1': part(['2020', '1'], { 'ticks+1': '100' }),
    'year=2021/symbol_bucket=1': part(['2021', '1'], { 'ticks+1': '50' }),
  },
};
const rawKey = (y: string, first: number) =>
  `s3://b/lake/ticks/year=${y}/symbol_bucket=1/ticks+1+${String(first).padStart(20, '0')}.json.gz`;

describe('the union Athena runs for a table with a curated zone', () => {
  let db: DuckDBInstance;
  let c: DuckDBConnection;
  beforeAll(async () => {
    db = await DuckDBInstance.create(':memory:');
    c = await db.connect();
    await c.run('CREATE SCHEMA db');
    await c.run(
      `CREATE TABLE db.ticks (symbol VARCHAR, n BIGINT, year VARCHAR, symbol_bucket VARCHAR, "$path" VARCHAR)`,
    );
    await c.run(
      `CREATE TABLE db.ticks_curated (symbol VARCHAR, n BIGINT, _ticklake_source VARCHAR, _ticklake_cut BIGINT, year VARCHAR, symbol_bucket VARCHAR)`,
    );
    const raw: [string, number, string, string][] = [
      ['A', 1, '2020', rawKey('2020', 0)], // compacted (0 < 100): read from curated
      ['A', 2, '2020', rawKey('2020', 60)], // compacted
      ['A', 3, '2020', rawKey('2020', 120)], // raw (120 >= 100)
      ['A', 4, '2020', 's3://b/lake/ticks/year=2020/symbol_bucket=1/by-hand.json'], // not the sink's: raw
      ['B', 5, '2021', rawKey('2021', 40)], // compacted (40 < 50)
      ['B', 6, '2021', rawKey('2021', 70)], // raw
      ['C', 7, '2022', rawKey('2022', 0)], // never compacted: raw
    ];
    for (const [s, n, y, p] of raw) await c.run(`INSERT INTO db.ticks VALUES ('${s}', ${n}, '${y}', '1', '${p}')`);
    const cur: [string, number, number, string][] = [
      ['A', 1, 0, '2020'],
      ['A', 2, 60, '2020'],
      ['A', 3, 120, '2020'], // a newer generation's row the state does not count yet: left out
      ['B', 5, 40, '2021'],
    ];
    for (const [s, n, cut, y] of cur)
      await c.run(`INSERT INTO db.ticks_curated VALUES ('${s}', ${n}, 'ticks+1', ${cut}, '${y}', '1')`);
  });
  afterAll(() => {
    c?.closeSync();
    db?.closeSync();
  });

  it('gives each record once', async () => {
    const union = unionSql({
      database: 'db',
      table: 'ticks',
      curatedTable: 'ticks_curated',
      columns: ['symbol', 'n'],
      partitionBy: ['year', 'symbol_bucket'],
      state,
    });
    const sql = withUnion('SELECT n FROM ticks ORDER BY n', 'ticks', union);
    expect(sql.startsWith('WITH "ticks" AS (')).toBe(true);
    const rows = (await c.runAndReadAll(sql)).getRowsJS().map((r) => Number(r[0]));
    expect(rows).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('joins a statement that has its own WITH, and leaves others alone', () => {
    expect(withUnion('-- note\nWITH x AS (SELECT 1) SELECT * FROM ticks, x', 'ticks', 'U')).toBe(
      '-- note\nWITH "ticks" AS (U), x AS (SELECT 1) SELECT * FROM ticks, x',
    );
    expect(withUnion('SELECT 1', 'ticks', 'U')).toBe('SELECT 1');
    expect(withUnion('SHOW PARTITIONS ticks', 'ticks', 'U')).toBe('SHOW PARTITIONS ticks');
    expect(namesTable('SELECT * FROM ticklake.ticks', 'ticks')).toBe(false);
    expect(namesTable('select * from "TICKS"', 'ticks')).toBe(true);
  });
});
