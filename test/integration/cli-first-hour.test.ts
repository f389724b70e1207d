/**
 * What a new user meets in the first hour, as a user runs it (subprocesses against the real local
 * services): `npm start` on a file written the way pandas or Excel write CSV (quoted fields), the
 * service steps it shows, the rejected rows it names; then `dlq`, `replay status`, `replay list`,
 * `replay cancel` and `sink status` while paused.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { deleteCrawlSchedule } from '../../src/schedules';
import type { DlqListing } from '../../src/cli/dlq';
import type { ReplayListEntry } from '../../src/cli/replay-commands';
import { startHarness, uniqueEnv, type Harness } from './support';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'ticklake.js');
const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(env: NodeJS.ProcessEnv, cmd: string, args: string[], timeout = 120_000): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd: REPO_ROOT, env, timeout, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function json<T>(env: NodeJS.ProcessEnv, ...args: string[]): Promise<T> {
  const r = await run(env, 'node', [BIN, '--json', ...args]);
  if (r.code !== 0) throw new Error(`ticklake ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Quoted as pandas/Excel write it; lines 4 and 6 are bad, line 5's quoted symbol is good. */
const CSV = [
  '"Index","Date","Open","High","Low","Close","Adj Close","Volume","CloseUSD"',
  '"HSI","2020-01-02",10,11,9,10,10,100.0,1.3',
  '"HSI","2020-01-03","10","11","9","10","10","100.0","1.3"',
  '"HS I","2020-01-06",10,11,9,10,10,100.0,1.3',
  '"NYA","2020-01-06",10,11,9,10,10,100.0,10',
  '"NYA","2020-01-07","abc",11,9,10,10,100.0,10',
].join('\r\n');

describe('the first hour', () => {
  const env = uniqueEnv('first-hour');
  const replayId = `fh-${env.KAFKA_TOPIC!.slice(-6)}`;
  let dir: string;
  let file: string;
  let h: Harness;
  let start: Outcome;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'first-hour-'));
    file = path.join(dir, `${replayId}.csv`);
    fs.writeFileSync(file, CSV);
    h = await startHarness(loadConfig(env));
    start = await run(env, 'node', ['scripts/bootstrap.js', 'start', '--once', '--file', file], 300_000);
  }, 400_000);
  afterAll(async () => {
    if (h) await deleteCrawlSchedule(h.client, h.config).catch(() => undefined);
    await h?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('npm start shows each service step, reads quoted fields and names the first rejected rows', () => {
    expect(start.code).toBe(0);
    for (const service of ['temporal', 'kafka', 's3', 'moto']) {
      expect(start.stderr).toMatch(new RegExp(`^\\[${service}\\] (already running on|starting|installing)`, 'm'));
    }
    expect(start.stdout).toContain('produced 3 rows, rejected 2 rows');
    expect(start.stdout).toMatch(/^ {2}line 4: symbol is not a ticker: 'HS I'/m);
    expect(start.stdout).toMatch(/^ {2}line 6: open is not a number: 'abc'/m);
    expect(start.stdout).toContain(`npx ticklake dlq --replay ${replayId}`);
    // The quoted symbol reached the lake as HSI, not as "HSI".
    expect(start.stdout).toMatch(/│ HSI +│ 2 /);
    expect(start.stdout).not.toContain('"HSI"');
  });

  it('dlq lists the rejected rows of the replay: line, reason, raw text, when', async () => {
    const l = await json<DlqListing>(env, 'dlq', '--replay', replayId);
    expect(l.producer.count).toBe(2);
    expect(l.sink.count).toBe(0);
    expect(l.deadLetters.map((d) => [d.stage, d.replay, d.line, d.reason.split(':')[0], d.raw])).toEqual([
      ['producer', replayId, 4, 'symbol is not a ticker', '"HS I","2020-01-06",10,11,9,10,10,100.0,1.3'],
      ['producer', replayId, 6, 'open is not a number', '"NYA","2020-01-07","abc",11,9,10,10,100.0,10'],
    ]);
    for (const d of l.deadLetters) expect(Date.now() - Date.parse(d.at)).toBeLessThan(30 * 60_000);
    const other = await json<DlqListing>(env, 'dlq', '--replay', 'no-such-replay');
    expect(other.producer.count).toBe(0);
    const text = await run(env, 'node', [BIN, 'dlq', '--replay', replayId]);
    expect(text.stdout).toContain('2 rows rejected by the producer');
    expect(text.stdout).toContain('symbol is not a ticker');
  });

  it('replay status shows the count and the last reasons; replay list shows the replay', async () => {
    const s = await json<{ rejected: number; lastRejected?: { line: number; reason: string }[] }>(
      env,
      'replay',
      'status',
      replayId,
    );
    expect(s.rejected).toBe(2);
    expect(s.lastRejected?.map((r) => r.line)).toEqual([4, 6]);
    const text = await run(env, 'node', [BIN, 'replay', 'status', replayId]);
    expect(text.stdout).toContain('line 6: open is not a number');
    const list = await json<ReplayListEntry[]>(env, 'replay', 'list');
    expect(list.find((r) => r.replayId === replayId)).toMatchObject({ status: 'completed', source: `${replayId}.csv` });
  });

  it('replay cancel stops a replay for good', async () => {
    const id = `${replayId}-cancel`;
    await json(env, 'replay', 'start', SAMPLE, '--id', id, '--paused');
    const r = await json<{ state: string }>(env, 'replay', 'cancel', id);
    expect(r.state).toBe('cancelled');
    const again = await run(env, 'node', [BIN, 'replay', 'cancel', id]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/is not running \(cancelled\); nothing to cancel/);
  });

  it("sink status while paused shows the broker's lag, as status does", async () => {
    await json(env, 'sink', 'pause');
    try {
      const s = await json<{ state: string; lag: Record<string, string> | null }>(env, 'sink', 'status');
      expect(s.lag).not.toBeNull();
      expect(Object.keys(s.lag!).length).toBe(h.config.kafka.partitions);
      const text = await run(env, 'node', [BIN, 'sink', 'status']);
      expect(text.stdout).toContain(`consumer group '${h.config.sink.groupId}' on the broker`);
    } finally {
      await json(env, 'sink', 'resume');
    }
  });
});
