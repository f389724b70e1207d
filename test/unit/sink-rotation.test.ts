/** Rotation rules of the sink: named predicates over a buffer's state. */
import {
  ageReached,
  batchReached,
  bytesReached,
  cutCount,
  fetchShowsBacklog,
  flushAfterMs,
  recordsReached,
  rotationDue,
  type RotationLimits,
} from '../../src/sink/rotation';

const L: RotationLimits = { maxRecords: 100, maxBytes: 1000, flushMs: 1000 };

describe('rotation rules', () => {
  it('names the first rule that applies', () => {
    expect(rotationDue({ records: 0, bytes: 0 }, L, 0, 500)).toBeUndefined();
    expect(rotationDue({ records: 100, bytes: 5000, oldestReceivedAt: 0 }, L, 10_000, 500)).toBe('records');
    expect(rotationDue({ records: 5, bytes: 1000, oldestReceivedAt: 0 }, L, 10_000, 500)).toBe('bytes');
    // A sixteenth of a full flush is worth writing at once (100 / 16 records, 1000 / 16 bytes).
    expect(rotationDue({ records: 6, bytes: 10, oldestReceivedAt: 1000 }, L, 1001, 500)).toBe('batch');
    expect(rotationDue({ records: 2, bytes: 63, oldestReceivedAt: 1000 }, L, 1001, 500)).toBe('batch');
    expect(rotationDue({ records: 5, bytes: 62, oldestReceivedAt: 1000 }, L, 1001, 500)).toBeUndefined();
    expect(batchReached({ records: 5, bytes: 62 }, L)).toBe(false);
    expect(rotationDue({ records: 5, bytes: 10, oldestReceivedAt: 1000, drained: true }, L, 1001, 500)).toBe('drained');
    expect(rotationDue({ records: 0, bytes: 0, drained: true }, L, 1001, 500)).toBeUndefined();
    expect(rotationDue({ records: 5, bytes: 10, oldestReceivedAt: 1000 }, L, 1500, 500)).toBe('age');
    expect(rotationDue({ records: 5, bytes: 10, oldestReceivedAt: 1000 }, L, 1499, 500)).toBeUndefined();
    expect(recordsReached({ records: 99, bytes: 0 }, L)).toBe(false);
    expect(bytesReached({ records: 1, bytes: 999 }, L)).toBe(false);
    expect(ageReached({ records: 0, bytes: 0, oldestReceivedAt: 0 }, L, 10_000, 1)).toBe(false);
  });

  it('tells a backlog from live traffic by the fetch', () => {
    const limits = { maxRecords: 6400 };
    // More behind the fetch: a backlog, however small the fetch.
    expect(fetchShowsBacklog(1, true, limits)).toBe(true);
    // A sixty-fourth of a full flush at once: a backlog read in one fetch.
    expect(fetchShowsBacklog(100, false, limits)).toBe(true);
    // A small fetch that reached the end: live traffic.
    expect(fetchShowsBacklog(99, false, limits)).toBe(false);
    expect(fetchShowsBacklog(0, false, { maxRecords: 10 })).toBe(false);
  });

  it('starts a flush early enough for the write to finish inside the bound', () => {
    // Fast writes: half the bound is buffering, minus one check period.
    expect(flushAfterMs(1000, 20, 50)).toBe(450);
    // Slow writes take more of the bound...
    expect(flushAfterMs(1000, 200, 50)).toBe(350);
    // ...but buffering keeps at least a quarter of it.
    expect(flushAfterMs(1000, 5000, 50)).toBe(250);
    for (const write of [0, 10, 100, 150, 300])
      expect(flushAfterMs(1000, write, 50) + 50 + write).toBeLessThanOrEqual(1000);
  });

  it('cuts at most maxRecords and maxBytes, and at least one record', () => {
    const sizes = [10, 10, 10, 10, 10];
    const at = (i: number) => sizes[i];
    expect(cutCount(5, at, { maxRecords: 3, maxBytes: 1000 })).toBe(3);
    expect(cutCount(5, at, { maxRecords: 100, maxBytes: 25 })).toBe(2);
    expect(cutCount(5, at, { maxRecords: 100, maxBytes: 30 })).toBe(3);
    expect(cutCount(5, at, { maxRecords: 100, maxBytes: 5 })).toBe(1);
    expect(cutCount(5, at, { maxRecords: 100, maxBytes: 1000 })).toBe(5);
  });
});
