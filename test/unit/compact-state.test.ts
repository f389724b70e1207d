/** The curated zone's pure rules: cuts of keys, the raw/curated rule, closed cuts, windows, checksums, retention. */
import {
  BATCH_RECORDS,
  BATCH_WINDOWS,
  planBatches,
  SMALL_WINDOW_RECORDS,
  addChecksums,
  closedCuts,
  cutOfKey,
  dueRetirements,
  emptyState,
  listStartAfter,
  planWindows,
  rawVisible,
  type CompactState,
  type CuratedPartition,
  type CutManifest,
} from '../../src/compact/state';

const root = 'lake/ticks/';
const key = (partition: string, kp: number, first: number) =>
  `${root}${partition}/ticks+${kp}+${String(first).padStart(20, '0')}.json.gz`;
const curated = (watermarks: Record<string, string>): CuratedPartition => ({
  values: ['2020', '1'],
  watermarks,
  file: { key: 'curated/ticks/x.parquet', rows: 10, bytes: 100, etag: '"e"', columns: [] },
  rows: 10,
  checksum: '5',
  rawBytes: 1000,
  rawObjects: 3,
  generation: 1,
  compactedAt: '2026-01-01T00:00:00.000Z',
});
const manifest = (kp: number, first: number, end: number, writtenAt: string, parts: string[]): CutManifest => ({
  key: `m-${kp}-${first}`,
  first: String(first),
  end: String(end),
  writtenAt,
  files: parts.map((p) => ({ key: key(p, kp, first), partition: p, records: end - first })),
});

describe('compaction state', () => {
  it('reads the cut of a sink object key, and nothing from other keys', () => {
    expect(cutOfKey(key('year=2020/symbol_bucket=1', 3, 42))).toEqual({ source: 'ticks+3', first: 42n });
    expect(cutOfKey('lake/ticks/year=2020/symbol_bucket=1/my-upload.json')).toBeUndefined();
    expect(cutOfKey('lake/ticks/year=2020/t.ticks+1+00000000000000000007.json')).toEqual({
      source: 't.ticks+1',
      first: 7n,
    });
  });

  it('reads a raw object unless its cut is below the partition watermark of its Kafka partition', () => {
    const c = curated({ 'ticks+1': '100' });
    expect(rawVisible(key('p', 1, 99), c)).toBe(false);
    expect(rawVisible(key('p', 1, 100), c)).toBe(true);
    expect(rawVisible(key('p', 2, 0), c)).toBe(true); // another Kafka partition: not compacted
    expect(rawVisible(key('p', 1, 0), undefined)).toBe(true);
    expect(rawVisible('lake/ticks/p/hand-written.json', c)).toBe(true);
  });

  it('takes the chain of cuts while each was written before the quiet period', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const ms = [
      manifest(0, 0, 10, '2026-01-01T00:00:00Z', ['a']),
      manifest(0, 10, 25, '2026-01-01T00:30:00Z', ['a']),
      manifest(0, 25, 30, '2026-01-01T00:59:00Z', ['a']), // 1 minute old: open
      manifest(0, 30, 40, '2026-01-01T00:10:00Z', ['a']), // after an open one: not taken
    ];
    const r = closedCuts(ms, '0', now, 10 * 60_000);
    expect(r.cuts.map((c) => c.first)).toEqual(['0', '10']);
    expect(r.end).toBe('25');
    expect(closedCuts(ms, '10', now, 10 * 60_000).cuts.map((c) => c.first)).toEqual(['10']);
    expect(closedCuts(ms, '0', now, 0).end).toBe('40');
  });

  it('groups the objects of new cuts per lake partition, above each partition watermark', () => {
    const state: CompactState = {
      ...emptyState('db', 'ticks', ['year', 'symbol_bucket']),
      partitions: { 'year=2020/symbol_bucket=1': { ...curated({ 'ticks+1': '10' }) } },
    };
    const cuts = new Map([
      [
        'ticks+1',
        [
          manifest(1, 0, 10, '2026-01-01T00:00:00Z', ['year=2020/symbol_bucket=1']), // compacted already
          manifest(1, 10, 20, '2026-01-01T00:00:00Z', ['year=2020/symbol_bucket=1', 'year=2021/symbol_bucket=1']),
        ],
      ],
    ]);
    const windows = planWindows(state, cuts, { 'ticks+1': '20' }, root, (p) =>
      p.split('/').map((kv) => kv.split('=')[1]),
    );
    expect(windows.map((w) => w.partition)).toEqual(['year=2020/symbol_bucket=1', 'year=2021/symbol_bucket=1']);
    expect(windows[0].objects.map((o) => o.first)).toEqual(['10']);
    expect(windows[0].previous?.rows).toBe(10);
    expect(windows[0].watermarks).toEqual({ 'ticks+1': '20' });
    expect(windows[1].previous).toBeUndefined();
    expect(windows[1].values).toEqual(['2021', '1']);
  });

  it('adds checksums mod 2^64 and lists folders from the first cut at or after an offset', () => {
    expect(addChecksums('18446744073709551615', '2')).toBe('1');
    expect(addChecksums()).toBe('0');
    expect(listStartAfter('f/', '0')).toBeUndefined();
    const start = listStartAfter('f/', '42')!;
    expect(`f/${'42'.padStart(20, '0')}.json` > start).toBe(true);
    expect(`f/${'41'.padStart(20, '0')}.json` > start).toBe(false);
  });

  it('holds raw objects for the retention after their switch', () => {
    const state: CompactState = {
      ...emptyState('db', 'ticks', ['year']),
      retirements: [
        { partition: 'a', at: '2026-01-01T00:00:00Z', watermarks: {}, files: [] },
        { partition: 'b', at: '2026-01-07T00:00:00Z', watermarks: {}, files: [] },
      ],
    };
    const due = dueRetirements(state, Date.parse('2026-01-08T00:00:00Z'), 7 * 86_400_000);
    expect(due.map((r) => r.partition)).toEqual(['a']);
  });
});

describe('planBatches', () => {
  const w = (partition: string, records: number) => ({ partition, records });

  test('small windows go together, in plan order, up to an even share of their records per lane', () => {
    const windows = Array.from({ length: 10 }, (_, i) => w(`p${i}`, 1_000));
    expect(planBatches(windows, 2)).toEqual([
      ['p0', 'p1', 'p2', 'p3', 'p4'],
      ['p5', 'p6', 'p7', 'p8', 'p9'],
    ]);
    expect(planBatches(windows, 1)).toEqual([windows.map((x) => x.partition)]);
  });

  test('a window of more than SMALL_WINDOW_RECORDS is alone; the small ones around it go on together', () => {
    const big = SMALL_WINDOW_RECORDS + 1;
    expect(planBatches([w('a', 10), w('b', big), w('c', 10), w('d', 10)], 1)).toEqual([['b'], ['a', 'c', 'd']]);
  });

  test('a batch holds at most BATCH_RECORDS records and BATCH_WINDOWS windows', () => {
    const many = Array.from({ length: BATCH_WINDOWS * 2 + 1 }, (_, i) => w(`p${String(i).padStart(3, '0')}`, 1));
    const batches = planBatches(many, 1);
    expect(batches.map((b) => b.length)).toEqual([BATCH_WINDOWS, BATCH_WINDOWS, 1]);
    const heavy = Array.from({ length: 6 }, (_, i) => w(`h${i}`, SMALL_WINDOW_RECORDS));
    for (const b of planBatches(heavy, 1)) expect(b.length * SMALL_WINDOW_RECORDS).toBeLessThanOrEqual(BATCH_RECORDS);
    expect(planBatches(heavy, 1).flat()).toEqual(heavy.map((x) => x.partition));
  });

  test('every window is in exactly one batch; none is empty', () => {
    const windows = [w('a', 0), w('b', 30_000), w('c', 7), w('d', 19_999), w('e', 20_000)];
    const batches = planBatches(windows, 3);
    expect(batches.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const b of batches) expect(b.length).toBeGreaterThan(0);
    expect(planBatches([], 2)).toEqual([]);
  });
});
