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
  summary: 'write Kafka records into the S3 lake (exactly once)',
  startToCloseTimeout: '365 days',
  // A dead worker is noticed within this bound and the activity retried elsewhere.
  heartbeatTimeout: '20 seconds',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: {
    initialInterval: '1 second',
    // Each worker shutdown fails the running attempt (so that another worker takes the activity over),
    // and the sink's activity lives as long as the pipeline: its attempts only grow. A short cap keeps a
    // restarted worker from waiting long for the sink.
    maximumInterval: '5 seconds',
    nonRetryableErrorTypes: ['InvalidSinkConfig', 'SinkLayoutConflict'],
  },
});

const COUNTERS = ['records', 'deadLetters', 'bytes', 'files', 'flushes', 'rewrittenRecords'] as const;

export async function sinkWorkflow(input: SinkWorkflowInput): Promise<void> {
  let paused = input.paused ?? false;
  let draining = false;
  let pausedAt: number | undefined;
  let lastDrainMs: number | undefined;
  let progress: SinkProgress = input.progress ?? {
    records: 0,
    deadLetters: 0,
    bytes: 0,
    files: 0,
    flushes: 0,
    rewrittenRecords: 0,
    partitions: [],
    updatedAt: '',
  };
  // Counters of earlier activity runs (before a pause or continue-as-new) add to the current run's;
  // a retried attempt of the same run carries its predecessor's counters in its heartbeat.
  let base = { ...progress };
  setHandler(pauseSignal, () => {
    if (!paused) pausedAt = Date.now();
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });
  setHandler(sinkProgressSignal, (p) => {
    const next: SinkProgress = { ...p };
    for (const k of COUNTERS) next[k] = (base[k] ?? 0) + (p[k] ?? 0);
    progress = next;
  });
  setHandler(sinkStatusQuery, (): SinkStatus => ({
    ...progress,
    state: draining ? 'draining' : paused ? 'paused' : 'running',
    topic: input.topic,
    lastDrainMs,
  }));

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
    draining = paused;
    scope.cancel();
    await outcome;
    if (draining && pausedAt !== undefined) lastDrainMs = Date.now() - pausedAt;
    draining = false;
  }
}
