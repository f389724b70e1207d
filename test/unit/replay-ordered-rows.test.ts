import {
  MAX_MARKET_RUNS,
  MERGE_BUDGET_BYTES,
  FILE_ORDER_CHUNK_BYTES,
  MergedRows,
  OrderError,
  chunkBytesFor,
  planRuns,
  validateOrder,
  type ChunkSource,
} from '../../src/replay/ordered-rows';
import type { SourceLayout } from '../../src/replay/csv-source';

interface Row {
  key: string;
  id: string;
}

/** A sorted in-memory source handing out chunks of the given sizes. */
function source(id: string, keys: string[], chunk: number): ChunkSource<Row> & { reads: number } {
  let next = 0;
  const s = {
    reads: 0,
    read() {
      s.reads++;
      if (next >= keys.length) return Promise.resolve(null);
      const rows = keys.slice(next, next + chunk).map((key, i) => ({ key, id: `${id}${next + i}` }));
      next += chunk;
      return Promise.resolve(rows);
    },
  };
  return s;
}

async function drain(m: MergedRows<Row>, max = 1000): Promise<Row[]> {
  const out: Row[] = [];
  for (;;) {
    const rows = await m.next(max);
    if (rows === null) return out;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(max);
    out.push(...rows);
  }
}

/** What the merge must give: sorted by (key, source index), stable within a source. */
function expected(sources: { id: string; keys: string[] }[]): string[] {
  const all = sources.flatMap((s, index) => s.keys.map((key, pos) => ({ key, index, pos, id: `${s.id}${pos}` })));
  all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index || a.pos - b.pos));
  return all.map((r) => r.id);
}

describe('MergedRows (market-time merge of ascending runs)', () => {
  it('orders by date, then by run index, keeping file order within a run', async () => {
    // Three symbols, grouped by symbol as in indexProcessed.csv; they share some dates.
    const runs = [
      { id: 'HSI', keys: ['1987-01-02', '1987-01-05', '1987-01-06', '1987-01-06'] },
      { id: 'NYA', keys: ['1987-01-01', '1987-01-02', '1987-01-06'] },
      { id: 'N225', keys: ['1987-01-05', '1987-01-07'] },
    ];
    const merged = await drain(new MergedRows(runs.map((r) => source(r.id, r.keys, 2))));
    expect(merged.map((r) => r.id)).toEqual(['NYA0', 'HSI0', 'NYA1', 'HSI1', 'N2250', 'HSI2', 'HSI3', 'NYA2', 'N2251']);
  });

  it('matches a full sort for random runs, chunk sizes and request sizes', async () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 200; trial++) {
      const runs = Array.from({ length: 1 + rand(6) }, (_, r) => {
        const keys = Array.from({ length: rand(30) }, () => `2020-01-${String(10 + rand(20)).padStart(2, '0')}`).sort();
        return { id: `r${r}-`, keys };
      });
      const m = new MergedRows(runs.map((r) => source(r.id, r.keys, 1 + rand(5))));
      const got = await drain(m, 1 + rand(7));
      expect(got.map((r) => r.id)).toEqual(expected(runs));
    }
  });

  it('hands out a single run chunk by chunk without comparisons', async () => {
    const s = source('a', ['1', '2', '3', '4', '5'], 2);
    const m = new MergedRows([s]);
    expect((await m.next(10))!.map((r) => r.id)).toEqual(['a0', 'a1']);
    expect((await m.next(1))!.map((r) => r.id)).toEqual(['a2']);
    expect((await m.next(10))!.map((r) => r.id)).toEqual(['a3']);
    expect((await m.next(10))!.map((r) => r.id)).toEqual(['a4']);
    expect(await m.next(10)).toBeNull();
    expect(await m.next(10)).toBeNull();
  });

  it('reports the last row taken from each run', async () => {
    const m = new MergedRows([source('a', ['1', '3'], 5), source('b', ['2'], 5), source('c', ['9'], 5)]);
    expect(m.lastTaken()).toEqual([undefined, undefined, undefined]);
    const first = await m.next(2);
    expect(first!.map((r) => r.id)).toEqual(['a0', 'b0']);
    expect(m.lastTaken().map((r) => r?.id)).toEqual(['a0', 'b0', undefined]);
  });

  it('handles empty sources and no sources', async () => {
    expect(await new MergedRows<Row>([]).next(5)).toBeNull();
    const m = new MergedRows([source('a', [], 3), source('b', ['1'], 3)]);
    expect((await drain(m)).map((r) => r.id)).toEqual(['b0']);
  });
});

describe('planRuns', () => {
  const layout: SourceLayout = {
    size: 1000,
    dataStart: 60,
    rows: 9,
    runs: [
      { offset: 60, line: 2, key: '' },
      { offset: 400, line: 5, key: '' },
      { offset: 700, line: 8, key: '' },
    ],
  };

  it('reads the data rows as one run in file order', () => {
    expect(planRuns(layout, 'file')).toEqual([{ start: { offset: 60, line: 2, key: '' }, end: 1000 }]);
  });

  it('reads each ascending run up to the next one in market order', () => {
    expect(planRuns(layout, 'market').map((r) => [r.start.offset, r.start.line, r.end])).toEqual([
      [60, 2, 400],
      [400, 5, 700],
      [700, 8, 1000],
    ]);
  });

  it('plans nothing for a file without data rows', () => {
    expect(planRuns({ size: 55, dataStart: 55, rows: 0, runs: [] }, 'file')).toEqual([]);
    expect(planRuns({ size: 55, dataStart: 55, rows: 0, runs: [] }, 'market')).toEqual([]);
  });

  it('refuses market order for a file with too many runs, saying what to do', () => {
    const runs = Array.from({ length: MAX_MARKET_RUNS + 1 }, (_, i) => ({ offset: 60 + i, line: 2 + i, key: '' }));
    const many = { size: 5000, dataStart: 60, rows: runs.length, runs };
    expect(() => planRuns(many, 'market')).toThrow(OrderError);
    expect(() => planRuns(many, 'market')).toThrow(/1025 runs of ascending dates.*sort the file by date.*file order/);
    expect(planRuns(many, 'file')).toHaveLength(1);
  });
});

describe('chunkBytesFor and validateOrder', () => {
  it('shares the merge budget among runs, within bounds', () => {
    expect(chunkBytesFor('file', 1)).toBe(FILE_ORDER_CHUNK_BYTES);
    expect(chunkBytesFor('market', 13)).toBe(FILE_ORDER_CHUNK_BYTES);
    expect(chunkBytesFor('market', 100)).toBe(Math.floor(MERGE_BUDGET_BYTES / 100));
    expect(chunkBytesFor('market', MAX_MARKET_RUNS)).toBe(8 * 1024);
  });

  it('accepts file and market, and names both otherwise', () => {
    expect(() => validateOrder('file')).not.toThrow();
    expect(() => validateOrder('market')).not.toThrow();
    expect(() => validateOrder('date')).toThrow("order 'date' is not understood: use 'file'");
  });
});
