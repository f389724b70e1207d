/** The sink workflow: keeps the sink activity running; pause drains it, resume starts it again. */
import {
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, SinkInput, SinkProgress } from '../activities';
import { pauseSignal, resumeSignal, sinkProgressSignal, sinkStatusQuery, type SinkStatus } from './definitions';

export interface SinkWorkflowInput extends Omit<SinkInput, 'progressWorkflowId'> {
  paused?: boolean;
  progress?: SinkProgress;
}

const { sinkToLake } = proxyActivities<Activities>({
  startToCloseTimeout: '365 days',
  // A dead worker is noticed within this bound and the activity retried elsewhere.
  heartbeatTimeout: '20 seconds',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '1 second', maximumInterval: '20 seconds', nonRetryableErrorTypes: ['InvalidSinkConfig'] },
});

export async function sinkWorkflow(input: SinkWorkflowInput): Promise<void> {
  let paused = input.paused ?? false;
  let progress: SinkProgress = input.progress ?? {
    records: 0,
    deadLetters: 0,
    bytes: 0,
    files: 0,
    flushes: 0,
    partitions: [],
    updatedAt: '',
  };
  // Counters of earlier activity runs (before a pause or continue-as-new) add to the current run's.
  let base = { ...progress };
  setHandler(pauseSignal, () => {
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });
  setHandler(sinkProgressSignal, (p) => {
    progress = {
      ...p,
      records: base.records + p.records,
      deadLetters: base.deadLetters + p.deadLetters,
      bytes: base.bytes + p.bytes,
      files: base.files + p.files,
      flushes: base.flushes + p.flushes,
    };
  });
  setHandler(sinkStatusQuery, (): SinkStatus => ({ ...progress, state: paused ? 'paused' : 'running', topic: input.topic }));

  const { paused: _p, progress: _q, ...sinkInput } = input;
  for (;;) {
    if (paused) await condition(() => !paused);
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof sinkWorkflow>({ ...input, paused, progress });
    base = { ...progress };
    const scope = new CancellationScope();
    const run = scope.run(() => sinkToLake({ ...sinkInput, progressWorkflowId: workflowInfo().workflowId }));
    const outcome = run.then(
      () => undefined,
      (err: unknown) => {
        if (!isCancellation(err)) throw err;
      },
    );
    await Promise.race([outcome, condition(() => paused || workflowInfo().continueAsNewSuggested)]);
    scope.cancel();
    await outcome;
  }
}
