/**
 * `npm run worker` / `npx ticklake worker`: a worker process hosting every workflow and activity.
 * Configuration comes from the environment (see src/config.ts). SIGINT/SIGTERM stop it cleanly:
 * running activities are cancelled, and the sink drains before it exits.
 */
import { loadConfig } from './config';
import { prepareInfrastructure } from './pipeline';
import { startWorker } from './worker';

/** Runs a worker until SIGINT/SIGTERM. */
export async function runWorker(): Promise<void> {
  const config = loadConfig();
  await prepareInfrastructure(config);
  const running = await startWorker(config, { shutdownGraceTime: '10 seconds' });
  console.log(
    `ticklake worker ${process.pid} polling task queue '${config.temporal.taskQueue}' at ${config.temporal.address}`,
  );
  const stop = () => {
    console.log('stopping worker...');
    void running.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await running.done;
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
