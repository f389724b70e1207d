/** The replay workflow: runs the produce activity and steers it (pause, resume, speed). */
import {
  ActivityFailure,
  CancellationScope,
  TimeoutFailure,
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
import type { ReplayOrder } from '../src/replay/ordered-rows';
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
  /** 'file' (default) or 'market' (all symbols of a trading date together, dates ascending). Fixed for a replay id. */
  order?: ReplayOrder;
  loop?: boolean;
  /** Start paused. */
  paused?: boolean;
  /** Rows per Kafka transaction at full speed (default 20,000). */
  batchSize?: number;
  /** Carried over continue-as-new. */
  progress?: ReplayProgress;
}

/** Failure types of the produce activity that no retry can fix. */
export const REPLAY_NON_RETRYABLE = ['InvalidSourceFile', 'SourceChanged', 'InvalidReplayInput'];

const { produceTicks } = proxyActivities<Activities>({
  summary: 'stream CSV rows into Kafka (exactly once)',
  startToCloseTimeout: '7 days',
  // The activity heartbeats twice a second from a timer; a killed worker's attempt is retried elsewhere after this.
  heartbeatTimeout: '10 seconds',
  // Cancellation (pause, speed change) waits for the activity to settle its last transaction.
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: {
    initialInterval: '1 second',
    // Every attempt resumes from the committed position, so retrying often costs nothing.
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: REPLAY_NON_RETRYABLE,
  },
});

export async function replayWorkflow(input: ReplayInput): Promise<ReplayProgress> {
  const replayId = input.replayId ?? workflowInfo().workflowId;
  const order: ReplayOrder = input.order ?? 'file';
  let speed: ReplaySpeed = input.speed ?? { mode: 'max' };
  let paused = input.paused ?? false;
  let restart = false;
  let progress: ReplayProgress = input.progress ?? {
    rowsRead: 0,
    produced: 0,
    rejected: 0,
    position: 0,
    line: 0,
    pass: 0,
    order,
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
    { validator: (next: ReplaySpeed) => validateSpeed(next) },
  );
  setHandler(replayProgressQuery, (): ReplayStatus => ({
    ...progress,
    rate: paused ? 0 : progress.rate,
    state: progress.done ? 'completed' : paused ? 'paused' : 'running',
    speed,
    file: input.file,
  }));

  // An endless (loop) replay keeps one activity running: the workflow stops it when the history grows
  // long and continues as new; the activity resumes from the committed position.
  const historyFull = () => workflowInfo().continueAsNewSuggested;
  for (;;) {
    if (paused) await condition(() => !paused);
    if (historyFull()) {
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
        order,
        loop: input.loop ?? false,
        batchSize: input.batchSize,
        progressWorkflowId: workflowInfo().workflowId,
      }),
    );
    let finished: ReplayProgress | undefined;
    let stopping = false;
    const outcome = run.then(
      (p) => (finished = p),
      (err: unknown) => {
        // A cancellation this loop did not ask for is the workflow's own: it ends the replay.
        if (isCancellation(err) && stopping) return;
        // An attempt that dies while being stopped times out instead of confirming the stop: it is stopped all the same.
        if (stopping && err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) return;
        throw err;
      },
    );
    await Promise.race([outcome, condition(() => paused || restart || historyFull())]);
    if (finished) {
      progress = finished;
      return progress;
    }
    stopping = true;
    scope.cancel();
    await outcome;
    if (finished) {
      progress = finished;
      return progress;
    }
  }
}
