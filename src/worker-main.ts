/**
 * `npm run worker` / `npx ticklake worker`: a worker process hosting every workflow and activity.
 * Configuration comes from the environment (see src/config.ts). SIGINT/SIGTERM stop it cleanly:
 * running activities are cancelled, and the sink drains before it exits. With TICKLAKE_DASHBOARD_PORT
 * set it also serves the dashboard (src/dashboard/server.ts) on that port.
 */
import type { Client } from '@temporalio/client';
import { loadConfig } from './config';
import { connectClient } from './adapters/temporal';
import { prepareInfrastructure } from './pipeline';
import { startWorker } from './worker';
import { dashboardOptions } from './dashboard/options';
import { startDashboard, type RunningDashboard } from './dashboard/server';

/** Runs a worker until SIGINT/SIGTERM. */
export async function runWorker(): Promise<void> {
  const config = loadConfig();
  await prepareInfrastructure(config);
  const running = await startWorker(config, { shutdownGraceTime: '10 seconds' });
  console.log(
    `ticklake worker ${process.pid} polling task queue '${config.temporal.taskQueue}' at ${config.temporal.address}`,
  );
  let dashboard: RunningDashboard | undefined;
  let client: Promise<Client> | undefined;
  if (process.env.TICKLAKE_DASHBOARD_PORT) {
    const log = {
      info: (m: string, meta?: Record<string, unknown>) => console.log(`${m} ${meta ? JSON.stringify(meta) : ''}`),
      warn: (m: string, meta?: Record<string, unknown>) =>
        console.warn(`warning: ${m} ${meta ? JSON.stringify(meta) : ''}`),
    };
    dashboard = await startDashboard(
      config,
      () => (client ??= connectClient(config.temporal)),
      dashboardOptions(),
      log,
    );
    console.log(`ticklake dashboard at ${dashboard.url}`);
  }
  const stop = () => {
    console.log('stopping worker...');
    void running.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await running.done;
  await dashboard?.close();
  if (client) await (await client).connection.close();
  await running.shutdown();
}

if (require.main === module) {
  runWorker().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`error: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
