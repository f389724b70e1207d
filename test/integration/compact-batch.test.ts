/**
 * Small windows compacted in one pass (src/compact/window.ts `compactWindows`) on the real local S3
 * server and DuckDB: each good window's file is the very file `compactWindow` writes for it alone (same
 * bytes, rows, checksum), with and without a previous file; a window whose object is missing, holds
 * other records than its manifest says, is not JSON lines, or whose previous file changed is refused
 * with its reason while the others in the batch are compacted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { CreateBucketCommand, DeleteBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAwsClients } from '../../src/adapters/aws';
import { getObjectBytes } from '../../src/adapters/s3';
import { listKeys } from '../../src/catalog/lake-scan';
import type { ColumnType, WindowObject, WindowPlan } from '../../src/compact/state';
import { deleteKeys } from '../../src/compact/store';
import { compactWindow, compactWindows, type WindowOutcome } from '../../src/compact/window';
import { uniqueConfig } from './support';

jest.setTimeout(120_000);

const config = uniqueConfig('compact-batch');
const bucket = config.lake.bucket;
let s3: S3Client;
let instance: DuckDBInstance;
let workDir: string;

const columns: ColumnType[] = [
  { name: 'symbol', type: 'string' },
  { name: 'trade_date', type: 'date' },
  { name: 'close', type: 'double' },
  { name: 'volume', type: 'bigint' },
  { name: 'ingested_at', type: 'timestamp' },
];

function records(symbol: string, year: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    symbol,
    trade_date: `${year}-01-${String(i + 1).padStart(2, '0')}`,
    close: 100 + i / 4,
    volume: 1000 + i,
    ingested_at: '2024-05-01T10:00:00.000Z',
  }));
}

let offset = 0;
/** One raw object of `partition` holding `rows` (its manifest says `claimed`, by default as many). */
async function object(
  partition: string,
  rows: Record<string, unknown>[],
  options: { claimed?: number; body?: Buffer; write?: boolean } = {},
): Promise<WindowObject> {
  const first = offset;
  offset += rows.length;
  const key = `lake/ticks/${partition}/t+0+${String(first).padStart(20, '0')}.json.gz`;
  const body = options.body ?? zlib.gzipSync(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  if (options.write !== false) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { key, source: 't+0', first: String(first), records: options.claimed ?? rows.length };
}

function window(partition: string, objects: WindowObject[], previous?: WindowOutcome): WindowPlan {
  return {
    partition,
    values: partition.split('/').map((p) => p.split('=')[1]),
    objects,
    watermarks: { 't+0': String(offset) },
    ...(previous
      ? {
          previous: {
            file: {
              key: previous.key,
              rows: previous.rows,
              bytes: previous.bytes,
              etag: previous.etag,
              columns: previous.columns,
            },
            rows: previous.rows,
            checksum: previous.checksum,
          },
        }
      : {}),
  };
}

const alone = (w: WindowPlan, key: string) => compactWindow({ s3, bucket, instance, workDir, columns, window: w, key });

beforeAll(async () => {
  ({ s3 } = createAwsClients(config.aws));
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  instance = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1GB' });
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compact-batch-'));
});

afterAll(async () => {
  instance?.closeSync();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  if (s3) {
    await deleteKeys(s3, bucket, await listKeys(s3, bucket, ''));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  }
});

test('good windows come out as the files compactWindow writes alone; refused ones say why and hold back no other', async () => {
  const p = (year: number) => `year=${year}/symbol_bucket=0`;
  // A previous file for two windows, as an earlier run left it.
  const firstOfFive = await alone(
    window(p(2005), [await object(p(2005), records('EEE', 2005, 4))]),
    'curated/2005/g1.parquet',
  );
  const firstOfSix = await alone(
    window(p(2006), [await object(p(2006), records('FFF', 2006, 3))]),
    'curated/2006/g1.parquet',
  );

  const windows: WindowPlan[] = [
    window(p(2000), [await object(p(2000), records('AAA', 2000, 5)), await object(p(2000), records('AAB', 2000, 3))]),
    window(p(2001), [await object(p(2001), records('BBB', 2001, 7))]),
    // Its object holds 4 records, its manifest says 5.
    window(p(2002), [await object(p(2002), records('CCC', 2002, 4), { claimed: 5 })]),
    // Named by its manifest, never written.
    window(p(2003), [await object(p(2003), records('DDD', 2003, 2), { write: false })]),
    // Not gzip NDJSON at all.
    window(p(2004), [
      await object(p(2004), records('DDE', 2004, 2)),
      await object(p(2004), records('DDF', 2004, 2), { body: Buffer.from('not gzip, not json') }),
    ]),
    window(p(2005), [await object(p(2005), records('EEF', 2005, 6))], firstOfFive),
    // Its previous file was replaced after its state named it.
    window(p(2006), [await object(p(2006), records('FFG', 2006, 2))], firstOfSix),
  ];
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: firstOfSix.key, Body: Buffer.from('replaced by hand') }));

  const beats: unknown[] = [];
  const phases: string[] = [];
  const out = await compactWindows({
    s3,
    bucket,
    instance,
    workDir,
    columns,
    windows: windows.map((w) => ({ window: w, key: `curated/${w.partition}/batch.parquet` })),
    heartbeat: (d) => beats.push(d),
    onPhase: (name, ms, cpuMs) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(cpuMs).toBeGreaterThanOrEqual(0);
      phases.push(name);
    },
  });
  expect(phases).toEqual(['download', 'read_json', 'verify_raw', 'previous', 'write', 'read_back', 'upload']);
  expect(beats.length).toBeGreaterThan(0);
  expect(out.map((o) => o.partition)).toEqual(windows.map((w) => w.partition));
  expect(out.map((o) => o.refused?.type ?? 'ok')).toEqual([
    'ok',
    'ok',
    'CorruptRawObject',
    'RawObjectMissing',
    'CorruptRawObject',
    'ok',
    'CuratedFileChanged',
  ]);
  expect(out[2].refused?.message).toMatch(/holds 4 records but its manifest says 5/);
  expect(out[3].refused?.message).toContain(windows[3].objects[0].key);
  expect(out[4].refused?.message).toContain(windows[4].objects[1].key);
  expect(out[4].refused?.message).toMatch(/cannot be read as JSON lines/);
  expect(out[6].refused?.message).toContain(firstOfSix.key);
  for (const o of out) expect(Boolean(o.outcome)).toBe(!o.refused);

  // Each compacted window: the bytes, rows and checksum of the file written for it alone.
  for (const i of [0, 1, 5]) {
    const batch = out[i].outcome!;
    const single = await alone(windows[i], `curated/${windows[i].partition}/alone.parquet`);
    expect(batch.rows).toBe(single.rows);
    expect(batch.checksum).toBe(single.checksum);
    expect(batch.rawRows).toBe(single.rawRows);
    expect(batch.rawBytes).toBe(single.rawBytes);
    expect(batch.replacedBytes).toBe(single.replacedBytes);
    expect(batch.etag).toBe(single.etag);
    const a = await getObjectBytes(s3, bucket, batch.key);
    const b = await getObjectBytes(s3, bucket, single.key);
    expect(a!.equals(b!)).toBe(true);
  }
  expect(out[0].outcome!.rows).toBe(8);
  expect(out[5].outcome!.rows).toBe(10); // 4 from the previous file, 6 raw
  expect(out[5].outcome!.replacedBytes).toBe(firstOfFive.bytes);
});

test('a batch whose every window is refused uploads nothing and says why for each', async () => {
  const p = (year: number) => `year=${year}/symbol_bucket=1`;
  const windows = [
    window(p(2010), [await object(p(2010), records('ZZZ', 2010, 3), { body: Buffer.from('{"symbol": ') })]),
    window(p(2011), [await object(p(2011), records('ZZY', 2011, 3), { write: false })]),
  ];
  const out = await compactWindows({
    s3,
    bucket,
    instance,
    workDir,
    columns,
    windows: windows.map((w) => ({ window: w, key: `curated/${w.partition}/batch.parquet` })),
  });
  expect(out.map((o) => o.refused?.type)).toEqual(['CorruptRawObject', 'RawObjectMissing']);
  expect(await listKeys(s3, bucket, 'curated/year=2010/')).toEqual([]);
  expect(await listKeys(s3, bucket, 'curated/year=2011/')).toEqual([]);
});
