/**
 * `npm run record-histories [-- --out DIR]`: records one history of every workflow type on the local
 * services (npm run services -- up) and writes them to test/fixtures/histories/ (or DIR), where
 * test/unit/workflow-replay.test.ts replays them with `Worker.runReplayHistories` against the
 * current workflow code.
 *
 * Each history walks the paths a running workflow takes: the replay is started paused, resumed,
 * sped up, paused and resumed again, and runs to its end; the sink runs, is paused (drains) and resumed
 * and paused again; the crawl workflow serves a `crawlNow` update and sink notices; the query workflow
 * runs one statement; the compaction compacts the drained lake. Every name (topics, group, bucket, database, task queue) is the run's own and
 * removed at the end. See docs/workflow-testing.md for when to record again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { REPO_ROOT, type TicklakeConfig } from '../src/config';
import { ensureTemporalBinary } from '../src/services';
import { runCrawl, runQuery, startCompaction, startReplay, startSink, workflowIds } from '../src/pipeline';
import { pauseSignal, resumeSignal, setSpeedUpdate } from '../workflows/definitions';
import { startHarness, uniqueConfig, waitFor } from '../test/integration/support';

const outArg = process.argv.indexOf('--out');
const OUT = path.resolve(outArg > 0 ? process.argv[outArg + 1] : path.join(REPO_ROOT, 'test', 'fixtures', 'histories'));

/**
 * Writes a workflow's history in the JSON form of `temporal workflow show --output json` (the Web UI's
 * download is the same), which `Worker.runReplayHistories` reads.
 */
async function save(config: TicklakeConfig, h: WorkflowHandle, name: string): Promise<void> {
  const binary = await ensureTemporalBinary();
  const json = execFileSync(
    binary,
    ['workflow', 'show', '--workflow-id', h.workflowId, '--output', 'json', '--address', config.temporal.address],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const history = JSON.parse(json) as { events: unknown[] };
  const file = path.join(OUT, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(history, null, 1) + '\n');
  console.log(`${path.relative(REPO_ROOT, file)}: ${history.events.length} events`);
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const config = uniqueConfig('record', { SINK_FLUSH_MS: '300' });
  const h = await startHarness(config);
  try {
    const sink = await startSink(h.client, config);
    const replay = await startReplay(h.client, config, {
      file: path.join(REPO_ROOT, 'data', 'sample.csv'),
      replayId: 'record',
      speed: { mode: 'rows', rowsPerSecond: 400 },
      paused: true,
    });
    await replay.signal(resumeSignal);
    const describeActivity = async (w: WorkflowHandle) => (await w.describe()).raw.pendingActivities?.length ?? 0;
    await waitFor('the replay activity', async () => (await describeActivity(replay)) > 0, 30_000);
    await replay.executeUpdate(setSpeedUpdate, { args: [{ mode: 'rows', rowsPerSecond: 1_000 }] });
    await replay.signal(pauseSignal);
    await waitFor('the replay to pause', async () => (await describeActivity(replay)) === 0, 30_000);
    await replay.signal(resumeSignal);
    await replay.executeUpdate(setSpeedUpdate, { args: [{ mode: 'max' }] });
    await replay.result();

    await waitFor('the sink activity', async () => (await describeActivity(sink)) > 0, 30_000);
    await sink.signal(pauseSignal);
    await waitFor('the sink to drain', async () => (await describeActivity(sink)) === 0, 30_000);
    await sink.signal(resumeSignal);
    await waitFor('the sink activity again', async () => (await describeActivity(sink)) > 0, 30_000);
    await sink.signal(pauseSignal);
    await waitFor('the sink to drain again', async () => (await describeActivity(sink)) === 0, 30_000);

    await runCrawl(h.client, config);
    const crawl = h.client.workflow.getHandle(workflowIds.crawl(config.glue.database, config.glue.table));
    const query = `query-record-${Date.now().toString(36)}`;
    await runQuery(h.client, config, 'SELECT symbol, count(*) AS n FROM ticks GROUP BY symbol ORDER BY symbol', [], {
      id: query,
    });

    // The drained lake compacted at once (no quiet period): a plan, its windows, the switch, the catalog.
    const compact = await startCompaction(h.client, config, { quietMs: 0 });
    await compact.result();

    await save(config, replay, 'replay');
    await save(config, sink, 'sink');
    await save(config, crawl, 'crawl');
    await save(config, h.client.workflow.getHandle(workflowIds.query(query)), 'query');
    await save(config, compact, 'compact');
  } finally {
    await h.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`error: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
