/**
 * Whether a worker is there to answer: workflows run on the server, but only a worker answers their
 * queries and moves them on. With none running, the CLI says so instead of waiting for the server's
 * timeouts (30 s and more) or in silence.
 *
 * - {@link livePollers}: which of a task queue's pollers, as Temporal lists them, are a live worker;
 * - {@link ask}: a workflow query that gives up after 5 s with a {@link NoWorkerError};
 * - {@link awaitingWorker}: a note on stderr when a workflow's task waits for a worker.
 */
import type { QueryDefinition, WorkflowHandle } from '@temporalio/client';

/**
 * Age (s) of the last poll beyond which a poller is taken for a worker gone. The server lists a
 * worker's poller for minutes after the worker has gone; a running worker polls again at least once a
 * minute (each long poll lasts up to a minute).
 */
export const LIVE_POLLER_S = 75;

/** What to do when no worker runs; every message of this module ends with it. */
export const START_A_WORKER = "start one with 'npx ticklake worker' (or npm start)";

/** A protobuf Timestamp as the client decodes it: `seconds` is a Long (or a number). */
type Timestamp = { seconds?: { toString(): string } | number | null } | null | undefined;

/** Seconds since the epoch of a Timestamp (a Long's decimal string is exact); 0 if absent. */
function epochSeconds(ts: Timestamp): number {
  return Number(String(ts?.seconds ?? 0));
}

export interface PollerInfo {
  lastAccessTime?: Timestamp;
}

/** How many of the pollers polled within the last {@link LIVE_POLLER_S} seconds of `nowMs`. */
export function livePollers(pollers: readonly PollerInfo[] | null | undefined, nowMs: number): number {
  return (pollers ?? []).filter((p) => nowMs / 1000 - epochSeconds(p.lastAccessTime) < LIVE_POLLER_S).length;
}

/**
 * How long a workflow query waits for an answer. Queries are answered by a worker; with none running,
 * the server holds a query for 30 s or more before it fails.
 */
export const QUERY_TIMEOUT_MS = 5_000;
/**
 * gRPC statuses of a query that ran out of time: DEADLINE_EXCEEDED, or CANCELLED when the workflow has
 * not yet had its first task (the client cancels the call at the deadline).
 */
const OUT_OF_TIME = new Set([4, 1]);
/** gRPC status the server answers a query with once it has seen no worker poll the queue for a while. */
const FAILED_PRECONDITION = 9;

/** No worker answered a workflow query in time. */
export class NoWorkerError extends Error {
  override name = 'NoWorkerError';
}

/** A workflow query that gives up after `ms` when no worker answers, saying what to do. */
export async function ask<R>(
  h: WorkflowHandle,
  query: QueryDefinition<R>,
  taskQueue: string,
  ms = QUERY_TIMEOUT_MS,
): Promise<R> {
  const deadline = Date.now() + ms;
  try {
    return await h.client.withDeadline(deadline, () => h.query(query));
  } catch (err) {
    const cause = (err as { cause?: { code?: number; details?: string } }).cause;
    const noPoller = cause?.code === FAILED_PRECONDITION && /no poller/i.test(cause.details ?? '');
    // (gRPC's timer may fire a few milliseconds before the deadline as computed here)
    const outOfTime = OUT_OF_TIME.has(cause?.code ?? -1) && Date.now() >= deadline - 250;
    if (!noPoller && !outOfTime) throw err;
    const what = noPoller ? 'no worker polls' : `no worker answered within ${ms / 1000} s on`;
    throw new NoWorkerError(`${what} task queue '${taskQueue}'; ${START_A_WORKER}`);
  }
}

/** PendingWorkflowTaskState SCHEDULED: a workflow task that no worker has picked up yet. */
const WORKFLOW_TASK_SCHEDULED = 1;

/**
 * Waits for `work` (a workflow's result or an update). When after `ms` the workflow has a task that
 * no worker has picked up for that long, says so once on stderr: with no worker running, the command
 * would otherwise wait in silence. A running worker picks a task up within milliseconds.
 */
export async function awaitingWorker<R>(
  h: WorkflowHandle,
  taskQueue: string,
  work: Promise<R>,
  opts: {
    /** Whether a live poller was seen; without one the caller has said so already. */
    polled: boolean;
    ms?: number;
    say?: (line: string) => void;
  },
): Promise<R> {
  if (!opts.polled) return work;
  const ms = opts.ms ?? 5_000;
  const say = opts.say ?? ((line: string) => console.error(line));
  const timer = setTimeout(() => {
    h.describe()
      .then((d) => {
        const task = d.raw.pendingWorkflowTask;
        const scheduledAt = epochSeconds(task?.scheduledTime) * 1000;
        if (Number(task?.state) !== WORKFLOW_TASK_SCHEDULED || Date.now() - scheduledAt < ms - 1_000) return;
        say(
          `note: ${h.workflowId} is waiting for a worker on task queue '${taskQueue}'; ${START_A_WORKER}, or press Ctrl-C`,
        );
      })
      .catch(() => undefined);
  }, ms);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}
