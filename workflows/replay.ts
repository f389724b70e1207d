/** The replay workflow: runs the produce activity and steers it (pause, resume, speed). */
import {
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ReplayProgress } from '../activities';
import type { ReplaySpeed } from '../src/replay/pacing';
import { validateSpeed } from '../src/replay/pacing';
import {
  pauseSignal,
  replayProgressQuery,
  replayProgressSignal,
  resumeSignal,
  setSpeedUpdate,
  type ReplayStatus,
} from './definitions';

export interface ReplayInput {
  /** Business key of the replay; default: the workflow id. */
  replayId?: string;
  file: string;
  topic: string;
  dlqTopic: string;
  positionsTopic: string;
  speed?: ReplaySpeed;
  loop?: boolean;
  /** Start paused. */
  paused?: boolean;
  /** Carried over continue-as-new. */
  progress?: ReplayProgress;
}

const { produceTicks } = proxyActivities<Activities>({
  startToCloseTimeout: '7 days',
  heartbeatTimeout: '30 seconds',
  // Cancellation must wait for the activity to commit its last transaction.
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: ['InvalidSourceFile', 'SourceChanged'],
  },
});

export async function replayWorkflow(input: ReplayInput): Promise<ReplayProgress> {
  const replayId = input.replayId ?? workflowInfo().workflowId;
  let speed: ReplaySpeed = input.speed ?? { mode: 'max' };
  let paused = input.paused ?? false;
  let restart = false;
  let progress: ReplayProgress = input.progress ?? {
    rowsRead: 0,
    produced: 0,
    rejected: 0,
    line: 0,
    pass: 0,
    rate: 0,
    done: false,
    updatedAt: '',
  };

  setHandler(pauseSignal, () => {
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });
  setHandler(replayProgressSignal, (p) => {
    if (!progress.done) progress = p;
  });
  setHandler(
    setSpeedUpdate,
    (next) => {
      speed = next;
      restart = true;
      return speed;
    },
    { validator: (next) => validateSpeed(next) },
  );
  setHandler(
    replayProgressQuery,
    (): ReplayStatus => ({
      ...progress,
      state: progress.done ? 'completed' : paused ? 'paused' : 'running',
      speed,
      file: input.file,
    }),
  );

  for (;;) {
    if (paused) await condition(() => !paused);
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof replayWorkflow>({ ...input, speed, paused, progress });
    }
    restart = false;
    const scope = new CancellationScope();
    const run = scope.run(() =>
      produceTicks({
        replayId,
        file: input.file,
        topic: input.topic,
        dlqTopic: input.dlqTopic,
        positionsTopic: input.positionsTopic,
        speed,
        loop: input.loop ?? false,
        progressWorkflowId: workflowInfo().workflowId,
      }),
    );
    let finished: ReplayProgress | undefined;
    const outcome = run.then(
      (p) => (finished = p),
      (err: unknown) => {
        if (!isCancellation(err)) throw err;
      },
    );
    await Promise.race([outcome, condition(() => paused || restart)]);
    if (finished) {
      progress = finished;
      return progress;
    }
    scope.cancel();
    await outcome;
    if (finished) {
      progress = finished;
      return progress;
    }
  }
}
