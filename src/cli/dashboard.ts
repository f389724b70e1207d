/** `npx ticklake dashboard`: serves the dashboard page until Ctrl-C (src/dashboard/server.ts). */
import { Option, type Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { TicklakeConfig } from '../config';
import { dashboardOptions, startDashboard } from './lazy';
import type { OutputOptions } from './output';

export interface DashboardCommandContext {
  globals(cmd: Command): OutputOptions & { config: TicklakeConfig };
  client(g: { config: TicklakeConfig }): Promise<Client>;
}

export function registerDashboardCommand(program: Command, ctx: DashboardCommandContext): void {
  program
    .command('dashboard')
    .description('serve a live web page of the market and the pipeline (read-only, 127.0.0.1 by default)')
    .option('--host <address>', 'address to listen on; any but loopback needs --token (env TICKLAKE_DASHBOARD_HOST)')
    .option('--port <port>', 'port (env TICKLAKE_DASHBOARD_PORT; default 8300 + TICKLAKE_PORT_OFFSET)')
    .option('--allow-control', 'let the page pause, resume and re-speed replays (env TICKLAKE_DASHBOARD_CONTROL)')
    .addOption(
      new Option('--token <secret>', 'secret the browser must present (env TICKLAKE_DASHBOARD_TOKEN)').env(
        'TICKLAKE_DASHBOARD_TOKEN',
      ),
    )
    .action(async (o: { host?: string; port?: string; allowControl?: boolean; token?: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const options = dashboardOptions({ host: o.host, port: o.port, allowControl: o.allowControl, token: o.token });
      const log = {
        info: (m: string, meta?: Record<string, unknown>) => console.error(`${m} ${meta ? JSON.stringify(meta) : ''}`),
        warn: (m: string, meta?: Record<string, unknown>) =>
          console.error(`warning: ${m} ${meta ? JSON.stringify(meta) : ''}`),
      };
      const running = await startDashboard(g.config, () => ctx.client(g), options, log);
      const mode = options.allowControl ? 'replay controls on' : 'read-only: --allow-control to steer replays';
      if (g.json)
        console.log(JSON.stringify({ url: running.url, port: running.port, allowControl: options.allowControl }));
      else console.log(`ticklake dashboard at ${running.url} (${mode}); Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.close();
    });
}
