/**
 * A replay's source position, stored in a compacted Kafka topic (key = replay id) and written in the
 * same transaction as the ticks and dead letters it accounts for (the way Kafka Connect stores
 * exactly-once source offsets). Read back with read_committed after the producer has fenced every
 * older producer of the replay, it names exactly the rows whose messages are in the topics.
 */
import type { Kafka } from 'kafkajs';
import { readTopicToEnd } from '../adapters/kafka';
import type { Cursor, SourceFingerprint } from './csv-source';
import type { ReplayOrder } from './ordered-rows';

export const POSITION_VERSION = 2;

export interface ReplayPosition {
  version: typeof POSITION_VERSION;
  order: ReplayOrder;
  /** Completed passes over the file (loop mode). */
  pass: number;
  /** Rows of the ordered stream consumed (produced or dead-lettered) in the current pass: its sequence number. */
  consumed: number;
  /** Rows produced to the tick topic, over all passes. */
  produced: number;
  /** Rows sent to the dead-letter topic, over all passes. */
  rejected: number;
  /** Line number of the last consumed row (0 before the first). */
  line: number;
  /** Per run of the ordered stream, where its next unread row starts. */
  cursors: Cursor[];
  fingerprint: SourceFingerprint;
  /** The replay read the whole file (not in loop mode): nothing is left to produce. */
  done: boolean;
  updatedAt: string;
}

/** The position record as a Kafka message. */
export function positionMessage(replayId: string, position: ReplayPosition): { key: string; value: string } {
  return { key: replayId, value: JSON.stringify(position) };
}

/**
 * Latest committed position of a replay, or undefined when it never committed one: the position topic
 * read to its end with read_committed (readTopicToEnd), keeping the last record of the replay's key.
 */
export async function readPosition(kafka: Kafka, topic: string, replayId: string): Promise<unknown> {
  let latest: unknown;
  await readTopicToEnd(
    kafka,
    topic,
    (_partition, messages) => {
      for (const m of messages) {
        if (m.key?.toString() !== replayId) continue;
        latest = m.value ? (JSON.parse(m.value.toString()) as unknown) : undefined;
      }
    },
    { groupPrefix: 'ticklake-position-reader', what: `the positions of replay '${replayId}' (topic '${topic}')` },
  );
  return latest;
}

export type PositionCheck =
  /** `locate`: the record predates cursors; the cursor is found by skipping `position.consumed` rows (file order). */
  | { ok: true; position: ReplayPosition; locate?: boolean }
  | { ok: false; type: 'SourceChanged' | 'InvalidReplayInput'; message: string };

/**
 * Checks that a committed position belongs to this file and this way of replaying it. Pure.
 * A position of another file version, order or layout would resume at a wrong row, so it is refused.
 */
export function checkPosition(
  value: unknown,
  expected: { replayId: string; file: string; fingerprint: SourceFingerprint; order: ReplayOrder; runs: number },
): PositionCheck {
  const { replayId, file } = expected;
  const p = value as Partial<ReplayPosition> | null;
  if (isFirstFormat(p)) {
    // Format 1 (file order, no cursors) came before market-time order; it resumes by counting rows.
    if (!sameFile(p.fingerprint, expected.fingerprint)) return changed(file, replayId);
    if (expected.order !== 'file') return otherOrder(replayId, 'file', expected.order);
    const position: ReplayPosition = {
      version: POSITION_VERSION,
      order: 'file',
      pass: p.pass,
      consumed: p.consumed,
      produced: p.produced,
      rejected: p.rejected,
      line: p.line,
      cursors: [],
      fingerprint: p.fingerprint,
      done: false,
      updatedAt: p.updatedAt ?? new Date(0).toISOString(),
    };
    return { ok: true, position, locate: true };
  }
  if (typeof p !== 'object' || p === null || p.version !== POSITION_VERSION || !Array.isArray(p.cursors)) {
    return {
      ok: false,
      type: 'InvalidReplayInput',
      message: `replay '${replayId}' has a committed position this version cannot resume (format ${String(p?.version ?? 1)}); start a new replay id`,
    };
  }
  if (!sameFile(p.fingerprint, expected.fingerprint)) return changed(file, replayId);
  if (p.order !== expected.order) return otherOrder(replayId, String(p.order), expected.order);
  if (p.cursors.length !== expected.runs) {
    return {
      ok: false,
      type: 'SourceChanged',
      message: `source file '${file}' no longer has the layout replay '${replayId}' started with (${p.cursors.length} runs, now ${expected.runs}); start a new replay id`,
    };
  }
  return { ok: true, position: p as ReplayPosition };
}

interface FirstFormat {
  consumed: number;
  produced: number;
  rejected: number;
  pass: number;
  line: number;
  fingerprint: SourceFingerprint;
  updatedAt?: string;
}

function isFirstFormat(p: unknown): p is FirstFormat {
  const v = p as Partial<FirstFormat & { version: unknown }> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.version === undefined &&
    [v.consumed, v.produced, v.rejected, v.pass, v.line].every((n) => typeof n === 'number') &&
    typeof v.fingerprint === 'object'
  );
}

function sameFile(a: SourceFingerprint | undefined, b: SourceFingerprint): boolean {
  return !!a && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function changed(file: string, replayId: string): PositionCheck {
  return {
    ok: false,
    type: 'SourceChanged',
    message:
      `source file '${file}' changed since replay '${replayId}' started (size or modification time differ); ` +
      'start a new replay id to replay the new file',
  };
}

function otherOrder(replayId: string, was: string, now: string): PositionCheck {
  return {
    ok: false,
    type: 'InvalidReplayInput',
    message: `replay '${replayId}' was started in ${was} order and cannot go on in ${now} order; start a new replay id to change the order`,
  };
}
