/**
 * Fills a benchmark's topic with a CSV file through the replay engine itself (src/replay/replayer.ts,
 * at full speed, gzip as the replay writes it), so that consumers read what the pipeline produces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createKafka, ensureTopics } from '../../src/adapters/kafka';
import { REPO_ROOT, type TicklakeConfig } from '../../src/config';
import type { ReplaySpeed } from '../../src/replay/pacing';
import { ProducerPool } from '../../src/replay/producer-pool';
import { runReplay } from '../../src/replay/replayer';
import { SAMPLE_CSV } from '../../test/integration/sink-support';

/** The file to fill with: TICKLAKE_REAL_CSV, else the real file beside the checkout, else the sample. */
export const BENCH_CSV =
  [
    process.env.TICKLAKE_REAL_CSV,
    path.resolve(REPO_ROOT, '..', 'shared', 'data', 'stock-exchange', 'indexProcessed.csv'),
  ].find((f) => f && fs.existsSync(f)) ?? SAMPLE_CSV;

/**
 * Produces `file` `copies` times into the configuration's topic, at `speed` (default as fast as
 * possible); returns the records produced. Each copy is a replay `<name>-<copy>`; a second file
 * into the same topic needs a `name` of its own (the replay engine refuses a changed file under a
 * replay id it has seen).
 */
export async function fillTopic(
  config: TicklakeConfig,
  file: string,
  copies = 1,
  speed: ReplaySpeed = { mode: 'max' },
  name = config.kafka.topic,
): Promise<number> {
  const kafka = createKafka(config.kafka, '-bench-fill');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config.kafka, [config.kafka.topic, config.kafka.dlqTopic, config.kafka.positionsTopic]);
  await admin.disconnect();
  const producers = new ProducerPool(config.kafka);
  let produced = 0;
  try {
    for (let c = 0; c < copies; c++) {
      const p = await runReplay(
        { kafka, producers },
        {
          replayId: `${name}-${c + 1}`,
          file,
          topic: config.kafka.topic,
          dlqTopic: config.kafka.dlqTopic,
          positionsTopic: config.kafka.positionsTopic,
          speed,
          order: 'file',
          loop: false,
        },
        {
          signal: new AbortController().signal,
          progress: () => undefined,
          log: { info: () => undefined, warn: (m, meta) => console.error(m, meta) },
        },
      );
      produced += p.produced;
    }
  } finally {
    await producers.closeAll();
  }
  return produced;
}
