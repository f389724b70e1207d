/**
 * Shared by `npm run bench` and `npm run chaos`: a stack of services of their own, a worker running
 * as a subprocess (so its memory and CPU can be read), unique names per run, Kafka progress probes,
 * and the lake reader. Scripts only; the pipeline's code is in src/.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import { getObjectBytes } from '../../src/adapters/s3';
import { committedOffsets, endOffsets, groupLag, readTopicToEnd } from '../../src/adapters/kafka';
import { listKeys } from '../../src/catalog/lake-scan';
import { mapLimit, waitFor } from '../../src/concurrency';
import { REPO_ROOT, localPorts, type KafkaConfig } from '../../src/config';
import { decodeLines } from '../../src/sink/format';
import { SERVICE_NAMES, type ServiceName } from '../../src/services';
import { pauseSignal } from '../../workflows/definitions';
import { sinkStatus } from '../../src/progress';

const run = promisify(execFile);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Default location of the real data file next to the checkout; the scripts still ask for TICKLAKE_REAL_CSV. */
export const SAMPLE_CSV = path.join(REPO_ROOT, 'data', 'sample.csv');

/** The real data file from TICKLAKE_REAL_CSV, or exits with a message saying how to set it. */
export function realCsvOrExit(command: string): string {
  const file = process.env.TICKLAKE_REAL_CSV;
  if (!file || !fs.existsSync(file)) {
    console.error(
      `${command}: ${file ? `TICKLAKE_REAL_CSV=${file} does not exist` : 'TICKLAKE_REAL_CSV is not set'}. ` +
        'Set it to the real data file, e.g. TICKLAKE_REAL_CSV=../shared/data/stock-exchange/indexProcessed.csv',
    );
    process.exit(2);
  }
  return path.resolve(file);
}

/** Polls until a probe answers, with a deadline (the shared helper). */
export { waitFor };

/** Topic, group, bucket, Glue database and task queue names unique to one run, as environment variables. */
export function uniqueNames(label: string): Record<string, string> {
  const id = `${label}-${randomBytes(3).toString('hex')}`;
  return {
    KAFKA_TOPIC: `t-${id}`,
    KAFKA_DLQ_TOPIC: `t-${id}.dlq`,
    KAFKA_POSITIONS_TOPIC: `t-${id}.positions`,
    SINK_GROUP_ID: `sink-${id}`,
    LAKE_BUCKET: `tl-${id}`,
    GLUE_DATABASE: `db_${id.replace(/-/g, '_')}`,
    TICKLAKE_TASK_QUEUE: `tq-${id}`,
  };
}

/** A stack of local services on shifted ports with its own data dir, driven through `scripts/services.ts`. */
export class Stack {
  readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly offset: number,
    readonly dataDir: string,
  ) {
    this.env = {
      ...process.env,
      TICKLAKE_PORT_OFFSET: String(offset),
      TICKLAKE_DATA_DIR: dataDir,
      // A second worker's exporter would collide with the default stack's; the scripts read /proc instead.
      TICKLAKE_METRICS_PORT: '0',
    };
  }

  /** `services <args...>` in a subprocess, so the port offset and data dir apply; returns its output. */
  async services(args: string[], timeoutMs = 240_000): Promise<string> {
    try {
      const out = await run(process.execPath, ['--import', 'tsx', 'scripts/services.ts', ...args], {
        cwd: REPO_ROOT,
        env: this.env,
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      });
      // `services` reports problems on stderr and sets the exit code; execFile rejects on a non-zero one.
      return out.stdout + out.stderr;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `services ${args.join(' ')} (port offset ${this.offset}) failed: ${(e.stderr || e.stdout || e.message).trim()}`,
      );
    }
  }

  up(names: readonly ServiceName[] = SERVICE_NAMES): Promise<string> {
    return this.services(['up', ...names]);
  }

  down(names: readonly ServiceName[] = SERVICE_NAMES, force = false): Promise<string> {
    return this.services(['down', ...names, ...(force ? ['--force'] : [])]);
  }

  /** The ports a service listens on, in this stack. */
  ports(name: ServiceName): number[] {
    const p = localPorts(this.offset);
    return { temporal: [p.temporal, p.temporalUi], kafka: [p.kafka, p.kafkaController], s3: [p.s3], moto: [p.moto] }[
      name
    ];
  }

  /**
   * Stops a service (SIGKILL with `force`, as in a crash), waits until its ports are closed, and starts it
   * again. Done in these steps rather than with `services restart`: a killed JVM's listening socket can
   * outlive the moment its main thread shows as exited, and a start in that window finds the port taken.
   */
  async restart(name: ServiceName, force: boolean): Promise<void> {
    await this.down([name], force);
    await this.waitClosed(name);
    await this.upAgain(name);
  }

  /** Waits until no socket listens on the service's ports any more. */
  async waitClosed(name: ServiceName, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `the ports of ${name} (${this.ports(name).join(', ')}) to close`,
      () => Promise.resolve(this.ports(name).every((port) => !listening(port))),
      timeoutMs,
      100,
    );
  }

  /** `up` of one service, tried again a few times when its port is still reported in use. */
  async upAgain(name: ServiceName, attempts = 5): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await this.up([name]);
        return;
      } catch (err) {
        if (i >= attempts || !/in use/.test((err as Error).message)) throw err;
        await sleep(2000);
        await this.waitClosed(name);
      }
    }
  }

  /** Pid of a running service from its pid file, if any. */
  pid(name: ServiceName): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.dataDir, 'run', `${name}.pid`), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

/** A fresh temporary directory for a stack's state. */
export function tempDataDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ticklake-${label}-`));
}

// ---- /proc -------------------------------------------------------------------------------------

/** Whether a socket listens on a TCP port of this host (from /proc/net/tcp and tcp6; no connection made). */
export function listening(port: number): boolean {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "HEXIP:HEXPORT"; state 0A is LISTEN.
      if (fields.length > 3 && fields[3] === '0A' && parseInt(fields[1].split(':')[1] ?? '', 16) === port) return true;
    }
  }
  return false;
}

const TICKS_PER_S = 100; // USER_HZ on Linux

/** A full collection when V8's heap has doubled since the last (scripts/bootstrap.js says why). */
export const WORKER_HEAP_FLAG = '--heap-growing-percent=100';

/** CPU seconds (user + system, all threads) a live process has used, or undefined if it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** A field of /proc/<pid>/status in kB (VmHWM: peak resident set, VmRSS: current), or undefined. */
export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

// ---- the worker subprocess -----------------------------------------------------------------------

let buildChecked = false;

/**
 * The compiled worker, as `npm run worker` and `npm start` run it (its workflow code bundled at build
 * time), built first when a source is newer than the build.
 */
function compiledWorker(): string {
  if (!buildChecked) {
    execFileSync(process.execPath, ['scripts/build.js', '--if-stale'], { cwd: REPO_ROOT, stdio: 'inherit' });
    buildChecked = true;
  }
  return path.join(REPO_ROOT, 'dist', 'src', 'worker-main.js');
}

/**
 * The worker in a child process (the pid is the worker's own). `compiled`: the build's worker, as
 * deployed; otherwise `src/worker-main.ts` through tsx, whose workflow code is bundled when it starts
 * (what tests run, without a build). Its output goes to a log file; `ready()` waits for its "polling
 * task queue" line.
 */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly startedAt = Date.now();
  private exitedPromise: Promise<void>;
  private peakKb = 0;
  private sampler: NodeJS.Timeout;

  constructor(
    env: NodeJS.ProcessEnv,
    readonly logFile: string,
    nodeArgs: string[] = [],
    opts: { compiled?: boolean } = {},
  ) {
    const entry = opts.compiled ? [compiledWorker()] : ['--import', 'tsx', 'src/worker-main.ts'];
    const log = fs.openSync(logFile, 'a');
    // With the V8 flag and the malloc setting `npm start` and `npm run worker` give it (scripts/bootstrap.js).
    this.child = spawn(process.execPath, [WORKER_HEAP_FLAG, ...nodeArgs, ...entry], {
      cwd: REPO_ROOT,
      env: { MALLOC_ARENA_MAX: '2', ...env },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    this.exitedPromise = new Promise((resolve) => this.child.once('exit', () => resolve()));
    // VmHWM is the kernel's own high-water mark; sampling VmRSS as well guards against a missing field.
    this.sampler = setInterval(() => this.sample(), 200);
    this.sampler.unref();
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private sample(): void {
    if (!this.alive) return;
    this.peakKb = Math.max(this.peakKb, statusKb(this.pid, 'VmHWM') ?? 0, statusKb(this.pid, 'VmRSS') ?? 0);
  }

  /** Peak resident set size in MB so far. */
  peakRssMb(): number {
    this.sample();
    return Math.round(this.peakKb / 1024);
  }

  cpuSeconds(): number | undefined {
    return cpuSeconds(this.pid);
  }

  async ready(timeoutMs = 120_000): Promise<void> {
    await waitFor(
      `the worker (pid ${this.pid}, log ${this.logFile}) to poll its task queue`,
      () => {
        if (!this.alive) return Promise.reject(new Error(`the worker exited; see ${this.logFile}`));
        return Promise.resolve(fs.readFileSync(this.logFile, 'utf8').includes('polling task queue'));
      },
      timeoutMs,
      100,
    );
  }

  exited(): Promise<void> {
    return this.exitedPromise;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGTERM (the worker drains), then SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    clearInterval(this.sampler);
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(timer);
  }
}

// ---- Kafka probes ----------------------------------------------------------------------------------

/** A quiet Kafka client for probes (the scripts report problems themselves). */
export function probeKafka(config: KafkaConfig, suffix: string): Kafka {
  return new Kafka({
    clientId: `${config.clientId}-${suffix}`,
    brokers: config.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 },
  });
}

const sum = (values: Iterable<bigint>) => {
  let total = 0n;
  for (const v of values) total += v > 0n ? v : 0n;
  return total;
};

/** Sum over partitions of the topic's end offsets (records, aborted ones and transaction markers included). */
export async function topicEnd(admin: Admin, topic: string): Promise<bigint> {
  return sum((await endOffsets(admin, topic)).values());
}

/** Sum over partitions of a group's committed offsets on a topic. */
export async function groupCommitted(admin: Admin, groupId: string, topic: string): Promise<bigint> {
  return sum((await committedOffsets(admin, groupId, topic)).values());
}

/** Total lag of a group on a topic. */
export async function totalLag(admin: Admin, groupId: string, topic: string): Promise<bigint> {
  return sum((await groupLag(admin, groupId, topic)).values());
}

/** Whether a consumer group has a stable generation with a member holding partitions of the topic. */
export async function groupJoined(admin: Admin, groupId: string): Promise<boolean> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  return g?.state === 'Stable' && g.members.length > 0;
}

// ---- the lake ------------------------------------------------------------------------------------

/** The data objects under `root` (the table folder), each with its JSON lines parsed. */
export async function readLakeObjects(
  s3: S3Client,
  bucket: string,
  root: string,
): Promise<{ key: string; records: Record<string, unknown>[] }[]> {
  const keys = (await listKeys(s3, bucket, root)).filter((k) => /\.json(\.gz|\.zst)?$/.test(k));
  return mapLimit(keys, 16, async (key) => {
    const body = await getObjectBytes(s3, bucket, key);
    if (!body) throw new Error(`s3://${bucket}/${key} was listed but cannot be read`);
    return { key, records: decodeLines(body, key).map((line) => JSON.parse(line) as Record<string, unknown>) };
  });
}

/** Pauses a sink workflow (it drains and commits), waits for it to say so, then terminates it. */
export async function stopSink(sink: WorkflowHandle): Promise<void> {
  await sink.signal(pauseSignal).catch(() => undefined);
  await waitFor('the sink to drain and pause', async () => (await sinkStatus(sink)).state === 'paused', 60_000).catch(
    () => undefined,
  );
  await sink.terminate('benchmark over').catch(() => undefined);
}

/**
 * Committed records of a topic, counted by reading it (read_committed) up to the end offsets it had
 * when called. The end offsets alone overcount a transactional topic: each transaction leaves a
 * commit marker on every partition it wrote, which takes an offset. Returns both.
 */
export async function countTopicRecords(
  kafka: Kafka,
  topic: string,
  timeoutMs = 300_000,
): Promise<{ records: number; endOffsets: bigint }> {
  let records = 0;
  const ends = await readTopicToEnd(kafka, topic, (_p, messages) => (records += messages.length), {
    groupPrefix: 'bench-count',
    timeoutMs,
    maxBytes: 32 * 1024 * 1024,
    what: `the records of ${topic}`,
  });
  return { records, endOffsets: sum(ends.values()) };
}
