/**
 * The sink workflow's logic with a mocked sink activity: pause drains and keeps the drained run's
 * counters, resume starts a new run, counters add up over runs and over continue-as-new, progress
 * never enters the history, and bad input fails the workflow instead of its task.
 */
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { SinkInput, SinkProgress } from '../../activities/types';
import { sinkWorkflow, type SinkWorkflowInput } from '../../workflows';
import { pauseSignal, resumeSignal, sinkStatusQuery } from '../../workflows/definitions';
import { eventTypes, until, workflowTestbed, type WorkflowTestbed } from './support';

jest.setTimeout(120_000);

let tb: WorkflowTestbed;
beforeAll(async () => {
  tb = await workflowTestbed();
});
afterAll(() => tb?.teardown());

const input: SinkWorkflowInput = {
  topic: 'ticks',
  groupId: 'ticklake-sink',
  bucket: 'ticklake',
  prefix: 'lake/',
  table: 'ticks',
  partitionBy: ['symbol', 'year'],
  compression: 'gzip',
  flushMs: 1000,
  maxRecords: 10_000,
  maxBytes: 8 << 20,
};

function progress(records: number): SinkProgress {
  return {
    records,
    deadLetters: 1,
    bytes: records * 10,
    files: 1,
    flushes: 1,
    rewrittenRecords: 0,
    partitions: [],
    updatedAt: 'x',
  };
}

/** A sink activity that heartbeats until cancelled, then returns `records` as its run's counters. */
function mockSink(records: number) {
  const runs: SinkInput[] = [];
  return {
    runs,
    activities: {
      async sinkToLake(i: SinkInput): Promise<SinkProgress> {
        runs.push(i);
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(progress(records)), 100);
        try {
          await ctx.cancelled;
        } catch {
          // cancelled: drain
        } finally {
          clearInterval(beat);
        }
        return progress(records);
      },
    },
  };
}

test('pause drains and keeps the run counters, resume starts a new run; progress stays out of the history', async () => {
  const sink = mockSink(5);
  await tb.withWorker(sink.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start(sinkWorkflow, {
      taskQueue,
      workflowId: `sink/${taskQueue}`,
      args: [input],
    });
    await until('the first run', () => sink.runs.length === 1);
    expect((await h.query(sinkStatusQuery)).state).toBe('running');
    await h.signal(pauseSignal);
    const paused = await until('the sink to pause', async () => {
      const s = await h.query(sinkStatusQuery);
      return s.state === 'paused' && s;
    });
    expect(paused.records).toBe(5);
    expect(paused.lastDrainMs).toBeGreaterThanOrEqual(0);
    await h.signal(resumeSignal);
    await until('the second run', () => sink.runs.length === 2);
    await h.signal(pauseSignal);
    const again = await until('the sink to pause again', async () => {
      const s = await h.query(sinkStatusQuery);
      return s.state === 'paused' && s.records === 10 && s;
    });
    expect(again).toMatchObject({ records: 10, deadLetters: 2, bytes: 100, files: 2, topic: 'ticks' });
    // The activity runs without the workflow's progress plumbing: its input is the sink's settings.
    expect(sink.runs[0]).toEqual(input);
    const types = await eventTypes(tb.env, h.workflowId);
    // Three signals (pause, resume, pause), two activity runs: nothing per heartbeat.
    expect(types.filter((t) => t === 'workflowExecutionSignaledEventAttributes')).toHaveLength(3);
    expect(types.filter((t) => t === 'activityTaskScheduledEventAttributes')).toHaveLength(2);
    // (the patch marker also upserts the TemporalChangeVersion search attribute)
    const allowed =
      /^(workflowTask|workflowExecution(Started|Signaled|Terminated)|activityTask|marker|upsertWorkflowSearchAttributes)/;
    expect(types.filter((t) => !allowed.test(t))).toEqual([]);
    await h.terminate('test over');
  });
});

test('a continued run adds its counters to the carried ones and starts paused when it was', async () => {
  const sink = mockSink(7);
  await tb.withWorker(sink.activities, async (taskQueue) => {
    const h = await tb.env.client.workflow.start(sinkWorkflow, {
      taskQueue,
      workflowId: `sink/${taskQueue}`,
      args: [{ ...input, paused: true, progress: progress(100) }],
    });
    expect(await until('the query', () => h.query(sinkStatusQuery))).toMatchObject({ state: 'paused', records: 100 });
    expect(sink.runs).toHaveLength(0);
    await h.signal(resumeSignal);
    await until('the run', () => sink.runs.length === 1);
    await h.signal(pauseSignal);
    const s = await until('the sink to pause', async () => {
      const st = await h.query(sinkStatusQuery);
      return st.state === 'paused' && st;
    });
    expect(s).toMatchObject({ records: 107, deadLetters: 2, files: 2 });
    await h.terminate('test over');
  });
});

test.each([
  ['no input at all', undefined, 'expected an object'],
  ['an empty object', {}, "'topic' is missing"],
  ['a zero flush interval', { ...input, flushMs: 0 }, "'flushMs' must be a number greater than 0, got 0"],
  ['partitions as a string', { ...input, partitionBy: 'symbol' }, "'partitionBy' must be an array of strings"],
])('bad input (%s) fails the workflow with InvalidWorkflowInput', async (_what, bad, message) => {
  const sink = mockSink(1);
  await tb.withWorker(sink.activities, async (taskQueue) => {
    // By name and with untyped arguments, as the Web UI's Start Workflow form sends them.
    const h = await tb.env.client.workflow.start('sinkWorkflow', {
      taskQueue,
      workflowId: `sink/${taskQueue}`,
      args: bad === undefined ? [] : [bad],
    });
    const err = await h.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidWorkflowInput');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect((cause as ApplicationFailure).message).toContain(message);
    expect(sink.runs).toHaveLength(0);
  });
});
