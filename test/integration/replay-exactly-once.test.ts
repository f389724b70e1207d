/**
 * Exactly once into Kafka through worker crashes: a replay runs on a worker subprocess
 * (replay-worker-process.ts, the worker of src/worker-main.ts) that is killed with SIGKILL at random moments and restarted, then frozen
 * (SIGSTOP) while a new worker takes the replay over and woken up again as a zombie. A read_committed
 * consumer then finds every valid row of the file exactly once, with equal values.
 *
 * Replays the real file when TICKLAKE_REAL_CSV names it, else the sample, throttled so that the
 * crashes fall in the middle of it. Only workers are killed; the services are the shared default ones.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { createKafka } from '../../src/adapters/kafka';
import { connectClient } from '../../src/adapters/temporal';
import { REPO_ROOT, type TicklakeConfig } from '../../src/config';
import { prepareInfrastructure, startReplay } from '../../src/pipeline';
import { exactlyOnceProblems, expectedRows, readTopic, topicEnd } from './replay-helpers';
import { removeResources } from './sink-support';
import { terminateRunning, uniqueConfig, waitFor } from './support';

const REAL = process.env.TICKLAKE_REAL_CSV;
const FILE = REAL && fs.existsSync(REAL) ? path.resolve(REAL) : path.join(REPO_ROOT, 'data', 'sample.csv');
/** Seconds the throttled replay would take without crashes. */
const REPLAY_SECONDS = 20;

/** A worker process (replay-worker-process.ts: the worker of src/worker-main.ts) with the test's configuration. */
class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<true>;
  readonly exited: Promise<void>;
  output = '';

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'replay-worker-process.ts')], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (b: Buffer) => (this.output += b.toString());
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.ready = waitFor<true>(
      `worker ${this.child.pid} to poll`,
      () => {
        if (this.child.exitCode !== null) throw new Error(`worker exited early:\n${this.output}`);
        return Promise.resolve(this.output.includes('polling task queue'));
      },
      90_000,
      100,
    );
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }
}

/** The environment that makes src/config.ts in the child load exactly the test's configuration. */
function childEnv(config: TicklakeConfig, bundlePath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_TOPIC: config.kafka.topic,
    KAFKA_DLQ_TOPIC: config.kafka.dlqTopic,
    KAFKA_POSITIONS_TOPIC: config.kafka.positionsTopic,
    SINK_GROUP_ID: config.sink.groupId,
    LAKE_BUCKET: config.lake.bucket,
    GLUE_DATABASE: config.glue.database,
    TICKLAKE_TASK_QUEUE: config.temporal.taskQueue,
    TICKLAKE_METRICS_PORT: '0',
    REPLAY_TEST_WORKFLOW_BUNDLE: bundlePath,
  };
}

describe('replay producer: exactly once through worker crashes', () => {
  const config = uniqueConfig('replay-chaos');
  const workers: WorkerProcess[] = [];
  let client: Client | undefined;
  let bundleDir: string;
  let bundlePath: string;
  beforeAll(async () => {
    // Bundled once here: each worker start would otherwise bundle the workflows again (10-30 s on a busy machine).
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      logger: new DefaultLogger('WARN'),
    });
    bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-chaos-'));
    bundlePath = path.join(bundleDir, 'workflows.js');
    fs.writeFileSync(bundlePath, code);
  }, 120_000);
  afterAll(async () => {
    for (const w of workers) w.signal('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    if (client) await terminateRunning(client, config.temporal.taskQueue).catch(() => undefined);
    await client?.connection.close();
    if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
    await removeResources(config).catch(() => undefined);
  });

  it(`has every valid row of ${REAL && fs.existsSync(REAL) ? path.basename(FILE) : 'sample.csv (TICKLAKE_REAL_CSV not set)'} exactly once after SIGKILLs at random moments and a fenced zombie`, async () => {
    await prepareInfrastructure(config);
    const env = childEnv(config, bundlePath);
    const kafka = createKafka(config.kafka, '-test');
    const expected = expectedRows(FILE);
    const rows = expected.ticks.size + expected.rejected.size;
    const start = () => {
      const w = new WorkerProcess(env);
      workers.push(w);
      return w;
    };
    let worker = start();
    client = await connectClient(config.temporal);
    await worker.ready;
    const handle = await startReplay(client, config, {
      file: FILE,
      replayId: `chaos-${randomBytes(3).toString('hex')}`,
      speed: { mode: 'rows', rowsPerSecond: Math.max(100, Math.round(rows / REPLAY_SECONDS)) },
      // Market-time order, the harder case: every resume goes on from one cursor per run of the file.
      order: 'market',
    });

    // Each transaction writes a position record: the positions topic's end moves with every commit.
    let seen = 0n;
    const committedSince = async () => {
      const end = await topicEnd(kafka, config.kafka.positionsTopic);
      if (end <= seen) return false;
      seen = end;
      return true;
    };
    const kills: number[] = [];
    const t0 = Date.now();
    const mark = (what: string) =>
      process.env.REPLAY_CHAOS_VERBOSE && console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    for (let i = 0; i < 3; i++) {
      await waitFor(`a commit by worker ${worker.child.pid}`, committedSince, 90_000);
      const delay = randomInt(200, 2500);
      kills.push(delay);
      await new Promise((r) => setTimeout(r, delay)); // a random moment, the point of the test
      worker.signal('SIGKILL');
      mark(`killed ${worker.child.pid}`);
      seen = await topicEnd(kafka, config.kafka.positionsTopic);
      worker = start(); // starts while the server waits out the dead attempt's heartbeat timeout
      await worker.ready;
      mark(`worker ${worker.child.pid} ready`);
    }

    // A zombie: freeze the worker mid-replay until the server has given its attempt up and started a
    // newer one, then let it go on. Its old attempt must not get anything more into the topic.
    await waitFor(`a commit by worker ${worker.child.pid}`, committedSince, 90_000);
    const attempt = async () => (await handle.describe()).raw.pendingActivities?.[0]?.attempt ?? 0;
    const frozenAttempt = await attempt();
    const zombie = worker;
    zombie.signal('SIGSTOP');
    mark(`froze ${zombie.child.pid} in attempt ${frozenAttempt}`);
    worker = start();
    await waitFor('the server to retry the frozen attempt', async () => (await attempt()) > frozenAttempt, 90_000);
    mark(`attempt ${await attempt()} started`);
    zombie.signal('SIGCONT');
    await waitFor('the replay to go on', committedSince, 90_000);
    mark('committed after the zombie woke up');
    // The woken worker stays up to the end: it may serve later attempts, as any worker.

    const progress = await handle.result();
    mark('replay complete');
    const zombieSaid = zombie.output.match(/.*(fenced|abandoned|not found).*/i)?.[0];
    if (process.env.REPLAY_CHAOS_VERBOSE) console.log(`zombie output:\n${zombie.output}`);
    console.log(
      `replayed ${path.basename(FILE)} (${rows} rows) through SIGKILLs after ${kills.join(', ')} ms and a zombie; ` +
        `zombie: ${zombieSaid?.trim().slice(0, 200) ?? 'no log line'}`,
    );
    expect(progress).toMatchObject({ produced: expected.ticks.size, rejected: expected.rejected.size, done: true });
    const ticks = await readTopic(kafka, config.kafka.topic, 120_000);
    expect(exactlyOnceProblems(ticks, expected, path.basename(FILE))).toEqual([]);
    expect(ticks).toHaveLength(expected.ticks.size);
    const dead = await readTopic(kafka, config.kafka.dlqTopic);
    expect(dead).toHaveLength(expected.rejected.size);
    // The replay really ran on several workers: activity attempts beyond the first.
    const history = await handle.fetchHistory();
    const attempts = history.events!.flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(4);
  }, 300_000);
});
