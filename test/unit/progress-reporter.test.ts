import type { Client } from '@temporalio/client';
import { createProgressReporter } from '../../activities/progress';

/** A client whose signals are recorded and answered only when the test says so. */
function fakeClient() {
  const sent: { workflowId: string; signal: string; payload: unknown }[] = [];
  const answers: (() => void)[] = [];
  const client = {
    workflow: {
      getHandle: (workflowId: string) => ({
        signal: (signal: string, payload: unknown) => {
          sent.push({ workflowId, signal, payload });
          return new Promise<void>((resolve) => answers.push(resolve));
        },
      }),
    },
  } as unknown as Client;
  return { client, sent, answerAll: () => answers.splice(0).forEach((answer) => answer()) };
}

/** Whether a promise has settled after the pending callbacks have run. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}

describe('progress reporter', () => {
  it('sends one signal per interval and workflow, and always a forced one', async () => {
    const { client, sent, answerAll } = fakeClient();
    const reporter = createProgressReporter(() => Promise.resolve(client), 60_000);
    reporter.report('wf-a', 'progress', { n: 1 });
    reporter.report('wf-a', 'progress', { n: 2 });
    reporter.report('wf-b', 'progress', { n: 3 });
    reporter.report('wf-a', 'progress', { n: 4 }, true);
    await new Promise((r) => setImmediate(r));
    expect(sent.map((s) => [s.workflowId, s.payload])).toEqual([
      ['wf-a', { n: 1 }],
      ['wf-b', { n: 3 }],
      ['wf-a', { n: 4 }],
    ]);
    answerAll();
    await reporter.settled();
  });

  it('settles only when every signal sent has been answered', async () => {
    const { client, sent, answerAll } = fakeClient();
    const reporter = createProgressReporter(() => Promise.resolve(client));
    reporter.report('wf', 'progress', { last: true }, true);
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(1);
    const settled = reporter.settled(60_000);
    expect(await isSettled(settled)).toBe(false);
    answerAll();
    expect(await isSettled(settled)).toBe(true);
    // Nothing in flight: settles at once.
    expect(await isSettled(reporter.settled(60_000))).toBe(true);
  });

  it('stops waiting for a signal that is never answered after the timeout', async () => {
    const { client } = fakeClient();
    const reporter = createProgressReporter(() => Promise.resolve(client));
    reporter.report('wf', 'progress', {}, true);
    const started = Date.now();
    await reporter.settled(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
