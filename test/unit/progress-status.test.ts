/** replayStatus and sinkStatus: the workflow's answer and the running activity's heartbeat, combined. */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ReplayProgress } from '../../activities/types';
import { replayStatus, sinkStatus } from '../../src/progress';
import { replayProgress } from '../support/replay-progress';
import type { ReplayStatus, SinkStatus } from '../../workflows/definitions';

/** A handle whose describe shows this pending activity (with these heartbeat details), or none. */
function handle(activity?: { type: string; details: unknown }): WorkflowHandle {
  const pendingActivities = activity
    ? [
        {
          activityType: { name: activity.type },
          attempt: 1,
          heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload(activity.details)] },
        },
      ]
    : [];
  return {
    describe: () => Promise.resolve({ raw: { pendingActivities } }),
    client: { options: { loadedDataConverter: { payloadConverter: defaultPayloadConverter } } },
  } as unknown as WorkflowHandle;
}

/** The workflow's answers in turn (the last one repeated), and how many were asked. */
function answers<S>(...list: S[]) {
  let asked = 0;
  return {
    ask: () => Promise.resolve(list[Math.min(asked++, list.length - 1)]),
    asked: () => asked,
  };
}

const progress = (produced: number): ReplayProgress => replayProgress(produced, { order: 'market' });

const replay = (state: ReplayStatus['state'], produced: number): ReplayStatus => ({
  ...progress(produced),
  state,
  speed: { mode: 'max' },
  file: 'ticks.csv',
});

describe('replayStatus', () => {
  it('asks again when no activity runs: a run that ended between the answer and describe shows its result', async () => {
    // Paused: the first answer predates the stopped run's result (0 before the first stop).
    const a = answers(replay('paused', 0), replay('paused', 3912));
    const status = await replayStatus(handle(), a.ask);
    expect(status).toMatchObject({ state: 'paused', produced: 3912 });
    expect(a.asked()).toBe(2);
  });

  it('takes a completed replay from its one answer', async () => {
    const a = answers(replay('completed', 104_224));
    expect(await replayStatus(handle(), a.ask)).toMatchObject({ state: 'completed', produced: 104_224 });
    expect(a.asked()).toBe(1);
  });

  it("takes a running replay's progress from its activity's heartbeat, with one answer", async () => {
    const a = answers(replay('running', 100));
    const status = await replayStatus(handle({ type: 'produceTicks', details: progress(5000) }), a.ask);
    expect(status).toMatchObject({ state: 'running', produced: 5000 });
    expect(a.asked()).toBe(1);
  });
});

describe('sinkStatus', () => {
  const sink = (state: SinkStatus['state'], records: number) =>
    ({ state, topic: 'ticks', records, deadLetters: 0 }) as unknown as SinkStatus;

  it('asks again when no activity runs: a paused sink shows the counters of the run that ended', async () => {
    const a = answers(sink('paused', 10), sink('paused', 20));
    expect(await sinkStatus(handle(), a.ask)).toMatchObject({ state: 'paused', records: 20 });
    expect(a.asked()).toBe(2);
  });
});
