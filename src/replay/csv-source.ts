/**
 * Streams a CSV of the indexProcessed.csv schema row by row (never loading it whole), giving each
 * row's fields, its raw text and its line number. Bad rows are yielded too: validation decides.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse';
import { checkHeader } from '../tick';

export interface SourceRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  fields: string[];
  raw: string;
}

export class SourceFileError extends Error {
  override name = 'SourceFileError';
}

/** Size and modification time identify a file version: a replay refuses to resume over a changed file. */
export interface SourceFingerprint {
  size: number;
  mtimeMs: number;
}

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
  if (!stat.isFile()) throw new SourceFileError(`source '${file}' is not a regular file`);
  for await (const row of readRows(file)) {
    if (row.line !== 1) break;
    const problem = checkHeader(row.fields);
    if (problem) throw new SourceFileError(`source file '${file}' has an unexpected header: ${problem}`);
    return { size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) };
  }
  throw new SourceFileError(`source file '${file}' is empty; it needs at least the header line`);
}

/** All rows including the header (line 1), in file order. */
export async function* readRows(file: string, start?: number): AsyncGenerator<SourceRow> {
  const parser = fs.createReadStream(file, { start, highWaterMark: 256 * 1024 }).pipe(
    parse({
      bom: true,
      relax_column_count: true,
      skip_empty_lines: false,
      // The schema never quotes: one physical line is one record, so line numbers are exact and a
      // stray quote cannot swallow the rest of the file.
      quote: false,
      record_delimiter: ['\r\n', '\n'],
      raw: true,
      info: true,
      max_record_size: 64 * 1024,
    }),
  );
  for await (const item of parser as AsyncIterable<{ record: string[]; raw: string; info: { lines: number } }>) {
    yield { line: item.info.lines, fields: item.record, raw: item.raw.replace(/[\r\n]+$/, '') };
  }
}

export function sourceName(file: string): string {
  return path.basename(file);
}
