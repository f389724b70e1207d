/**
 * The replay workflow's logic with a mocked produce activity: pause keeps the stopped run's progress,
 * resume and setSpeed start a new run at the right speed, the final progress is the result, the
 * setSpeed validator refuses bad speeds, and bad input fails the workflow instead of its task.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ProduceInput, ReplayProgress } from '../../activities/types';
import { replayWorkflow, type ReplayInput } from '../../workflows';
import { pauseSignal, replayProgressQuery, resumeSignal, setSpeedUpdate } from '../../workflows/definitions';
import type { ReplaySpeed } from '../../src/replay/pacing';
import { eventTypes, until, workflowTestbed, type WorkflowTestbed } from './support';
import { replayProgress } from '../support/replay-progress';

jest.setTimeout(120_000);

let tb: WorkflowTestbed;
beforeAll(async () => {
  tb = await workflowTestbed();
});
afterAll(() => tb?.teardown());

const input: ReplayInput = {
  file: '/data/indexProcessed.csv',
  topic: 'ticks',
  dlqTopic: 'ticks.dlq',
  positionsTopic: 'ticklake.replay-positions',
};

function progress(produced: number, done: boolean): ReplayProgress {
  return replayProgress(produced, { rate: 100, done, updatedAt: 'x' });
}

/**
 * A produce activity: each run adds 10 rows; it runs until cancelled (returning where it stopped),
 * except the run number `finishOn`, which completes the file.
 */
function mockProduce(finishOn: number) {
  const runs: ProduceInput[] = [];
  return {
    runs,
    activities: {
      async produceTicks(i: ProduceInput): Promise<ReplayProgress> {
        runs.push(i);
        const produced = runs.length * 10;
        if (runs.length === finishOn) return progress(produced, true);
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(progress(produced, false)), 100);
        try {
          await ctx.cancelled;
        } catch {
          // stopped by the workflow
        } finally {
          clearInterval(beat);
        }
        return progress(produced, false);
      },
    },
  };
}

test('pause keeps the stopped run progress, setSpeed restarts at the new speed, the end is the result', async () => {
  const produce = mockProduce(3);
  await tb.withWorker(produce.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start(replayWorkflow, {
      taskQueue,
      workflowId: `replay/${taskQueue}`,
      args: [input],
    });
    await until('the first run', () => produce.runs.length === 1);
    // What the Web UI offers a user: pause and resume, the setSpeed update, no internal signal.
    const meta = await h.query<{
      definition?: { signalDefinitions?: { name: string }[]; updateDefinitions?: { name: string }[] };
    }>('__temporal_workflow_metadata');
    expect(meta.definition?.signalDefinitions?.map((d) => d.name).sort()).toEqual(['pause', 'resume']);
    expect(meta.definition?.updateDefinitions?.map((d) => d.name)).toEqual(['setSpeed']);
    await h.signal(pauseSignal);
    const paused = await until('the replay to pause', async () => {
      const p = await h.query(replayProgressQuery);
      return p.state === 'paused' && p.produced === 10 && p;
    });
    expect(paused).toMatchObject({ rate: 0, speed: { mode: 'max' }, file: input.file });
    await h.signal(resumeSignal);
    await until('the second run', () => produce.runs.length === 2);
    const speed: ReplaySpeed = { mode: 'rows', rowsPerSecond: 50 };
    expect(await h.executeUpdate(setSpeedUpdate, { args: [speed] })).toEqual(speed);
    const result = await h.result();
    expect(result).toMatchObject({ produced: 30, done: true });
    expect(produce.runs.map((r) => r.speed)).toEqual([{ mode: 'max' }, { mode: 'max' }, speed]);
    expect(produce.runs[0]).toMatchObject({ replayId: h.workflowId, order: 'file', loop: false });
    expect((await h.query(replayProgressQuery)).state).toBe('completed');
    const types = await eventTypes(tb.env, h.workflowId);
    expect(types.filter((t) => t === 'workflowExecutionSignaledEventAttributes')).toHaveLength(2);
  });
});

test.each([
  ['no speed', undefined],
  ['a rate of 0', { mode: 'rows', rowsPerSecond: 0 }],
  ['an unknown mode', { mode: 'warp' }],
])('setSpeed refuses %s and the replay runs on', async (_what, speed) => {
  const produce = mockProduce(0);
  await tb.withWorker(produce.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start(replayWorkflow, {
      taskQueue,
      workflowId: `replay/${taskQueue}`,
      args: [input],
    });
    await until('the first run', () => produce.runs.length === 1);
    const err = await h.executeUpdate(setSpeedUpdate, { args: [speed as ReplaySpeed] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String((err as WorkflowUpdateFailedError).cause?.message)).toMatch(/setSpeed takes/);
    expect((await h.query(replayProgressQuery)).state).toBe('running');
    expect(produce.runs).toHaveLength(1);
    await h.terminate('test over');
  });
});

test.each([
  ['no input at all', undefined, 'expected an object'],
  ['an empty object', {}, "'file' is missing"],
  ['a bad order', { ...input, order: 'random' }, "'order' must be one of 'file', 'market'"],
  ['a bad speed', { ...input, speed: { mode: 'rows', rowsPerSecond: -1 } }, "'speed' must be a valid speed"],
])('bad input (%s) fails the workflow with InvalidWorkflowInput', async (_what, bad, message) => {
  const produce = mockProduce(1);
  await tb.withWorker(produce.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start('replayWorkflow', {
      taskQueue,
      workflowId: `replay/${taskQueue}`,
      args: bad === undefined ? [] : [bad],
    });
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('InvalidWorkflowInput');
    expect(cause.message).toContain(message);
    expect(produce.runs).toHaveLength(0);
  });
});
