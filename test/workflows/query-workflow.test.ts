/** The query workflow with a mocked query activity: cancelling the workflow stops the engine's query. */
import { CancelledFailure, Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { QueryInput, QueryResult } from '../../activities/types';
import { queryWorkflow } from '../../workflows';
import { deferred, until, workflowTestbed, type WorkflowTestbed } from './support';

jest.setTimeout(120_000);

let tb: WorkflowTestbed;
beforeAll(async () => {
  tb = await workflowTestbed();
});
afterAll(() => tb?.teardown());

const input: QueryInput = {
  sql: 'SELECT count(*) FROM ticks',
  database: 'ticklake',
  engine: 'duckdb',
  maxRows: 100,
  bucket: 'ticklake',
};

test('cancelling the workflow cancels the running query and waits for it to stop', async () => {
  let started = false;
  const stopped = deferred<string>();
  const activities = {
    async runQuery(): Promise<QueryResult> {
      started = true;
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 100);
      try {
        await ctx.cancelled;
        throw new Error('unreachable');
      } catch (err) {
        // The engine's query is stopped here (StopQueryExecution, DuckDB interrupt).
        stopped.resolve(err instanceof CancelledFailure ? 'cancelled' : String(err));
        throw err;
      } finally {
        clearInterval(beat);
      }
    },
  };
  await tb.withWorker(activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start(queryWorkflow, {
      taskQueue,
      workflowId: `query/${taskQueue}`,
      args: [input],
    });
    await until('the query to run', () => started);
    await h.cancel();
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // WAIT_CANCELLATION_COMPLETED: the workflow ended only after the activity had stopped its query.
    expect(await stopped.promise).toBe('cancelled');
  });
});

test('a statement the engine refuses fails the workflow without retries', async () => {
  let calls = 0;
  const activities = {
    runQuery(): Promise<QueryResult> {
      calls++;
      return Promise.reject(ApplicationFailure.create({ message: 'query refused: a write', type: 'QueryRefused' }));
    },
  };
  await tb.withWorker(activities, async (taskQueue) => {
    const err = await tb.env.client.workflow
      .execute(queryWorkflow, { taskQueue, workflowId: `query/${taskQueue}`, args: [input] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(calls).toBe(1);
  });
});

test.each([
  ['no input at all', undefined, 'expected an object'],
  ['no SQL', { ...input, sql: '' }, "'sql' must be a non-empty string"],
  ['an unknown engine', { ...input, engine: 'spark' }, "'engine' must be one of 'duckdb', 'athena'"],
])('bad input (%s) fails the workflow with InvalidWorkflowInput', async (_what, bad, message) => {
  let calls = 0;
  const activities = {
    runQuery(): Promise<QueryResult> {
      calls++;
      return Promise.reject(new Error('not called'));
    },
  };
  await tb.withWorker(activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start('queryWorkflow', {
      taskQueue,
      workflowId: `query/${taskQueue}`,
      args: bad === undefined ? [] : [bad],
    });
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidWorkflowInput');
    expect(cause.message).toContain(message);
    expect(calls).toBe(0);
  });
});
