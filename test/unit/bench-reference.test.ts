/**
 * bench:query's answer check: the reference answers come from DuckDB reading the CSV itself, and a
 * wrong answer (a count, a value, a missing row) is reported.
 */
import path from 'node:path';
import type { QueryResult } from '../../activities/types';
import { answerProblems, ReferenceTicks, sameCell, type Cell } from '../../scripts/bench/reference';

const SAMPLE = path.join(__dirname, '..', '..', 'data', 'sample.csv');

const result = (rows: Cell[][], rowCount = rows.length, truncated = false): QueryResult => ({
  columns: [],
  rows,
  truncated,
  rowCount,
  stats: { engineMs: 0 } as QueryResult['stats'],
});

describe('bench:query reference answers', () => {
  let reference: ReferenceTicks;
  beforeAll(async () => {
    reference = await ReferenceTicks.load([SAMPLE]);
  });
  afterAll(() => reference.close());

  it("answers the per-symbol count from the CSV's rows", async () => {
    const rows = await reference.answer(
      'SELECT symbol, count(*) AS ticks FROM ticks GROUP BY symbol ORDER BY symbol',
      [],
    );
    expect(rows.reduce((n, r) => n + Number(r[1]), 0)).toBe(4086);
    expect(answerProblems(rows, result(rows.map((r) => [r[0], Number(r[1])])))).toEqual([]);
  });

  it('binds parameters and has the partition column year', async () => {
    const [[n]] = await reference.answer('SELECT count(*) FROM ticks WHERE symbol = ? AND year = ?', [
      'SAMPLE-HK',
      '2018',
    ]);
    expect(Number(n)).toBeGreaterThan(0);
  });

  it('reports a wrong count, a wrong value and a missing row', async () => {
    const rows = await reference.answer(
      'SELECT symbol, count(*) AS ticks FROM ticks GROUP BY symbol ORDER BY symbol',
      [],
    );
    const wrong = rows.map((r) => [r[0], Number(r[1])]);
    wrong[0][1] = Number(wrong[0][1]) + 1;
    expect(answerProblems(rows, result(wrong))).toEqual([expect.stringMatching(/^row 1 is/)]);
    expect(answerProblems(rows, result(wrong.slice(1)))[0]).toMatch(/rows, expected/);
  });

  it('compares numbers with a tolerance, dates with or without a midnight time, and nothing else loosely', () => {
    expect(sameCell(1.2345678901234, 1.2345678901235)).toBe(true);
    expect(sameCell('5791', 5791)).toBe(true);
    expect(sameCell(23642.92, 23642.93)).toBe(true);
    expect(sameCell(23642.92, 23642.94)).toBe(false);
    expect(sameCell(2383.0691, 2383.07)).toBe(false);
    expect(sameCell('2020-01-01 00:00:00', '2020-01-01')).toBe(true);
    expect(sameCell('2020-01-01', '2020-01-02')).toBe(false);
    expect(sameCell('HSI', 'N225')).toBe(false);
    expect(sameCell(null, 0)).toBe(false);
  });
});
