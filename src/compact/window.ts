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
import { addChecksums, CUT_COLUMN, SOURCE_COLUMN, type ColumnType, type CuratedFile, type WindowPlan } from './state';

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

/** A reader of gzip NDJSON files as the table's columns, each row with its file name. */
function jsonReader(columns: readonly ColumnType[]): (list: string[]) => string {
  const jsonColumns = columns.map((col) => `${sqlString(col.name)}: ${sqlString(duckdbType(col.type))}`).join(', ');
  return (list) =>
    `read_json([${list.map(sqlString).join(', ')}], format = 'newline_delimited', filename = true, ` +
    `columns = {${jsonColumns}}, timestampformat = ${sqlString(TIMESTAMP_FORMAT)})`;
}

/** Why DuckDB cannot read one raw file, or undefined when it can. */
async function unreadable(
  c: DuckDBConnection,
  readJson: (list: string[]) => string,
  file: string,
): Promise<string | undefined> {
  try {
    await c.run(`SELECT count(*) FROM ${readJson([file])}`);
    return undefined;
  } catch (e) {
    return ((e as Error).message ?? String(e)).split('\n')[0];
  }
}

/** A previous curated file as committed (If-Match on its ETag), or why the window stays raw. */
async function previousFile(s3: S3Client, bucket: string, file: CuratedFile): Promise<Buffer | WindowRefused> {
  try {
    return await getObjectBuffer(s3, bucket, file.key, { ifMatch: file.etag });
  } catch (err) {
    if (status(err) === 404 || status(err) === 412)
      return new WindowRefused(
        `curated file s3://${bucket}/${file.key} is missing or changed since it was committed; the window stays raw`,
        'CuratedFileChanged',
      );
    throw err;
  }
}

/** The columns of a previous file as the table types them now (a later column NULL, a widened one cast). */
function previousSelect(columns: readonly ColumnType[], had: readonly ColumnType[]): string[] {
  const have = new Map(had.map((col) => [col.name, col.type]));
  return columns.map((col) => {
    const type = duckdbType(col.type);
    if (!have.has(col.name)) return `CAST(NULL AS ${type}) AS ${sqlIdent(col.name)}`;
    return have.get(col.name) === col.type
      ? sqlIdent(col.name)
      : `CAST(${sqlIdent(col.name)} AS ${type}) AS ${sqlIdent(col.name)}`;
  });
}

/** Whether a previous file read back as its state says (a widened type changes the hashes, not the count). */
function previousHolds(
  prev: NonNullable<WindowPlan['previous']>,
  columns: readonly ColumnType[],
  rows: number,
  sum: string,
): boolean {
  const sameTypes = prev.file.columns.every((col) => columns.find((x) => x.name === col.name)?.type === col.type);
  return !(rows !== prev.rows || (sameTypes && prev.file.columns.length === columns.length && sum !== prev.checksum));
}

/**
 * The statement that writes a curated file: the raw rows (and the previous file's), sorted by symbol,
 * date, source cut, then every column: a total order, so a re-run writes the same bytes.
 */
function curatedCopy(columns: readonly ColumnType[], raw: string, old: string | undefined, out: string): string {
  const names = columns.map((col) => sqlIdent(col.name)).join(', ');
  const union = old
    ? `SELECT ${names}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM ${raw} UNION ALL SELECT ${names}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM ${old}`
    : `SELECT ${names}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM ${raw}`;
  const have = new Set(columns.map((col) => col.name));
  const order = [
    ...['symbol', 'trade_date'].filter((name) => have.has(name)),
    SOURCE_COLUMN,
    CUT_COLUMN,
    ...columns.map((col) => col.name).filter((name) => name !== 'symbol' && name !== 'trade_date'),
  ].map(sqlIdent);
  return (
    `COPY (SELECT * FROM (${union}) ORDER BY ${order.join(', ')}) TO ${sqlString(out)} ` +
    `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${CURATED_ROW_GROUP_ROWS})`
  );
}

/** Reports to `onPhase` the wall and CPU time (the whole process's) since its previous call, as a phase. */
function phaseTimer(onPhase?: (phase: string, ms: number, cpuMs: number) => void): (name: string) => void {
  let mark = { at: performance.now(), cpu: process.cpuUsage() };
  return (name) => {
    if (!onPhase) return;
    const cpu = process.cpuUsage(mark.cpu);
    onPhase(name, performance.now() - mark.at, (cpu.user + cpu.system) / 1000);
    mark = { at: performance.now(), cpu: process.cpuUsage() };
  };
}

/** Uploads a written file and checks the stored length; its ETag and bytes. */
async function uploadChecked(
  s3: S3Client,
  bucket: string,
  key: string,
  file: string,
): Promise<{ etag: string; bytes: number }> {
  const body = await fs.promises.readFile(file);
  await putObject(s3, bucket, key, body, 'application/vnd.apache.parquet');
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (head.ContentLength !== body.length)
    throw new Error(
      `the curated file s3://${bucket}/${key} was stored with ${head.ContentLength} bytes, not ${body.length}; retrying`,
    );
  return { etag: head.ETag ?? createHash('md5').update(body).digest('hex'), bytes: body.length };
}

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
  const phase = phaseTimer(args.onPhase);
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
    const readJson = jsonReader(columns);
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
      const body = await previousFile(s3, bucket, prev.file);
      if (body instanceof WindowRefused) throw body;
      replacedBytes = body.byteLength;
      previous = path.join(dir, 'previous.parquet');
      await fs.promises.writeFile(previous, body);
      const select = previousSelect(columns, prev.file.columns);
      await c.run(
        `CREATE TEMP TABLE old AS SELECT ${select.join(', ')}, ${SOURCE_COLUMN}, ${CUT_COLUMN} FROM read_parquet(${sqlString(previous)})`,
      );
      const [rows, sum] = (await one(c, `SELECT count(*), ${checksumSql(columns)} FROM old`)) as [bigint, string];
      oldSum = sum;
      if (!previousHolds(prev, columns, Number(rows), sum))
        throw new WindowRefused(
          `curated file s3://${bucket}/${prev.file.key} does not hold what its state says (${rows} rows, state ${prev.rows}); the window stays raw`,
          'CuratedFileChanged',
        );
    }
    phase('previous');

    // 4. The new file: both, sorted, compressed; then read back and checked.
    const out = path.join(dir, 'curated.parquet');
    // The file is written in the ORDER BY's order (a total order: a re-run writes the same bytes).
    await c.run('SET preserve_insertion_order = true');
    await c.run(curatedCopy(columns, 'raw', previous ? 'old' : undefined, out));
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
    const { etag, bytes } = await uploadChecked(s3, bucket, args.key, out);
    phase('upload');
    return {
      partition: window.partition,
      key: args.key,
      etag,
      rows: expectedRows,
      bytes,
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
    const reason = await unreadable(c, readJson, files[i]);
    if (reason)
      return new WindowRefused(
        `raw object ${window.objects[i].key} cannot be read as JSON lines of the table's columns: ${reason}; the window stays raw: restore the object from the topic (replay) or remove it and its manifest's cut by hand`,
        'CorruptRawObject',
      );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** One window of a batch and the key of its curated file. */
export interface BatchWindow {
  window: WindowPlan;
  key: string;
}

/** A window of a batch: its curated file, or why it stays raw. */
export interface BatchOutcome {
  partition: string;
  outcome?: WindowOutcome;
  refused?: WindowRefused;
}

/**
 * Compacts several small windows in one pass: their raw objects read into one table, counted and
 * checksummed by one statement, their previous files read by one statement, each window's file
 * written by its own COPY (the statement {@link compactWindow} runs, so the same bytes), the new
 * files read back by one statement, then uploaded. What a window costs alone (a DuckDB statement per
 * step, a scratch folder, a connection) is paid once for the batch.
 *
 * A window refused (an object missing, unreadable or not matching its manifest; a previous file
 * changed) is returned with its reason and left out of the rest; the others go on. Errors that are
 * not the window's (S3 down, a file that does not read back as written) are thrown: the activity
 * retries the batch, which writes the same keys with the same bytes.
 */
export async function compactWindows(args: {
  s3: S3Client;
  bucket: string;
  instance: DuckDBInstance;
  workDir: string;
  columns: ColumnType[];
  windows: BatchWindow[];
  heartbeat?: (details: unknown) => void;
  /** Called at the end of each phase with its wall and CPU time for the whole batch. */
  onPhase?: (phase: string, ms: number, cpuMs: number) => void;
}): Promise<BatchOutcome[]> {
  const started = Date.now();
  const phase = phaseTimer(args.onPhase);
  const { s3, bucket, columns } = args;
  const windows = args.windows.map((b) => b.window);
  const n = windows.length;
  const refused = new Map<number, WindowRefused>();
  const refuse = (w: number, err: WindowRefused) => {
    if (!refused.has(w)) refused.set(w, err);
  };
  const live = (w: number) => !refused.has(w);
  const dir = await fs.promises.mkdtemp(path.join(args.workDir, 'batch-'));
  const c = await args.instance.connect();
  try {
    await c.run('SET preserve_insertion_order = false');
    // 1. Every raw object of the batch.
    const rawBytes = new Array<number>(n).fill(0);
    const objects = windows.flatMap((window, w) =>
      window.objects.map((o, j) => ({
        w,
        o,
        file: path.join(dir, `raw-${String(w).padStart(4, '0')}-${String(j).padStart(6, '0')}${path.extname(o.key)}`),
      })),
    );
    await mapLimit(objects, 8, async ({ w, o, file }) => {
      if (!live(w)) return;
      let body: Uint8Array;
      try {
        body = await getObjectBuffer(s3, bucket, o.key);
      } catch (err) {
        if (status(err) !== 404) throw err;
        refuse(
          w,
          new WindowRefused(
            `raw object s3://${bucket}/${o.key} is named by its manifest but missing (a sink flush that has not finished, or an object deleted by hand); the window stays raw until it is there`,
            'RawObjectMissing',
          ),
        );
        return;
      }
      rawBytes[w] += body.byteLength;
      await fs.promises.writeFile(file, body);
    });
    args.heartbeat?.({ phase: 'read', windows: n, objects: objects.length });
    phase('download');

    // 2. One table of every window's raw records, each with its cut and its window.
    const readJson = jsonReader(columns);
    const data = columns.map((col) => `r.${sqlIdent(col.name)}`).join(', ');
    const rawRows = new Array<number>(n).fill(0);
    const rawSum = new Array<string>(n).fill('0');
    await c.run(
      `CREATE TEMP TABLE objs (file VARCHAR, w INTEGER, source VARCHAR, cut BIGINT, records BIGINT, key VARCHAR)`,
    );
    const appender = await c.createAppender('objs', 'main', 'temp');
    for (const { w, o, file } of objects) {
      if (!live(w)) continue;
      appender.appendVarchar(file);
      appender.appendInteger(w);
      appender.appendVarchar(o.source);
      appender.appendBigInt(BigInt(o.first));
      appender.appendBigInt(BigInt(o.records));
      appender.appendVarchar(o.key);
      appender.endRow();
    }
    appender.closeSync();
    for (;;) {
      const files = objects.filter((f) => live(f.w)).map((f) => f.file);
      // With every window refused, an empty table of the same columns (the statements below stay the same).
      const empty = `(SELECT ${columns.map((col) => `CAST(NULL AS ${duckdbType(col.type)}) AS ${sqlIdent(col.name)}`).join(', ')}, CAST(NULL AS VARCHAR) AS filename LIMIT 0)`;
      try {
        await c.run(
          `CREATE OR REPLACE TEMP TABLE raw AS SELECT ${data}, o.source AS ${SOURCE_COLUMN}, o.cut AS ${CUT_COLUMN}, o.file AS _file, o.w AS _w ` +
            `FROM ${files.length > 0 ? readJson(files) : empty} r JOIN objs o ON r.filename = o.file`,
        );
        break;
      } catch (err) {
        // The windows of the objects DuckDB cannot read stay raw; the others are read again without them.
        const before = refused.size;
        for (const f of objects) {
          if (!live(f.w)) continue;
          const reason = await unreadable(c, readJson, f.file);
          if (reason)
            refuse(
              f.w,
              new WindowRefused(
                `raw object ${f.o.key} cannot be read as JSON lines of the table's columns: ${reason}; the window stays raw: restore the object from the topic (replay) or remove it and its manifest's cut by hand`,
                'CorruptRawObject',
              ),
            );
        }
        if (refused.size === before) throw err;
      }
    }
    phase('read_json');
    // Every object holds what its manifest says; a window's checksum is the sum of its objects'.
    const got = new Map<string, [number, string]>();
    const perObject = await c.runAndReadAll(`SELECT _file, count(*), ${checksumSql(columns)} FROM raw GROUP BY _file`);
    for (const [file, count, sum] of perObject.getRowsJS() as [string, bigint, string][])
      got.set(file, [Number(count), sum]);
    for (const { w, o, file } of objects) {
      if (!live(w)) continue;
      const [count, sum] = got.get(file) ?? [0, '0'];
      if (count !== o.records) {
        refuse(
          w,
          new WindowRefused(
            `raw object s3://${bucket}/${o.key} holds ${count} records but its manifest says ${o.records}; the window stays raw: restore the object from the topic (replay) or remove the manifest's cut by hand`,
            'CorruptRawObject',
          ),
        );
        continue;
      }
      rawRows[w] += count;
      rawSum[w] = addChecksums(rawSum[w], sum);
    }
    phase('verify_raw');

    // 3. The previous curated files, each checked against the state that named it.
    const replacedBytes = new Array<number>(n).fill(0);
    const oldSum = new Array<string>(n).fill('0');
    const previous = new Map<number, string>();
    await mapLimit(windows, 8, async (window, w) => {
      if (!window.previous || !live(w)) return;
      const body = await previousFile(s3, bucket, window.previous.file);
      if (body instanceof WindowRefused) return refuse(w, body);
      replacedBytes[w] = body.byteLength;
      const file = path.join(dir, `previous-${String(w).padStart(4, '0')}.parquet`);
      await fs.promises.writeFile(file, body);
      previous.set(w, file);
    });
    if (previous.size > 0) {
      // Files written under the same columns are read together, typed as the table is now.
      const groups = new Map<string, number[]>();
      for (const w of previous.keys()) {
        const id = JSON.stringify(windows[w].previous!.file.columns);
        groups.set(id, [...(groups.get(id) ?? []), w]);
      }
      let created = false;
      for (const ws of groups.values()) {
        const select = previousSelect(columns, windows[ws[0]].previous!.file.columns);
        const list = ws.map((w) => sqlString(previous.get(w)!)).join(', ');
        const map = ws.map((w) => `(${sqlString(previous.get(w)!)}, ${w})`).join(', ');
        const sql =
          `SELECT ${select.join(', ')}, ${SOURCE_COLUMN}, ${CUT_COLUMN}, p.w AS _w ` +
          `FROM read_parquet([${list}], filename = true) f JOIN (VALUES ${map}) p(file, w) ON f.filename = p.file`;
        await c.run(created ? `INSERT INTO old ${sql}` : `CREATE TEMP TABLE old AS ${sql}`);
        created = true;
      }
      const perFile = await c.runAndReadAll(`SELECT _w, count(*), ${checksumSql(columns)} FROM old GROUP BY _w`);
      const read = new Map<number, [number, string]>();
      for (const [w, count, sum] of perFile.getRowsJS() as [number, bigint, string][])
        read.set(Number(w), [Number(count), sum]);
      for (const w of previous.keys()) {
        const prev = windows[w].previous!;
        const [rows, sum] = read.get(w) ?? [0, '0'];
        oldSum[w] = sum;
        if (!previousHolds(prev, columns, rows, sum))
          refuse(
            w,
            new WindowRefused(
              `curated file s3://${bucket}/${prev.file.key} does not hold what its state says (${rows} rows, state ${prev.rows}); the window stays raw`,
              'CuratedFileChanged',
            ),
          );
      }
    }
    phase('previous');

    // 4. Each window's file, written by the statement compactWindow runs; then all read back at once.
    await c.run('SET preserve_insertion_order = true');
    const outs = new Map<number, string>();
    for (let w = 0; w < n; w++) {
      if (!live(w)) continue;
      const out = path.join(dir, `curated-${String(w).padStart(4, '0')}.parquet`);
      await c.run(
        curatedCopy(columns, `raw WHERE _w = ${w}`, previous.has(w) ? `old WHERE _w = ${w}` : undefined, out),
      );
      outs.set(w, out);
    }
    phase('write');
    const written = new Map<string, [number, string]>();
    if (outs.size > 0) {
      const back = await c.runAndReadAll(
        `SELECT filename, count(*), ${checksumSql(columns)} FROM read_parquet([${[...outs.values()].map(sqlString).join(', ')}], filename = true) GROUP BY filename`,
      );
      for (const [file, count, sum] of back.getRowsJS() as [string, bigint, string][])
        written.set(file, [Number(count), sum]);
    }
    for (const [w, out] of outs) {
      const [rows, sum] = written.get(out) ?? [0, '0'];
      const expectedRows = rawRows[w] + (previous.has(w) ? windows[w].previous!.rows : 0);
      if (rows !== expectedRows || sum !== addChecksums(rawSum[w], oldSum[w]))
        throw new Error(
          `the curated file of ${windows[w].partition} does not read back as written (${rows} rows, expected ${expectedRows}); retrying`,
        );
    }
    phase('read_back');
    args.heartbeat?.({ phase: 'upload', windows: outs.size });

    // 5. Uploads, under the plan's keys (a re-run writes the same bytes there).
    const results: BatchOutcome[] = windows.map((window, w) => ({
      partition: window.partition,
      ...(refused.has(w) ? { refused: refused.get(w) } : {}),
    }));
    await mapLimit([...outs.entries()], 4, async ([w, out]) => {
      const key = args.windows[w].key;
      const { etag, bytes } = await uploadChecked(s3, bucket, key, out);
      results[w].outcome = {
        partition: windows[w].partition,
        key,
        etag,
        rows: written.get(out)![0],
        bytes,
        checksum: written.get(out)![1],
        columns,
        rawObjects: windows[w].objects.length,
        rawRows: rawRows[w],
        rawBytes: rawBytes[w],
        replacedBytes: replacedBytes[w],
        durationMs: Date.now() - started,
      };
    });
    phase('upload');
    return results;
  } finally {
    c.closeSync();
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
