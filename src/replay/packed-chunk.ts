/**
 * A chunk of replay rows turned into Kafka messages, packed into one byte buffer so it crosses from the
 * parsing thread to the producing thread by transfer instead of by copy, and so the producer gets keys and
 * values as bytes (no per-message string encoding on the producing thread).
 *
 * The messages themselves are built by src/message.ts (tickMessage, deadLetterMessage); this module
 * only validates rows and packs and unpacks what message.ts made.
 */
import { deadLetterMessage, tickMessage, type LakeRecord, type TickMessage } from '../message';
import { parseRow, type RowResult, type Tick } from '../tick';
import { rawLine, type SourceRow } from './csv-source';

export const TICK = 0;
export const DEAD_LETTER = 1;

/** Dead letters quote at most this much of a raw line. */
export const MAX_RAW_CHARS = 16 * 1024;

export interface PackedChunk {
  count: number;
  /** Keys, values and header values of all messages, back to back. */
  bytes: Uint8Array;
  /**
   * Segment boundaries in `bytes`. Row i's segments start at bound index `first[i]`: key, value, then one
   * per header name of its kind; segment j spans [bounds[j], bounds[j + 1]).
   */
  bounds: Int32Array;
  first: Int32Array;
  /** TICK or DEAD_LETTER per row. */
  kinds: Uint8Array;
  /** Line number per row. */
  lines: Float64Array;
  /** Line number of the row after each row (more than one line on when a quoted field holds line breaks). */
  nextLines: Float64Array;
  /** Byte offset just past each row: where the next row of its run starts. */
  ends: Float64Array;
  /** Run index per row. */
  runs: Uint16Array;
  /** Order key per row, as an index into keyTable. */
  keyIds: Uint32Array;
  keyTable: string[];
  /** Kafka key per row, as an index into messageKeys (ticks of a chunk share a few symbols). */
  messageKeyIds: Uint32Array;
  messageKeys: string[];
  /** Header names per kind (message.ts gives every message of a kind the same headers). */
  headerNames: [string[], string[]];
  /** Kafka timestamp of every message of the chunk (ms since the epoch, as text). */
  timestamp: string;
  /** Kafka timestamp per row (ms since the epoch), once some rows are restamped (restamp). */
  timestamps?: Float64Array;
}

/**
 * tickMessage builds the record as `{ ...tick, source, row, ingested_at }`. A spread that adds properties
 * takes V8's slow path (about 5 us a row, a fifth of the feed thread's time); when the tick already has
 * those properties, in that order, the spread is a fast clone whose last three values are then replaced.
 * The record and its JSON are the same either way (test/unit/replay-packed-chunk.test.ts checks it).
 */
function withLineageSlots(tick: Tick): Tick {
  const t = tick as Tick & Partial<LakeRecord>;
  t.source = '';
  t.row = 0;
  t.ingested_at = '';
  return t;
}

/**
 * A copy of the date whose ISO text is computed once: every message of a chunk has the same ingestion
 * time, and tickMessage formats it for each row (most of a microsecond a row).
 */
function withFixedIsoText(date: Date): Date {
  const copy = new Date(date.getTime());
  const iso = copy.toISOString();
  copy.toISOString = () => iso;
  return copy;
}

function truncate(raw: string): string {
  return raw.length <= MAX_RAW_CHARS ? raw : `${raw.slice(0, MAX_RAW_CHARS)}... (${raw.length} characters)`;
}

/** Validates rows and packs their messages. One instance per reader; not thread-safe (nothing is). */
export class ChunkPacker {
  private buf = Buffer.allocUnsafe(1 << 20);

  /** `replayId` goes into every dead letter, so that `npx ticklake dlq --replay ID` finds them. */
  constructor(
    private readonly source: string,
    private readonly replayId?: string,
  ) {}

  /** All messages of the chunk carry the ingestion time `at`. */
  pack(rows: SourceRow[], ingestedAt: Date): PackedChunk {
    const at = withFixedIsoText(ingestedAt);
    const n = rows.length;
    const kinds = new Uint8Array(n);
    const lines = new Float64Array(n);
    const nextLines = new Float64Array(n);
    const ends = new Float64Array(n);
    const runs = new Uint16Array(n);
    const keyIds = new Uint32Array(n);
    const first = new Int32Array(n);
    const keyTable: string[] = [];
    const messageKeyIds = new Uint32Array(n);
    const messageKeys: string[] = [];
    const messageKeyIndex = new Map<string, number>();
    const headerNames: [string[], string[]] = [[], []];
    const boundList: number[] = [0];
    let off = 0;
    let lastKey: string | undefined;
    const write = (text: string) => {
      if (off + text.length * 3 > this.buf.length) this.grow(off + text.length * 3);
      off += this.buf.write(text, off);
      boundList.push(off);
    };
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      const result: RowResult = row.problem === undefined ? parseRow(row.fields) : { ok: false, reason: row.problem };
      let m: TickMessage;
      if (result.ok) {
        m = tickMessage(withLineageSlots(result.tick), this.source, row.line, at);
        kinds[i] = TICK;
      } else {
        m = deadLetterMessage(
          {
            source: this.source,
            row: row.line,
            reason: result.reason,
            raw: truncate(rawLine(row)),
            ...(this.replayId === undefined ? {} : { replay: this.replayId }),
          },
          at,
        );
        kinds[i] = DEAD_LETTER;
      }
      const names = headerNames[kinds[i]];
      if (names.length === 0) names.push(...Object.keys(m.headers));
      first[i] = boundList.length - 1;
      write(m.key);
      write(m.value);
      for (const name of names) write(m.headers[name] ?? '');
      lines[i] = row.line;
      nextLines[i] = row.nextLine;
      ends[i] = row.end;
      runs[i] = row.run;
      if (row.key !== lastKey) {
        keyTable.push(row.key);
        lastKey = row.key;
      }
      keyIds[i] = keyTable.length - 1;
      let k = messageKeyIndex.get(m.key);
      if (k === undefined) {
        k = messageKeys.push(m.key) - 1;
        messageKeyIndex.set(m.key, k);
      }
      messageKeyIds[i] = k;
    }
    // A copy sized to the data, so the reusable buffer stays with the packer and the copy can be transferred.
    const bytes = new Uint8Array(off);
    bytes.set(this.buf.subarray(0, off));
    return {
      count: n,
      bytes,
      bounds: Int32Array.from(boundList),
      first,
      kinds,
      lines,
      nextLines,
      ends,
      runs,
      keyIds,
      keyTable,
      messageKeyIds,
      messageKeys,
      headerNames,
      timestamp: String(at.getTime()),
    };
  }

  private grow(min: number): void {
    let size = this.buf.length * 2;
    while (size < min) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next);
    this.buf = next;
  }
}

/** A tick's value ends with its ingestion time: `"ingested_at":"<ISO-8601, 24 characters>"}` (tickMessage). */
const STAMP_FIELD = Buffer.from('"ingested_at":"');
const STAMP_END = Buffer.from('"}');
const ISO_LENGTH = 24;

/** Row i's ingestion time (ms since the epoch): the chunk's, or the one restamp gave it. */
export function stampOf(c: PackedChunk, i: number): number {
  return c.timestamps ? c.timestamps[i] : Number(c.timestamp);
}

/**
 * Gives rows `from` to the end of the chunk the ingestion time `at` (ms since the epoch): their Kafka
 * timestamp, and in each tick's value the text of `ingested_at`, rewritten in place (the same length:
 * an ISO-8601 time of years 0 to 9999 has 24 characters). A paced replay packs rows ahead of the time
 * they are due; the rows it held back are restamped when they go, so that `ingested_at` says when the
 * row entered the pipeline, not when it was read ahead. Dead letters carry the time in the Kafka
 * timestamp only.
 */
export function restamp(c: PackedChunk, from: number, at: number): void {
  const iso = new Date(at).toISOString();
  if (iso.length !== ISO_LENGTH) return;
  const bytes = chunkBytes(c);
  const times = (c.timestamps ??= new Float64Array(c.count).fill(Number(c.timestamp)));
  for (let i = from; i < c.count; i++) {
    times[i] = at;
    if (c.kinds[i] !== TICK) continue;
    const end = c.bounds[c.first[i] + 2];
    const start = end - STAMP_END.length - ISO_LENGTH;
    if (
      start - STAMP_FIELD.length < c.bounds[c.first[i] + 1] ||
      !bytes.subarray(end - STAMP_END.length, end).equals(STAMP_END) ||
      !bytes.subarray(start - STAMP_FIELD.length, start).equals(STAMP_FIELD)
    )
      throw new Error(`row ${c.lines[i]}: its message does not end with its ingestion time; it cannot be restamped`);
    bytes.write(iso, start, 'latin1');
  }
}

/** The buffers a PackedChunk can hand to postMessage's transfer list. */
export function transferables(c: PackedChunk): ArrayBuffer[] {
  return [c.bytes, c.bounds, c.first, c.kinds, c.lines, c.nextLines, c.ends, c.runs, c.keyIds, c.messageKeyIds].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/** One message of a chunk: views into the chunk's bytes. Headers in librdkafka's form, one object per header. */
export interface ChunkMessage {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>[];
  /** Ms since the epoch, as text. */
  timestamp: string;
}

/** Row i of a chunk as a message (views into the chunk's bytes, no copy). */
export function messageAt(c: PackedChunk, bytes: Buffer, i: number): ChunkMessage {
  const b = c.bounds;
  let j = c.first[i];
  const key = bytes.subarray(b[j], b[j + 1]);
  j++;
  const value = bytes.subarray(b[j], b[j + 1]);
  j++;
  const headers: Record<string, Buffer>[] = [];
  for (const name of c.headerNames[c.kinds[i]]) {
    headers.push({ [name]: bytes.subarray(b[j], b[j + 1]) });
    j++;
  }
  return { key, value, headers, timestamp: c.timestamps ? String(c.timestamps[i]) : c.timestamp };
}

/** Bytes of row i's key, value and header values. */
export function rowBytes(c: PackedChunk, i: number): number {
  const end = i + 1 < c.count ? c.bounds[c.first[i + 1]] : c.bounds[c.bounds.length - 1];
  return end - c.bounds[c.first[i]];
}

/** The chunk's bytes as a Buffer (no copy). */
export function chunkBytes(c: PackedChunk): Buffer {
  return Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
}
