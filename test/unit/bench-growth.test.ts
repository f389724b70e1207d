import { growthRatio, growthTable, parseSizes, sizeLabel } from '../../scripts/bench/growth';

describe('bench:scale sizes', () => {
  it('parses SYMBOLSxDAYS lists in the order given', () => {
    expect(parseSizes('2000x1000,5000x2000')).toEqual([
      { symbols: 2000, days: 1000 },
      { symbols: 5000, days: 2000 },
    ]);
    expect(parseSizes(' 200X100 ')).toEqual([{ symbols: 200, days: 100 }]);
    expect(sizeLabel({ symbols: 200, days: 100 })).toBe('200x100');
  });

  it('says what is expected for a size it cannot read', () => {
    expect(() => parseSizes('2000')).toThrow(/'2000' is not SYMBOLSxDAYS/);
    expect(() => parseSizes('2000x')).toThrow(/SYMBOLSxDAYS/);
    expect(() => parseSizes('')).toThrow(/empty/);
    expect(() => parseSizes('0x10')).toThrow(/at least 1 symbol/);
    expect(() => parseSizes('10x10,10x10')).toThrow(/10x10 is given twice/);
  });
});

describe('bench:scale growth table', () => {
  it('gives the ratio from the first size to the last', () => {
    expect(growthRatio(2, 10)).toBe('5×');
    expect(growthRatio(100, 2500)).toBe('25×');
    expect(growthRatio(4, 5)).toBe('1.3×');
    expect(growthRatio(1000, 10)).toBe('0.01×');
    expect(growthRatio(0, 0)).toBe('1×');
    expect(growthRatio(0, 5)).toBe('');
    expect(growthRatio(undefined, 5)).toBe('');
    expect(growthRatio(3, NaN)).toBe('');
  });

  it('has a column per size and the ratio, with missing figures as n/a', () => {
    const table = growthTable(
      [
        { label: '2000x1000', rows: 2_000_000, figures: { objects: 400, rss: 812.44, fresh: undefined } },
        { label: '5000x2000', rows: 10_000_000, figures: { objects: 2000, rss: 1024.5, fresh: 900 } },
      ],
      [
        { key: 'objects', label: 'data objects' },
        { key: 'rss', label: 'worker peak RSS (MB)', digits: 1 },
        { key: 'fresh', label: 'freshness p99 (ms)' },
      ],
    );
    expect(table.split('\n')).toEqual([
      '| figure | 2000x1000 (2,000,000 rows) | 5000x2000 (10,000,000 rows) | 2000x1000 → 5000x2000 |',
      '| --- | --- | --- | --- |',
      '| data objects | 400 | 2,000 | 5× |',
      '| worker peak RSS (MB) | 812.4 | 1,024.5 | 1.3× |',
      '| freshness p99 (ms) | n/a | 900 |  |',
    ]);
  });

  it('has no ratio column for a single size', () => {
    const table = growthTable(
      [{ label: '200x100', rows: 20_000, figures: { objects: 7 } }],
      [{ key: 'objects', label: 'data objects' }],
    );
    expect(table.split('\n')).toEqual(['| figure | 200x100 (20,000 rows) |', '| --- | --- |', '| data objects | 7 |']);
  });
});
