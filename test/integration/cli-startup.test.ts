/**
 * How `ticklake` starts: from the build in dist/ when it is up to date, loading none of the heavy
 * modules for `--help` (Temporal's client and worker, the AWS SDK, kafkajs, DuckDB, zod), and from the
 * TypeScript sources through tsx when asked to (TICKLAKE_FROM_SOURCE=1) with the same output. Each
 * run records the modules it loaded (a preload that lists require's cache at exit). `status` asks
 * the broker and the lake on a worker thread, with the same answers as on the main thread. Timing is
 * `npm run bench:cli`'s job: a shared machine makes time bounds in a test flaky.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { compactLakeReport } from '../../src/compact/lake-report';
import { brokerLag } from '../../src/cli/broker-lag';
import { askBrokerAndLake } from '../../src/cli/status-side';
import { prepareInfrastructure } from '../../src/pipeline';
import { waitFor } from '../../src/concurrency';

const exec = promisify(execFile);
const BIN = path.join(REPO_ROOT, 'bin', 'ticklake.js');
const HEAVY = /node_modules\/(@temporalio\/(client|worker|proto)|@aws-sdk\/|kafkajs|@confluentinc\/|@duckdb\/|zod)\//;

describe('ticklake start-up', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-startup-'));
  const preload = path.join(dir, 'list-modules.js');

  beforeAll(() => {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.js'), '--if-stale'], {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    });
    fs.writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(process.env.LIST_MODULES_TO, JSON.stringify(Object.keys(require.cache))));\n`,
    );
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the CLI; returns its output and the files it loaded. */
  async function run(args: string[], env: Record<string, string> = {}) {
    const listTo = path.join(dir, `modules-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    const { stdout, stderr } = await exec(process.execPath, ['-r', preload, BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, LIST_MODULES_TO: listTo },
      timeout: 60_000,
    });
    return { stdout, stderr, loaded: JSON.parse(fs.readFileSync(listTo, 'utf8')) as string[] };
  }

  it('runs --help from the build without loading Temporal, the AWS SDK, Kafka clients, DuckDB or zod', async () => {
    const r = await run(['--help']);
    expect(r.stdout).toContain('Usage: ticklake');
    expect(r.stderr).toBe('');
    expect(r.loaded).toContain(path.join(REPO_ROOT, 'dist', 'src', 'cli', 'index.js'));
    expect(r.loaded.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(r.loaded.filter((f) => HEAVY.test(f))).toEqual([]);
  });

  it('loads no heavy module for a subcommand help either', async () => {
    for (const args of [
      ['query', '--help'],
      ['replay', 'start', '--help'],
      ['status', '--help'],
    ]) {
      const r = await run(args);
      expect(r.stdout).toContain(`Usage: ticklake ${args[0]}`);
      expect(r.loaded.filter((f) => HEAVY.test(f))).toEqual([]);
    }
  });

  it('prints the same help from the TypeScript sources through tsx', async () => {
    const [built, source] = await Promise.all([run(['--help']), run(['--help'], { TICKLAKE_FROM_SOURCE: '1' })]);
    expect(source.loaded).toContain(path.join(REPO_ROOT, 'src', 'cli', 'index.ts'));
    expect(source.loaded.some((f) => f.startsWith(path.join(REPO_ROOT, 'dist')))).toBe(false);
    expect(source.stdout).toBe(built.stdout);
  });

  it('asks the broker and the lake for status on a second thread: the main thread loads neither kafkajs nor S3', async () => {
    // The configured topic and bucket, as `ticklake start` makes them: status has something to report
    // (a topic just made answers once its partitions have leaders).
    await prepareInfrastructure(loadConfig());
    await waitFor('the new topic to answer for its lag', () => brokerLag(loadConfig()), 30_000);
    const r = await run(['status', '--json']);
    const status = JSON.parse(r.stdout) as { lag: unknown; compaction: { table?: string } | null };
    // Both answered (the services are up), though the main thread loaded neither client.
    expect(status.lag).not.toBeNull();
    expect(status.compaction?.table).toBe(`${loadConfig().glue.database}.${loadConfig().glue.table}`);
    expect(r.loaded.some((f) => f.includes(path.join('@temporalio', 'client')))).toBe(true);
    expect(r.loaded.filter((f) => /node_modules\/(kafkajs|@aws-sdk\/client-s3)\//.test(f))).toEqual([]);
  });

  it("answers on the thread what the main thread would (status's broker lag and the curated zone's state)", async () => {
    const config = loadConfig();
    const side = askBrokerAndLake(config);
    const onThread = await side.answers;
    side.stop();
    expect(onThread.via).toBe('thread');
    const [lag, lake] = await Promise.all([brokerLag(config), compactLakeReport(config)]);
    // The same partitions and table (values may move: a sink of an earlier test may still be writing).
    expect(lag).toBeDefined();
    expect(Object.keys(onThread.lag ?? {}).sort()).toEqual(Object.keys(lag ?? {}).sort());
    expect(onThread.lake?.table).toBe(lake.table);
    expect(Object.keys(onThread.lake ?? {}).sort()).toEqual(Object.keys(lake).sort());
  });

  it('has a workflow bundle in the build for the worker, and the worker module picks it when compiled', () => {
    const bundle = path.join(REPO_ROOT, 'dist', 'workflow-bundle.js');
    expect(fs.statSync(bundle).size).toBeGreaterThan(100_000);
    // The compiled worker's choice, asked of the compiled module itself (no worker started).
    const choice = execFileSync(
      process.execPath,
      ['-e', `process.stdout.write(JSON.stringify(require('./dist/src/worker.js').workflowCode()))`],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    expect(JSON.parse(choice)).toEqual({ workflowBundle: { codePath: bundle } });
  });
});
