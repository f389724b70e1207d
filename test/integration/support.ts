/** Shared setup of integration tests: real local services, unique names per test, an in-process worker. */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import type { Client } from '@temporalio/client';
import { waitFor as pollFor } from '../../src/concurrency';
import { loadConfig, type TicklakeConfig } from '../../src/config';
import { removeResources } from './sink-support';
import { connectClient } from '../../src/adapters/temporal';
import { prepareInfrastructure } from '../../src/pipeline';
import { startWorker, type RunningWorker } from '../../src/worker';
import type { DuckDBEngine } from '../../src/query/duckdb-engine';
import type { QueryOutcome } from '../../src/query/engine';

/** Task queues of {@link uniqueEnv}: what a harness on such a configuration made is its own to remove. */
const UNIQUE_QUEUE_PREFIX = 'tq-';

/** Environment whose topics, group, bucket, Glue database and task queue are unique to one test. */
export function uniqueEnv(label: string, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const id = `${label}-${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const under = id.replace(/-/g, '_');
  return {
    ...process.env,
    KAFKA_TOPIC: `t-${id}`,
    KAFKA_DLQ_TOPIC: `t-${id}.dlq`,
    KAFKA_POSITIONS_TOPIC: `t-${id}.positions`,
    SINK_GROUP_ID: `sink-${id}`,
    LAKE_BUCKET: `tl-${id}`.slice(0, 63),
    GLUE_DATABASE: `db_${under}`,
    TICKLAKE_TASK_QUEUE: `${UNIQUE_QUEUE_PREFIX}${id}`,
    ...env,
  };
}

/** A configuration whose topics, group, bucket, Glue database and task queue are unique to one test. */
export function uniqueConfig(label: string, env: NodeJS.ProcessEnv = {}): TicklakeConfig {
  return loadConfig(uniqueEnv(label, env));
}

export interface Harness {
  config: TicklakeConfig;
  client: Client;
  worker: RunningWorker;
  close(): Promise<void>;
}

export async function startHarness(config: TicklakeConfig): Promise<Harness> {
  await prepareInfrastructure(config);
  const worker = await startWorker(config);
  const client = await connectClient(config.temporal);
  return {
    config,
    client,
    worker,
    async close() {
      // Only a test's own names: the default ones (the README's test) are the user's pipeline.
      const own = config.temporal.taskQueue.startsWith(UNIQUE_QUEUE_PREFIX);
      if (own) await terminateRunning(client, config.temporal.taskQueue).catch(() => undefined);
      await client.connection.close();
      await worker.shutdown();
      if (own) await removeResources(config).catch(() => undefined);
    },
  };
}

/** Terminates every running workflow of a task queue (a test's own): nothing of a test stays open. */
export async function terminateRunning(client: Client, taskQueue: string): Promise<void> {
  for await (const w of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) {
    await client.workflow
      .getHandle(w.workflowId, w.runId)
      .terminate('test over')
      .catch(() => undefined);
  }
}

/** Waits for a condition with a deadline, polling; never a bare sleep. */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<T> {
  return pollFor(what, probe, timeoutMs, everyMs);
}

export interface CsvStats {
  rows: number;
  perSymbol: Map<string, { count: number; sumClose: number }>;
}

/** Counts and sums per symbol computed straight from a CSV, independently of the pipeline. */
export function csvStats(file: string): CsvStats {
  const records: string[][] = parse(fs.readFileSync(file), { bom: true, from_line: 2 });
  const perSymbol = new Map<string, { count: number; sumClose: number }>();
  for (const r of records) {
    const s = perSymbol.get(r[0]) ?? { count: 0, sumClose: 0 };
    s.count++;
    s.sumClose += Number(r[5]);
    perSymbol.set(r[0], s);
  }
  return { rows: records.length, perSymbol };
}

/** One read-only statement through a local engine of the test's own, with no heartbeat or cancellation. */
export function engineQuery(
  engine: DuckDBEngine,
  database: string,
  sql: string,
  queryId: string,
): Promise<QueryOutcome> {
  return engine.run(
    { sql, params: [], database, maxRows: 1000, maxBytes: 1 << 20, allowWrites: false, queryId },
    { heartbeat: () => undefined, signal: new AbortController().signal },
  );
}

/** Per-symbol counts through a local engine of the test's own (the symbol, the count, in symbol order). */
export async function engineSymbolCounts(
  engine: DuckDBEngine,
  database: string,
  queryId: string,
): Promise<Record<string, number>> {
  const out = await engineQuery(
    engine,
    database,
    'SELECT symbol, count(*) AS n FROM ticks GROUP BY symbol ORDER BY symbol',
    queryId,
  );
  return Object.fromEntries(out.rows.map((row) => [String(row[0]), Number(row[1])]));
}
