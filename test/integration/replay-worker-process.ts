/**
 * A worker process for the replay crash tests: src/worker-main.ts's worker, with the workflow code
 * bundled once by the test (REPLAY_TEST_WORKFLOW_BUNDLE) instead of at every start, so that a restart
 * after a SIGKILL takes seconds on a busy machine. Configuration comes from the environment.
 */
import { loadConfig } from '../../src/config';
import { prepareInfrastructure } from '../../src/pipeline';
import { startWorker } from '../../src/worker';

async function main(): Promise<void> {
  const codePath = process.env.REPLAY_TEST_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('REPLAY_TEST_WORKFLOW_BUNDLE must name a bundle written by bundleWorkflowCode');
  const config = loadConfig();
  await prepareInfrastructure(config);
  const running = await startWorker(config, { workflowBundle: { codePath }, workflowsPath: undefined });
  console.log(`ticklake worker ${process.pid} polling task queue '${config.temporal.taskQueue}'`);
  const stop = () => void running.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await running.done;
  await running.shutdown();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  },
);
