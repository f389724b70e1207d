/**
 * Reading a CSV of the indexProcessed.csv schema for the replay producer, without ever loading it whole.
 *
 * Records are split byte-exactly by csv-records.ts (RFC 4180: a quoted field may hold commas, doubled
 * quotes and line breaks), so every record starts at a known byte offset and physical line. That is what
 * makes the producer's position exact: a position is a byte offset plus a line number per ascending-date
 * run of the file (see ordered-rows.ts), and a resumed replay reads on from there with positional reads,
 * never re-reading what it already produced.
 *
 * The file is read in chunks of whole records. A chunk without a double quote (the real file has none) is
 * split into fields in one pass, one record per line (plainRecords); a chunk with quotes is read record by
 * record. A chunk is a fresh buffer, so a row can hand out its raw text (for the dead-letter topic) until
 * the row is dropped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkHeader } from '../tick';
import {
  RecordSplitter,
  UNCLOSED_QUOTE,
  plainFields,
  plainRecords,
  quotedFields,
  type RecordSpan,
} from './csv-records';

export class SourceFileError extends Error {
  override name = 'SourceFileError';
}

/** Size and modification time identify a file version: a replay refuses to resume over a changed file. */
export interface SourceFingerprint {
  size: number;
  mtimeMs: number;
}

/**
 * Lines longer than this are not rows of the schema (a real row is under 200 bytes): the file is refused
 * rather than buffered without bound.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

const NL = 0x0a;
const COMMA = 0x2c;
const CR = 0x0d;
const QUOTE = 0x22;

/** Fails fast (SourceFileError) when the file is missing, unreadable or not of the expected schema. */
export async function openSource(file: string): Promise<SourceFingerprint> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
    await fs.promises.access(file, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SourceFileError(
      code === 'ENOENT'
        ? `source file '${file}' does not exist; pass the path of a CSV with header Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD`
        : `source file '${file}' cannot be read (${code ?? String(err)}); check its permissions`,
    );
  }
  if (!stat.isFile()) throw new SourceFileError(`source '${file}' is not a regular file; pass the path of a CSV file`);
  const header = await readHeader(file);
  if (header === undefined) {
    throw new SourceFileError(`source file '${file}' is empty; it needs at least the header line`);
  }
  const problem = checkHeader(header);
  if (problem) throw new SourceFileError(`source file '${file}' has an unexpected header: ${problem}`);
  return { size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) };
}

/** The fields of the header record (BOM stripped, RFC 4180 quoting), or undefined for an empty file. */
async function readHeader(file: string): Promise<string[] | undefined> {
  const fh = await openForReading(file);
  try {
    const buf = Buffer.allocUnsafe(128 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead === 0) return undefined;
    const from = bomLength(buf, bytesRead);
    const splitter = new RecordSplitter(buf, bytesRead, true);
    if (!splitter.next(from)) return [''];
    const { start, stop } = splitter.span;
    const fields = quotedFields(buf, start, stop);
    return Array.isArray(fields) ? fields : [buf.toString('utf8', start, stop)];
  } finally {
    await fh.close();
  }
}

/** 3 when the bytes start with a UTF-8 BOM, else 0. */
function bomLength(buf: Buffer, filled: number): number {
  return filled >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
}

async function openForReading(file: string): Promise<fs.promises.FileHandle> {
  try {
    return await fs.promises.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SourceFileError(
      `source file '${file}' cannot be opened (${code ?? String(err)}); check that it exists and is readable`,
    );
  }
}

export function sourceName(file: string): string {
  return path.basename(file);
}

/** What is true of a date key: a `YYYY-MM-DD` shape. Validity is parseRow's business, ordering only needs the shape. */
const DATE_KEY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The key a row sorts by in market-time order: its date when the date field has the YYYY-MM-DD shape,
 * else the key of the row before it in the same run ('' at the start of a run). A row with a broken
 * date thus stays right behind its predecessor, and the keys of a run never go down.
 */
export function orderKey(dateField: string | undefined, previous: string): string {
  if (dateField === undefined) return previous;
  const t = dateField.length === 10 ? dateField : dateField.trim();
  return DATE_KEY.test(t) ? t : previous;
}

/** Where a run of the file starts (or where a reader of it stands): the byte offset and line number of a row. */
export interface Cursor {
  /** Byte offset of the row's first byte. */
  offset: number;
  /** 1-based line number of that row (the header is line 1). */
  line: number;
  /** Order key of the row before it in the run ('' at the start of the run). */
  key: string;
}

export interface SourceLayout {
  size: number;
  /** Byte offset of line 2, the first data row. */
  dataStart: number;
  /** Data rows (records after the header, empty lines included). */
  rows: number;
  /**
   * Starts of the maximal runs of rows whose order keys never go down, in file order; a new run starts
   * wherever the date goes down. A file grouped by symbol has one run per symbol; a file sorted by date
   * has one run. Empty when the file has no data rows.
   */
  runs: Cursor[];
}

/**
 * One streaming pass over the file that finds the data rows and the runs of ascending dates. Memory is one
 * read buffer; the work is a byte search per line plus the date field of each line.
 * `onProgress` is called after every read (for heartbeats during a long scan).
 */
export async function scanSource(file: string, onProgress?: (bytes: number) => void): Promise<SourceLayout> {
  const fh = await openForReading(file);
  try {
    const size = (await fh.stat()).size;
    const runs: Cursor[] = [];
    let dataStart = -1;
    let line = 1;
    let rows = 0;
    let key = '';
    let pos = 0;
    let carry: Buffer = Buffer.alloc(0);
    const bufSize = 1024 * 1024;
    for (;;) {
      const buf = Buffer.allocUnsafe(carry.length + bufSize);
      carry.copy(buf, 0);
      const { bytesRead } = await fh.read(buf, carry.length, bufSize, pos);
      const filled = carry.length + bytesRead;
      const base = pos - carry.length;
      pos += bytesRead;
      const eof = bytesRead === 0 || pos >= size;
      const splitter = new RecordSplitter(buf, filled, eof);
      const span = splitter.span;
      let start = base === 0 ? bomLength(buf, filled) : 0;
      while (splitter.next(start)) {
        if (span.stop - span.start > MAX_LINE_BYTES) throw lineTooLong(file, line);
        if (dataStart < 0) dataStart = base + span.next;
        else {
          key = scanRow(buf, span, base, line, key, runs);
          rows++;
        }
        line += span.lines;
        start = span.next;
      }
      if (filled - start > MAX_LINE_BYTES) throw lineTooLong(file, line);
      if (eof) break;
      carry = buf.subarray(start, filled);
      onProgress?.(pos);
    }
    return { size, dataStart: dataStart < 0 ? size : dataStart, rows, runs };
  } finally {
    await fh.close();
  }
}

function lineTooLong(file: string, line: number): SourceFileError {
  return new SourceFileError(
    `source file '${file}': line ${line} is longer than ${MAX_LINE_BYTES} bytes; this is not a CSV of the indexProcessed.csv schema`,
  );
}

/** Records a run start when the row's key goes below the previous one; returns the row's key. */
function scanRow(buf: Buffer, span: RecordSpan, base: number, line: number, previous: string, runs: Cursor[]): string {
  const { start, stop } = span;
  let field: string | undefined;
  if (span.quoted) {
    const fields = span.unclosed ? undefined : quotedFields(buf, start, stop);
    field = Array.isArray(fields) ? fields[1] : undefined;
  } else {
    const c1 = buf.indexOf(COMMA, start);
    if (c1 >= 0 && c1 < stop) {
      let c2 = buf.indexOf(COMMA, c1 + 1);
      if (c2 < 0 || c2 > stop) c2 = stop;
      field = buf.toString('utf8', c1 + 1, c2);
    }
  }
  const key = orderKey(field, runs.length === 0 ? '' : previous);
  if (runs.length === 0 || key < previous) runs.push({ offset: base + start, line, key: '' });
  return key;
}

/** A data row as the producer sees it. */
export interface SourceRow {
  /** 1-based line number in the file of the row's first line (the header is line 1). */
  line: number;
  /** Line number of the next row: `line + 1` unless a quoted field of the row holds line breaks. */
  nextLine: number;
  fields: string[];
  /** Why the row cannot be read into fields (malformed quoting), else undefined; `fields` is then empty. */
  problem: string | undefined;
  /** Index of the row's run in the replay's run plan. */
  run: number;
  /** Order key (see {@link orderKey}). */
  key: string;
  /** Byte offset just past the row's line break: where the next row of its run starts. */
  end: number;
  /** The chunk holding the raw record, and where the record is in it (its final line break excluded). */
  chunk: Buffer;
  start: number;
  stop: number;
}

/** The row's text as it is in the file (the line breaks inside quoted fields included), without its final line break. */
export function rawLine(row: SourceRow): string {
  let stop = row.stop;
  if (stop > row.start && row.chunk[stop - 1] === CR) stop--;
  return row.chunk.toString('utf8', row.start, stop);
}

/**
 * Reads the rows of one run, [from.offset, end), chunk by chunk. Positional reads on a shared file handle:
 * many runs read the same file through one descriptor.
 */
export class RunReader {
  private pos: number;
  private line: number;
  private key: string;
  private carry: Buffer = Buffer.alloc(0);
  private bufSize: number;

  constructor(
    private readonly fh: fs.promises.FileHandle,
    private readonly file: string,
    from: Cursor,
    private readonly end: number,
    chunkBytes: number,
    private readonly run = 0,
  ) {
    this.pos = from.offset;
    this.line = from.line;
    this.key = from.key;
    this.bufSize = chunkBytes;
  }

  /** The next rows of the run (at least one), or null at the end of the run. */
  async read(): Promise<SourceRow[] | null> {
    for (;;) {
      const want = Math.min(this.bufSize, this.end - this.pos);
      if (want <= 0 && this.carry.length === 0) return null;
      const buf = Buffer.allocUnsafe(this.carry.length + Math.max(want, 0));
      this.carry.copy(buf, 0);
      let bytesRead = 0;
      if (want > 0) ({ bytesRead } = await this.fh.read(buf, this.carry.length, want, this.pos));
      const base = this.pos - this.carry.length;
      const filled = this.carry.length + bytesRead;
      this.pos += bytesRead;
      const atEnd = this.pos >= this.end || bytesRead === 0;
      if (atEnd && bytesRead === 0 && this.pos < this.end) {
        throw new SourceFileError(
          `source file '${this.file}' became shorter while it was being read; replay it again under a new replay id`,
        );
      }
      const rows = this.splitChunk(buf, filled, base, atEnd);
      if (rows === null) {
        if (atEnd) return null;
        if (filled > MAX_LINE_BYTES) throw lineTooLong(this.file, this.line);
        this.carry = buf.subarray(0, filled);
        this.bufSize *= 2;
        continue;
      }
      return rows;
    }
  }

  /**
   * The common case, a buffer without a double quote: one record per line, split in one pass by plainRecords
   * (what RecordSplitter would find, at the cost of a line split).
   */
  private splitPlainChunk(buf: Buffer, filled: number, base: number, atEnd: boolean): SourceRow[] | null {
    let upto = filled;
    if (!atEnd) {
      const nl = buf.lastIndexOf(NL, filled - 1);
      if (nl < 0) {
        this.carry = buf.subarray(0, filled);
        return null;
      }
      upto = nl + 1;
    }
    this.carry = atEnd ? Buffer.alloc(0) : buf.subarray(upto, filled);
    if (upto === 0) return null;
    const chunk = buf.subarray(0, upto);
    const records = plainRecords(chunk);
    const rows: SourceRow[] = new Array<SourceRow>(records.length);
    let start = 0;
    let key = this.key;
    let i = 0;
    while (start < upto) {
      const nl = chunk.indexOf(NL, start);
      const stop = nl < 0 ? upto : nl;
      if (stop - start > MAX_LINE_BYTES) throw lineTooLong(this.file, this.line + i);
      const fields = records[i];
      if (fields === undefined) break;
      key = orderKey(fields[1], key);
      const line = this.line + i;
      rows[i] = {
        line,
        nextLine: line + 1,
        fields,
        problem: undefined,
        run: this.run,
        key,
        end: base + Math.min(stop + 1, upto),
        chunk: buf,
        start,
        stop,
      };
      start = stop + 1;
      i++;
    }
    if (i !== records.length || start < upto) {
      // The split and the line count disagree: line numbers and positions would be wrong from here on.
      throw new SourceFileError(
        `source file '${this.file}': the lines from line ${this.line} do not split into one record each; ` +
          'this is not a CSV of the indexProcessed.csv schema',
      );
    }
    this.line += records.length;
    this.key = key;
    return rows;
  }

  /** The whole records at the start of buf (and the rest as carry), or null when not one is whole yet. */
  private splitChunk(buf: Buffer, filled: number, base: number, atEnd: boolean): SourceRow[] | null {
    const q = buf.indexOf(QUOTE);
    if (q < 0 || q >= filled) return this.splitPlainChunk(buf, filled, base, atEnd);
    const splitter = new RecordSplitter(buf, filled, atEnd);
    const span = splitter.span;
    const rows: SourceRow[] = [];
    const quoted: boolean[] = [];
    let start = 0;
    let line = this.line;
    while (splitter.next(start)) {
      if (span.stop - span.start > MAX_LINE_BYTES) throw lineTooLong(this.file, line);
      rows.push({
        line,
        nextLine: line + span.lines,
        fields: NO_FIELDS,
        problem: span.unclosed ? UNCLOSED_QUOTE : undefined,
        run: this.run,
        key: '',
        end: base + span.next,
        chunk: buf,
        start: span.start,
        stop: span.stop,
      });
      quoted.push(span.quoted);
      line += span.lines;
      start = span.next;
    }
    this.carry = atEnd ? Buffer.alloc(0) : buf.subarray(start, filled);
    if (rows.length === 0) return null;
    const chunk = buf.subarray(0, start);
    if (chunk.indexOf(QUOTE) < 0) {
      const records = plainRecords(chunk);
      if (records.length !== rows.length) {
        // The split and the record split disagree: line numbers and positions would be wrong from here on.
        throw new SourceFileError(
          `source file '${this.file}': the lines from line ${this.line} do not split into one record each; ` +
            'this is not a CSV of the indexProcessed.csv schema',
        );
      }
      for (let i = 0; i < rows.length; i++) rows[i].fields = records[i];
    } else {
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        if (row.problem !== undefined) continue;
        if (!quoted[i]) {
          row.fields = plainFields(buf, row.start, row.stop);
          continue;
        }
        const fields = quotedFields(buf, row.start, row.stop);
        if (Array.isArray(fields)) row.fields = fields;
        else row.problem = fields.problem;
      }
    }
    let key = this.key;
    for (const row of rows) {
      key = orderKey(row.problem === undefined ? row.fields[1] : undefined, key);
      row.key = key;
    }
    this.line = line;
    this.key = key;
    return rows;
  }
}

const NO_FIELDS: string[] = [];

export async function openFile(file: string): Promise<fs.promises.FileHandle> {
  return openForReading(file);
}
