/**
 * Reading a replay's or a sink's progress, and a workflow's health, from a client (the CLI, `npm
 * start`, tests, benchmarks).
 *
 * The long-running activities carry their progress in heartbeat details, not in signals to their
 * workflow (which would grow its history by thousands of events an hour): the Web UI shows them under
 * Pending Activities, and `describe` returns them. A workflow's query answers its own state (running,
 * paused, speed, ...) and the progress of the activity runs that have ended; {@link replayStatus} and
 * {@link sinkStatus} combine the two, as `temporal workflow describe` and the Web UI show them.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { ReplayProgress, SinkProgress } from '../activities/types';
import { addSinkCounters } from './sink/progress';
import { replayProgressQuery, sinkStatusQuery, type ReplayStatus, type SinkStatus } from '../workflows/definitions';

/** The running attempt of a workflow's activity, as `describe` shows it. */
export interface ActivityState<T> {
  activityType: string;
  /** 1 for the first attempt; more after failures (a worker's restart is one). */
  attempt: number;
  /** Decoded heartbeat details: the activity's progress, if it has heartbeated. */
  details?: T;
  /** Why the previous attempt failed, if one did. */
  lastFailure?: string;
}

/** The pending activity of this type of a workflow, with its heartbeat details decoded; undefined if none. */
export async function pendingActivity<T>(
  h: WorkflowHandle,
  activityType: string,
): Promise<ActivityState<T> | undefined> {
  const d = await h.describe();
  const pending = (d.raw.pendingActivities ?? []).find((a) => a.activityType?.name === activityType);
  if (!pending) return undefined;
  const payload = pending.heartbeatDetails?.payloads?.[0];
  const converter = h.client.options.loadedDataConverter.payloadConverter;
  return {
    activityType,
    attempt: pending.attempt ?? 1,
    details: payload ? converter.fromPayload<T>(payload) : undefined,
    lastFailure: pending.lastFailure?.message ?? undefined,
  };
}

type Ask<S> = (h: WorkflowHandle) => Promise<S>;

/**
 * The workflow's answer when no activity runs. The first answer may predate the end of a run that
 * ended before `describe` (a pause, a speed change, the end of the file): the workflow then holds that
 * run's result, which a second answer shows. A paused replay would otherwise read as having produced
 * what it had at its previous stop (0 before the first).
 */
async function afterRun<S extends { state: string }>(h: WorkflowHandle, first: S, ask: Ask<S>): Promise<S> {
  return first.state === 'completed' ? first : ask(h);
}

/** A replay's state and its live progress (the running activity's last heartbeat, else the workflow's). */
export async function replayStatus(
  h: WorkflowHandle,
  ask: Ask<ReplayStatus> = (w) => w.query(replayProgressQuery),
): Promise<ReplayStatus & { activity?: ActivityState<ReplayProgress> }> {
  // The query first: a run that ends in between then shows its last heartbeat, not a stale state.
  const status = await ask(h);
  const activity = await pendingActivity<ReplayProgress>(h, 'produceTicks');
  const live = activity?.details;
  if (!activity) return { ...(await afterRun(h, status, ask)), activity };
  if (!live || status.state === 'completed') return { ...status, activity };
  return {
    ...status,
    ...live,
    rate: status.state === 'paused' ? 0 : live.rate,
    state: status.state,
    speed: status.speed,
    file: status.file,
    activity,
  };
}

/**
 * A sink's state and its live progress: the counters of the activity runs that have ended (the
 * query) plus the running one's (its last heartbeat), with its offsets and lag per partition.
 */
export async function sinkStatus(
  h: WorkflowHandle,
  ask: Ask<SinkStatus> = (w) => w.query(sinkStatusQuery),
): Promise<SinkStatus & { activity?: ActivityState<SinkProgress> }> {
  const status = await ask(h);
  const activity = await pendingActivity<SinkProgress>(h, 'sinkToLake');
  const live = activity?.details;
  if (!activity) return { ...(await afterRun(h, status, ask)), activity };
  if (!live) return { ...status, activity };
  return {
    ...addSinkCounters(status, live),
    state: status.state,
    topic: status.topic,
    lastDrainMs: status.lastDrainMs,
    activity,
  };
}

/** How a workflow is doing, as far as its execution goes (not its business). */
export type WorkflowHealth =
  | { state: 'running' }
  /** Running, but its workflow task fails again and again: it does nothing until the code or input is fixed. */
  | { state: 'stuck'; failure: string; attempts: number }
  | { state: 'completed' }
  | { state: 'failed' | 'terminated' | 'canceled' | 'timed_out' | 'continued_as_new'; failure?: string };

/**
 * Whether a workflow runs, is stuck on a failing workflow task (a bug, or input of an earlier version
 * that the code cannot read), or how it ended and why.
 */
export async function workflowHealth(h: WorkflowHandle): Promise<WorkflowHealth> {
  const d = await h.describe();
  const status = d.status.name;
  if (status === 'RUNNING') {
    const task = d.raw.pendingWorkflowTask;
    // A workflow task is retried after it fails; a second attempt means the first one failed.
    if (task && (task.attempt ?? 1) > 1) {
      return { state: 'stuck', attempts: task.attempt ?? 2, failure: await lastTaskFailure(h, d.runId) };
    }
    return { state: 'running' };
  }
  if (status === 'COMPLETED') return { state: 'completed' };
  const failure = await h.result().then(
    () => undefined,
    (err: unknown) => innermostMessage(err),
  );
  return { state: status.toLowerCase() as 'failed', failure };
}

/** The message of a workflow's last failed workflow task, from the end of its history. */
async function lastTaskFailure(h: WorkflowHandle, runId: string): Promise<string> {
  const res = await h.client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: h.client.options.namespace,
    execution: { workflowId: h.workflowId, runId },
    maximumPageSize: 50,
  });
  for (const e of res.history?.events ?? []) {
    const failure = e.workflowTaskFailedEventAttributes?.failure;
    if (failure) return failure.message ?? 'workflow task failed';
  }
  return 'workflow task failed (see the workflow in the Web UI)';
}

/** The message of the innermost cause of a client-side error (a workflow failure wraps its cause). */
function innermostMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
