/**
 * `npx ticklake replay list` and `replay cancel ID`, and the steering of a replay (pause, resume,
 * speed) that both `replay pause|resume|speed` and the dashboard's controls send.
 */
import type { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TicklakeConfig } from '../config';
import { SEARCH_ATTRIBUTES, workflowIds } from '../workflow-ids';
import { describeSpeed, parseSpeed, type ReplaySpeed } from '../replay/pacing';
import { pauseSignal, resumeSignal, setSpeedUpdate } from '../../workflows/definitions';
import { fields, table, type OutputOptions } from './output';

export interface ReplayCommandContext {
  globals(cmd: Command): OutputOptions & { config: TicklakeConfig };
  client(g: { config: TicklakeConfig }): Promise<Client>;
}

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

export function registerReplayCommands(replay: Command, ctx: ReplayCommandContext): void {
  replay
    .command('list')
    .description('list every replay: id, state, file, when it started and ended')
    .action(async (_o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const all = await listReplays(await ctx.client(g));
      if (g.json) {
        console.log(JSON.stringify(all, null, 2));
        return;
      }
      console.log(
        all.length === 0
          ? 'no replays yet: npx ticklake replay start <file>'
          : table(
              ['replay', 'state', 'file', 'started', 'ended'],
              all.map((r) => [r.replayId, r.status, r.source ?? '', r.started, r.closed ?? '']),
            ),
      );
    });
  replay
    .command('cancel')
    .description('stop a replay for good (what it committed stays; pause keeps it resumable instead)')
    .argument('<replayId>', 'replay id (e.g. sample) or workflow id')
    .action(async (id: string, _o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const c = await ctx.client(g);
      const h = c.workflow.getHandle(id.startsWith('replay/') ? id : workflowIds.replay(id));
      const before = await h.describe();
      if (before.status.name !== 'RUNNING') {
        throw new Error(`${h.workflowId} is not running (${before.status.name.toLowerCase()}); nothing to cancel`);
      }
      await h.cancel();
      // The replay stops its producer (its last transaction settles) before the workflow closes.
      const deadline = Date.now() + 15_000;
      let status: string = before.status.name;
      while (Date.now() < deadline) {
        status = (await h.describe()).status.name;
        if (status !== 'RUNNING') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const state = status === 'RUNNING' ? 'cancel requested' : status.toLowerCase();
      const out = { workflowId: h.workflowId, state };
      if (g.json) console.log(JSON.stringify(out, null, 2));
      else
        console.log(
          status === 'RUNNING'
            ? `${h.workflowId}: cancel requested; it stops once a worker settles its last transaction`
            : fields([
                ['replay', h.workflowId],
                ['state', state],
              ]),
        );
    });
}
