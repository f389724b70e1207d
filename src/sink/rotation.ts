/**
 * Rotation rules of the sink: when a Kafka partition's buffer is cut into a flush. Named predicates,
 * pure (the clock is a parameter).
 *
 * - records: the buffer holds `maxRecords` records (SINK_MAX_RECORDS);
 * - bytes: the buffered values add up to `maxBytes` (SINK_MAX_BYTES);
 * - batch: the buffer holds a sixteenth of a full flush (by records or bytes): worth writing now
 *   rather than waiting for its age. Under a backlog this pipelines writes with fetching; when writes
 *   are slow, the next cut simply takes more (group commit). Live traffic of a few thousand records
 *   per second never reaches it within the age bound;
 * - drained: the partition has just read to the end of a backlog (its fetches had more behind them,
 *   or brought many records at once): nothing more is waiting to be batched with, so the rest goes
 *   out now instead of waiting for its age. Live traffic, fetched as it comes, never sets it;
 * - age: the oldest buffered record was received so long ago that the flush must start now for the
 *   record to be in a durable object within `flushMs` (SINK_FLUSH_MS) of its receipt.
 */

export interface RotationLimits {
  maxRecords: number;
  maxBytes: number;
  /** Freshness bound in ms. */
  flushMs: number;
}

export interface BufferState {
  records: number;
  bytes: number;
  /** Receive time (ms since the epoch) of the oldest buffered record; undefined when empty. */
  oldestReceivedAt?: number;
  /** The partition has read to the end of a backlog since its last flush started. */
  drained?: boolean;
}

export type RotationReason = 'records' | 'bytes' | 'batch' | 'drained' | 'age';

/** The part of a full flush that is worth writing without waiting for the age rule. */
export const BATCH_FRACTION = 16;

/** A fetch bringing this part of a full flush at once shows a backlog. */
export const BACKLOG_FRACTION = 64;

/**
 * Whether a fetch of `records` records shows a backlog: the partition had more to read behind it
 * (`behind`), or the fetch brought at least a sixty-fourth of a full flush at once.
 */
export const fetchShowsBacklog = (records: number, behind: boolean, l: Pick<RotationLimits, 'maxRecords'>): boolean =>
  behind || records >= Math.max(1, Math.floor(l.maxRecords / BACKLOG_FRACTION));

export const recordsReached = (b: BufferState, l: RotationLimits): boolean => b.records >= l.maxRecords;

export const bytesReached = (b: BufferState, l: RotationLimits): boolean => b.bytes >= l.maxBytes;

export const batchReached = (b: BufferState, l: RotationLimits): boolean =>
  b.records >= Math.max(1, Math.floor(l.maxRecords / BATCH_FRACTION)) || b.bytes >= l.maxBytes / BATCH_FRACTION;

/**
 * Age (ms) of the oldest record at which a flush starts. Half the bound is left for the write, more
 * when recent writes were slow (three times the expected write time), but never less than a quarter
 * of the bound is spent buffering. `tickMs` is the period at which the sink checks the rule.
 */
export function flushAfterMs(flushMs: number, expectedWriteMs: number, tickMs: number): number {
  const leaveForWrite = flushMs - tickMs - 3 * expectedWriteMs;
  return Math.max(flushMs / 4, Math.min(flushMs / 2 - tickMs, leaveForWrite));
}

export const ageReached = (b: BufferState, l: RotationLimits, now: number, flushAfter: number): boolean =>
  b.oldestReceivedAt !== undefined && b.records > 0 && now - b.oldestReceivedAt >= flushAfter;

/** The first rule that says to flush now, or undefined. */
export function rotationDue(
  b: BufferState,
  l: RotationLimits,
  now: number,
  flushAfter: number,
): RotationReason | undefined {
  if (b.records === 0) return undefined;
  if (recordsReached(b, l)) return 'records';
  if (bytesReached(b, l)) return 'bytes';
  if (batchReached(b, l)) return 'batch';
  if (b.drained) return 'drained';
  if (ageReached(b, l, now, flushAfter)) return 'age';
  return undefined;
}

/**
 * How many of the `count` buffered records (value size of record i: `sizeAt(i)`) one flush takes: at
 * most `maxRecords`, and at most `maxBytes` of values, but always at least one record so that a single
 * huge value still moves.
 */
export function cutCount(
  count: number,
  sizeAt: (i: number) => number,
  l: Pick<RotationLimits, 'maxRecords' | 'maxBytes'>,
): number {
  const limit = Math.min(count, l.maxRecords);
  let bytes = 0;
  for (let i = 0; i < limit; i++) {
    bytes += sizeAt(i);
    if (bytes > l.maxBytes) return Math.max(1, i);
  }
  return limit;
}
