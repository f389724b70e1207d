/**
 * How `npm run bench` scales its baseline from a subset to the whole file: only what grows with the
 * data is scaled, each part by what it grows with, and fixed costs count once.
 */
import { extrapolateBaseline, sampledReads, type BaselineMeasure } from '../../scripts/bench/baseline-model';
import { baselineFolders } from '../../scripts/bench/baseline';

const measured: BaselineMeasure = {
  rows: 5_000,
  folders: 20,
  sampledReads: 200,
  sinkDoneMs: 6_000,
  crawl: { listMs: 100, sampleMs: 400, tableMs: 50, registerMs: 40 },
  query: {
    totalMs: 3_000,
    phases: { parseMs: 5, catalogMs: 20, listMs: 200, partitionsMs: 30, planMs: 100, fetchMs: 1_500, loadMs: 600 },
  },
};
const full = { rows: 100_000, folders: 400, sampledReads: 4_000 };

describe('the baseline scaled to the whole file', () => {
  const e = extrapolateBaseline(measured, full);

  it('scales sends and object writes by rows', () => {
    expect(e.produceAndSinkMs).toBe(6_000 * 20);
  });

  it("scales the crawl's listing by rows, its sampled reads and registration by partitions, its table once", () => {
    expect(e.crawlMs).toBe(100 * 20 + 400 * 20 + 50 + 40 * 20);
  });

  it("counts the query's fixed part once and scales its listing, plan, downloads and loads", () => {
    // Fixed: 3,000 less the listing (the longer of list and partitions: 200) and 2,200 of per-object work.
    expect(e.queryFixedMs).toBe(600);
    expect(e.queryMs).toBe(600 + Math.max(200 * 20, 30 * 20) + 2_200 * 20);
    expect(e.totalMs).toBe(e.produceAndSinkMs + e.crawlMs + e.queryMs);
  });

  it('is far below scaling every measured millisecond linearly (what the bench used to do)', () => {
    const measuredTotal = measured.sinkDoneMs + 590 + measured.query.totalMs;
    expect(e.totalMs).toBeLessThan(measuredTotal * 20);
  });

  it('refuses a subset with nothing in it', () => {
    expect(() => extrapolateBaseline({ ...measured, rows: 0 }, full)).toThrow(/no rows/);
    expect(() => extrapolateBaseline({ ...measured, sampledReads: 0 }, full)).toThrow(/no sampled objects/);
  });

  it('counts the objects a sampling crawl reads: up to the sample size per folder', () => {
    expect(sampledReads([250, 3, 10], 10)).toBe(23);
    expect(sampledReads([], 10)).toBe(0);
    expect(() => sampledReads([1], 0)).toThrow(/at least 1/);
  });

  it('puts one object per record in a folder per symbol and year', () => {
    const folders = baselineFolders([
      { symbol: 'HSI', trade_date: '1987-01-02' },
      { symbol: 'HSI', trade_date: '1987-01-05' },
      { symbol: 'HSI', trade_date: '1988-01-04' },
      { symbol: 'N225', trade_date: '1987-01-05' },
    ]);
    expect(Object.fromEntries(folders)).toEqual({ 'HSI/1987': 2, 'HSI/1988': 1, 'N225/1987': 1 });
  });
});
