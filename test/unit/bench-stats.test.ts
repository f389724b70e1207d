import { markdownTable, median, percentile, round } from '../../scripts/bench/stats';

describe('benchmark statistics', () => {
  it('takes nearest-rank percentiles without reordering the input', () => {
    const values = [50, 10, 40, 20, 30];
    expect(percentile(values, 50)).toBe(30);
    expect(percentile(values, 99)).toBe(50);
    expect(percentile(values, 100)).toBe(50);
    expect(percentile(values, 0)).toBe(10);
    expect(percentile(values, 20)).toBe(10);
    expect(percentile(values, 21)).toBe(20);
    expect(values).toEqual([50, 10, 40, 20, 30]);
  });

  it('p99 of 1..1000 is 990 and p50 is 500', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentile(values, 99)).toBe(990);
    expect(percentile(values, 50)).toBe(500);
  });

  it('gives NaN for no values and rejects a percentile out of range', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(median([])).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(/0 to 100/);
    expect(() => percentile([1], -1)).toThrow(/0 to 100/);
  });

  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('rounds and writes Markdown tables', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(1234.5)).toBe(1235);
    expect(markdownTable(['a', 'b'], [[1, 'x']])).toBe('| a | b |\n| --- | --- |\n| 1 | x |');
  });
});
