/** The query activity: one SQL statement on the configured engine, with a bounded page of rows. */
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { EntityNotFoundException, GetTablesCommand, type GlueClient } from '@aws-sdk/client-glue';
import type { S3Client } from '@aws-sdk/client-s3';
import { createTableView, openDuckDB, readTableSource, type ObjectCacheStats } from '../src/query/duckdb-engine';
import { checkReadOnly, toJsonValue, withoutPlaceholders } from '../src/query/sql-guard';
import type { QueryInput, QueryResult } from './types';

export interface QueryDeps {
  s3: S3Client;
  glue: GlueClient;
  /** Directory for the ETag-keyed object cache. */
  cacheDir: string;
}

export function createQueryActivities(deps: QueryDeps) {
  return {
    async runQuery(input: QueryInput): Promise<QueryResult> {
      const refused = checkReadOnly(input.sql);
      if (refused) throw ApplicationFailure.nonRetryable(`query refused: ${refused}`, 'QueryRefused');
      if (input.engine !== 'duckdb') {
        throw ApplicationFailure.nonRetryable(`query engine '${input.engine}' is not available in this build`, 'EngineUnavailable');
      }
      const ctx = Context.current();
      const started = Date.now();
      const stats: ObjectCacheStats = { downloaded: 0, cached: 0 };
      const connection = await openDuckDB();
      try {
        const referenced = new Set(connection.getTableNames(withoutPlaceholders(input.sql), false).map((t) => t.toLowerCase()));
        let tables: string[];
        try {
          const out = await deps.glue.send(new GetTablesCommand({ DatabaseName: input.database }));
          tables = (out.TableList ?? []).map((t) => t.Name!).filter((n) => referenced.has(n.toLowerCase()));
        } catch (err) {
          if (err instanceof EntityNotFoundException) {
            throw ApplicationFailure.nonRetryable(
              `database '${input.database}' does not exist in the catalog; run a crawl first (npm run cli -- crawl now) or set GLUE_DATABASE`,
              'MissingDatabase',
            );
          }
          throw err;
        }
        for (const name of tables) {
          const source = await readTableSource(deps.glue, input.database, name);
          await createTableView({ connection, s3: deps.s3, cacheDir: deps.cacheDir, name, source, stats });
          ctx.heartbeat({ views: name, downloaded: stats.downloaded });
        }
        let reader;
        try {
          reader = await connection.runAndReadAll(input.sql, (input.params ?? []) as never);
        } catch (err) {
          throw ApplicationFailure.nonRetryable(`query failed: ${(err as Error).message}`, 'QueryFailed');
        }
        const names = reader.columnNames();
        const types = reader.columnTypes().map((t) => t.toString());
        const all = reader.getRowsJS();
        const rows = all.slice(0, input.maxRows).map((r) => r.map((v, i) => toJsonValue(v, types[i])));
        log.info('query done', { rows: all.length, downloaded: stats.downloaded, cached: stats.cached });
        return {
          columns: names.map((name, i) => ({ name, type: types[i] })),
          rows,
          truncated: all.length > input.maxRows,
          rowCount: all.length,
          stats: { engineMs: Date.now() - started, objectsDownloaded: stats.downloaded, objectsCached: stats.cached },
        };
      } finally {
        connection.closeSync();
      }
    },
  };
}
