/**
 * Compacts one window (src/compact/state.ts): the raw NDJSON objects of one lake partition's newly
 * closed cuts, together with the partition's previous curated file, become one Parquet file, sorted by
 * symbol then date, ZSTD, with row groups small enough that a symbol's query skips the others. The file
 * is checked before it is uploaded: as many records as the manifests name plus the previous file's, and
 * the same checksum (the sum of the rows' hashes), so a curated file never replaces a record it lacks.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getObjectBuffer, putObject } from '../adapters/s3';
import { mapLimit } from '../catalog/lake-scan';
import { duckdbType } from '../query/duckdb-values';
import { addChecksums, CUT_COLUMN, SOURCE_COLUMN, type ColumnType, type WindowPlan } from './state';

/** Rows per row group: a symbol's rows sit in one or two groups of a sorted file, the rest are skipped. */
export const CURATED_ROW_GROUP_ROWS = 16_384;

/** A window that cannot be compacted as it is: a raw object is unreadable or disagrees with its manifest. */
export class WindowRefused extends Error {
  override name = 'WindowRefused';
  constructor(
    message: string,
    readonly type: 'CorruptRawObject' | 'RawObjectMissing' | 'CuratedFileChanged',
  ) {
    super(message);
  }
}

export interface WindowOutcome {
  partition: string;
  key: string;
  etag: string;
  rows: number;
  bytes: number;
  checksum: string;
  columns: ColumnType[];
  rawObjects: number;
  rawRows: number;
  rawBytes: number;
  /** Bytes of the previous curated file whose rows the new file holds. */
  replacedBytes: number;
  durationMs: number;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The checksum of rows over `columns`: the sum of their hashes mod 2^64, as text. */
function checksumSql(columns: readonly ColumnType[]): string {
  const args = columns.map((c) => sqlIdent(c.name)).join(', ');
  return `coalesce(CAST(sum(CAST(hash(${args}) AS HUGEINT)) % CAST(18446744073709551616 AS HUGEINT) AS VARCHAR), '0')`;
}

async function one(c: DuckDBConnection, sql: string): Promise<unknown[]> {
  const reader = await c.runAndReadAll(sql);
  return reader.getRowsJS()[0];
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The timestamp format of the ticks' `ingested_at` (ISO-8601, milliseconds, UTC). */
const TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%S.%gZ';

export async function compactWindow(args: {
  s3: S3Client;
  bucket: string;
  instance: DuckDBInstance;
  workDir: string;
  columns: ColumnType[];
  window: WindowPlan;
  /** Where the curated file goes. */
  key: string;
  heartbeat?: (details: unknown) => void;
  /** Called at the end of each phase with its wall and CPU time (the whole process's CPU). */
  onPhase?: (phase: string, ms: number, cpuMs: number) => void;
}): Promise<WindowOutcome> {
  const started = Date.now();
  let mark = { at: performance.now(), cpu: process.cpuUsage() };
  const phase = (name: string) => {
    if (!args.onPhase) return;
    const cpu = process.cpuUsage(mark.cpu);
    args.onPhase(name, performance.now() - mark.at, (cpu.user + cpu.system) / 1000);
    mark = { at: performance.now(), cpu: process.cpuUsage() };
  };
  const { s3, bucket, window, columns } = args;
  const dir = await fs.promises.mkdtemp(path.join(args.workDir, 'window-'));
  const c = await args.instance.connect();
  try {
    // The raw rows are sorted before they are written: reading them need not keep the files' order,
    // which lets DuckDB's threads materialise them without reordering (about a third of the read's CPU).
    await c.run('SET preserve_insertion_order = false');
    // 1. The raw objects, as the sink wrote them.
    let rawBytes = 0;
    const files = await mapLimit(window.objects, 8, async (o, i) => {
      let body: Uint8Array;
      try {
        body = await getObjectBuffer(s3, bucket, o.key);
      } catch (err) {
        if (status(err) === 404)
          throw new WindowRefused(
            `raw object s3://${bucket}/${o.key} is named by its manifest but missing (a sink flush that has not finished, or an object deleted by hand); the window stays raw until it is there`,
            'RawObjectMissing',
          );
        throw err;
      }
      rawBytes += body.byteLength;
      const file = path.join(dir, `raw-${String(i).padStart(6, '0')}${path.extname(o.key)}`);
      await fs.promises.writeFile(file, body);
      return file;
    });
    args.heartbeat?.({ phase: 'read', partition: window.partition, objects: files.length });
    phase('download');

    // 2. One table of the window's raw records, each with its cut.
    await c.run(`CREATE TEMP TABLE objs (file VARCHAR, source VARCHAR, cut BIGINT, records BIGINT, key VARCHAR)`);
    const appender = await c.createAppender('objs', 'main', 'temp');
    window.objects.forEach((o, i) => {
      appender.appendVarchar(files[i]);
      appender.appendVarchar(o.source);
      appender.appendBigInt(BigInt(o.first));
      appender.appendBigInt(BigInt(o.records));
      appender.appendVarchar(o.key);
      appender.endRow();
    });
    appender.closeSync();
    const jsonColumns = columns.map((col) => `${sqlString(col.name)}: ${sqlString(duckdbType(col.type))}`).join(', ');
    const readJson = (list: string[]) =>
      `read_json([${list.map(sqlString).join(', ')}], format = 'newline_delimited', filename = true, ` +
      `columns = {${jsonColumns}}, timestampformat = ${sqlString(TIMESTAMP_FORMAT)})`;
    const data = columns.map((col) => `r.${sqlIdent(col.name)}`).join(', ');
    let rawRows = 0;
    let rawSum = '0';
    if (files.length > 0) {
      try {
        await c.run(
          `CREATE TEMP TABLE raw AS SELECT ${data}, o.source AS ${SOURCE_COLUMN}, o.cut AS ${CUT_COLUMN}, o.file AS _file ` +
            `FROM ${readJson(files)} r JOIN objs o ON r.filename = o.file`,
        );
      } catch (err) {
        throw await culprit(c, window, files, readJson, err);
      }
      phase('read_json');
      // Every object holds what its manifest says; the window's checksum is the sum of the objects'.
      const got = new Map<string, [number, string]>();
      const perObject = await c.runAndReadAll(
        `SELECT _file, count(*), ${checksumSql(columns)} FROM raw GROUP BY _file`,
      );
      for (const [file, n, sum] of perObject.getRowsJS() as [string, bigint, string][]) got.set(file, [Number(n), sum]);
      window.objects.forEach((o, i) => {
        const [n, sum] = got.get(files[i]) ?? [0, '0'];
        if (n !== o.records)
          throw new WindowRefused(
            `raw object s3://${bucket}/${o.key} holds ${n} records but its manifest says ${o.records}; the window stays raw: restore the object from the topic (replay) or remove the manifest's cut by hand`,
            'CorruptRawObject',
          );
        rawRows += n;
        rawSum = addChecksums(rawSum, sum);
      });
    }
    phase('verify_raw');

    // 3. The partition's previous curated file, checked against the state that named it.
    let previous = '';
    let replacedBytes = 0;
    /** The previous file's checksum as read, typed as the table is now. */
    let oldSum = '0';
    if (window.previous) {
      const prev = window.previous;
      let body: Uint8Array;
      try {
        body = await getObjectBuffer(s3, bucket, prev.file.key, { ifMatch: prev.file.etag });
      } catch (err) {
        if (status(err) === 404 || status(err) === 412)
          throw new WindowRefused(
            `curated file s3://${bucket}/${prev.file.key} is missing or changed since it was committed; the window stays raw`,
            'CuratedFileChanged',
          );
        throw err;
      }
      replacedBytes = body.byteLength;
      previous = path.join(dir, 'previous.parquet');
      await fs.promises.writeFile(previous, body);
      const have = new Map(prev.file.columns.map((col) => [col.name, col.type]));
      const select = columns.map((col) => {
        const type = duckdbType(col.type);
        if (!have.has(col.name)) return `CAST(NULL AS ${type}) AS ${sqlIdent(col.name)}`;
        return have.get(col.name) === col.type
          ? sqlIdent(col.name)
          : `CAST(${sqlIdent(col.name)} AS ${type}) AS ${sqlIdent(col.name)}`;
      });
      await c.run(
        `CREATE TEMP TABLE old AS SELECT ${select.join(', ')}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM read_parquet(${sqlString(previous)})`,
      );
      const [rows, sum] = (await one(c, `SELECT count(*), ${checksumSql(columns)} FROM old`)) as [bigint, string];
      oldSum = sum;
      // A widened type (bigint to double) changes the hashes; the count must hold regardless.
      const sameTypes = prev.file.columns.every((col) => columns.find((x) => x.name === col.name)?.type === col.type);
      if (
        Number(rows) !== prev.rows ||
        (sameTypes && prev.file.columns.length === columns.length && sum !== prev.checksum)
      )
        throw new WindowRefused(
          `curated file s3://${bucket}/${prev.file.key} does not hold what its state says (${rows} rows, state ${prev.rows}); the window stays raw`,
          'CuratedFileChanged',
        );
    }
    phase('previous');

    // 4. The new file: both, sorted, compressed; then read back and checked.
    const names = columns.map((col) => sqlIdent(col.name)).join(', ');
    const union = previous
      ? `SELECT ${names}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM raw UNION ALL SELECT ${names}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM old`
      : `SELECT ${names}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM raw`;
    const have = new Set(columns.map((col) => col.name));
    const order = [
      ...['symbol', 'trade_date'].filter((n) => have.has(n)),
      SOURCE_COLUMN,
      CUT_COLUMN,
      ...columns.map((col) => col.name).filter((n) => n !== 'symbol' && n !== 'trade_date'),
    ].map(sqlIdent);
    const out = path.join(dir, 'curated.parquet');
    // The file is written in the ORDER BY's order (a total order: a re-run writes the same bytes).
    await c.run('SET preserve_insertion_order = true');
    await c.run(
      `COPY (SELECT * FROM (${union}) ORDER BY ${order.join(', ')}) TO ${sqlString(out)} ` +
        `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${CURATED_ROW_GROUP_ROWS})`,
    );
    phase('write');
    const [outRowsBig, outSum] = (await one(
      c,
      `SELECT count(*), ${checksumSql(columns)} FROM read_parquet(${sqlString(out)})`,
    )) as [bigint, string];
    const expectedRows = rawRows + (window.previous?.rows ?? 0);
    const expectedSum = addChecksums(rawSum, oldSum);
    if (Number(outRowsBig) !== expectedRows || outSum !== expectedSum)
      throw new Error(
        `the curated file of ${window.partition} does not read back as written (${outRowsBig} rows, expected ${expectedRows}); retrying`,
      );
    phase('read_back');
    args.heartbeat?.({ phase: 'upload', partition: window.partition, rows: expectedRows });

    // 5. Upload, under the plan's key (a re-run writes the same bytes there).
    const body = await fs.promises.readFile(out);
    await putObject(s3, bucket, args.key, body, 'application/vnd.apache.parquet');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: args.key }));
    if (head.ContentLength !== body.length)
      throw new Error(
        `the curated file s3://${bucket}/${args.key} was stored with ${head.ContentLength} bytes, not ${body.length}; retrying`,
      );
    phase('upload');
    return {
      partition: window.partition,
      key: args.key,
      etag: head.ETag ?? createHash('md5').update(body).digest('hex'),
      rows: expectedRows,
      bytes: body.length,
      checksum: outSum,
      columns,
      rawObjects: window.objects.length,
      rawRows,
      rawBytes,
      replacedBytes,
      durationMs: Date.now() - started,
    };
  } finally {
    c.closeSync();
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** The first object DuckDB cannot read, named, after reading the window's objects together failed. */
async function culprit(
  c: DuckDBConnection,
  window: WindowPlan,
  files: string[],
  readJson: (list: string[]) => string,
  err: unknown,
): Promise<Error> {
  for (let i = 0; i < files.length; i++) {
    try {
      await c.run(`SELECT count(*) FROM ${readJson([files[i]])}`);
    } catch (e) {
      const reason = ((e as Error).message ?? String(e)).split('\n')[0];
      return new WindowRefused(
        `raw object ${window.objects[i].key} cannot be read as JSON lines of the table's columns: ${reason}; the window stays raw: restore the object from the topic (replay) or remove it and its manifest's cut by hand`,
        'CorruptRawObject',
      );
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}
