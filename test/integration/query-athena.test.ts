/**
 * The Athena engine against the local Athena API (moto). moto runs no SQL: a test seeds the rows the
 * next execution returns (`/moto-api/static/athena/query-results`), and steers how fast executions
 * move from QUEUED to RUNNING to SUCCEEDED (`/moto-api/state-manager`). moto keeps one results queue
 * per region, so this file uses a region of its own; the state transition is global to the moto
 * server and is reset after each test that changes it.
 */
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  ListQueryExecutionsCommand,
  type StartQueryExecutionCommandInput,
} from '@aws-sdk/client-athena';
import { CancelledFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { createQueryActivities } from '../../activities/query';
import { createAwsClients } from '../../src/adapters/aws';
import { connectClient } from '../../src/adapters/temporal';
import type { TicklakeConfig } from '../../src/config';
import { runQuery, startQuery } from '../../src/pipeline';
import { AthenaEngine } from '../../src/query/athena-engine';
import type { QueryHooks, QueryRequest } from '../../src/query/engine';
import { startWorker, type RunningWorker } from '../../src/worker';
import { uniqueConfig, waitFor } from './support';

const REGIONS = ['eu-west-3', 'ap-northeast-2', 'sa-east-1', 'ca-central-1', 'eu-north-1', 'ap-south-1'];
const REGION = REGIONS[randomBytes(1)[0] % REGIONS.length];

interface Datum {
  VarCharValue?: string;
}

function column(name: string, type: string) {
  return {
    CatalogName: 'hive',
    SchemaName: '',
    TableName: '',
    Name: name,
    Label: name,
    Type: type,
    Precision: 0,
    Scale: 0,
    Nullable: 'UNKNOWN',
    CaseSensitive: false,
  };
}

describe('queries with Athena (local Athena API)', () => {
  let config: TicklakeConfig;
  let worker: RunningWorker;
  let client: Client;
  let athena: AthenaClient;
  let endpoint: string;
  const outputLocation = `s3://athena-results-${randomBytes(3).toString('hex')}/ticklake/`;

  /** Queues the result the next execution started in this region returns (Athena puts the labels first). */
  async function seed(columns: ReturnType<typeof column>[], rows: Datum[][]): Promise<void> {
    const header = { Data: columns.map((c) => ({ VarCharValue: c.Name })) };
    const res = await fetch(`${endpoint}/moto-api/static/athena/query-results`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        region: REGION,
        results: [{ rows: [header, ...rows.map((Data) => ({ Data }))], column_info: columns }],
      }),
    });
    expect(res.status).toBe(201);
  }

  /** Executions advance one state every `times` GetQueryExecution calls (moto's manual progression). */
  async function setProgression(times: number | undefined): Promise<void> {
    const res = await fetch(`${endpoint}/moto-api/state-manager/${times === undefined ? 'unset' : 'set'}-transition`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        times === undefined
          ? { model_name: 'athena::execution' }
          : { model_name: 'athena::execution', transition: { progression: 'manual', times } },
      ),
    });
    expect(res.ok).toBe(true);
  }

  function request(sql: string, params: QueryRequest['params'] = [], extra: Partial<QueryRequest> = {}): QueryRequest {
    return {
      sql,
      params,
      database: 'ticklake',
      maxRows: 1000,
      maxBytes: 512 * 1024,
      allowWrites: false,
      queryId: `query/${randomBytes(4).toString('hex')}`,
      ...extra,
    };
  }

  function hooks(previous?: Record<string, unknown>): QueryHooks & { beats: Record<string, unknown>[] } {
    const beats: Record<string, unknown>[] = [];
    return { beats, heartbeat: (d) => beats.push(d ?? {}), signal: new AbortController().signal, previous };
  }

  /** The StartQueryExecution requests a client sends. */
  function captureStarts(c: AthenaClient): StartQueryExecutionCommandInput[] {
    const starts: StartQueryExecutionCommandInput[] = [];
    c.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'StartQueryExecutionCommand')
          starts.push({ ...(args.input as StartQueryExecutionCommandInput) });
        return next(args);
      },
      { step: 'initialize', name: 'captureStarts' },
    );
    return starts;
  }

  beforeAll(async () => {
    config = uniqueConfig('query-athena', {
      AWS_REGION: REGION,
      ATHENA_OUTPUT_LOCATION: outputLocation,
      QUERY_ENGINE: 'athena',
    });
    endpoint = config.aws.athenaEndpoint!;
    const aws = createAwsClients(config.aws);
    athena = aws.athena;
    // Only the query activities: this worker needs no Kafka.
    worker = await startWorker(config, {
      activities: createQueryActivities({
        s3: aws.s3,
        glue: aws.glue,
        athena,
        cacheDir: path.join(os.tmpdir(), `ticklake-query-athena-${process.pid}`, 'query-cache'),
      }),
    });
    client = await connectClient(config.temporal);
  }, 120_000);
  afterAll(async () => {
    await setProgression(undefined);
    await client?.connection.close();
    await worker?.shutdown();
  });
  afterEach(async () => {
    await setProgression(undefined);
  });

  it('starts, polls until SUCCEEDED, reads the rows typed from the metadata, with bound parameters', async () => {
    await setProgression(2);
    const columns = [
      column('symbol', 'varchar'),
      column('ticks', 'bigint'),
      column('avg_close', 'double'),
      column('first_day', 'date'),
      column('last_seen', 'timestamp'),
      column('total', 'decimal'),
      column('up', 'boolean'),
      column('days', 'array'),
    ];
    await seed(columns, [
      [
        { VarCharValue: 'HSI' },
        { VarCharValue: '890' },
        { VarCharValue: '30856.07897711226' },
        { VarCharValue: '1987-01-02' },
        { VarCharValue: '2024-05-06 07:08:09.123' },
        { VarCharValue: '123.45' },
        { VarCharValue: 'true' },
        { VarCharValue: '[1, 2]' },
      ],
      [{ VarCharValue: 'N225' }, { VarCharValue: '851' }, {}, {}, {}, {}, {}, {}],
    ]);
    const result = await runQuery(
      client,
      config,
      'SELECT symbol, count(*) AS ticks FROM ticks WHERE symbol IN (?, ?) AND year = ? GROUP BY symbol',
      ['HSI', 'N225', '2020'],
    );
    expect(result.columns).toEqual(columns.map((c) => ({ name: c.Name, type: c.Type })));
    expect(result.rows).toEqual([
      ['HSI', 890, 30856.07897711226, '1987-01-02', '2024-05-06T07:08:09.123Z', '123.45', true, '[1, 2]'],
      ['N225', 851, null, null, null, null, null, null],
    ]);
    expect(result.truncated).toBe(false);
    expect(result.rowCount).toBe(2);
    const id = result.stats.queryExecutionId!;
    expect(result.resultLocation).toBe(`${outputLocation}${id}.csv`);
    const execution = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
    expect(execution.ExecutionParameters).toEqual(["'HSI'", "'N225'", "'2020'"]);
    expect(execution.QueryExecutionContext?.Database).toBe(config.glue.database);

    // The same flow on the engine itself shows the polling: each state is seen before the next.
    await seed([column('n', 'integer')], [[{ VarCharValue: '1' }]]);
    const h = hooks();
    const direct = await new AthenaEngine({
      athena,
      outputLocation,
      poll: { firstMs: 20, factor: 1.5, maxMs: 100 },
    }).run(request('SELECT 1 AS n'), h);
    expect(direct.rows).toEqual([[1]]);
    const states = h.beats.map((b) => b.state).filter(Boolean);
    expect(states).toEqual(expect.arrayContaining(['QUEUED', 'RUNNING', 'SUCCEEDED']));
    expect(states.indexOf('QUEUED')).toBeLessThan(states.indexOf('RUNNING'));
    expect(states[states.length - 1]).toBe('SUCCEEDED');
  });

  it('returns at most maxRows rows and points at the whole result in S3', async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => [{ VarCharValue: String(i) }, { VarCharValue: `s${i % 7}` }]);
    await seed([column('i', 'integer'), column('s', 'varchar')], rows);
    const result = await runQuery(client, config, 'SELECT i, s FROM ticks', [], { maxRows: 1000 });
    expect(result.rows).toHaveLength(1000);
    expect(result.rows[0]).toEqual([0, 's0']);
    expect(result.rows[999]).toEqual([999, 's5']);
    expect(result.truncated).toBe(true);
    expect(result.rowCount).toBeGreaterThan(1000);
    expect(result.resultLocation).toMatch(new RegExp(`^${outputLocation}.+\\.csv$`));
  });

  it('stops the Athena execution when the query workflow is cancelled', async () => {
    await setProgression(1_000_000);
    const before = new Set((await athena.send(new ListQueryExecutionsCommand({}))).QueryExecutionIds ?? []);
    const handle = await startQuery(client, config, 'SELECT count(*) FROM ticks');
    const id = await waitFor('the execution to start', async () => {
      const ids = (await athena.send(new ListQueryExecutionsCommand({}))).QueryExecutionIds ?? [];
      return ids.find((i) => !before.has(i));
    });
    const running = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
    expect(running.Status?.State).toBe('QUEUED');
    await handle.cancel();
    const err: unknown = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // The workflow waits for the activity's cancellation to complete: the execution is stopped by now.
    const stopped = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution!;
    expect(stopped.Status?.State).toBe('CANCELLED');
  });

  it('a retry never starts a second execution: it resumes the recorded one, or sends the same ClientRequestToken', async () => {
    const own = new AthenaClient({ region: REGION, endpoint, credentials: config.aws.credentials });
    const starts = captureStarts(own);
    const engine = new AthenaEngine({ athena: own, outputLocation, poll: { firstMs: 20, factor: 1.5, maxMs: 100 } });
    const req = request('SELECT symbol FROM ticks WHERE symbol = ?', ['HSI']);

    await seed([column('symbol', 'varchar')], [[{ VarCharValue: 'HSI' }]]);
    const firstHooks = hooks();
    const first = await engine.run(req, firstHooks);
    expect(starts).toHaveLength(1);
    const recorded = firstHooks.beats[0];
    expect(recorded).toEqual({ queryExecutionId: first.stats.queryExecutionId, generation: 0 });

    // A retry after a crash: the last heartbeat names the execution, which is read again, not restarted.
    const resumed = await engine.run(req, hooks(recorded));
    expect(starts).toHaveLength(1);
    expect(resumed.stats.queryExecutionId).toBe(first.stats.queryExecutionId);
    expect(resumed.rows).toEqual([['HSI']]);

    // A retry that lost its heartbeat sends the same token, which Athena answers with the first execution.
    // (moto ignores the token and starts another execution; real Athena does not.)
    await engine.run(req, hooks());
    expect(starts).toHaveLength(2);
    expect(starts[1].ClientRequestToken).toBe(starts[0].ClientRequestToken);
    expect(starts[0].ClientRequestToken).toMatch(/^[0-9a-f]{64}$/);
    // Another query (another workflow id) gets another token.
    await engine.run({ ...req, queryId: 'query/another' }, hooks());
    expect(starts[2].ClientRequestToken).not.toBe(starts[0].ClientRequestToken);
    own.destroy();
  });

  it('refuses writes before sending anything, and reports them as non-retryable', async () => {
    const own = new AthenaClient({ region: REGION, endpoint, credentials: config.aws.credentials });
    const starts = captureStarts(own);
    const engine = new AthenaEngine({ athena: own, outputLocation });
    for (const sql of [
      'DROP TABLE ticks',
      'INSERT INTO ticks SELECT * FROM ticks',
      'SELECT 1; DROP TABLE ticks',
      "UNLOAD (SELECT 1) TO 's3://x/' WITH (format = 'CSV')",
    ]) {
      await expect(engine.run(request(sql), hooks())).rejects.toMatchObject({ type: 'QueryRefused', retryable: false });
    }
    expect(starts).toHaveLength(0);
    const err: unknown = await runQuery(client, config, 'DROP TABLE ticks').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause?.cause).toMatchObject({ type: 'QueryRefused', nonRetryable: true });
    own.destroy();
  });
});
