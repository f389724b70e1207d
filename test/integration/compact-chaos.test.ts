/**
 * Chaos for the curated zone: a lake of the real file, in the sink's format and cut as a live sink cuts
 * it, is compacted (raw retention 0, so raw objects are deleted under the faults too) while the worker
 * process is killed with SIGKILL three times at random moments and the S3 server is stopped once. A
 * reader polling the per-symbol counts through the local engine all along (every other read listing the
 * lake folder by folder, as a table too large to list whole is) never sees a count other than the file's; afterwards every record is in the curated zone and the counts are the file's.
 *
 * It stops services, so it runs on a stack of its own (TICKLAKE_PORT_OFFSET=22000, a temporary data
 * dir: Temporal, Kafka (the worker connects to it at start), S3 and moto), which it starts and stops. The real file (TICKLAKE_REAL_CSV) is used
 * when set, else the sample.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createAwsClients } from '../../src/adapters/aws';
import { ensureBucket } from '../../src/adapters/s3';
import { connectClient } from '../../src/adapters/temporal';
import { listKeys } from '../../src/catalog/lake-scan';
import { readLatestState } from '../../src/compact/store';
import { rawVisible } from '../../src/compact/state';
import { tickMessage } from '../../src/message';
import { runCrawl, startCompaction } from '../../src/pipeline';
import { DuckDBEngine } from '../../src/query/duckdb-engine';
import { symbolBucket } from '../../src/symbol-bucket';
import { engineSymbolCounts, uniqueConfig, waitFor } from './support';
import { exited, ownStack, randomMs, sleep } from './own-stack';
import { countsBySymbol, SAMPLE_CSV, sourceRows } from './sink-support';
import { writeFlush, type TestRecord } from './crawl-support';

const OFFSET = 22000;
const REAL = process.env.TICKLAKE_REAL_CSV;
const FILE = REAL && fs.existsSync(REAL) ? REAL : SAMPLE_CSV;
/** Records of one Kafka partition per sink cut: the small objects of a live stream. */
const CUT = 300;
const BUCKETS = 4;

const rows = sourceRows(FILE);
const stack = ownStack('compact-chaos', OFFSET);
const { dataDir, env: stackEnv, services } = stack;
const config = uniqueConfig('compact-chaos', { ...stackEnv, LAKE_SYMBOL_BUCKETS: String(BUCKETS) });
const workerEnv: NodeJS.ProcessEnv = {
  ...stackEnv,
  LAKE_BUCKET: config.lake.bucket,
  LAKE_SYMBOL_BUCKETS: String(BUCKETS),
  GLUE_DATABASE: config.glue.database,
  TICKLAKE_TASK_QUEUE: config.temporal.taskQueue,
};

const startWorkerProcess = () => stack.startWorker(workerEnv);

/** The reader's query: the per-symbol counts, through the local engine in this process. */
const countQuery = (engine: DuckDBEngine, queryId: string) => engineSymbolCounts(engine, config.glue.database, queryId);

describe('compaction chaos on its own stack', () => {
  let client: Client | undefined;
  let worker: ChildProcess | undefined;
  let engine: DuckDBEngine | undefined;
  let lister: DuckDBEngine | undefined;
  let passed = false;

  beforeAll(async () => {
    await services('up', 'temporal', 'kafka', 's3', 'moto');
    const { s3 } = createAwsClients(config.aws);
    await ensureBucket(s3, config.lake.bucket);
    client = await connectClient(config.temporal);
  }, 300_000);

  afterAll(async () => {
    if (worker) {
      worker.kill('SIGKILL');
      await exited(worker);
    }
    await engine?.close();
    await lister?.close();
    await client?.connection.close();
    await services('down', 'temporal', 'kafka', 's3', 'moto').catch((err: unknown) => console.error(String(err)));
    if (passed) fs.rmSync(dataDir, { recursive: true, force: true });
    else console.error(`compaction chaos: logs kept in ${dataDir}`);
  }, 180_000);

  it('never shows a reader a count other than the file’s while compacting through kills and an S3 outage', async () => {
    const { s3, glue } = createAwsClients(config.aws);
    // The lake, as the sink writes a live stream: per Kafka partition (the symbol's bucket) in file order,
    // a cut every CUT records, one object per lake partition a cut touches.
    const byPartition = new Map<number, TestRecord[]>();
    const at = new Date('2024-01-02T00:00:00.000Z');
    for (const r of rows) {
      const p = symbolBucket(r.tick.symbol, BUCKETS);
      const record = JSON.parse(tickMessage(r.tick, path.basename(FILE), r.line, at).value) as TestRecord;
      byPartition.set(p, [...(byPartition.get(p) ?? []), record]);
    }
    let objects = 0;
    for (const [partition, records] of byPartition) {
      for (let first = 0; first < records.length; first += CUT) {
        const f = await writeFlush(s3, config, { partition, first, records: records.slice(first, first + CUT) });
        objects += f.objects.length;
      }
    }
    const sorted = (c: Record<string, number>) =>
      Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : 1)));
    const expected = sorted(countsBySymbol(rows.map((r) => r.tick)));

    worker = startWorkerProcess();
    await runCrawl(client!, config);

    // The reader: the local engine in this process, on the same catalog and bucket, polling all along.
    engine = new DuckDBEngine({
      s3,
      glue,
      cacheDir: path.join(dataDir, 'reader-cache'),
      resultsDir: path.join(dataDir, 'reader-results'),
    });
    // Every other read lists the lake folder by folder, as the engine lists a table too large to list
    // whole (compacted folders from their watermarks), instead of in one listing of the table.
    lister = new DuckDBEngine({
      s3,
      glue,
      cacheDir: path.join(dataDir, 'lister-cache'),
      resultsDir: path.join(dataDir, 'lister-results'),
      tableListingPages: 0,
    });
    const seen = { answers: 0, errors: 0, wrong: [] as string[] };
    let reading = true;
    const reader = (async () => {
      for (let i = 0; reading; i++) {
        try {
          const counts = sorted(await countQuery(i % 2 === 0 ? engine : lister, `chaos-reader-${i}`));
          seen.answers++;
          if (JSON.stringify(counts) !== JSON.stringify(expected))
            seen.wrong.push(`answer ${seen.answers}: ${JSON.stringify(counts)}`);
        } catch {
          seen.errors++; // S3 down, an object deleted under a reader holding an older state: no answer, not a wrong one
          await sleep(200);
        }
      }
    })();
    await waitFor('a first answer of the reader', () => Promise.resolve(seen.answers > 0), 60_000);
    expect(seen.wrong).toEqual([]);

    const handle = await startCompaction(client!, config, { quietMs: 0, retentionMs: 0 });
    // Three kills at random moments while the compaction runs, and the S3 server down once.
    const faults: string[] = [];
    for (let kill = 1; kill <= 3; kill++) {
      await sleep(randomMs(1500, 5000));
      // Each kill lands in a running compaction.
      expect((await handle.describe()).status.name).toBe('RUNNING');
      worker.kill('SIGKILL');
      await exited(worker);
      faults.push(`kill ${kill} at ${new Date().toISOString()}`);
      if (kill === 2) {
        await services('down', 's3');
        await sleep(8000);
        await services('up', 's3');
        faults.push('s3 down 8 s');
      }
      worker = startWorkerProcess();
    }
    const result = await handle.result();
    reading = false;
    await reader;

    // What the reader saw: only the file's counts.
    expect(seen.wrong).toEqual([]);
    expect(seen.answers).toBeGreaterThanOrEqual(5);

    // Fully compacted: every record in the curated zone, no raw object left to read.
    const ref = await readLatestState(s3, config.lake.bucket, config.lake.prefix, config.glue.database, 'ticks');
    const state = ref!.state;
    expect(state.failures).toEqual([]);
    expect(Object.values(state.partitions).reduce((a, p) => a + p.rows, 0)).toBe(rows.length);
    const raw = await listKeys(s3, config.lake.bucket, `${config.lake.prefix}ticks/`);
    const readable = raw.filter((k) => {
      const partition = k.slice(`${config.lake.prefix}ticks/`.length, k.lastIndexOf('/'));
      return rawVisible(k, state.partitions[partition]);
    });
    expect(readable).toEqual([]);
    expect(result.totals.rows).toBe(rows.length);

    for (const reader of [engine, lister]) {
      expect(await countQuery(reader, 'chaos-final')).toEqual(expected);
    }
    console.log(
      `compaction chaos: ${rows.length} rows in ${objects} raw objects; ${faults.join('; ')}; ` +
        `reader: ${seen.answers} answers, all equal to the file's, ${seen.errors} failed reads; ` +
        `compaction generation ${state.generation}, ${Object.keys(state.partitions).length} curated partitions`,
    );
    passed = true;
  }, 900_000);
});
