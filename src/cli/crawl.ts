/** `ticklake crawl now`: one crawl of the configured table, through its crawl workflow. */
import type { Command } from 'commander';
import { workflowIds } from '../workflow-ids';
import type { CliContext } from './context';
import { runCrawl } from './lazy';
import { fields, print } from './output';
import { awaitingWorker } from './worker-presence';

export function registerCrawlCommand(program: Command, ctx: CliContext): void {
  program
    .command('crawl')
    .description('update the Glue catalog from the lake')
    .command('now')
    .action(async (_o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const polled = await ctx.warnWithoutWorker(g);
      const c = await ctx.client(g);
      const r = await awaitingWorker(
        c.workflow.getHandle(workflowIds.crawl(g.config.glue.database, g.config.glue.table)),
        g.config.temporal.taskQueue,
        runCrawl(c, g.config),
        { polled },
      );
      print(g, r, () =>
        fields([
          ['table', `${r.database}.${r.table}`],
          ['scan', r.reason ? `${r.scan} (${r.reason})` : r.scan],
          ['table created', r.tableCreated],
          ['partitions added', r.partitionsAdded],
          // A full scan sees every partition; an incremental one only those with new data.
          [r.scan === 'full' ? 'partitions in lake' : 'partitions with new data', r.partitionsFound],
          ['objects read', r.objectsRead],
          ['columns', r.columns.map((c) => `${c.name}:${c.type}`).join(', ')],
          ['drift', r.drift.join('; ') || 'none'],
        ]),
      );
    });
}
