import { PageBuilder, pageBounds, DEFAULT_MAX_PAGE_BYTES, MAX_PAGE_BYTES_CEILING } from '../../src/query/page';

describe('the bounded page of a query result', () => {
  it('keeps at most maxRows rows and says when rows were left out', () => {
    const page = new PageBuilder(3, 10_000);
    for (let i = 0; i < 3; i++) expect(page.add([i, 'x'])).toBe(true);
    expect(page.truncated).toBe(false);
    expect(page.add([3, 'x'])).toBe(false);
    expect(page.truncated).toBe(true);
    expect(page.rows).toEqual([
      [0, 'x'],
      [1, 'x'],
      [2, 'x'],
    ]);
  });

  it('keeps at most maxBytes bytes of JSON, and nothing after the first row that does not fit', () => {
    const page = new PageBuilder(1000, 1024);
    let i = 0;
    while (page.add([i, 'é'.repeat(50)])) i++;
    expect(page.truncated).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(page.rows))).toBeLessThanOrEqual(1024);
    expect(page.rows.length).toBe(i);
    expect(page.add([0, ''])).toBe(false);
    expect(page.rows.length).toBe(i);
  });

  it('returns no rows when the first row alone is too large', () => {
    const page = new PageBuilder(10, 1024);
    expect(page.add(['x'.repeat(5000)])).toBe(false);
    expect(page.rows).toEqual([]);
    expect(page.truncated).toBe(true);
  });

  it('is exact for results that fit', () => {
    const page = new PageBuilder(2, 1024);
    page.add([null, true]);
    page.add(['a"b', 1.5]);
    expect(page.truncated).toBe(false);
    expect(page.size).toBeGreaterThanOrEqual(Buffer.byteLength(JSON.stringify(page.rows)));
  });

  it('clamps the bounds to stay far from the 2 MB payload limit', () => {
    expect(pageBounds({ maxRows: 1000 })).toEqual({ maxRows: 1000, maxBytes: DEFAULT_MAX_PAGE_BYTES });
    expect(pageBounds({ maxRows: 10, maxBytes: 50 * 1024 * 1024 }).maxBytes).toBe(MAX_PAGE_BYTES_CEILING);
    expect(MAX_PAGE_BYTES_CEILING).toBeLessThanOrEqual(1024 * 1024);
    expect(() => new PageBuilder(-1, 10)).toThrow(/maxRows/);
  });
});
