/**
 * Steering a running replay on the local services: after a pause signal nothing more reaches Kafka
 * within 2 s and nothing at all while paused; the speed update answers with the new setting; after
 * resume the replay completes with every row exactly once.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createKafka } from '../../src/adapters/kafka';
import { REPO_ROOT } from '../../src/config';
import { startReplay } from '../../src/pipeline';
import { pauseSignal, resumeSignal, setSpeedUpdate } from '../../workflows/definitions';
import { exactlyOnceProblems, expectedRows, readTopic, topicEnd } from './replay-helpers';
import { startHarness, uniqueConfig, waitFor, type Harness } from './support';
import { replayStatus } from '../../src/progress';

const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');
const ROWS = 4086;

/** Observes the topics' end offsets for a while (the property under test is that they stay still). */
async function offsetsOver(
  read: () => Promise<string>,
  ms: number,
  everyMs: number,
): Promise<{ at: number; ends: string }[]> {
  const seen: { at: number; ends: string }[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    seen.push({ at: Date.now(), ends: await read() });
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return seen;
}

describe('replay producer: pause, speed and resume', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(uniqueConfig('replay-pause'));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('stops producing within 2 s of a pause, produces nothing while paused, and resumes with no gap and no duplicate', async () => {
    const { config, client } = h;
    const kafka = createKafka(config.kafka, '-test');
    const ends = async () =>
      `${await topicEnd(kafka, config.kafka.topic)}/${await topicEnd(kafka, config.kafka.positionsTopic)}`;
    // Throttled, so the replay is still running when paused (about 7 s in all).
    const handle = await startReplay(client, config, {
      file: SAMPLE,
      replayId: `pause-${randomBytes(3).toString('hex')}`,
      speed: { mode: 'rows', rowsPerSecond: 600 },
      // Market-time order: the resume goes on from one cursor per run (the sample has five).
      order: 'market',
    });
    await waitFor('the replay to be under way', async () => (await topicEnd(kafka, config.kafka.topic)) > 500n, 60_000);
    // Progress reaches the workflow with a throttled signal: it may lag the topic by a couple of seconds.
    const running = await waitFor('progress in the query', async () => {
      const p = await replayStatus(handle);
      return p.produced > 0 && p;
    });
    expect(running).toMatchObject({
      state: 'running',
      order: 'market',
      speed: { mode: 'rows', rowsPerSecond: 600 },
      rejected: 0,
    });
    expect(running.position).toBe(running.produced);
    expect(running.rowsRead).toBeGreaterThanOrEqual(running.produced);

    const signalledAt = Date.now();
    await handle.signal(pauseSignal);
    // Within 2 s of the signal the offsets stop moving, then stay still for 5 s.
    const settling = await offsetsOver(ends, 2000, 100);
    const lastMove = settling.filter((s, i) => i > 0 && s.ends !== settling[i - 1].ends).pop();
    const held = await offsetsOver(ends, 5000, 250);
    expect(new Set(held.map((s) => s.ends))).toEqual(new Set([settling[settling.length - 1].ends]));
    if (lastMove) expect(lastMove.at - signalledAt).toBeLessThan(2000);
    console.log(`pause: last offset move ${lastMove ? lastMove.at - signalledAt : 0} ms after the signal`);

    const paused = await replayStatus(handle);
    expect(paused.state).toBe('paused');
    expect(paused.produced).toBeLessThan(ROWS);
    expect((await handle.describe()).raw.pendingActivities ?? []).toHaveLength(0);

    // The speed update answers with the new setting, and a paused replay stays paused.
    const speed = await handle.executeUpdate(setSpeedUpdate, { args: [{ mode: 'rows', rowsPerSecond: 3000 }] });
    expect(speed).toEqual({ mode: 'rows', rowsPerSecond: 3000 });
    expect((await replayStatus(handle)).speed).toEqual(speed);
    await expect(
      handle.executeUpdate(setSpeedUpdate, { args: [{ mode: 'rows', rowsPerSecond: -1 }] }),
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/positive number/) as string },
    });
    expect(await ends()).toBe(held[held.length - 1].ends);

    await handle.signal(resumeSignal);
    const done = await handle.result();
    expect(done).toMatchObject({ produced: ROWS, rejected: 0, position: ROWS, done: true });
    const ticks = await readTopic(kafka, config.kafka.topic);
    expect(ticks).toHaveLength(ROWS);
    expect(exactlyOnceProblems(ticks, expectedRows(SAMPLE), 'sample.csv')).toEqual([]);
  }, 180_000);
});
