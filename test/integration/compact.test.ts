/**
 * The curated zone on the real local services (S3, moto Glue, Temporal, DuckDB): compaction of closed
 * windows into Parquet with the same answers, late data, schema evolution, raw retention (nothing
 * deleted before its window is verified), a corrupt raw object, the schedule.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { DeleteDatabaseCommand, GetPartitionsCommand, GetTableCommand, type GlueClient } from '@aws-sdk/client-glue';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { createAwsClients } from '../../src/adapters/aws';
import { getObjectBytes } from '../../src/adapters/s3';
import { listKeys } from '../../src/catalog/lake-scan';
import { readLatestState } from '../../src/compact/store';
import { compactRoot, type CompactionPlan } from '../../src/compact/state';
import { compactWindow } from '../../src/compact/window';
import { DuckDBEngine } from '../../src/query/duckdb-engine';
import { compactInput, runCrawl, runQuery, startCompaction } from '../../src/pipeline';
import { compactWorkflow } from '../../workflows';
import { compactScheduleId, ensureCompactSchedule } from '../../src/schedules';
import { loadConfig, REPO_ROOT } from '../../src/config';
import type { CompactResult } from '../../activities/types';
import { PARQUET_SERDE, curatedTableName } from '../../activities/compact';
import { engineSymbolCounts, startHarness, uniqueEnv, waitFor, type Harness } from './support';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'ticklake.js');
import { tick, writeFlush, type TestRecord } from './crawl-support';

describe('compaction: the curated Parquet zone', () => {
  let h: Harness;
  let env: NodeJS.ProcessEnv;
  let s3: S3Client;
  let glue: GlueClient;
  const next = [0, 0, 0, 0];
  /** Every record written, for the expected answers. */
  const written: TestRecord[] = [];

  async function flush(partition: number, records: TestRecord[]) {
    const f = await writeFlush(s3, h.config, { partition, first: next[partition], records });
    next[partition] = f.end;
    written.push(...records);
    return f;
  }
  const days = (symbol: string, from: string, n: number, extra: Record<string, unknown> = {}) =>
    Array.from({ length: n }, (_, i) => {
      const d = new Date(Date.parse(`${from}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10);
      return tick(symbol, d, { close: 100 + i, ...extra });
    });
  async function counts(): Promise<Record<string, number>> {
    const r = await runQuery(
      h.client,
      h.config,
      'SELECT symbol, count(*) AS n FROM ticks GROUP BY symbol ORDER BY symbol',
    );
    return Object.fromEntries(r.rows.map((row) => [String(row[0]), Number(row[1])]));
  }
  function expected(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of written) out[r.symbol] = (out[r.symbol] ?? 0) + 1;
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  async function compact(overrides: Partial<ReturnType<typeof compactInput>> = {}): Promise<CompactResult> {
    const handle = await startCompaction(h.client, h.config, { quietMs: 0, retentionMs: 3_600_000, ...overrides });
    return handle.result();
  }
  async function state() {
    const { bucket, prefix } = h.config.lake;
    return (await readLatestState(s3, bucket, prefix, h.config.glue.database, h.config.glue.table))!.state;
  }

  beforeAll(async () => {
    env = uniqueEnv('compact', { LAKE_SYMBOL_BUCKETS: '4' });
    h = await startHarness(loadConfig(env));
    ({ s3, glue } = createAwsClients(h.config.aws));
  }, 120_000);
  afterAll(async () => {
    await glue?.send(new DeleteDatabaseCommand({ Name: h.config.glue.database })).catch(() => undefined);
    await h?.close();
  });

  it('compacts closed windows into sorted ZSTD Parquet, switches atomically, answers the same', async () => {
    await flush(0, [...days('AAA', '2019-12-20', 20), ...days('BBB', '2019-12-25', 10)]);
    await flush(1, [...days('CCC', '2020-01-01', 15), ...days('DDD', '2020-02-01', 5)]);
    await flush(0, days('EEE', '2020-03-01', 12));
    await runCrawl(h.client, h.config);
    const before = await counts();
    expect(before).toEqual(expected());
    // The partition columns, read from the raw objects' folders before and the curated files' after.
    const byPartition = async () =>
      (
        await runQuery(
          h.client,
          h.config,
          "SELECT year, symbol_bucket, count(*) AS n, count(*) FILTER (WHERE year = '2019') AS y2019 FROM ticks " +
            'GROUP BY ALL ORDER BY ALL',
        )
      ).rows;
    const partitionsBefore = await byPartition();
    expect(partitionsBefore.length).toBeGreaterThan(2);
    // Strings, as the catalog types partition keys (and Athena answers), not numbers read from the path.
    expect(partitionsBefore.every((row) => typeof row[0] === 'string' && typeof row[1] === 'string')).toBe(true);

    const r = await compact();
    expect(r.rows).toBe(written.length);
    expect(r.failed).toEqual([]);
    expect(r.windows).toBeGreaterThan(0);
    expect(r.parquetBytes).toBeGreaterThan(0);
    expect(await counts()).toEqual(before);
    expect(await byPartition()).toEqual(partitionsBefore);

    // Every window became one Parquet file, sorted by symbol then date, ZSTD.
    const s = await state();
    expect(Object.values(s.partitions).reduce((a, p) => a + p.rows, 0)).toBe(written.length);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      for (const p of Object.values(s.partitions)) {
        const body = await getObjectBytes(s3, h.config.lake.bucket, p.file.key);
        const file = `/tmp/compact-test-${process.pid}.parquet`;
        fs.writeFileSync(file, body!);
        const rows = (
          await c.runAndReadAll(`SELECT symbol || '|' || CAST(trade_date AS VARCHAR) FROM read_parquet('${file}')`)
        ).getRowsJS();
        const keys = rows.map((row) => row[0] as string);
        expect(keys).toEqual([...keys].sort());
        const codecs = (
          await c.runAndReadAll(`SELECT DISTINCT upper(compression) FROM parquet_metadata('${file}')`)
        ).getRowsJS();
        expect(codecs.map((x) => x[0] as string)).toEqual(['ZSTD']);
      }
    } finally {
      c.closeSync();
      db.closeSync();
    }

    // The query reads the curated files, not the raw objects they replace.
    const q = await runQuery(h.client, h.config, "SELECT count(*) FROM ticks WHERE symbol = 'AAA'");
    expect(Number(q.rows[0][0])).toBe(20);
    // AAA's ticks span 2019 and 2020: one curated file of each year in its bucket, and no raw object.
    expect(q.stats.objectsRead).toBe(2);

    // Athena's Parquet table: the SerDe and formats its documentation gives, one partition per window.
    const t = await glue.send(
      new GetTableCommand({ DatabaseName: h.config.glue.database, Name: curatedTableName(h.config.glue.table) }),
    );
    expect(t.Table?.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe(PARQUET_SERDE);
    expect(t.Table?.StorageDescriptor?.InputFormat).toBe(
      'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
    );
    expect(t.Table?.Parameters?.classification).toBe('parquet');
    const parts = await glue.send(
      new GetPartitionsCommand({
        DatabaseName: h.config.glue.database,
        TableName: curatedTableName(h.config.glue.table),
      }),
    );
    expect(parts.Partitions?.length).toBe(Object.keys(s.partitions).length);

    // A re-run of a window writes the same bytes: its key comes from the plan, its content from the records.
    const plans = await listKeys(
      s3,
      h.config.lake.bucket,
      `${compactRoot(h.config.lake.prefix, h.config.glue.database, h.config.glue.table)}plans/`,
    );
    const plan = JSON.parse((await getObjectBytes(s3, h.config.lake.bucket, plans[0]))!.toString()) as CompactionPlan;
    const window = plan.windows[0];
    const again1 = await DuckDBInstance.create(':memory:');
    const phases: string[] = [];
    try {
      const redo = await compactWindow({
        s3,
        bucket: h.config.lake.bucket,
        instance: again1,
        workDir: fs.mkdtempSync(path.join(os.tmpdir(), 'compact-redo-')),
        columns: plan.columns,
        window,
        key: `compact-test-redo/${window.partition}.parquet`,
        onPhase: (name, ms, cpuMs) => {
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(cpuMs).toBeGreaterThanOrEqual(0);
          phases.push(name);
        },
      });
      // Each phase reported once, in order (no previous file: the partition's first compaction).
      expect(phases).toEqual(['download', 'read_json', 'verify_raw', 'previous', 'write', 'read_back', 'upload']);
      const committed = s.partitions[window.partition].file;
      expect(redo.checksum).toBe(s.partitions[window.partition].checksum);
      const a = await getObjectBytes(s3, h.config.lake.bucket, committed.key);
      const b = await getObjectBytes(s3, h.config.lake.bucket, redo.key);
      expect(b!.equals(a!)).toBe(true);
    } finally {
      again1.closeSync();
    }

    // Re-running with nothing new compacts nothing and changes no answer.
    const again = await compact();
    expect(again.windows).toBe(0);
    expect(await counts()).toEqual(before);
  }, 180_000);

  it('reads late data raw at once and compacts it by a later run, without duplicates', async () => {
    const s0 = await state();
    // A replay of old dates: the 2019 window is compacted already.
    await flush(0, days('AAA', '2019-11-01', 7));
    expect(await counts()).toEqual(expected());
    const r = await compact();
    expect(r.rows).toBe(7);
    expect(await counts()).toEqual(expected());
    const s1 = await state();
    const y2019 = Object.keys(s1.partitions).find(
      (p) => p.startsWith('year=2019') && s1.partitions[p].rows > s0.partitions[p]?.rows,
    );
    expect(y2019).toBeDefined();
  }, 180_000);

  it("reads a compacted folder's new raw objects whichever Kafka partition writes them", async () => {
    // KKK's 2023 folder is compacted from Kafka partition 1 alone; a later run that does not touch it
    // gives it every partition's watermark. The local engine lists a large table's folders from the
    // watermark of their first key's Kafka partition, and must notice when that first key becomes
    // another partition's. This table is small enough to be listed whole, so a second reader lists it
    // folder by folder as a large one is (tableListingPages 0).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compact-lister-'));
    const lister = new DuckDBEngine({
      s3,
      glue,
      cacheDir: path.join(dir, 'cache'),
      resultsDir: path.join(dir, 'results'),
      tableListingPages: 0,
    });
    const both = async () => {
      expect(await engineSymbolCounts(lister, h.config.glue.database, 'compact-lister')).toEqual(expected());
      expect(await counts()).toEqual(expected());
    };
    try {
      await flush(1, days('KKK', '2023-01-01', 5));
      await flush(0, days('MMM', '2024-06-01', 2));
      await runCrawl(h.client, h.config);
      await compact();
      await flush(2, days('MMM', '2024-07-01', 1));
      await compact();
      const kkk = Object.values((await state()).partitions).find((p) => p.values[0] === '2023');
      expect(Object.keys(kkk!.watermarks).length).toBeGreaterThan(1);
      await both();
      await flush(1, days('KKK', '2023-02-01', 3));
      await both();
      // A sink-shaped object in a folder nested below KKK's (another layout's) sorts first and is not
      // KKK's: it must not be taken for the folder's first key.
      const kkkFolder = Object.keys((await state()).partitions).find((p) => p.startsWith('year=2023/'))!;
      await s3.send(
        new PutObjectCommand({
          Bucket: h.config.lake.bucket,
          Key: `${h.config.lake.prefix}${h.config.glue.table}/${kkkFolder}/a=1/${h.config.kafka.topic}+2+${'0'.repeat(20)}.json.gz`,
          Body: zlib.gzipSync(JSON.stringify(days('ZZZ', '2023-04-01', 1)[0])),
        }),
      );
      await flush(0, days('KKK', '2023-04-01', 4));
      await both();
      await both();
      await flush(3, days('KKK', '2023-05-01', 2));
      await both();
      await compact();
      await both();
      expect((await counts()).KKK).toBe(14);
    } finally {
      await lister.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('carries a new column into the curated zone (schema evolution)', async () => {
    await flush(2, days('FFF', '2020-05-01', 6, { exchange: 'HKEX' }));
    await runCrawl(h.client, h.config);
    await compact();
    const q = await runQuery(h.client, h.config, 'SELECT count(exchange), count(*) FROM ticks');
    expect(Number(q.rows[0][0])).toBe(6);
    expect(Number(q.rows[0][1])).toBe(written.length);
    const t = await glue.send(
      new GetTableCommand({ DatabaseName: h.config.glue.database, Name: curatedTableName(h.config.glue.table) }),
    );
    expect(t.Table?.StorageDescriptor?.Columns?.map((c) => c.Name)).toContain('exchange');
  }, 180_000);

  it('stops a window whose raw object is corrupt, keeps it raw, and compacts the others', async () => {
    const bad = await flush(3, days('GGG', '2021-01-01', 5));
    const good = await flush(1, days('HHH', '2022-01-01', 4));
    // The object holds fewer records than its manifest says.
    await s3.send(
      new PutObjectCommand({
        Bucket: h.config.lake.bucket,
        Key: bad.objects[0],
        Body: zlib.gzipSync(JSON.stringify(tick('GGG', '2021-01-01')) + '\n'),
      }),
    );
    written.splice(written.length - 9, 5, tick('GGG', '2021-01-01'));
    await runCrawl(h.client, h.config);
    const r = await compact();
    expect(r.failed.map((f) => f.partition)).toEqual([bad.partitions[0]]);
    expect(r.failed[0].message).toContain(bad.objects[0]);
    expect(r.failed[0].message).toMatch(/holds 1 records but its manifest says 5/);
    expect(r.rows).toBe(4);
    // The raw data of the refused window stays readable; the others are curated.
    expect(await counts()).toEqual(expected());
    const s = await state();
    expect(s.failures[0].type).toBe('CorruptRawObject');
    expect(s.partitions[good.partitions[0]]).toBeDefined();
    expect(s.partitions[bad.partitions[0]]).toBeUndefined();

    // Not JSON at all: the error names the object.
    const worse = await flush(3, days('III', '2023-01-01', 3));
    await s3.send(
      new PutObjectCommand({
        Bucket: h.config.lake.bucket,
        Key: worse.objects[0],
        Body: Buffer.from('not gzip, not json'),
      }),
    );
    const r2 = await compact();
    const refused = r2.failed.find((f) => f.partition === worse.partitions[0]);
    expect(refused?.type).toBe('CorruptRawObject');
    expect(refused?.message).toContain(worse.objects[0]);
    expect(refused?.message).toMatch(/cannot be read as JSON lines/);
    // Restored (as a replay into the lake would): the next run compacts it.
    await s3.send(
      new PutObjectCommand({
        Bucket: h.config.lake.bucket,
        Key: worse.objects[0],
        Body: zlib.gzipSync(
          days('III', '2023-01-01', 3)
            .map((r) => JSON.stringify(r))
            .join('\n') + '\n',
        ),
      }),
    );
  }, 180_000);

  it('keeps raw objects for the retention, verified, then deletes them and the replaced files', async () => {
    const root = `${h.config.lake.prefix}${h.config.glue.table}/`;
    const rawBefore = await listKeys(s3, h.config.lake.bucket, root);
    // Retention not reached: nothing deleted.
    const first = await compact({ retentionMs: 3_600_000 });
    expect(first.rows).toBe(3); // the restored window
    expect(await listKeys(s3, h.config.lake.bucket, root)).toEqual(rawBefore);
    const failing = new Set((await state()).failures.map((f) => f.partition));
    expect(failing.size).toBe(1);
    const curatedBefore = await listKeys(s3, h.config.lake.bucket, h.config.compact.curatedPrefix);

    const answers = await counts();
    const r = await compact({ retentionMs: 0 });
    expect(r.deletedRawObjects).toBeGreaterThan(0);
    const rawAfter = await listKeys(s3, h.config.lake.bucket, root);
    // What stays raw: the failing windows' objects (never verified), nothing else.
    for (const key of rawAfter) expect(failing.has(key.slice(root.length, key.lastIndexOf('/')))).toBe(true);
    for (const p of failing) expect(rawAfter.some((k) => k.startsWith(`${root}${p}/`))).toBe(true);
    const curatedAfter = await listKeys(s3, h.config.lake.bucket, h.config.compact.curatedPrefix);
    expect(curatedAfter.length).toBeLessThan(curatedBefore.length);
    const live = new Set(Object.values((await state()).partitions).map((p) => p.file.key));
    expect(new Set(curatedAfter)).toEqual(live);
    expect(await counts()).toEqual(answers);
  }, 180_000);

  it('lets one of two compactions running at once switch (the state generation is the fence)', async () => {
    await flush(0, days('JJJ', '2024-01-01', 8));
    await flush(1, days('KKK', '2024-02-01', 9));
    const before = (await state()).generation;
    const input = { ...compactInput(h.config), quietMs: 0, retentionMs: 3_600_000 };
    const [a, b] = await Promise.all(
      ['a', 'b'].map((id) =>
        h.client.workflow.start(compactWorkflow, {
          workflowId: `compact/${h.config.glue.database}.${h.config.glue.table}/race-${id}`,
          taskQueue: h.config.temporal.taskQueue,
          args: [input],
        }),
      ),
    );
    const results = await Promise.all([a.result(), b.result()]);
    // Both may switch one after the other (the second then finds nothing new), never the same generation.
    expect(results.reduce((n, r) => n + r.rows, 0)).toBe(17);
    expect(results.filter((r) => r.rows > 0)).toHaveLength(1);
    expect((await state()).generation).toBeGreaterThan(before);
    expect(await counts()).toEqual(expected());
  }, 180_000);

  it('is driven and inspected from the ticklake CLI', async () => {
    await flush(2, days('LLL', '2024-03-01', 4));
    await runCrawl(h.client, h.config);
    const ran = await exec('node', [BIN, '--json', 'compact', 'now', '--quiet', '0s', '--wait'], {
      cwd: REPO_ROOT,
      env,
      timeout: 120_000,
    });
    const r = JSON.parse(ran.stdout) as CompactResult;
    expect(r.rows).toBe(4);
    const status = await exec('node', [BIN, 'compact', 'status'], { cwd: REPO_ROOT, env, timeout: 120_000 });
    expect(status.stdout).toMatch(/state generation\s*│\s*\d+/);
    expect(status.stdout).toMatch(/last compaction\s*│.*1 windows, 4 rows/);
    const all = await exec('node', [BIN, 'status'], { cwd: REPO_ROOT, env, timeout: 120_000 });
    expect(all.stdout).toMatch(/compaction: last compaction .*: 1 windows, 4 rows/);
  }, 180_000);

  it('runs on its Temporal Schedule (overlap skip)', async () => {
    const info = await ensureCompactSchedule(h.client, h.config);
    expect(info.scheduleId).toBe(compactScheduleId(h.config));
    expect(info.scheduleId).toBe(`ticklake-compact-${h.config.glue.database}.${h.config.glue.table}`);
    expect(info.overlap).toBe('skip');
    expect(info.every).toBe('1h');
    const handle = h.client.schedule.getHandle(info.scheduleId);
    try {
      await handle.trigger();
      const run = await waitFor('a scheduled compaction', async () => {
        const d = await handle.describe();
        return d.info.recentActions[0]?.action.workflow;
      });
      expect(run.workflowId).toMatch(
        new RegExp(`^compact/${h.config.glue.database}\\.${h.config.glue.table}/scheduled`),
      );
      const result = (await h.client.workflow
        .getHandle(run.workflowId, run.firstExecutionRunId)
        .result()) as CompactResult;
      expect(result.generation).toBeGreaterThan(0);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  }, 120_000);
});
