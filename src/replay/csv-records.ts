/**
 * Where a CSV file splits into records, byte-exactly, as RFC 4180 says: a field that starts with a double
 * quote runs to the next lone double quote (a doubled quote is a quote character), so it may hold commas,
 * quotes and line breaks; a quote anywhere else in a field is data. pandas, R, Excel and most exporters
 * quote text fields, and some quote every field.
 *
 * The replay's positions are byte offsets of record starts, so the split is done here, on bytes, and not
 * by csv-parse (which reports no byte offsets per record); csv-parse then reads the fields of each record
 * that holds a quote. A line without a quote is a record of its own, found with one byte search, which
 * keeps the common case (the real file has no quote at all) as fast as splitting lines.
 *
 * An opening quote that is never closed would make the rest of the file one record. A record is therefore
 * bounded: when a quoted field is still open MAX_RECORD_BYTES bytes after the record's start, or at the end
 * of the data, the record is only its first line, and it is rejected with the reason (see
 * {@link UNCLOSED_QUOTE}); the next line is read as a record again. The rule looks only at the bytes from
 * the record's start, so every reader of the file (the scan, each run's reader, a resumed reader) splits it
 * the same way.
 *
 * Pure: no I/O.
 */
import { parse as parseSync, type Options as CsvOptions } from 'csv-parse/sync';

const NL = 0x0a;
const CR = 0x0d;
const COMMA = 0x2c;
const QUOTE = 0x22;

/** Most bytes a record with a quoted line break may span (a real row is under 200 bytes). */
export const MAX_RECORD_BYTES = 64 * 1024;

/** Reason given for a record whose quoted field is not closed (see the module comment). */
export const UNCLOSED_QUOTE = `a quoted field is not closed within ${MAX_RECORD_BYTES} bytes or before the end of the file`;

/**
 * csv-parse options for a record that holds a quote: RFC 4180 quoting with `""` as the escape, a quote
 * inside an unquoted field kept as data (`relax_quotes`), any field count (validation counts them).
 */
const QUOTED_OPTIONS: CsvOptions = {
  relax_column_count: true,
  relax_quotes: true,
  skip_empty_lines: false,
  quote: '"',
  escape: '"',
  record_delimiter: ['\r\n', '\n'],
  bom: false,
};

/** Where a record is, as {@link RecordSplitter.next} finds it. */
export interface RecordSpan {
  /** Byte index of the record's first byte. */
  start: number;
  /** Byte index just past the record's last byte, its line break excluded. */
  stop: number;
  /** Byte index where the next record starts (past the line break, or the end of the data). */
  next: number;
  /** Physical lines the record spans (1 unless a quoted field holds line breaks). */
  lines: number;
  /** The record holds a double quote: its fields need {@link quotedFields}. */
  quoted: boolean;
  /** The record is the first line of a quoted field that is never closed. */
  unclosed: boolean;
}

/**
 * Finds records one after another in a buffer. The buffer's bytes from `from` up to `filled` are known;
 * `final` says that no byte follows `filled` (the end of the file or of the run being read).
 * One instance per buffer; it caches where the next quote is, so a buffer without quotes costs one
 * byte search per line.
 */
export class RecordSplitter {
  private nextQuote = -1;
  private quoteSearchedFrom = Number.MAX_SAFE_INTEGER;
  /** The span of the last record found; reused between calls (read it before the next call). */
  readonly span: RecordSpan = { start: 0, stop: 0, next: 0, lines: 1, quoted: false, unclosed: false };

  constructor(
    private readonly buf: Buffer,
    private readonly filled: number,
    private readonly final: boolean,
  ) {}

  /**
   * The record starting at `start`, in {@link span}, and true; or false when the known bytes end before
   * the record does (read more and call again from the same start). At `start === filled` there is no
   * record: false.
   */
  next(start: number): boolean {
    const { buf, filled } = this;
    if (start >= filled) return false;
    let nl = buf.indexOf(NL, start);
    if (nl >= filled) nl = -1;
    if (this.quoteSearchedFrom > start || (this.nextQuote >= 0 && this.nextQuote < start)) {
      this.nextQuote = buf.indexOf(QUOTE, start);
      if (this.nextQuote >= filled) this.nextQuote = -1;
      this.quoteSearchedFrom = start;
    }
    const q = this.nextQuote;
    const s = this.span;
    s.start = start;
    s.lines = 1;
    s.unclosed = false;
    if (q < 0 || (nl >= 0 && q > nl)) {
      s.quoted = false;
      if (nl >= 0) {
        s.stop = nl;
        s.next = nl + 1;
        return true;
      }
      if (!this.final) return false;
      s.stop = filled;
      s.next = filled;
      return true;
    }
    s.quoted = true;
    return this.quotedRecord(start, nl);
  }

  /** The slow path, byte by byte from the record's start: a quote is in its first line. */
  private quotedRecord(start: number, firstNl: number): boolean {
    const { buf, filled } = this;
    const s = this.span;
    const limit = Math.min(filled, start + MAX_RECORD_BYTES);
    let inQuotes = false;
    let fieldStart = true;
    let lines = 1;
    let i = start;
    while (i < limit) {
      const b = buf[i];
      if (inQuotes) {
        if (b === QUOTE) {
          if (i + 1 < filled && buf[i + 1] === QUOTE) {
            i += 2;
            continue;
          }
          if (i + 1 >= filled && !this.final) return false; // a doubled quote may follow: read more
          inQuotes = false;
        } else if (b === NL) lines++;
        i++;
        continue;
      }
      if (b === NL) {
        s.stop = i;
        s.next = i + 1;
        s.lines = lines;
        return true;
      }
      if (b === QUOTE && fieldStart) inQuotes = true;
      fieldStart = b === COMMA;
      i++;
    }
    if (i >= filled) {
      if (!inQuotes) {
        if (!this.final) return false;
        s.stop = filled;
        s.next = filled;
        s.lines = lines;
        return true;
      }
      if (!this.final && filled - start < MAX_RECORD_BYTES) return false;
    }
    // The data ended inside a quote, or MAX_RECORD_BYTES went by without the record's end: the record is
    // its first line. A plain overlong line (no quote open, no quoted line break) is not unclosed; the
    // caller refuses it by its line-length rule.
    s.unclosed = inQuotes || lines > 1;
    return this.plainLine(start, firstNl);
  }

  private plainLine(start: number, nl: number): boolean {
    const s = this.span;
    s.lines = 1;
    if (nl >= 0) {
      s.stop = nl;
      s.next = nl + 1;
    } else {
      if (!this.final) return false;
      s.stop = this.filled;
      s.next = this.filled;
    }
    return true;
  }
}

/**
 * The fields of a record that holds a quote, as csv-parse reads them with RFC 4180 quoting, or the reason
 * they cannot be read (csv-parse's own message, e.g. a closing quote followed by more text).
 * `stop` excludes the record's line break; a CR before it is dropped here.
 */
export function quotedFields(buf: Buffer, start: number, stop: number): string[] | { problem: string } {
  let end = stop;
  if (end > start && buf[end - 1] === CR) end--;
  let records: string[][];
  try {
    records = parseSync(buf.subarray(start, end), QUOTED_OPTIONS);
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, ' ');
    return { problem: `malformed quoting: ${message.length > 160 ? `${message.slice(0, 160)}...` : message}` };
  }
  if (records.length === 0) return [''];
  if (records.length !== 1) return { problem: 'malformed quoting: the record does not read as one row' };
  return records[0];
}

/**
 * The records of a buffer without a double quote: one per line (LF or CRLF), each split at its commas,
 * which is all RFC 4180 reads there. An empty line is a record of one empty field (validation refuses it
 * with its reason); a final line break ends the last record and starts none. Decoded once as UTF-8 and
 * split on the decoded text: both separators are ASCII, so a multi-byte character is never cut. (csv-parse
 * did this before, at three times the cost: it reads character by character for the quoting rules that a
 * buffer without a quote does not need.)
 */
export function plainRecords(buf: Buffer): string[][] {
  const text = buf.toString('utf8');
  const records: string[][] = [];
  const n = text.length;
  let start = 0;
  while (start < n) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = n;
    const end = nl > start && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    records.push(text.slice(start, end).split(','));
    start = nl + 1;
  }
  return records;
}

/** The fields of a record without quotes: split at commas, a CR before the line break dropped. */
export function plainFields(buf: Buffer, start: number, stop: number): string[] {
  let end = stop;
  if (end > start && buf[end - 1] === CR) end--;
  return buf.toString('utf8', start, end).split(',');
}
