/**
 * Where a tick becomes a Kafka message, and where the sink turns a message back into a lake record.
 * Pure: no I/O.
 */
import type { Tick } from './tick';

/** One line of a lake object: the tick plus its lineage. */
export interface LakeRecord extends Tick {
  /** Source file name (basename) the row came from. */
  source: string;
  /** 1-based line number of the row in the source file (the header is line 1). */
  row: number;
  /** ISO-8601 time the producer read the row; when a paced replay held it back until due, that time. */
  ingested_at: string;
}

export interface TickMessage {
  key: string;
  value: string;
  timestamp: string;
  headers: Record<string, string>;
}

export function tickMessage(tick: Tick, source: string, row: number, ingestedAt: Date): TickMessage {
  const record: LakeRecord = { ...tick, source, row, ingested_at: ingestedAt.toISOString() };
  return {
    key: tick.symbol,
    value: JSON.stringify(record),
    timestamp: String(ingestedAt.getTime()),
    headers: { source, row: String(row) },
  };
}

/** A rejected CSV row, as written to the dead-letter topic. */
export interface DeadLetterRow {
  source: string;
  /** 1-based line number of the row's first line in the source file. */
  row: number;
  reason: string;
  /** The row's text as in the file (long ones cut, saying so). */
  raw: string;
  /** Id of the replay that read the row (`npx ticklake dlq --replay ID`); absent in older dead letters. */
  replay?: string;
}

export function deadLetterMessage(dead: DeadLetterRow, at: Date): TickMessage {
  const headers: Record<string, string> = { source: dead.source, row: String(dead.row), reason: dead.reason };
  if (dead.replay !== undefined) headers.replay = dead.replay;
  return {
    key: `${dead.source}:${dead.row}`,
    value: JSON.stringify(dead),
    timestamp: String(at.getTime()),
    headers,
  };
}

export type RecordCheck = { ok: true; symbol: string; trade_date: string } | { ok: false; reason: string };

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Checks a message value read by the sink. Only what the lake layout needs is checked strictly
 * (symbol, trade_date); the value is stored as the producer wrote it.
 */
export function checkRecordValue(value: Buffer | null, maxBytes: number): RecordCheck {
  if (value === null) return { ok: false, reason: 'empty message (null value)' };
  if (value.length > maxBytes) return { ok: false, reason: `message of ${value.length} bytes exceeds ${maxBytes}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `not valid JSON: ${(err as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const { symbol, trade_date } = parsed as Record<string, unknown>;
  if (typeof symbol !== 'string' || symbol.trim() === '') return { ok: false, reason: 'missing field: symbol' };
  if (typeof trade_date !== 'string' || !DATE.test(trade_date)) {
    return { ok: false, reason: 'missing or malformed field: trade_date (YYYY-MM-DD)' };
  }
  return { ok: true, symbol, trade_date };
}
