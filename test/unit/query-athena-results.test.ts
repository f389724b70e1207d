/**
 * Paging of Athena results, on a client whose transport is replaced by canned pages (the local Athena
 * API returns every row in one page, so it cannot show paging).
 */
import { AthenaClient, type GetQueryResultsCommandInput } from '@aws-sdk/client-athena';
import { AthenaEngine } from '../../src/query/athena-engine';
import type { QueryRequest } from '../../src/query/engine';

const TOTAL = 2499;
const PAGE = 1000;

function fakeAthena(calls: GetQueryResultsCommandInput[]): AthenaClient {
  const client = new AthenaClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  client.middlewareStack.add(
    () => (args) => {
      const input = args.input as Record<string, unknown>;
      if ('QueryString' in input)
        return Promise.resolve({ output: { QueryExecutionId: 'q1', $metadata: {} }, response: {} });
      if ('MaxResults' in input || 'NextToken' in input) {
        calls.push({ ...(input as unknown as GetQueryResultsCommandInput) });
        const start = input.NextToken ? Number(input.NextToken) : 0;
        const header = start === 0 ? [{ Data: [{ VarCharValue: 'i' }, { VarCharValue: 'label' }] }] : [];
        const rows = [];
        // Athena's first page holds the header plus PAGE - 1 rows.
        const end = Math.min(TOTAL, start + PAGE - header.length);
        for (let i = start; i < end; i++)
          rows.push({ Data: [{ VarCharValue: String(i) }, i % 3 === 0 ? {} : { VarCharValue: `r${i}` }] });
        return Promise.resolve({
          output: {
            ResultSet: {
              Rows: [...header, ...rows],
              ResultSetMetadata: {
                ColumnInfo: [
                  { Name: 'i', Type: 'bigint' },
                  { Name: 'label', Type: 'varchar' },
                ],
              },
            },
            NextToken: end < TOTAL ? String(end) : undefined,
            $metadata: {},
          },
          response: {},
        });
      }
      if ('QueryExecutionId' in input && Object.keys(input).length === 1) {
        return Promise.resolve({
          output: {
            QueryExecution: {
              QueryExecutionId: 'q1',
              StatementType: 'DML',
              Status: { State: 'SUCCEEDED' },
              Statistics: { EngineExecutionTimeInMillis: 1234, DataScannedInBytes: 5678 },
              ResultConfiguration: { OutputLocation: 's3://results/q1.csv' },
            },
            QueryRuntimeStatistics: { Rows: { OutputRows: TOTAL } },
            $metadata: {},
          },
          response: {},
        });
      }
      return Promise.reject(new Error(`unexpected request ${JSON.stringify(input)}`));
    },
    { step: 'initialize', name: 'cannedAthena' },
  );
  return client;
}

const request = (maxRows: number): QueryRequest => ({
  sql: 'SELECT i, label FROM t',
  params: [],
  database: 'db',
  maxRows,
  maxBytes: 1024 * 1024,
  allowWrites: false,
  queryId: 'query/paging',
});
const hooks = () => ({ heartbeat: () => undefined, signal: new AbortController().signal });

describe('Athena results are paged with the SDK paginator', () => {
  it('reads every page when the result fits, skipping only the header of the first page', async () => {
    const calls: GetQueryResultsCommandInput[] = [];
    const out = await new AthenaEngine({ athena: fakeAthena(calls) }).run(request(5000), hooks());
    expect(calls.map((c) => [c.NextToken, c.MaxResults])).toEqual([
      [undefined, 1000],
      ['999', 1000],
      ['1999', 1000],
    ]);
    expect(out.rows).toHaveLength(TOTAL);
    expect(out.rows[0]).toEqual([0, null]);
    expect(out.rows[999]).toEqual([999, null]);
    expect(out.rows[1000]).toEqual([1000, 'r1000']);
    expect(out.truncated).toBe(false);
    expect(out.rowCount).toBe(TOTAL);
    expect(out.stats).toMatchObject({ engineMs: 1234, bytesScanned: 5678, queryExecutionId: 'q1' });
    expect(out.resultLocation).toBe('s3://results/q1.csv');
  });

  it('stops paging once the page is full, and takes the size of the whole result from the statistics', async () => {
    const calls: GetQueryResultsCommandInput[] = [];
    const out = await new AthenaEngine({ athena: fakeAthena(calls) }).run(request(10), hooks());
    expect(calls).toHaveLength(1);
    expect(out.rows.map((r) => r[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out.truncated).toBe(true);
    expect(out.rowCount).toBe(TOTAL);

    const across: GetQueryResultsCommandInput[] = [];
    const second = await new AthenaEngine({ athena: fakeAthena(across) }).run(request(1500), hooks());
    expect(across).toHaveLength(2);
    expect(second.rows).toHaveLength(1500);
    expect(second.rows[1499][0]).toBe(1499);
  });
});
