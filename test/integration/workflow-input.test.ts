/**
 * Bad workflow input fails cleanly, on the real dev server and worker: a workflow started by name with
 * an empty input (the Web UI's Start Workflow form) or a signal with an empty payload fails with the
 * non-retryable InvalidWorkflowInput at once, or is ignored, instead of failing its workflow task
 * forever; `replay status` and `status` say so in one line, without gRPC errors; a workflow stuck on
 * a failing task is reported as stuck, with the task's failure.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { connectWorker } from '../../src/adapters/temporal';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { workflowHealth } from '../../src/progress';
import { crawlInput, startSink, workflowIds } from '../../src/pipeline';
import { crawlStatusQuery } from '../../workflows/definitions';
import { startHarness, uniqueEnv, waitFor, type Harness } from './support';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'ticklake.js');

async function cli(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', [BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('bad workflow input', () => {
  const env = uniqueEnv('wf-input');
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(loadConfig(env));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  test.each(['replayWorkflow', 'sinkWorkflow', 'crawlWorkflow', 'queryWorkflow'])(
    '%s started with an empty input fails at once with InvalidWorkflowInput',
    async (type) => {
      const handle = await h.client.workflow.start(type, {
        taskQueue: h.config.temporal.taskQueue,
        workflowId: `${type}/${env.KAFKA_TOPIC}`,
        args: [],
      });
      const err = await waitFor('the workflow to end', () =>
        handle.result().then(
          () => new Error('completed'),
          (e: unknown) => e,
        ),
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('InvalidWorkflowInput');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toMatch(new RegExp(`^${type} input: expected an object`));
      expect((await workflowHealth(handle)).state).toBe('failed');
    },
    30_000,
  );

  test('replay status of a replay started without input says it failed and why, in one line', async () => {
    const id = `${env.KAFKA_TOPIC}-empty`;
    const handle = await h.client.workflow.start('replayWorkflow', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: workflowIds.replay(id),
      args: [{}],
    });
    await handle.result().catch(() => undefined);
    const r = await cli(env, 'replay', 'status', id);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/│ state\s+│ failed\s+│/);
    expect(r.stdout).toMatch(/│ failure\s+│ replayWorkflow input: 'file' is missing/);
    const json = JSON.parse((await cli(env, '--json', 'replay', 'status', id)).stdout) as { state: string };
    expect(json.state).toBe('failed');
  }, 60_000);

  test('an empty signal payload leaves the workflow running and answering', async () => {
    const sink = await startSink(h.client, h.config);
    // The crawl workflow takes a payload; pause and resume take none.
    const crawlId = workflowIds.crawl(h.config.glue.database, h.config.glue.table);
    await h.client.workflow.signalWithStart('crawlWorkflow', {
      taskQueue: h.config.temporal.taskQueue,
      workflowId: crawlId,
      // The input the pipeline gives it (with the layout's symbol buckets: without them the crawl fails
      // its input check, and the workflow ends failed while this test looks at it).
      args: [crawlInput(h.config)],
      signal: 'newPartitionsSignal',
      signalArgs: [],
    });
    const crawl = h.client.workflow.getHandle(crawlId);
    await crawl.signal('newPartitionsSignal');
    await sink.signal('pause', { unexpected: true });
    expect((await crawl.query(crawlStatusQuery)).pendingPartitions).toBe(0);
    expect((await workflowHealth(crawl)).state).toBe('running');
    expect((await workflowHealth(sink)).state).toBe('running');
  }, 60_000);

  test('a workflow failing its workflow task is reported stuck, with the failure', async () => {
    const taskQueue = `${h.config.temporal.taskQueue}-broken`;
    const connection = await connectWorker(h.config.temporal);
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: path.join(REPO_ROOT, 'test', 'fixtures', 'workflows', 'broken.ts'),
    });
    try {
      await worker.runUntil(async () => {
        const handle = await h.client.workflow.start('brokenWorkflow', {
          taskQueue,
          workflowId: `broken/${env.KAFKA_TOPIC}`,
          args: [],
        });
        const health = await waitFor(
          'the workflow to be stuck',
          async () => {
            const s = await workflowHealth(handle);
            return s.state === 'stuck' ? s : undefined;
          },
          30_000,
        );
        expect(health).toMatchObject({ state: 'stuck' });
        expect((health as { failure: string }).failure).toMatch(/Cannot read properties of undefined/);
        await handle.terminate('test over');
      });
    } finally {
      await connection.close();
    }
  }, 60_000);
});
