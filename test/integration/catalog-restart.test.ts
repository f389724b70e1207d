/**
 * The local catalog survives a restart of the services: moto keeps Glue in memory, so after
 * `npm run services -- down` and `up` (or a worker started on fresh services) every table the crawler
 * knew is rebuilt from the lake before queries are served, and the first query answers as before.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../../src/config';
import { runCrawl, runQuery, startReplay, startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { startService, stopService } from '../../src/services';
import { startWorker } from '../../src/worker';
import { csvStats, startHarness, uniqueEnv, type Harness } from './support';

const exec = promisify(execFile);
const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');
const COUNT_SQL = 'SELECT symbol, count(*) AS n FROM ticks GROUP BY symbol ORDER BY symbol';

describe('the local catalog after a restart of the services', () => {
  const env = uniqueEnv('restart');
  let h: Harness;
  let before: unknown[][];
  let startedAt: number;

  beforeAll(async () => {
    startedAt = Date.now();
    h = await startHarness(loadConfig(env));
    await startSink(h.client, h.config);
    await (await startReplay(h.client, h.config, { file: SAMPLE })).result();
    await waitForSinkCaughtUp(h.config, 120_000);
    await runCrawl(h.client, h.config);
    before = (await runQuery(h.client, h.config, COUNT_SQL, [])).rows;
    const expected = csvStats(SAMPLE);
    expect(before).toEqual([...expected.perSymbol.entries()].sort().map(([s, e]) => [s, e.count]));
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  it('reads the timestamp column as the instants the producer wrote (DuckDB engine)', async () => {
    const r = await runQuery(
      h.client,
      h.config,
      'SELECT min(ingested_at) AS first, max(ingested_at) AS last, count(ingested_at) AS n FROM ticks',
      [],
    );
    expect(r.columns.map((c) => c.type)).toEqual([
      expect.stringMatching(/timestamp/i),
      expect.stringMatching(/timestamp/i),
      expect.anything(),
    ]);
    const [first, last, n] = r.rows[0];
    expect(Number(n)).toBe(csvStats(SAMPLE).rows);
    for (const v of [first, last]) {
      const ms = Date.parse(`${String(v).replace(' ', 'T').replace(/Z?$/, 'Z')}`);
      expect(ms).toBeGreaterThanOrEqual(Math.floor(startedAt / 1000) * 1000);
      expect(ms).toBeLessThanOrEqual(Date.now());
    }
  });

  it('answers the first query after npm run services -- down and up, with no crawl asked for', async () => {
    const services = (...args: string[]) =>
      exec('npm', ['run', 'services', '--', ...args], { cwd: REPO_ROOT, env, timeout: 240_000 });
    await services('down', 'moto');
    const up = await services('up');
    expect(up.stderr).toMatch(
      new RegExp(`\\[moto\\] table ${h.config.glue.database}\\.ticks rebuilt: \\d+ partitions`),
    );
    expect((await runQuery(h.client, h.config, COUNT_SQL, [])).rows).toEqual(before);
  }, 300_000);

  it('answers after moto restarted under it once a worker starts', async () => {
    await stopService('moto');
    await startService('moto');
    const worker = await startWorker(h.config);
    try {
      expect((await runQuery(h.client, h.config, COUNT_SQL, [])).rows).toEqual(before);
    } finally {
      await worker.shutdown();
    }
  }, 300_000);
});
