/** `ticklake query <sql>`: one statement through the query workflow; a table, CSV, JSON or a chart back. */
import { Option, type Command } from 'commander';
import type { CliContext } from './context';
import { createAwsClients, printQueryResult, startQuery } from './lazy';
import { awaitingWorker } from './worker-presence';

export function registerQueryCommand(program: Command, ctx: CliContext): void {
  program
    .command('query')
    .description('run one SQL statement (read-only) on the configured engine')
    .argument('<sql>', 'SQL; use ? for parameters, e.g. "SELECT * FROM ticks WHERE symbol = ?"')
    .option(
      '--param <value>',
      'a value bound to the next ? placeholder; repeat it for each',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .addOption(new Option('--engine <engine>', 'query engine').choices(['duckdb', 'athena']))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .option('--output <file>', 'write the output to this file (csv and json: the whole result)')
    .option('--chart <file>', 'also write a line chart of the whole result (.svg, .png or .html)')
    .option('--x <column>', 'chart: x axis column (default: the first date column)')
    .option('--y <column>', 'chart: y axis column (default: the first numeric column)')
    .option('--series <column>', 'chart: one line per value of this column (default: the first text column)')
    .action(
      async (
        sql: string,
        o: {
          param?: string[];
          engine?: 'duckdb' | 'athena';
          format: 'table' | 'csv' | 'json';
          output?: string;
          chart?: string;
          x?: string;
          y?: string;
          series?: string;
        },
        cmd: Command,
      ) => {
        const g = ctx.globals(cmd);
        const polled = await ctx.warnWithoutWorker(g);
        const h = await startQuery(await ctx.client(g), g.config, sql, o.param ?? [], { engine: o.engine });
        const r = await awaitingWorker(h, g.config.temporal.taskQueue, h.result(), { polled });
        await printQueryResult(
          r,
          {
            format: g.json ? 'json' : o.format,
            output: o.output,
            chart: o.chart,
            chartOptions: { x: o.x, y: o.y, series: o.series },
          },
          createAwsClients(g.config.aws).s3,
        );
      },
    );
}
