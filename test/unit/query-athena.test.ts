import { classifyFailure, clientRequestToken } from '../../src/query/athena-engine';
import { NON_RETRYABLE_QUERY_ERRORS } from '../../src/query/engine';
import { QUERY_NON_RETRYABLE_ERRORS } from '../../workflows/query';

const base = {
  queryId: 'query/abc',
  sql: 'SELECT * FROM ticks WHERE symbol = ?',
  params: ['HSI'],
  database: 'ticklake',
  workgroup: 'primary',
  generation: 0,
};

describe("Athena's idempotency token", () => {
  it('is the same for a retry of the same query, and fits Athena (32 to 128 characters)', () => {
    const token = clientRequestToken(base);
    expect(clientRequestToken({ ...base })).toBe(token);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['another workflow', { queryId: 'query/def' }],
    ['another statement', { sql: 'SELECT 1' }],
    ['other parameters', { params: ['N225'] }],
    ['a parameter of another type', { params: [1] }],
    ['another database', { database: 'other' }],
    ['another workgroup', { workgroup: 'analysts' }],
    ['another output location', { outputLocation: 's3://b/results/' }],
    ['a new generation after a retryable failure', { generation: 1 }],
  ])('differs for %s', (_what, change) => {
    expect(clientRequestToken({ ...base, ...change })).not.toBe(clientRequestToken(base));
  });
});

describe('FAILED executions', () => {
  it('are non-retryable failures carrying the engine message', () => {
    const e = classifyFailure(
      {
        State: 'FAILED',
        StateChangeReason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
        AthenaError: { ErrorCategory: 2, ErrorType: 1006, Retryable: false },
      },
      'ticklake',
    );
    expect(e.type).toBe('QueryFailed');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/Column 'nope' cannot be resolved/);
  });

  it('name a missing database as such', () => {
    const e = classifyFailure(
      { State: 'FAILED', StateChangeReason: "SCHEMA_NOT_FOUND: line 1:15: Schema 'nodb' does not exist" },
      'nodb',
    );
    expect(e.type).toBe('MissingDatabase');
    expect(e.message).toMatch(/'nodb' does not exist.*crawl/);
  });

  it('are retried when Athena says its own error is transient', () => {
    const e = classifyFailure(
      {
        State: 'FAILED',
        StateChangeReason: 'Query exhausted resources',
        AthenaError: { ErrorCategory: 1, Retryable: true },
      },
      'x',
    );
    expect(e.type).toBe('QueryFailedRetryable');
    expect(e.retryable).toBe(true);
    const user = classifyFailure(
      { State: 'FAILED', StateChangeReason: 'bad', AthenaError: { ErrorCategory: 2, Retryable: true } },
      'x',
    );
    expect(user.retryable).toBe(false);
  });

  it('the workflow lists exactly the non-retryable types the engines raise', () => {
    expect([...QUERY_NON_RETRYABLE_ERRORS].sort()).toEqual([...NON_RETRYABLE_QUERY_ERRORS].sort());
  });
});
