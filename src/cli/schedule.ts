/** `ticklake schedule …`: the Temporal Schedule that recrawls the lake. */
import type { Command } from 'commander';
import type { CrawlScheduleInfo } from '../schedules';
import type { CliContext, Globals } from './context';
import {
  createCrawlSchedule,
  crawlScheduleId,
  deleteCrawlSchedule,
  describeCrawlSchedule,
  listCrawlSchedules,
  pauseCrawlSchedule,
  setCrawlScheduleInterval,
  triggerCrawlSchedule,
  unpauseCrawlSchedule,
} from './lazy';
import { fields, print, table } from './output';

export function registerScheduleCommands(program: Command, ctx: CliContext): void {
  const schedule = program.command('schedule').description('the Temporal Schedule that recrawls the lake');
  const showSchedule = (g: Globals, info: CrawlScheduleInfo) =>
    print(g, info, () =>
      fields([
        ['schedule', info.scheduleId],
        ['table', info.table],
        ['every', info.every],
        ['paused', info.paused],
        ['overlap', info.overlap],
        ['runs started', info.actionsTaken ?? 0],
        ['skipped (overlap)', info.skippedOverlap ?? 0],
        ['next runs', info.next.slice(0, 3).join(', ')],
        ['note', info.note ?? ''],
      ]),
    );
  schedule
    .command('create')
    .option('--every <interval>', "how often, e.g. '30s', '5m', '1h'")
    .option('--paused', 'create it paused')
    .action(async (o: { every?: string; paused?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      showSchedule(g, await createCrawlSchedule(await ctx.client(g), g.config, { every: o.every, paused: o.paused }));
    });
  schedule
    .command('update')
    .requiredOption('--every <interval>', "new interval, e.g. '10m'")
    .action(async (o: { every: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      showSchedule(g, await setCrawlScheduleInterval(await ctx.client(g), g.config, o.every));
    });
  schedule.command('pause').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    showSchedule(g, await pauseCrawlSchedule(await ctx.client(g), g.config));
  });
  schedule.command('unpause').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    showSchedule(g, await unpauseCrawlSchedule(await ctx.client(g), g.config));
  });
  schedule.command('trigger').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    showSchedule(g, await triggerCrawlSchedule(await ctx.client(g), g.config));
  });
  schedule.command('describe').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    showSchedule(g, await describeCrawlSchedule(await ctx.client(g), g.config));
  });
  schedule.command('delete').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    await deleteCrawlSchedule(await ctx.client(g), g.config);
    print(g, { deleted: crawlScheduleId(g.config) }, () => `deleted schedule ${crawlScheduleId(g.config)}`);
  });
  schedule.command('list').action(async (_o, cmd: Command) => {
    const g = ctx.globals(cmd);
    const all = await listCrawlSchedules(await ctx.client(g));
    print(g, all, () =>
      table(
        ['schedule', 'table', 'every', 'paused', 'runs', 'next run'],
        all.map((i) => [i.scheduleId, i.table, i.every, i.paused, i.actionsTaken ?? 0, i.next[0] ?? '']),
      ),
    );
  });
}
