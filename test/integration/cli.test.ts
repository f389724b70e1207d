/**
 * The `ticklake` CLI as a user runs it: a subprocess per command, against the real local services,
 * with a worker in the test process. Checks the success paths, the --json shapes and the error paths.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { removeResources } from './sink-support';
import { csvStats, startHarness, terminateRunning, uniqueEnv, type Harness } from './support';

const exec = promisify(execFile);
const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');
const BIN = path.join(REPO_ROOT, 'bin', 'ticklake.js');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec('node', [BIN, ...args], { cwd: REPO_ROOT, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function json<T>(env: NodeJS.ProcessEnv, ...args: string[]): Promise<T> {
  const r = await cli(env, '--json', ...args);
  if (r.code !== 0) throw new Error(`ticklake ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

function expectOneLineError(r: Outcome, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('note:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
}

describe('ticklake CLI', () => {
  const env = uniqueEnv('cli');
  // Replay ids name workflows (replay/<id>): unique per run, like the topics.
  const id = env.KAFKA_TOPIC!.replace(/^t-/, '');
  const slow = `${id}-slow`;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(loadConfig(env));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('shows the services as running', async () => {
    const services = await json<{ name: string; state: string }[]>(env, 'services', 'status');
    expect(services.map((s) => s.name).sort()).toEqual(['kafka', 'moto', 's3', 'temporal']);
    expect(services.every((s) => s.state === 'running')).toBe(true);
  });

  it('runs the pipeline: sink, replay, crawl, query', async () => {
    const expected = csvStats(SAMPLE);
    const sink = await json<{ workflowId: string }>(env, 'sink', 'start');
    expect(sink.workflowId).toBe(`sink/${env.KAFKA_TOPIC}`);

    const replay = await json<{ produced: number; rejected: number }>(
      env,
      'replay',
      'start',
      SAMPLE,
      '--id',
      id,
      '--wait',
    );
    expect(replay).toMatchObject({ produced: expected.rows, rejected: 0 });
    const status = await json<{ state: string; produced: number }>(env, 'replay', 'status', id);
    expect(status).toMatchObject({ state: 'completed', produced: expected.rows });

    expect(h.worker.worker.getState()).toBe('RUNNING');
    const sinkStatus = await json<{ state: string; partitions: unknown[] }>(env, 'sink', 'status');
    expect(sinkStatus.state).toBe('running');
    expect(Array.isArray(sinkStatus.partitions)).toBe(true);

    // The crawl sees only what the sink has flushed: wait for lag 0 through the status command.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await json<{ lag: Record<string, string> | null }>(env, 'status');
      if (s.lag && Object.values(s.lag).every((l) => l === '0')) break;
      if (Date.now() > deadline) throw new Error(`sink did not catch up: ${JSON.stringify(s.lag)}`);
    }
    // The sink's notices may have registered everything already: the crawl then finds nothing new.
    const crawl = await json<{ table: string; columns: { name: string }[] }>(env, 'crawl', 'now');
    expect(crawl.table).toBe('ticks');
    expect(crawl.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['trade_date', 'close', 'volume']));

    const q = await json<{ columns: { name: string }[]; rows: unknown[][] }>(
      env,
      'query',
      'SELECT symbol, count(*) AS ticks FROM ticks WHERE symbol = ? GROUP BY symbol',
      '--param',
      'SAMPLE-HK',
    );
    expect(q.columns.map((c) => c.name)).toEqual(['symbol', 'ticks']);
    expect(q.rows).toEqual([['SAMPLE-HK', expected.perSymbol.get('SAMPLE-HK')!.count]]);

    const csv = await cli(env, 'query', 'SELECT symbol FROM ticks GROUP BY symbol ORDER BY symbol', '--format', 'csv');
    expect(csv.code).toBe(0);
    expect(csv.stdout.trim().split('\n')).toEqual(['symbol', ...[...expected.perSymbol.keys()].sort()]);

    const table = await cli(env, 'query', 'SELECT count(*) AS n FROM ticks');
    expect(table.stdout).toContain(String(expected.rows));
    expect(table.stdout).toMatch(/┌.*┐/);

    // A result larger than the inline page: the table says how large it is and where it is; CSV, JSON and
    // charts hold every row.
    const small = { ...env, QUERY_MAX_ROWS: '100' };
    const every = 'SELECT symbol, trade_date, close FROM ticks ORDER BY symbol, trade_date';
    const shown = await cli(small, 'query', every);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toMatch(
      new RegExp(`showing the first 100 of ${expected.rows} rows; the whole result is in \\S+\\.csv`),
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-cli-'));
    try {
      const file = path.join(dir, 'all.csv');
      const written = await cli(small, 'query', every, '--format', 'csv', '--output', file);
      expect(written.code).toBe(0);
      expect(written.stderr).toContain(`${expected.rows} rows; written to ${file}`);
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
      expect(lines[0]).toBe('symbol,trade_date,close');
      expect(lines).toHaveLength(expected.rows + 1);
      expect(new Set(lines.slice(1).map((l) => l.split(',')[0]))).toEqual(new Set(expected.perSymbol.keys()));

      const whole = await json<{ rowCount: number; truncated: boolean; rows: unknown[][] }>(small, 'query', every);
      expect(whole).toMatchObject({ rowCount: expected.rows, truncated: false });
      expect(whole.rows).toHaveLength(expected.rows);
      expect(typeof whole.rows[expected.rows - 1][2]).toBe('number');

      const svg = path.join(dir, 'chart.svg');
      const chart = await cli(small, 'query', every, '--chart', svg, '--format', 'csv', '--output', file);
      expect(chart.stderr).toContain(`chart of ${expected.rows} rows written to ${svg}`);
      const drawn = fs.readFileSync(svg, 'utf8');
      for (const symbol of expected.perSymbol.keys()) expect(drawn).toContain(symbol);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('pauses, re-speeds and resumes a replay', async () => {
    const started = await json<{ workflowId: string }>(
      env,
      'replay',
      'start',
      SAMPLE,
      '--id',
      slow,
      '--speed',
      '50rows',
    );
    expect(started.workflowId).toBe(`replay/${slow}`);
    expect(await json(env, 'replay', 'pause', slow)).toMatchObject({ state: 'paused' });
    const paused = await json<{ state: string }>(env, 'replay', 'status', slow);
    expect(paused.state).toBe('paused');
    expect(await json(env, 'replay', 'speed', slow, 'max')).toEqual({ mode: 'max' });
    expect(await json(env, 'replay', 'resume', slow)).toMatchObject({ state: 'resumed' });
    const all = await json<{
      replays: { workflowId: string }[];
      sink: unknown;
      lastCrawl: { status: string } | null;
      crawl: { crawls: number; partitionsRegistered: number } | null;
    }>(env, 'status');
    expect(all).toHaveProperty('replays');
    expect(all).toHaveProperty('sink');
    // The crawl workflow lingers for notices after its crawls: while it runs, status gives its own report.
    expect(all).toHaveProperty('crawl');
    if (all.lastCrawl?.status === 'RUNNING') expect(typeof all.crawl?.crawls).toBe('number');
    else expect(all.crawl).toBeNull();
  }, 120_000);

  it('manages the crawl schedule', async () => {
    const created = await json<{ scheduleId: string; every: string; paused: boolean }>(
      env,
      'schedule',
      'create',
      '--every',
      '1h',
    );
    expect(created).toMatchObject({ every: '1h', paused: false });
    expect(await json(env, 'schedule', 'update', '--every', '30m')).toMatchObject({ every: '30m' });
    expect(await json(env, 'schedule', 'pause')).toMatchObject({ paused: true });
    expect(await json(env, 'schedule', 'unpause')).toMatchObject({ paused: false });
    const listed = await json<{ scheduleId: string }[]>(env, 'schedule', 'list');
    expect(listed.map((s) => s.scheduleId)).toContain(created.scheduleId);
    expect(await json(env, 'schedule', 'delete')).toEqual({ deleted: created.scheduleId });
    expectOneLineError(await cli(env, 'schedule', 'describe'), /schedule/i);
  }, 120_000);

  it('prints one line and exits non-zero on errors', async () => {
    expectOneLineError(await cli(env, 'replay', 'status', 'no-such-replay'), /not found/i);
    expectOneLineError(await cli(env, 'query', 'SELEC nonsense FROM ticks'), /syntax error|query (refused|failed)/i);
    expectOneLineError(await cli(env, 'query', 'DROP TABLE ticks'), /refused/i);
    expectOneLineError(
      await cli(env, 'replay', 'start', '/no/such/file.csv', '--id', 'missing', '--wait'),
      /no\/such\/file\.csv/,
    );
    // Without --wait too: a replay that cannot start is reported at once, not as "started".
    expectOneLineError(
      await cli(env, 'replay', 'start', '/no/such/file.csv', '--id', `${id}-missing`),
      /failed: source file '\/no\/such\/file\.csv' does not exist/,
    );
    const failed = await json<{ state: string; failure: string }>(env, 'replay', 'status', `${id}-missing`);
    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatch(/does not exist/);
    expectOneLineError(await cli(env, 'replay', 'speed', slow, 'warp9'), /speed 'warp9' is not understood/);
    // A sink workflow that has ended answers its query with its last state: status says how it ended.
    await h.client.workflow.getHandle(`sink/${env.KAFKA_TOPIC}`).terminate('the test ends the sink');
    expect(await json<{ state: string }>(env, 'sink', 'status')).toMatchObject({ state: 'terminated' });
    // No services at all: a stack on ports nobody listens on.
    expectOneLineError(await cli({ ...env, TICKLAKE_PORT_OFFSET: '45000' }, 'status'), /cannot reach Temporal/);
  }, 180_000);

  it('answers within seconds, saying to start a worker, when no worker runs', async () => {
    // A task queue of its own, which no worker polls: the sink workflow waits there.
    const idle = uniqueEnv('cli-idle');
    const config = loadConfig(idle);
    try {
      expect((await cli(idle, 'sink', 'start')).code).toBe(0);
      const started = Date.now();
      expectOneLineError(
        await cli(idle, 'sink', 'status'),
        new RegExp(`no worker (answered within 5 s on|polls) task queue '${config.temporal.taskQueue}'; start one`),
      );
      const status = await cli(idle, 'status');
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/^note: no worker (answered within 5 s on|polls) task queue/);
      expect(status.stdout).toContain(`sink (sink/${config.kafka.topic}): running, no answer`);
      // The server alone would hold each query for 30 s or more.
      expect(Date.now() - started).toBeLessThan(25_000);
      expect(await json(idle, 'status')).toMatchObject({
        sink: null,
        sinkUnanswered: true,
        noWorker: expect.any(String),
      });
      // A command that waits for a workflow's result says what it waits for, instead of waiting in silence.
      const query = await exec('node', [BIN, 'query', 'SELECT 1'], { cwd: REPO_ROOT, env: idle, timeout: 10_000 }).then(
        () => ({ killed: false, stderr: '' }),
        (err: { stderr?: string; killed?: boolean }) => err,
      );
      expect(query.killed).toBe(true);
      // (On a queue that no worker has ever polled, the first note says so; the second is for a worker gone.)
      expect(query.stderr).toMatch(
        new RegExp(
          `note: (no worker polls|query/\\S+ is waiting for a worker on) task queue '${config.temporal.taskQueue}'; start one`,
        ),
      );
    } finally {
      await terminateRunning(h.client, config.temporal.taskQueue);
      await removeResources(config);
    }
  }, 120_000);
});
