/**
 * `npx ticklake …` (also `npm run cli -- …`): drives ticklake's workflows on Temporal, and the local
 * services. Every command takes --json; errors print one line and exit non-zero (--verbose for more).
 *
 * This file only wires the command groups, one module each: services.ts (services, worker), start.ts,
 * replay.ts, sink.ts, crawl.ts, schedule.ts, query.ts, status.ts, compact.ts, dlq.ts,
 * dashboard.ts. Heavy modules load on first use (lazy.ts): `--help` needs none of them.
 */
import { Command } from 'commander';
import { registerCompactCommands } from './compact';
import { createCliContext, type CliContext } from './context';
import { registerCrawlCommand } from './crawl';
import { registerDashboardCommand } from './dashboard';
import { describeCommands } from './descriptions';
import { registerDlqCommand } from './dlq';
import { errorMessage } from './output';
import { registerQueryCommand } from './query';
import { registerReplayCommands } from './replay';
import { registerScheduleCommands } from './schedule';
import { registerServicesCommands } from './services';
import { registerSinkCommands } from './sink';
import { registerStartCommand } from './start';
import { registerStatusCommand } from './status';

/** The whole command tree; `ctx` gives the commands their configuration and Temporal client. */
export function buildProgram(ctx: CliContext = createCliContext()): Command {
  const program = new Command('ticklake')
    .description('Real-time market data pipeline on Temporal: CSV → Kafka → S3 lake → Glue → SQL')
    .option('--json', 'print machine-readable JSON')
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError();
  registerServicesCommands(program, ctx);
  registerStartCommand(program, ctx);
  registerReplayCommands(program, ctx);
  registerSinkCommands(program, ctx);
  registerCrawlCommand(program, ctx);
  registerScheduleCommands(program, ctx);
  registerQueryCommand(program, ctx);
  registerStatusCommand(program, ctx);
  registerCompactCommands(program, ctx);
  registerDlqCommand(program, ctx);
  registerDashboardCommand(program, ctx);
  return describeCommands(program);
}

export async function main(): Promise<void> {
  const ctx = createCliContext();
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    console.error(`error: ${errorMessage(err)}`);
    if (program.opts<{ verbose?: boolean }>().verbose) console.error(err);
    process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

if (require.main === module) void main();
