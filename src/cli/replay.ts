/**
 * `npx ticklake replay start|pause|resume|speed|status|list|cancel`. The steering itself (pause, resume,
 * speed, the list), which the dashboard's controls send too, is in replay-commands.ts.
 */
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import type { WorkflowHandle } from '@temporalio/client';
import { waitFor, WaitTimeoutError } from '../concurrency';
import { replayIdFor, workflowIds } from '../workflow-ids';
import { parseSpeed } from '../replay/pacing';
import { replayStatus } from '../progress';
import { replayProgressQuery } from '../../workflows/definitions';
import type { ReplayProgress } from '../../activities/types';
import type { CliContext, Globals } from './context';
import { prepareInfrastructure, startReplay } from './lazy';
import { fields, print, table } from './output';
import { listReplays, replayHandle, setReplaySpeed, steerReplay } from './replay-commands';
import { answerUnlessBroken, closedState, replayRows, type ReplayReport } from './reports';
import { ask, awaitingWorker } from './worker-presence';

/**
 * Watches a replay just started for up to `ms`: until it reads its first rows, or ends. Returns the
 * failure of a replay that could not start (a missing file, a header of another schema), so that
 * `replay start` reports it at once instead of "started".
 */
async function startFailure(h: WorkflowHandle, taskQueue: string, ms = 3_000): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  const seen = await waitFor(
    `replay ${h.workflowId} to read its first rows`,
    async () => {
      const closed = await closedState(h).catch(() => undefined);
      if (closed) return { failure: closed.failure };
      const p = await replayStatus(h, (w) =>
        ask(w, replayProgressQuery, taskQueue, Math.max(500, deadline - Date.now())),
      ).catch(() => undefined);
      return p && p.rowsRead > 0 ? { failure: undefined } : undefined;
    },
    ms,
  ).catch((err) => {
    if (err instanceof WaitTimeoutError) return { failure: undefined };
    throw err;
  });
  return seen.failure;
}

async function followReplay(handle: WorkflowHandle, g: Globals, polled: boolean): Promise<ReplayProgress> {
  const bar =
    g.json || !process.stderr.isTTY
      ? undefined
      : new SingleBar(
          { format: 'replay {bar} {value} rows | {rate} rows/s | rejected {rejected}', stream: process.stderr },
          Presets.shades_classic,
        );
  bar?.start(1, 0, { rate: 0, rejected: 0 });
  // One query at a time: without a worker, each waits for its deadline.
  let asking = false;
  const timer = setInterval(() => {
    if (!bar || asking) return;
    asking = true;
    replayStatus(handle, (w) => ask(w, replayProgressQuery, g.config.temporal.taskQueue))
      .then((p) => {
        bar.setTotal(Math.max(p.rowsRead, 1));
        bar.update(p.rowsRead, { rate: p.rate, rejected: p.rejected });
      })
      .catch(() => undefined)
      .finally(() => (asking = false));
  }, 500);
  try {
    return (await awaitingWorker(handle, g.config.temporal.taskQueue, handle.result(), { polled })) as ReplayProgress;
  } finally {
    clearInterval(timer);
    bar?.stop();
  }
}

/** `ticklake replay start|pause|resume|speed|status|list|cancel`. */
export function registerReplayCommands(program: Command, ctx: CliContext): void {
  const replay = program.command('replay').description('start and steer replays');
  replay
    .command('start')
    .argument('<file>', 'CSV of the indexProcessed.csv schema')
    .option('--id <replayId>', 'replay id (default: the file name without extension)')
    .option('--speed <speed>', 'max | <n>rows | <n>days', 'max')
    .option('--loop', 'replay the file again and again')
    .option('--paused', 'start paused')
    .option('--wait', 'wait for the replay to finish, with a progress bar')
    .action(
      async (
        file: string,
        o: { id?: string; speed: string; loop?: boolean; paused?: boolean; wait?: boolean },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const c = await ctx.client(g);
        await prepareInfrastructure(g.config);
        const handle = await startReplay(c, g.config, {
          file,
          replayId: o.id,
          speed: parseSpeed(o.speed),
          loop: o.loop,
          paused: o.paused,
        });
        if (!o.wait) {
          const polled = await ctx.warnWithoutWorker(g);
          const failure = polled && !o.paused ? await startFailure(handle, g.config.temporal.taskQueue) : undefined;
          if (failure) throw new Error(`replay ${handle.workflowId} failed: ${failure}`);
          print(
            g,
            { workflowId: handle.workflowId },
            () => `started ${handle.workflowId} (replay id '${o.id ?? replayIdFor(file)}')`,
          );
          return;
        }
        const result = await followReplay(handle, g, await ctx.warnWithoutWorker(g));
        print(g, result, () =>
          fields([
            ['produced', result.produced],
            ['rejected', result.rejected],
            ['rows read', result.rowsRead],
          ]),
        );
      },
    );
  for (const name of ['pause', 'resume'] as const) {
    replay
      .command(name)
      .argument('<replayId>', 'replay id (e.g. sample) or workflow id')
      .action(async (id: string, _o, cmd: Command) => {
        const g = ctx.globals(cmd);
        const out = await steerReplay(await ctx.client(g), id, name);
        print(g, out, () => `${out.workflowId} ${out.state}`);
      });
  }
  replay
    .command('speed')
    .argument('<replayId>', 'replay id or workflow id')
    .argument('<speed>', 'max | <n>rows | <n>days')
    .action(async (id: string, speedText: string, _o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const out = await setReplaySpeed(await ctx.client(g), id, speedText);
      print(g, out.speed, () => `${out.workflowId} speed set to ${out.described}`);
    });
  replay
    .command('status')
    .argument('<replayId>', 'replay id or workflow id')
    .action(async (id: string, _o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const h = replayHandle(await ctx.client(g), id);
      // A replay that failed or was terminated still answers the query with its last state: say how it ended.
      const closed = await closedState(h);
      const progress = await answerUnlessBroken(
        closed,
        replayStatus(h, (w) => ask(w, replayProgressQuery, g.config.temporal.taskQueue)),
      );
      const s: ReplayReport =
        closed && closed.state !== 'completed'
          ? { ...progress, state: closed.state, failure: closed.failure }
          : progress!;
      print(g, s, () => fields(replayRows(s)));
    });

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
      const status = await waitFor(
        `${h.workflowId} to close`,
        async () => {
          const now = (await h.describe()).status.name;
          return now !== 'RUNNING' && now;
        },
        15_000,
        250,
      ).catch((err) => {
        if (err instanceof WaitTimeoutError) return 'RUNNING';
        throw err;
      });
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
