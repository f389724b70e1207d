/** The query activity: one SQL statement on the configured engine, with a bounded page of rows. */
import path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import { AthenaEngine } from '../src/query/athena-engine';
import { DuckDBEngine } from '../src/query/duckdb-engine';
import { QueryError, type QueryEngine, type QueryRequest } from '../src/query/engine';
import { pageBounds } from '../src/query/page';
import type { QueryInput, QueryResult } from './types';
import { ENGINE_UNAVAILABLE } from '../src/errors/query';

export interface QueryDeps {
  s3: S3Client;
  glue: GlueClient;
  athena: AthenaClient;
  /** Directory of the ETag-keyed object cache of the local engine. */
  cacheDir: string;
  cacheMaxBytes?: number;
  memoryLimit?: string;
  /** Directory of full results of truncated local queries. Default: `results` beside `cacheDir` (`<dataDir>/results`). */
  resultsDir?: string;
}

export function createQueryActivities(deps: QueryDeps) {
  // One warm DuckDB instance per worker: objects loaded once serve every later query.
  const duckdb = new DuckDBEngine({
    s3: deps.s3,
    glue: deps.glue,
    cacheDir: deps.cacheDir,
    cacheMaxBytes: deps.cacheMaxBytes,
    memoryLimit: deps.memoryLimit,
    resultsDir: deps.resultsDir ?? path.join(path.dirname(deps.cacheDir), 'results'),
  });

  return {
    async runQuery(input: QueryInput): Promise<QueryResult> {
      const ctx = Context.current();
      const info = ctx.info;
      const bounds = pageBounds(input);
      const request: QueryRequest = {
        sql: input.sql,
        params: input.params ?? [],
        database: input.database,
        maxRows: bounds.maxRows,
        maxBytes: bounds.maxBytes,
        allowWrites: input.allowWrites ?? false,
        queryId: input.queryId ?? info.workflowExecution?.workflowId ?? info.activityId,
      };
      let engine: QueryEngine;
      if (input.engine === 'athena') {
        engine = new AthenaEngine({
          athena: deps.athena,
          workgroup: input.workgroup,
          outputLocation: input.outputLocation,
          ...(input.lake ? { curated: { s3: deps.s3, glue: deps.glue, bucket: input.bucket, ...input.lake } } : {}),
        });
      } else if (input.engine === 'duckdb') {
        engine = duckdb;
      } else {
        throw ApplicationFailure.nonRetryable(
          `query engine '${String(input.engine)}' is unknown; use 'duckdb' or 'athena' (QUERY_ENGINE)`,
          ENGINE_UNAVAILABLE,
        );
      }
      const previous = info.heartbeatDetails as Record<string, unknown> | undefined;
      try {
        const result = await engine.run(request, {
          heartbeat: (details) => ctx.heartbeat(details),
          signal: ctx.cancellationSignal,
          previous: typeof previous === 'object' && previous !== null ? previous : undefined,
        });
        log.info('query done', {
          engine: engine.name,
          queryId: request.queryId,
          rows: result.rowCount,
          truncated: result.truncated,
          engineMs: result.stats.engineMs,
          objectsRead: result.stats.objectsRead,
          objectsDownloaded: result.stats.objectsDownloaded,
        });
        return result;
      } catch (err) {
        if (ctx.cancellationSignal.aborted) {
          const reason: unknown = ctx.cancellationSignal.reason;
          throw reason instanceof CancelledFailure
            ? reason
            : new CancelledFailure(`query ${request.queryId} cancelled`);
        }
        if (err instanceof QueryError) {
          log.warn('query failed', {
            engine: engine.name,
            queryId: request.queryId,
            type: err.type,
            error: err.message,
          });
          throw ApplicationFailure.create({
            message: err.message,
            type: err.type,
            nonRetryable: !err.retryable,
            details: err.details ? [err.details] : undefined,
          });
        }
        throw err;
      }
    },
  };
}
