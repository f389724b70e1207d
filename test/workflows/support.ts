/**
 * Workflow unit tests: the real workflow code (one bundle per test file) on the time-skipping test
 * server, with activities mocked. Each test gets a task queue and a worker of its own.
 */
import { randomBytes } from 'node:crypto';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { waitFor } from '../../src/concurrency';
import type { Activities } from '../../activities';
import { timeSkippingEnv } from './test-server';

export interface WorkflowTestbed {
  env: TestWorkflowEnvironment;
  /**
   * Runs `fn` while a worker with these (mocked) activities polls a task queue of its own; the
   * worker stops when `fn` settles.
   */
  withWorker<R>(activities: Partial<Activities>, fn: (taskQueue: string) => Promise<R>): Promise<R>;
  teardown(): Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Installs the SDK runtime with a logger that prints errors only (once per process). */
export function quietRuntime(): void {
  try {
    // Failing workflows are what several tests expect: only errors are worth printing.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // installed already (another test file of this process)
  }
}

/**
 * A testbed on the time-skipping test server, or on another environment: a workflow that sets the
 * pipeline's own search attributes needs a server that has them registered (the dev server, see
 * {@link devServerEnv}); the test server knows only its built-in ones.
 */
export async function workflowTestbed(
  createEnv: () => Promise<TestWorkflowEnvironment> = timeSkippingEnv,
): Promise<WorkflowTestbed> {
  quietRuntime();
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  const [env, workflowBundle] = await Promise.all([createEnv(), bundle]);
  return {
    env,
    async withWorker(activities, fn) {
      const taskQueue = `wf-test-${randomBytes(4).toString('hex')}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle,
        activities,
        // As the production worker: cancellation reaches a heartbeating activity within half a second.
        maxHeartbeatThrottleInterval: '500 milliseconds',
        defaultHeartbeatThrottleInterval: '500 milliseconds',
      });
      return worker.runUntil(fn(taskQueue));
    },
    teardown: () => env.teardown(),
  };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta),
};

/** Polls `probe` until it returns something other than undefined/false, for at most `ms` of wall time. */
export function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 20_000,
): Promise<T> {
  return waitFor(what, probe, ms, 50);
}

/** A promise with its resolve function, for activities that a test releases. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The event types of a workflow's history, for assertions on what it wrote. */
export async function eventTypes(env: TestWorkflowEnvironment, workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).map((e) => Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '?');
}
