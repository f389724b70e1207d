import type { QueryDefinition, WorkflowHandle } from '@temporalio/client';
import { ask, awaitingWorker, LIVE_POLLER_S, livePollers, NoWorkerError } from '../../src/cli/worker-presence';

const at = (seconds: number) => ({ lastAccessTime: { seconds: { toString: () => String(seconds) } } });

describe('live pollers', () => {
  const now = 1_800_000_000_000;
  const s = now / 1000;

  it('counts pollers that polled within the last minute and a bit', () => {
    expect(livePollers([at(s - 3), at(s - 60), at(s - LIVE_POLLER_S + 1)], now)).toBe(3);
  });

  it('does not count a worker gone: its poller lingers in the listing with an old last poll', () => {
    expect(livePollers([at(s - LIVE_POLLER_S), at(s - 240)], now)).toBe(0);
    expect(livePollers([at(s - 240), at(s - 5)], now)).toBe(1);
  });

  it('treats no listing and pollers without a time as none alive', () => {
    expect(livePollers(undefined, now)).toBe(0);
    expect(livePollers([{}, { lastAccessTime: null }], now)).toBe(0);
    expect(livePollers([{ lastAccessTime: { seconds: s - 1 } }], now)).toBe(1);
  });
});

/** A handle whose query and describe answer as the test says. */
function handle(opts: { query?: () => Promise<unknown>; task?: { state: number; ageS: number } }): WorkflowHandle {
  return {
    workflowId: 'query/abc',
    client: { withDeadline: <R>(_deadline: number, fn: () => Promise<R>) => fn() },
    query: opts.query ?? (() => Promise.resolve('answer')),
    describe: () =>
      Promise.resolve({
        raw: {
          pendingWorkflowTask: opts.task && {
            state: opts.task.state,
            scheduledTime: { seconds: Math.floor(Date.now() / 1000) - opts.task.ageS },
          },
        },
      }),
  } as unknown as WorkflowHandle;
}

const grpcError = (code: number, details = '') =>
  Object.assign(new Error('Failed to query Workflow'), { cause: { code, details } });

describe('ask', () => {
  const query = {} as QueryDefinition<string>;

  it("returns the worker's answer", async () => {
    await expect(ask(handle({}), query, 'tq')).resolves.toBe('answer');
  });

  it('says no worker answered when the query runs out of time', async () => {
    const h = handle({ query: () => Promise.reject(grpcError(4)) });
    await expect(ask(h, query, 'tq', 100)).rejects.toThrow(
      new NoWorkerError(
        "no worker answered within 0.1 s on task queue 'tq'; start one with 'npx ticklake worker' (or npm start)",
      ),
    );
    // Before the first workflow task the client reports the deadline as CANCELLED.
    await expect(ask(handle({ query: () => Promise.reject(grpcError(1)) }), query, 'tq', 100)).rejects.toBeInstanceOf(
      NoWorkerError,
    );
  });

  it('says no worker polls when the server has seen none recently', async () => {
    const h = handle({
      query: () => Promise.reject(grpcError(9, 'no poller seen for task queue recently, worker may be down')),
    });
    await expect(ask(h, query, 'tq')).rejects.toThrow(/^no worker polls task queue 'tq'; start one/);
  });

  it('passes other errors on: a deadline error well before the deadline, a missing workflow', async () => {
    await expect(
      ask(handle({ query: () => Promise.reject(grpcError(4)) }), query, 'tq', 5_000),
    ).rejects.not.toBeInstanceOf(NoWorkerError);
    await expect(ask(handle({ query: () => Promise.reject(grpcError(5)) }), query, 'tq', 100)).rejects.toThrow(
      'Failed to query Workflow',
    );
  });
});

describe('awaitingWorker', () => {
  const slow = () => new Promise<string>((r) => setTimeout(() => r('done'), 60));

  it('notes a workflow task that no worker has picked up', async () => {
    const said: string[] = [];
    const h = handle({ task: { state: 1, ageS: 30 } });
    await expect(awaitingWorker(h, 'tq', slow(), { polled: true, ms: 10, say: (l) => said.push(l) })).resolves.toBe(
      'done',
    );
    expect(said).toEqual([
      "note: query/abc is waiting for a worker on task queue 'tq'; start one with 'npx ticklake worker' (or npm start), or press Ctrl-C",
    ]);
  });

  it('says nothing when a worker has the task, when the work ends first, or when the caller already warned', async () => {
    const said: string[] = [];
    const say = (l: string) => said.push(l);
    await awaitingWorker(handle({ task: { state: 2, ageS: 30 } }), 'tq', slow(), { polled: true, ms: 10, say });
    await awaitingWorker(handle({}), 'tq', slow(), { polled: true, ms: 10, say });
    await awaitingWorker(handle({ task: { state: 1, ageS: 30 } }), 'tq', Promise.resolve('quick'), {
      polled: true,
      ms: 10,
      say,
    });
    await awaitingWorker(handle({ task: { state: 1, ageS: 30 } }), 'tq', slow(), { polled: false, ms: 10, say });
    await new Promise((r) => setTimeout(r, 30));
    expect(said).toEqual([]);
  });
});
