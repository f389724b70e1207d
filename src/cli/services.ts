/** `ticklake services up|down|status` (the local services) and `ticklake worker`. */
import type { Command } from 'commander';
import type { CliContext } from './context';
import { ensureServices, parseServiceNames, runWorker, serviceStatus, stopServices } from './lazy';
import { print, table } from './output';

export function registerServicesCommands(program: Command, ctx: CliContext): void {
  const services = program.command('services').description('install, start and stop the local services');
  for (const action of ['up', 'down', 'status'] as const) {
    services
      .command(action)
      .argument('[names...]', 'temporal, kafka, s3, moto (default: all)')
      .action(async (names: string[], _o, cmd: Command) => {
        const g = ctx.globals(cmd);
        const selected = parseServiceNames(names);
        const statuses =
          action === 'up'
            ? await ensureServices(selected)
            : action === 'down'
              ? await stopServices(selected)
              : await serviceStatus(selected);
        print(g, statuses, () =>
          table(
            ['service', 'state', 'address', 'pid', 'log'],
            statuses.map((s) => [s.name, s.state, s.url ? `${s.address}  ${s.url}` : s.address, s.pid, s.logFile]),
          ),
        );
        if (action === 'status' && statuses.some((s) => s.state !== 'running')) process.exitCode = 3;
      });
  }

  program
    .command('worker')
    .description('run a worker in the foreground (all workflows and activities)')
    .action(async () => {
      await runWorker();
    });
}
