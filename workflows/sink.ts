/**
 * The sink workflow: keeps the sink activity running; pause drains it, resume starts it again.
 *
 * Progress stays out of the history: the activity carries its offsets and counters in its heartbeat
 * details (the Web UI shows them under Pending Activities), and clients read them with `describe`
 * (`sinkStatus` in src/progress.ts). The `status` query answers the workflow's own state and the
 * counters of the activity runs that have ended; a steady sink therefore adds no events to its
 * history, and never needs to continue as new (which would restart the activity under live traffic).
 */
import {
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, SinkInput, SinkProgress } from '../activities';
import { SINK_NON_RETRYABLE } from '../src/errors/sink';
import { addSinkCounters } from '../src/sink/progress';
import { pauseSignal, resumeSignal, sinkStatusQuery, type SinkStatus } from './definitions';
import {
  boolean,
  checkInput,
  isRecord,
  nonEmptyString,
  object,
  optional,
  positiveNumber,
  required,
  stringArray,
} from './input-checks';
import { PROGRESS_IN_HEARTBEATS, legacySinkProgressSignal } from './legacy';

export interface SinkWorkflowInput extends SinkInput {
  /** Start paused (also carried over continue-as-new). */
  paused?: boolean;
  /** Counters of earlier activity runs; carried over continue-as-new. */
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
    nonRetryableErrorTypes: SINK_NON_RETRYABLE,
  },
});

const EMPTY_PROGRESS: SinkProgress = {
  records: 0,
  deadLetters: 0,
  bytes: 0,
  files: 0,
  flushes: 0,
  rewrittenRecords: 0,
  partitions: [],
  updatedAt: '',
};

/** Checks the input, so that a bad one fails the workflow instead of its task (see input-checks.ts). */
function checkSinkInput(input: unknown): asserts input is SinkWorkflowInput {
  checkInput(
    'sinkWorkflow input',
    input,
    {
      topic: required(nonEmptyString),
      groupId: required(nonEmptyString),
      bucket: required(nonEmptyString),
      prefix: required((v) => (typeof v === 'string' ? undefined : 'a string')),
      table: required(nonEmptyString),
      partitionBy: required(stringArray),
      compression: required(nonEmptyString),
      flushMs: required(positiveNumber),
      maxRecords: required(positiveNumber),
      maxBytes: required(positiveNumber),
      maxMessageBytes: optional(positiveNumber),
      maxBufferedBytes: optional(positiveNumber),
      crawl: optional(object),
      paused: optional(boolean),
      progress: optional(object),
    },
    "Start the sink with 'npx ticklake sink start' (it fills the input from the configuration)",
  );
}

/**
 * Runs the S3 sink of one topic for as long as the pipeline lives (id `sink/<topic>`).
 *
 * Signals `pause` (drain: flush, commit, leave the group) and `resume`; query `status`. Progress is
 * in the activity's heartbeat details; read it with `sinkStatus` (src/progress.ts).
 */
export async function sinkWorkflow(input: SinkWorkflowInput): Promise<void> {
  checkSinkInput(input);
  let paused = input.paused ?? false;
  let draining = false;
  let pausedAt: number | undefined;
  let lastDrainMs: number | undefined;
  /** Counters of the activity runs that have ended (each pause ends one). */
  let progress: SinkProgress = input.progress ?? EMPTY_PROGRESS;
  setHandler(pauseSignal, () => {
    if (!paused) pausedAt = Date.now();
    paused = true;
  });
  setHandler(resumeSignal, () => {
    paused = false;
  });
  // Runs started before progress moved to heartbeats receive progress signals: keep taking them, so
  // that their histories replay. New runs have no such handler (the Web UI does not offer it).
  let base = { ...progress };
  if (!patched(PROGRESS_IN_HEARTBEATS)) {
    setHandler(legacySinkProgressSignal, (p) => {
      if (isRecord(p)) progress = addSinkCounters(base, p);
    });
  }
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
    const run = scope.run(() => sinkToLake(sinkInput));
    const outcome = run.then(
      // A drained run returns its final counters.
      (last) => {
        if (last) progress = addSinkCounters(base, last);
      },
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
