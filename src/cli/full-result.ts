/**
 * The whole result of a query, when the inline page holds only its first rows: the engine wrote it as
 * CSV (DuckDB: a file on the worker's host; Athena: an object in its output location). The CLI reads it
 * from there for `--format csv|json`, `--output` and charts, so nothing it prints is cut without saying so.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse';
import type { QueryResult } from '../../activities/types';

export type ResultCell = QueryResult['rows'][number][number];

/** Rows a chart is drawn from at most; a larger result is refused with the reason. */
export const CHART_MAX_ROWS = 100_000;

/** The line that says a shown result is not the whole of it, and where the rest is. */
export function truncationNote(r: QueryResult): string | undefined {
  if (!r.truncated) return undefined;
  return (
    `showing the first ${r.rows.length} of ${r.rowCount} rows; the whole result is in ${r.resultLocation ?? 'no file (the engine kept none)'}` +
    `; write all of it with --format csv --output FILE`
  );
}

/** The whole result's CSV (with its header line) as a byte stream. */
export async function openResultCsv(location: string, s3: S3Client): Promise<Readable> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (m) {
    const out = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
    return out.Body as Readable;
  }
  try {
    await fs.promises.access(location, fs.constants.R_OK);
  } catch {
    throw new Error(
      `the whole result is in ${location} on the worker's host, which this machine cannot read; ` +
        'run the command where the worker runs, or use the Athena engine (its results are in S3)',
    );
  }
  return fs.createReadStream(location);
}

const NUMERIC = /^(BIGINT|INTEGER|INT|DOUBLE|FLOAT|DECIMAL|HUGEINT|SMALLINT|TINYINT|REAL|UBIGINT|UINTEGER)/i;

/** A CSV field as the inline rows carry it: numbers and booleans typed, an unquoted empty field NULL. */
export function csvCell(value: string, quoted: boolean, type: string): ResultCell {
  if (value === '' && !quoted) return null;
  if (NUMERIC.test(type)) {
    const n = Number(value);
    if (value !== '' && Number.isFinite(n)) return n;
  }
  if (/^BOOLEAN/i.test(type)) return value === 'true';
  return value;
}

/** Every row of the result: the inline rows when they are all of it, else the rows of the result file. */
export async function* allRows(r: QueryResult, s3: S3Client): AsyncGenerator<ResultCell[]> {
  if (!r.truncated) {
    yield* r.rows;
    return;
  }
  if (!r.resultLocation) throw new Error(`the result has ${r.rowCount} rows but the engine kept no file of it`);
  const types = r.columns.map((c) => c.type);
  const parser = (await openResultCsv(r.resultLocation, s3)).pipe(
    parse({
      from_line: 2,
      relax_column_count: false,
      cast: (value, context) => csvCell(value, context.quoting, types[context.index] ?? 'VARCHAR') as string,
    }),
  );
  for await (const row of parser) yield row as ResultCell[];
}
