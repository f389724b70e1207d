/**
 * The command line of deploy/ticklake-worker.service, run as systemd would run it (its ExecStart and
 * Environment=, the configuration from the environment) against the local services: the worker starts
 * polling its task queue, and the unit's KillSignal stops it cleanly well within TimeoutStopSec.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type TicklakeConfig } from '../../src/config';
import { connectClient } from '../../src/adapters/temporal';
import { DEPLOY, REPO, parseUnit } from '../unit/deploy-support';
import { removeResources } from './sink-support';
import { uniqueEnv, waitFor } from './support';

const unit = parseUnit(fs.readFileSync(path.join(DEPLOY, 'ticklake-worker.service'), 'utf8'));
const service = unit.get('Service')!;
const value = (key: string) => service.get(key)?.[0] ?? '';

describe('deploy/ticklake-worker.service command line', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  /** The worker's configuration: it creates its topics and bucket when it starts. */
  let made: TicklakeConfig | undefined;
  // The unit runs the compiled worker: build it as the install steps of docs/aws.md do (when stale).
  beforeAll(() => {
    execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build.js'), '--if-stale'], {
      cwd: REPO,
      stdio: 'inherit',
    });
  }, 120_000);
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    if (made) await removeResources(made).catch(() => undefined);
  });

  it('starts a worker that polls its task queue and stops cleanly on the unit KillSignal', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-unit-'));
    const unitEnv = Object.fromEntries(
      (service.get('Environment') ?? []).map((assignment) => {
        const eq = assignment.indexOf('=');
        return [assignment.slice(0, eq), assignment.slice(eq + 1)];
      }),
    );
    const env = uniqueEnv('unit', {
      ...unitEnv,
      // The unit's state and cache directories are systemd's to create; use our own here.
      TICKLAKE_DATA_DIR: path.join(dir, 'data'),
      TICKLAKE_CACHE_DIR: path.join(dir, 'cache'),
      TICKLAKE_METRICS_PORT: '0',
    });
    const config = loadConfig(env);
    made = config;
    const [command, ...args] = value('ExecStart').split(/\s+/);
    let output = '';
    child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal })),
    );

    const polling = waitFor(
      'the worker to report polling its task queue',
      () =>
        output.includes(`polling task queue '${config.temporal.taskQueue}'`)
          ? Promise.resolve(true)
          : Promise.reject(new Error(`output so far: ${output.slice(-1000)}`)),
      120_000,
    );
    const early = await Promise.race([polling.then(() => undefined), exited]);
    expect(early === undefined ? 'running' : `exited ${JSON.stringify(early)}: ${output.slice(-1000)}`).toBe('running');
    const client = await connectClient(config.temporal);
    try {
      await waitFor('a poller on the task queue', async () => {
        const res = await client.workflowService.describeTaskQueue({
          namespace: config.temporal.namespace,
          taskQueue: { name: config.temporal.taskQueue },
          taskQueueType: 1, // workflow tasks
        });
        return (res.pollers?.length ?? 0) > 0;
      });
    } finally {
      await client.connection.close();
    }

    const signal = value('KillSignal') as NodeJS.Signals;
    const timeoutMs = Number(value('TimeoutStopSec')) * 1000;
    const stopped = Date.now();
    child.kill(signal);
    const result = await Promise.race([
      exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref()),
    ]);
    expect(result).toEqual({ code: 0, signal: null });
    expect(Date.now() - stopped).toBeLessThan(timeoutMs);
    expect(output).toContain('stopping worker');
  }, 240_000);
});
