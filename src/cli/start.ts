/** `ticklake start`: the whole pipeline at once (sink, replay, crawl and compaction schedules). */
import path from 'node:path';
import type { Command } from 'commander';
import { REPO_ROOT } from '../repo-root';
import { parseSpeed } from '../replay/pacing';
import type { CliContext } from './context';
import { ensureCompactSchedule, ensureCrawlSchedule, prepareInfrastructure, startReplay, startSink } from './lazy';
import { fields, print } from './output';

export function registerStartCommand(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('start the whole pipeline: sink, replay of a CSV, the crawl and compaction schedules')
    .option('--file <csv>', 'CSV to replay', path.join(REPO_ROOT, 'data', 'sample.csv'))
    .option('--speed <speed>', 'max | <n>rows (rows/s) | <n>days (trading days/s)', 'max')
    .option('--loop', 'replay the file again and again')
    .option('--crawl-every <interval>', "interval of the crawl schedule, e.g. '5m'")
    .option('--no-schedule', 'do not create the crawl and compaction schedules')
    .action(
      async (
        o: { file: string; speed: string; loop?: boolean; crawlEvery?: string; schedule: boolean },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const c = await ctx.client(g);
        await prepareInfrastructure(g.config);
        const sink = await startSink(c, g.config);
        const replay = await startReplay(c, g.config, { file: o.file, speed: parseSpeed(o.speed), loop: o.loop });
        const crawl = o.schedule ? await ensureCrawlSchedule(c, g.config, { every: o.crawlEvery }) : undefined;
        const compact = o.schedule ? await ensureCompactSchedule(c, g.config) : undefined;
        const out = {
          sink: sink.workflowId,
          replay: replay.workflowId,
          schedule: crawl?.scheduleId ?? null,
          compactSchedule: compact?.scheduleId ?? null,
        };
        print(g, out, () =>
          fields([
            ['sink workflow', out.sink],
            ['replay workflow', out.replay],
            ['crawl schedule', crawl ? `${crawl.scheduleId} (every ${crawl.every})` : 'not created'],
            ['compaction schedule', compact ? `${compact.scheduleId} (every ${compact.every})` : 'not created'],
          ]),
        );
        await ctx.warnWithoutWorker(g);
      },
    );
}
