/**
 * The AWS query engine: Amazon Athena over the Glue catalog.
 *
 * Idempotent: StartQueryExecution carries a ClientRequestToken derived from the query's business key
 * (the workflow id), the statement and its parameters, so a retried activity gets the execution the
 * first attempt started instead of starting (and paying for) a second one. The execution id is also
 * recorded in the heartbeat, so a retry after a worker crash resumes polling it. Cancelling the
 * activity stops the execution (StopQueryExecution).
 */
import { createHash } from 'node:crypto';
import {
  GetQueryExecutionCommand,
  GetQueryRuntimeStatisticsCommand,
  InvalidRequestException,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  paginateGetQueryResults,
  type AthenaClient,
  type QueryExecution,
  type QueryExecutionStatus,
} from '@aws-sdk/client-athena';
import { QueryError, type QueryEngine, type QueryHooks, type QueryOutcome, type QueryRequest } from './engine';
import { PageBuilder } from './page';
import { SqlGuardError, athenaLiteral, checkReadOnly, checkSingleStatement, type QueryParam } from './sql-guard';
import { athenaCell } from './values';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import { getJson } from '../adapters/s3';
import { getTable } from '../catalog/glue-catalog';
import { namesTable, unionSql, withUnion } from '../compact/athena-union';
import { curatedTableName, PARAM_CURATED_GENERATION, stateKey, type CompactState } from '../compact/state';

export interface AthenaEngineOptions {
  athena: AthenaClient;
  /**
   * The lake table whose statements read the curated zone too (src/compact/athena-union.ts), with
   * the clients that read its compaction state and the curated Glue table.
   */
  curated?: { s3: S3Client; glue: GlueClient; bucket: string; prefix: string; table: string; partitionBy: string[] };
  /** Workgroup; its result location is used when `outputLocation` is not set. Default 'primary'. */
  workgroup?: string;
  /** s3:// prefix for results; needed unless the workgroup defines one. */
  outputLocation?: string;
  /** Data catalog. Default 'AwsDataCatalog' (Glue). */
  catalog?: string;
  /** Polling backoff of GetQueryExecution: first delay, factor and ceiling, ms. Default 200, 1.5, 2000. */
  poll?: { firstMs: number; factor: number; maxMs: number };
  /** Rows per GetQueryResults page. Default 1000 (Athena's maximum). */
  pageSize?: number;
}

/** What the activity records in its heartbeat so a retry can pick up the same execution. */
export interface AthenaProgress {
  queryExecutionId?: string;
  /** Bumped after an execution failed with an error Athena calls retryable, to get a fresh token. */
  generation: number;
  state?: string;
}

/** The idempotency token of one query: same business key, statement, parameters and place → same token. */
export function clientRequestToken(args: {
  queryId: string;
  sql: string;
  params: readonly QueryParam[];
  database: string;
  workgroup?: string;
  outputLocation?: string;
  generation: number;
}): string {
  const material = JSON.stringify([
    args.queryId,
    args.database,
    args.workgroup ?? '',
    args.outputLocation ?? '',
    args.sql,
    args.params,
    args.generation,
  ]);
  // 64 hex characters; Athena accepts 32 to 128.
  return createHash('sha256').update(material).digest('hex');
}

/** How a FAILED execution is reported: type and message, from Athena's error category and reason. */
export function classifyFailure(status: QueryExecutionStatus | undefined, database: string): QueryError {
  const reason = status?.StateChangeReason ?? 'no reason given';
  const error = status?.AthenaError;
  const details = {
    errorCategory: error?.ErrorCategory,
    errorType: error?.ErrorType,
    athenaRetryable: error?.Retryable,
  };
  if (/SCHEMA_NOT_FOUND|Schema '.*' does not exist|Database .* not found/i.test(reason)) {
    return new QueryError(
      'MissingDatabase',
      `database '${database}' does not exist in the catalog (${reason}); run a crawl first or set GLUE_DATABASE`,
      details,
    );
  }
  // ErrorCategory 1 = system, 2 = user, 3 = other; Retryable is Athena's own judgement.
  if (error?.Retryable && error.ErrorCategory !== 2) {
    return new QueryError('QueryFailedRetryable', `Athena query failed with a transient error: ${reason}`, details);
  }
  return new QueryError('QueryFailed', `Athena query failed: ${reason}`, details);
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class AthenaEngine implements QueryEngine {
  readonly name = 'athena' as const;
  private readonly poll: { firstMs: number; factor: number; maxMs: number };

  constructor(private readonly options: AthenaEngineOptions) {
    this.poll = options.poll ?? { firstMs: 200, factor: 1.5, maxMs: 2000 };
  }

  async close(): Promise<void> {
    // The client belongs to the caller.
  }

  async run(original: QueryRequest, hooks: QueryHooks): Promise<QueryOutcome> {
    let request = original;
    const started = Date.now();
    const refused = request.allowWrites ? checkSingleStatement(request.sql) : checkReadOnly(request.sql);
    if (refused) throw new QueryError('QueryRefused', `query refused: ${refused}`);
    let parameters: string[];
    try {
      parameters = request.params.map(athenaLiteral);
    } catch (err) {
      if (err instanceof SqlGuardError) throw new QueryError('QueryRefused', `query refused: ${err.message}`);
      throw err;
    }

    request = { ...request, sql: await this.exactlyOnce(request) };
    const previous = hooks.previous as Partial<AthenaProgress> | undefined;
    const progress: AthenaProgress = { generation: typeof previous?.generation === 'number' ? previous.generation : 0 };
    let execution: QueryExecution | undefined;
    if (typeof previous?.queryExecutionId === 'string') {
      execution = await this.describe(previous.queryExecutionId);
      if (execution.Status?.State === 'FAILED' && classifyFailure(execution.Status, request.database).retryable) {
        progress.generation++;
        execution = undefined;
      } else if (execution.Status?.State === 'CANCELLED') {
        execution = undefined;
        progress.generation++;
      }
    }
    let executionId = execution?.QueryExecutionId;
    if (!executionId) executionId = await this.start(request, parameters, progress.generation);
    progress.queryExecutionId = executionId;
    hooks.heartbeat({ ...progress });

    try {
      execution = await this.waitForCompletion(executionId, progress, hooks);
    } catch (err) {
      if (hooks.signal.aborted) {
        await this.stop(executionId);
        throw new QueryError('QueryCancelled', `query cancelled; Athena execution ${executionId} stopped`, {
          queryExecutionId: executionId,
        });
      }
      throw err;
    }
    const status = execution.Status;
    if (status?.State === 'FAILED') {
      const failure = classifyFailure(status, request.database);
      if (failure.retryable) hooks.heartbeat({ ...progress, generation: progress.generation + 1, state: 'FAILED' });
      throw failure;
    }
    if (status?.State === 'CANCELLED') {
      throw new QueryError(
        'QueryFailed',
        `Athena execution ${executionId} was cancelled outside this query (${status.StateChangeReason ?? 'no reason'})`,
      );
    }

    const resultsStarted = Date.now();
    const outcome = await this.readResults(execution, request, hooks, progress);
    const stats = execution.Statistics;
    outcome.stats = {
      engineMs: stats?.EngineExecutionTimeInMillis ?? Date.now() - started,
      objectsDownloaded: 0,
      objectsCached: 0,
      bytesScanned: stats?.DataScannedInBytes,
      queryExecutionId: executionId,
      phases: {
        queueMs: stats?.QueryQueueTimeInMillis ?? 0,
        executionMs: stats?.TotalExecutionTimeInMillis ?? 0,
        resultsMs: Date.now() - resultsStarted,
        totalMs: Date.now() - started,
      },
    };
    outcome.resultLocation = execution.ResultConfiguration?.OutputLocation;
    return outcome;
  }

  /**
   * The statement as Athena runs it: when it names the lake table and the table has a curated zone, with
   * the exactly-once union of raw and curated in front, for the state generation the curated Glue table
   * shows (its partitions are at that generation or newer, which the union's filters allow).
   */
  private async exactlyOnce(request: QueryRequest): Promise<string> {
    const lake = this.options.curated;
    if (!lake || !namesTable(request.sql, lake.table)) return request.sql;
    const curatedTable = curatedTableName(lake.table);
    const [curated, raw] = await Promise.all([
      getTable(lake.glue, request.database, curatedTable),
      getTable(lake.glue, request.database, lake.table),
    ]);
    const generation = Number(curated?.Parameters?.[PARAM_CURATED_GENERATION]);
    if (!curated || !raw || !(generation > 0)) return request.sql;
    const state = await getJson<CompactState>(
      lake.s3,
      lake.bucket,
      stateKey(lake.prefix, request.database, lake.table, generation),
    );
    if (!state)
      throw new Error(
        `compaction state ${generation} of ${request.database}.${lake.table} is not in s3://${lake.bucket}/ (the curated table shows it); retrying`,
      );
    const union = unionSql({
      database: request.database,
      table: lake.table,
      curatedTable,
      columns: (raw.StorageDescriptor?.Columns ?? []).map((c) => c.Name!),
      partitionBy: lake.partitionBy,
      state,
    });
    return withUnion(request.sql, lake.table, union);
  }

  private async start(request: QueryRequest, parameters: string[], generation: number): Promise<string> {
    const { workgroup = 'primary', outputLocation, catalog = 'AwsDataCatalog' } = this.options;
    try {
      const out = await this.options.athena.send(
        new StartQueryExecutionCommand({
          QueryString: request.sql,
          QueryExecutionContext: { Database: request.database, Catalog: catalog },
          WorkGroup: workgroup,
          ResultConfiguration: outputLocation ? { OutputLocation: outputLocation } : undefined,
          ExecutionParameters: parameters.length > 0 ? parameters : undefined,
          ClientRequestToken: clientRequestToken({
            queryId: request.queryId,
            sql: request.sql,
            params: request.params,
            database: request.database,
            workgroup,
            outputLocation,
            generation,
          }),
        }),
      );
      if (!out.QueryExecutionId) throw new Error('Athena StartQueryExecution returned no QueryExecutionId');
      return out.QueryExecutionId;
    } catch (err) {
      if (err instanceof InvalidRequestException) {
        const hint = /output location/i.test(err.message)
          ? '; set ATHENA_OUTPUT_LOCATION or give the workgroup a result location'
          : '';
        throw new QueryError('QueryFailed', `Athena refused the query: ${err.message}${hint}`, {
          workgroup,
          athenaErrorCode: err.AthenaErrorCode,
        });
      }
      throw err;
    }
  }

  private async describe(id: string): Promise<QueryExecution> {
    const out = await this.options.athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    if (!out.QueryExecution) throw new Error(`Athena GetQueryExecution returned nothing for ${id}`);
    return out.QueryExecution;
  }

  private async waitForCompletion(id: string, progress: AthenaProgress, hooks: QueryHooks): Promise<QueryExecution> {
    let delay = this.poll.firstMs;
    for (;;) {
      if (hooks.signal.aborted) throw hooks.signal.reason as Error;
      const execution = await this.describe(id);
      const state = execution.Status?.State ?? 'UNKNOWN';
      hooks.heartbeat({ ...progress, state });
      if (TERMINAL.has(state)) return execution;
      await abortable(delay, hooks.signal);
      delay = Math.min(this.poll.maxMs, Math.round(delay * this.poll.factor));
    }
  }

  private async stop(id: string): Promise<void> {
    try {
      await this.options.athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id }), {
        abortSignal: AbortSignal.timeout(10_000),
      });
    } catch {
      // Best effort: the execution may have finished meanwhile; Athena also stops it at its own timeout.
    }
  }

  private async readResults(
    execution: QueryExecution,
    request: QueryRequest,
    hooks: QueryHooks,
    progress: AthenaProgress,
  ): Promise<QueryOutcome> {
    const page = new PageBuilder(request.maxRows, request.maxBytes);
    let columns: { name: string; type: string }[] | undefined;
    let first = true;
    const pages = paginateGetQueryResults(
      { client: this.options.athena, pageSize: this.options.pageSize ?? 1000 },
      { QueryExecutionId: execution.QueryExecutionId },
    );
    reading: for await (const result of pages) {
      if (hooks.signal.aborted) throw hooks.signal.reason as Error;
      const info = result.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      columns ??= info.map((c) => ({ name: c.Name ?? c.Label ?? '', type: c.Type ?? 'varchar' }));
      const rows = result.ResultSet?.Rows ?? [];
      for (let i = 0; i < rows.length; i++) {
        const data = rows[i].Data ?? [];
        if (first) {
          first = false;
          // Athena returns the column labels as the first row of a SELECT's first page.
          const header =
            execution.StatementType === 'DML' &&
            data.length === columns.length &&
            data.every((d, j) => d.VarCharValue === columns![j].name);
          if (header) continue;
        }
        if (!page.add(columns.map((c, j) => athenaCell(c.type, data[j])))) break reading;
      }
      hooks.heartbeat({ ...progress, state: 'SUCCEEDED', rowsRead: page.seen });
    }
    let rowCount = page.rows.length;
    // Runtime statistics give the size of the whole result; the rows read so far are a lower bound.
    if (page.truncated) rowCount = Math.max((await this.outputRows(execution.QueryExecutionId!)) ?? 0, page.seen);
    return {
      columns: columns ?? [],
      rows: page.rows,
      truncated: page.truncated,
      rowCount,
      stats: { engineMs: 0, objectsDownloaded: 0, objectsCached: 0 },
    };
  }

  /** Rows of the whole result, from the runtime statistics; undefined where not available. */
  private async outputRows(id: string): Promise<number | undefined> {
    try {
      const out = await this.options.athena.send(new GetQueryRuntimeStatisticsCommand({ QueryExecutionId: id }));
      return out.QueryRuntimeStatistics?.Rows?.OutputRows;
    } catch {
      return undefined;
    }
  }
}
