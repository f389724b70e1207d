/**
 * `npm start` itself, as a new user runs it: the command of the README on a small file of its own
 * (30 SAMPLE-HK rows, 20 SAMPLE-NY rows, one bad row), under names of its own. Checks what it prints: the replay's
 * counts, the sink caught up, the crawl, the query's table and the closing line's counts.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { connectClient } from '../../src/adapters/temporal';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { replayIdFor } from '../../src/pipeline';
import { crawlScheduleId } from '../../src/schedules';
import { removeResources } from './sink-support';
import { terminateRunning, uniqueEnv } from './support';

const run = promisify(execFile);

describe('npm start', () => {
  const env = uniqueEnv('npm-start', { TICKLAKE_METRICS_PORT: '0' });
  const config = loadConfig(env);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ticklake-npm-start-'));
  const file = path.join(dir, 'start-small.csv');

  beforeAll(() => {
    const lines = fs.readFileSync(path.join(REPO_ROOT, 'data', 'sample.csv'), 'utf8').split(/\r?\n/);
    const of = (symbol: string, n: number) => lines.filter((l) => l.startsWith(`${symbol},`)).slice(0, n);
    fs.writeFileSync(
      file,
      [lines[0], ...of('SAMPLE-HK', 30), 'SAMPLE-HK,not-a-date,1,2,1,2,2,0.0,1', ...of('SAMPLE-NY', 20)].join('\n') +
        '\n',
    );
  });

  afterAll(async () => {
    const client = await connectClient(config.temporal);
    try {
      await client.schedule
        .getHandle(crawlScheduleId(config))
        .delete()
        .catch(() => undefined);
      await terminateRunning(client, config.temporal.taskQueue).catch(() => undefined);
    } finally {
      await client.connection.close();
    }
    await removeResources(config).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('replays a file end to end and closes with the counts of what it replayed', async () => {
    const { stdout } = await run('npm', ['start', '--', '--once', '--file', file], {
      cwd: REPO_ROOT,
      env,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`npm start failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    });
    const lines = stdout.split('\n').map((l) => l.trimEnd());
    const table = `${config.glue.database}.${config.glue.table}`;
    expect(lines).toContain(`worker running on task queue '${config.temporal.taskQueue}'`);
    expect(lines).toContain(`produced 50 rows, rejected 1 rows (dead-letter topic '${config.kafka.dlqTopic}')`);
    expect(lines).toContain('sink caught up: every record is in the lake');
    expect(lines.find((l) => l.startsWith('crawl ('))).toMatch(
      new RegExp(
        `^crawl \\(\\w+ scan\\): table ${table.replace('.', '\\.')} (created|up to date), \\d+ partitions added`,
      ),
    );
    // The query's table: one row per symbol with its count.
    const row = (symbol: string) => lines.find((l) => new RegExp(`[│|]\\s*${symbol}\\s*[│|]`).test(l));
    expect(row('SAMPLE-HK')).toMatch(/[│|]\s*SAMPLE-HK\s*[│|]\s*30\s*[│|]/);
    expect(row('SAMPLE-NY')).toMatch(/[│|]\s*SAMPLE-NY\s*[│|]\s*20\s*[│|]/);
    // The closing line, last of the output.
    const closing = lines.filter((l) => l !== '').pop();
    expect(closing).toMatch(
      new RegExp(
        `^50 ticks of start-small\\.csv over 2 symbols in table ${table.replace('.', '\\.')}, ` +
          `from replay id '${replayIdFor(file)}' \\(\\d+\\.\\d s\\)$`,
      ),
    );
  }, 300_000);
});
