/**
 * The commands a replay is sent (pause, resume, speed) and the list of replays: what both the CLI's
 * `replay` commands (replay.ts) and the dashboard's controls use. Imports no lazily loaded module.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { SEARCH_ATTRIBUTES, workflowIds } from '../workflow-ids';
import { describeSpeed, parseSpeed, type ReplaySpeed } from '../replay/pacing';
import { pauseSignal, resumeSignal, setSpeedUpdate } from '../../workflows/definitions';

export interface ReplayListEntry {
  replayId: string;
  workflowId: string;
  status: string;
  source: string | null;
  started: string;
  closed: string | null;
}

/** The replay id of a workflow id `replay/<id>`. */
export function replayIdOf(workflowId: string): string {
  return workflowId.startsWith('replay/') ? workflowId.slice('replay/'.length) : workflowId;
}

/** The handle of a replay from its replay id (`sample`) or workflow id (`replay/sample`). */
export function replayHandle(c: Client, id: string): WorkflowHandle {
  return c.workflow.getHandle(id.startsWith('replay/') ? id : workflowIds.replay(id));
}

/** Pauses or resumes a replay (the `pause` / `resume` signal); returns its workflow id and the state asked for. */
export async function steerReplay(
  c: Client,
  id: string,
  action: 'pause' | 'resume',
): Promise<{ workflowId: string; state: 'paused' | 'resumed' }> {
  const h = replayHandle(c, id);
  await h.signal(action === 'pause' ? pauseSignal : resumeSignal);
  return { workflowId: h.workflowId, state: action === 'pause' ? 'paused' : 'resumed' };
}

/**
 * Sets a replay's speed (`max`, `<n>rows`, `<n>days`) through the `setSpeed` update; returns the speed
 * the replay now runs at. A malformed speed fails before anything is sent.
 */
export async function setReplaySpeed(
  c: Client,
  id: string,
  speedText: string,
): Promise<{ workflowId: string; speed: ReplaySpeed; described: string }> {
  const speed = parseSpeed(speedText);
  const h = replayHandle(c, id);
  const now = await h.executeUpdate(setSpeedUpdate, { args: [speed] });
  return { workflowId: h.workflowId, speed: now, described: describeSpeed(now) };
}

/** Every replay workflow the namespace remembers (the latest run of each id), newest first. */
export async function listReplays(c: Client): Promise<ReplayListEntry[]> {
  const latest = new Map<string, ReplayListEntry>();
  for await (const w of c.workflow.list({ query: `WorkflowType = 'replayWorkflow'` })) {
    const source = w.searchAttributes?.[SEARCH_ATTRIBUTES.source]?.[0];
    const entry: ReplayListEntry = {
      replayId: replayIdOf(w.workflowId),
      workflowId: w.workflowId,
      status: w.status.name.toLowerCase(),
      source: typeof source === 'string' ? source : null,
      started: w.startTime.toISOString(),
      closed: w.closeTime?.toISOString() ?? null,
    };
    const seen = latest.get(w.workflowId);
    if (!seen || seen.started < entry.started) latest.set(w.workflowId, entry);
  }
  return [...latest.values()].sort((a, b) => (a.started < b.started ? 1 : -1));
}
