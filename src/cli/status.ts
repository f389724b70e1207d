/** `ticklake status`: one screen on the workflows, the producer, the sink's lag and the last crawl. */
import type { Command } from 'commander';
import { describeSpeed } from '../replay/pacing';
import type { CrawlScheduleInfo } from '../schedules';
import { workflowIds } from '../workflow-ids';
import { crawlStatusQuery, replayProgressQuery } from '../../workflows/definitions';
import { replayStatus, workflowHealth } from '../progress';
import { compactLine } from './compact';
import type { Client } from '@temporalio/client';
import type { CliContext, Globals } from './context';
import { describeCompactSchedule, describeCrawlSchedule } from './lazy';
import { askBrokerAndLake, type SideAnswers } from './status-side';
import { scheduleSummary } from '../compact/summary';
import { print, table } from './output';
import { crawlLine, sinkReport, sinkRows } from './reports';
import { ask, NoWorkerError } from './worker-presence';

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('one screen: workflows, producer position and rate, sink lag, last crawl')
    .action(async (_o, cmd: Command) => {
      const g = ctx.globals(cmd);
      // The broker and the lake are asked on a second thread while this one loads Temporal's client.
      const side = askBrokerAndLake(g.config);
      try {
        await statusOf(g, await ctx.client(g), side.answers);
      } finally {
        side.stop();
      }
    });
}

/** Asks the workflows and schedules, takes the thread's answers, and prints the screen. */
async function statusOf(g: Globals, c: Client, side: Promise<SideAnswers>): Promise<void> {
  const tq = g.config.temporal.taskQueue;
  // The queries run side by side: without a worker each one waits for its deadline.
  let noWorker: string | undefined;
  /** Notes a query that no worker answered; 'unanswered' for those, undefined for other failures. */
  const noted = (err: unknown) => {
    if (!(err instanceof NoWorkerError)) return undefined;
    noWorker = err.message;
    return 'unanswered' as const;
  };
  // What needs no running workflow's answer is asked at once, beside the rest.
  const crawlScheduleState = describeCrawlSchedule(c, g.config).catch(() => undefined);
  const compactSchedule = describeCompactSchedule(c, g.config).catch(() => undefined);
  const sinkHandle = c.workflow.getHandle(workflowIds.sink(g.config.kafka.topic));
  // Running but unanswered, or not there at all.
  const sinkState = sinkReport(sinkHandle, tq).catch(noted);
  const crawlHandle = c.workflow.getHandle(workflowIds.crawl(g.config.glue.database, g.config.glue.table));
  const crawlState = crawlHandle.describe().then(
    async (d) => ({
      lastCrawl: { status: d.status.name, closed: d.closeTime?.toISOString() },
      // A running crawl workflow lingers for notices between crawls: its own status says what it did.
      crawl: d.status.name === 'RUNNING' ? await ask(crawlHandle, crawlStatusQuery, tq).catch(noted) : undefined,
    }),
    () => ({ lastCrawl: undefined, crawl: undefined }),
  );
  const running: string[] = [];
  for await (const w of c.workflow.list({
    query: `WorkflowType = 'replayWorkflow' AND ExecutionStatus = 'Running'`,
  })) {
    running.push(w.workflowId);
  }
  const replayStates = Promise.all(
    running.map(async (workflowId) => {
      const h = c.workflow.getHandle(workflowId);
      const health = await workflowHealth(h).catch(() => undefined);
      // A replay on a failing workflow task cannot answer: say so, with the failure.
      if (health?.state === 'stuck') return { workflowId, stuck: health.failure, status: undefined };
      // status undefined: a replay that just finished
      return { workflowId, status: await replayStatus(h, (w) => ask(w, replayProgressQuery, tq)).catch(noted) };
    }),
  );
  const { lag, lake } = await side;
  const replayAnswers = await replayStates;
  const replays = replayAnswers.flatMap((r) =>
    r.status && r.status !== 'unanswered' ? [{ workflowId: r.workflowId, ...r.status }] : [],
  );
  const unansweredReplays = replayAnswers.filter((r) => r.status === 'unanswered').map((r) => r.workflowId);
  const stuckReplays = replayAnswers.flatMap((r) =>
    'stuck' in r && r.stuck ? [{ workflowId: r.workflowId, failure: r.stuck }] : [],
  );
  const sinkAnswer = await sinkState;
  const sinkStatus = sinkAnswer === 'unanswered' ? undefined : sinkAnswer;
  const { lastCrawl, crawl: crawlAnswer } = await crawlState;
  const crawl = crawlAnswer === 'unanswered' ? undefined : crawlAnswer;
  const crawlSchedule: CrawlScheduleInfo | undefined = await crawlScheduleState;
  const compaction = lake ? { ...lake, schedule: scheduleSummary(await compactSchedule) } : undefined;
  const data = {
    // Set when a running workflow could not be asked: no worker answered.
    noWorker: noWorker ?? null,
    replays,
    unansweredReplays,
    stuckReplays,
    sink: sinkStatus ?? null,
    sinkUnanswered: sinkAnswer === 'unanswered',
    lag: lag ?? null,
    lastCrawl: lastCrawl ?? null,
    crawl: crawl ?? null,
    schedule: crawlSchedule
      ? { every: crawlSchedule.every, paused: crawlSchedule.paused, next: crawlSchedule.next[0] ?? null }
      : null,
    compaction: compaction ?? null,
  };
  print(g, data, () => {
    const parts: string[] = [];
    if (noWorker) parts.push(`note: ${noWorker}; the running workflows below wait for it`);
    parts.push(
      replays.length === 0 && unansweredReplays.length === 0 && stuckReplays.length === 0
        ? 'replays: none running'
        : table(
            ['replay', 'state', 'speed', 'produced', 'rejected', 'line', 'rows/s'],
            replays
              .map((r) => [r.workflowId, r.state, describeSpeed(r.speed), r.produced, r.rejected, r.line, r.rate])
              .concat(unansweredReplays.map((id) => [id, 'running, no answer', '', '', '', '', '']))
              .concat(stuckReplays.map((r) => [r.workflowId, `stuck: ${r.failure}`, '', '', '', '', ''])),
          ),
    );
    const sinkId = workflowIds.sink(g.config.kafka.topic);
    parts.push(
      sinkStatus
        ? `sink (${sinkId}), as it reports itself:\n${sinkRows(sinkStatus)}`
        : sinkAnswer === 'unanswered'
          ? `sink (${sinkId}): running, no answer`
          : 'sink: not running',
    );
    if (lag) {
      parts.push(
        `consumer group '${g.config.sink.groupId}' on the broker (lag from committed offsets):\n` +
          table(['partition', 'lag'], Object.entries(lag)),
      );
    }
    parts.push(crawlAnswer === 'unanswered' ? 'crawl: running, no answer' : crawlLine(lastCrawl, crawl));
    parts.push(
      crawlSchedule
        ? `crawl schedule: every ${crawlSchedule.every}${crawlSchedule.paused ? ' (paused)' : `, next run ${crawlSchedule.next[0] ?? '?'}`}`
        : 'crawl schedule: none (npx ticklake schedule create)',
    );
    parts.push(compaction ? compactLine(compaction) : 'compaction: state not readable (is the S3 server up?)');
    return parts.join('\n');
  });
}
