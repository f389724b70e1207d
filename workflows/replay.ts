/**
 * The replay workflow: runs the produce activity and steers it (pause, resume, speed).
 *
 * Progress stays out of the history: the activity carries it in its heartbeat details (the Web UI
 * shows them under Pending Activities), and clients read them with `describe` (`replayStatus` in
 * src/progress.ts). The `progress` query answers the workflow's own state (state, speed, file) and the
 * progress of the last activity run that ended.
 */
import {
  ActivityFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, ReplayProgress } from '../activities';
import type { ReplaySpeed } from '../src/replay/pacing';
import { validateSpeed } from '../src/replay/pacing';
import type { ReplayOrder } from '../src/replay/ordered-rows';
import { REPLAY_NON_RETRYABLE } from '../src/errors/replay';
import { pauseSignal, replayProgressQuery, resumeSignal, setSpeedUpdate, type ReplayStatus } from './definitions';
import {
  boolean,
  checkInput,
  isRecord,
  nonEmptyString,
  object,
  oneOf,
  optional,
  positiveNumber,
  required,
} from './input-checks';
import { PROGRESS_IN_HEARTBEATS, legacyReplayProgressSignal } from './legacy';

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

export { REPLAY_NON_RETRYABLE };

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

/** Checks the input, so that a bad one fails the workflow instead of its task (see input-checks.ts). */
function checkReplayInput(input: unknown): asserts input is ReplayInput {
  checkInput(
    'replayWorkflow input',
    input,
    {
      replayId: optional(nonEmptyString),
      file: required(nonEmptyString),
      topic: required(nonEmptyString),
      dlqTopic: required(nonEmptyString),
      positionsTopic: required(nonEmptyString),
      speed: optional((v) => speedProblem(v)),
      order: optional(oneOf('file', 'market')),
      loop: optional(boolean),
      paused: optional(boolean),
      batchSize: optional(positiveNumber),
      progress: optional(object),
    },
    'For example { "file": "/path/to/indexProcessed.csv", "topic": "ticks", "dlqTopic": "ticks.dlq", ' +
      '"positionsTopic": "ticklake.replay-positions" }',
  );
}

function speedProblem(v: unknown): string | undefined {
  if (!isRecord(v) || !['max', 'rows', 'days'].includes(v.mode)) {
    return 'one of { "mode": "max" }, { "mode": "rows", "rowsPerSecond": n }, { "mode": "days", "tradingDaysPerSecond": n }';
  }
  try {
    validateSpeed(v as unknown as ReplaySpeed);
    return undefined;
  } catch (err) {
    return `a valid speed (${(err as Error).message})`;
  }
}

/**
 * Replays one CSV file into the tick topic, exactly once (id `replay/<replay id>`); returns the final
 * progress when the file is done (never, with `loop`).
 *
 * Signals `pause` and `resume`; update `setSpeed` (refuses a non-positive rate); query `progress`.
 * Progress is in the activity's heartbeat details; read it with `replayStatus` (src/progress.ts).
 */
export async function replayWorkflow(input: ReplayInput): Promise<ReplayProgress> {
  checkReplayInput(input);
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
  // Runs started before progress moved to heartbeats receive progress signals: keep taking them, so
  // that their histories replay. New runs have no such handler (the Web UI does not offer it).
  if (!patched(PROGRESS_IN_HEARTBEATS)) {
    setHandler(legacyReplayProgressSignal, (p) => {
      if (!progress.done && isRecord(p)) progress = p;
    });
  }
  setHandler(
    setSpeedUpdate,
    (next) => {
      speed = next;
      restart = true;
      return speed;
    },
    {
      validator: (next: ReplaySpeed) => {
        const problem = speedProblem(next);
        if (problem) throw new Error(`setSpeed takes ${problem}`);
      },
    },
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
      }),
    );
    let finished: ReplayProgress | undefined;
    let stopping = false;
    const outcome = run.then(
      // A run stopped by this loop (pause, speed change) returns where it stopped, `done` false.
      (p) => {
        if (p.done || !stopping) finished = p;
        else progress = p;
      },
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
