/** `ticklake compact now|status`: the curated zone's compaction, and what it holds and what waits. */
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { CompactResult } from '../../activities/types';
import { compactLine, mb, type CompactReport } from '../compact/summary';

export { compactLine };
import type { TicklakeConfig } from '../config';
import { compactReport, durationMs, startCompaction } from './lazy';
import { fields, print, table, type OutputOptions } from './output';

export interface CompactCommandContext {
  globals(cmd: Command): OutputOptions & { config: TicklakeConfig };
  client(g: { config: TicklakeConfig }): Promise<Client>;
}

function reportText(r: CompactReport): string {
  const parts = [
    fields([
      ['table', r.table],
      ['state generation', r.generation],
      [
        'curated',
        `${r.totals.rows} rows in ${r.totals.partitions} partitions, ${mb(r.totals.parquetBytes)} Parquet (raw ${mb(r.totals.rawBytesReplaced)})`,
      ],
      [
        'last compaction',
        r.last
          ? `${r.last.finishedAt}: ${r.last.windows} windows, ${r.last.rows} rows, ${r.last.rawObjects} raw objects ${mb(r.last.rawBytes)} -> ${mb(r.last.parquetBytes)} Parquet, ${r.last.durationMs} ms`
          : 'never',
      ],
      [
        'waiting',
        `${r.cutsWaiting} sink cuts not compacted yet; ${r.retirementsWaiting} compacted windows keep their raw objects (RAW_RETENTION)`,
      ],
      [
        'schedule',
        r.schedule
          ? `every ${r.schedule.every}${r.schedule.paused ? ' (paused)' : `, next ${r.schedule.next ?? '?'}`}`
          : 'none',
      ],
    ]),
  ];
  if (r.failures.length > 0)
    parts.push(
      `windows that stay raw until fixed:\n${table(
        ['partition', 'type', 'reason'],
        r.failures.map((f) => [f.partition, f.type, f.message]),
      )}`,
    );
  return parts.join('\n');
}

function resultText(r: CompactResult): string {
  return fields([
    ['generation', r.generation],
    ['windows compacted', r.windows],
    ['rows', r.rows],
    ['raw', `${r.rawObjects} objects, ${mb(r.rawBytes)}`],
    ['parquet written', mb(r.parquetBytes)],
    ['duration', `${r.durationMs} ms`],
    ['failed windows', r.failed.map((f) => `${f.partition}: ${f.message}`).join('; ') || 'none'],
    ['curated now', `${r.totals.rows} rows in ${r.totals.partitions} partitions, ${mb(r.totals.parquetBytes)}`],
    ...(r.note ? ([['note', r.note]] as [string, string][]) : []),
  ]);
}

export function registerCompactCommands(program: Command, ctx: CompactCommandContext): void {
  const compact = program
    .command('compact')
    .description('the curated Parquet zone: compact raw windows, show its state');
  compact
    .command('now')
    .description('start a compaction of the table now (compactWorkflow, id compact/<database>.<table>)')
    .option('--wait', 'wait for it and print its result')
    .option('--quiet <duration>', "compact cuts written at least this long ago (default COMPACT_QUIET), e.g. '0s'")
    .action(async (o: { wait?: boolean; quiet?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const c = await ctx.client(g);
      const h = await startCompaction(c, g.config, o.quiet !== undefined ? { quietMs: durationMs(o.quiet) } : {});
      if (!o.wait) {
        print(g, { workflowId: h.workflowId }, () => `started ${h.workflowId}`);
        return;
      }
      const r = await h.result();
      print(g, r, () => resultText(r));
    });
  compact
    .command('status')
    .description('what the curated zone holds, the last compaction, what waits, windows that fail')
    .action(async (_o, cmd: Command) => {
      const g = ctx.globals(cmd);
      const c = await ctx.client(g).catch(() => undefined);
      const r = await compactReport(g.config, c);
      print(g, r, () => reportText(r));
    });
}
