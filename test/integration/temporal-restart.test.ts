/**
 * Resumable across a Temporal server restart: while a replay streams the sample into Kafka and the
 * sink writes it to the lake, the Temporal server is killed (SIGKILL) and started again on the same
 * SQLite file. The worker and the client reconnect by themselves, the replay and the sink go on, and
 * the lake holds every row of the sample exactly once. (`npm run chaos` does this among other faults
 * on a stack of its own; this is the same fault inside `npm test`, on the test's services.)
 */
import path from 'node:path';
import { createAwsClients } from '../../src/adapters/aws';
import { createKafka } from '../../src/adapters/kafka';
import { topicEnd } from './replay-helpers';
import { REPO_ROOT } from '../../src/config';
import { startReplay, startSink, waitForSinkCaughtUp } from '../../src/pipeline';
import { restartService, serviceStatus } from '../../src/services';
import { lakeProblems, manifestOverlaps, readLake, readManifests, sourceRows } from './sink-support';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';

const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');

describe('a Temporal server restart mid-pipeline', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('temporal-restart'));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('the replay and the sink go on by themselves, and the lake has every row once', async () => {
    const { config, client } = h;
    const rows = sourceRows(SAMPLE);
    const kafka = createKafka(config.kafka, '-test');
    const sink = await startSink(client, config);
    // About 27 s of replay, so that the restart falls in its middle.
    const replay = await startReplay(client, config, {
      file: SAMPLE,
      replayId: `restart-${config.kafka.topic}`,
      speed: { mode: 'rows', rowsPerSecond: 150 },
    });
    await waitFor(
      'the replay to produce 600 rows into the topic',
      async () => (await topicEnd(kafka, config.kafka.topic)) >= 600n,
      90_000,
      100,
    );
    const before = (await serviceStatus(['temporal'])).find((s) => s.name === 'temporal');
    // Killed while the replay is running: it has produced only part of the file.
    expect((await replay.describe()).status.name).toBe('RUNNING');
    expect(await topicEnd(kafka, config.kafka.topic)).toBeLessThan(BigInt(rows.length));
    const restarted = await restartService('temporal', { force: true });
    expect(restarted.state).toBe('running');
    expect(restarted.pid).toBeDefined();
    expect(restarted.pid).not.toBe(before?.pid);
    const progress = await replay.result();
    expect(progress.produced).toBe(rows.length);

    await waitForSinkCaughtUp(config, 120_000);
    const { s3 } = createAwsClients(config.aws);
    const lake = await readLake(s3, config.lake.bucket, config.lake.prefix, config.glue.table);
    expect(lakeProblems(rows, lake, 'sample.csv')).toEqual([]);
    const manifests = await readManifests(
      s3,
      config.lake.bucket,
      config.lake.prefix,
      config.sink.groupId,
      config.kafka.topic,
    );
    expect(manifestOverlaps(manifests)).toEqual([]);
    await sink.terminate('test over');
  }, 300_000);
});
