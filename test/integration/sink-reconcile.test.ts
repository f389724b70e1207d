/**
 * A retried sink attempt counts the flushes its dead predecessor wrote after its last heartbeat,
 * whatever that heartbeat knew: nothing yet of a partition (sent between the join and the first
 * fetch), no partition at all (sent before the join), or no heartbeat at all; and it counts nothing
 * twice when the heartbeat knew every flush. Real Kafka and S3; the dead attempt is a sink that wrote
 * and committed everything, and the "last heartbeat" is a progress made up from before or after that.
 */
import { createAwsClients } from '../../src/adapters/aws';
import { groupLag } from '../../src/adapters/kafka';
import { ensureBucket } from '../../src/adapters/s3';
import type { TicklakeConfig } from '../../src/config';
import { LakeSink, type SinkLogger, type SinkProgress } from '../../src/sink/lake-sink';
import { s3SinkStorage } from '../../src/sink/storage';
import { uniqueConfig, waitFor } from './support';
import { removeResources, sampleInTopic, testKafka } from './sink-support';

const quiet: SinkLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** What the dead attempt's last heartbeat said, made from the status it had when it "died". */
const HEARTBEATS: Record<string, (done: SinkProgress) => SinkProgress | undefined> = {
  'knew nothing of its partitions (sent between the join and the first fetch)': (done) => ({
    ...nothingCounted(),
    partitions: done.partitions.map((p) => ({
      ...p,
      committed: '-1',
      position: '-1',
      lag: '0',
      buffered: 0,
      written: '-1',
    })),
  }),
  'listed no partition (sent before the join)': () => nothingCounted(),
  'was never sent (the attempt died before its first heartbeat)': () => undefined,
  'knew every flush but listed no partition (sent after a rebalance took them away)': (done) => ({
    ...done,
    partitions: [],
  }),
};

function nothingCounted(): SinkProgress {
  return {
    records: 0,
    deadLetters: 0,
    bytes: 0,
    files: 0,
    flushes: 0,
    rewrittenRecords: 0,
    partitions: [],
    updatedAt: new Date(0).toISOString(),
  };
}

describe('sink: counting a dead attempt’s flushes', () => {
  const configs: TicklakeConfig[] = [];
  afterAll(() => Promise.all(configs.map((c) => removeResources(c).catch(() => undefined))));

  it.each(Object.keys(HEARTBEATS))(
    'counts every flush once when the last heartbeat %s',
    async (label) => {
      const config = uniqueConfig('sink-reconcile');
      configs.push(config);
      const { s3 } = createAwsClients(config.aws);
      await ensureBucket(s3, config.lake.bucket);
      const kafka = testKafka(config.kafka);
      const admin = kafka.admin();
      await admin.connect();
      try {
        const { rows, settings } = await sampleInTopic(config, kafka, { perTransaction: 500, maxRecords: 1000 });
        const storage = s3SinkStorage(s3, config.lake.bucket);
        const writerId = 'sink/test/run/1';
        // The attempt that "dies": it writes and commits every record, but its last heartbeat predates all that.
        const first = new LakeSink({ kafka, storage, settings, log: quiet, writerId, attempt: 1 });
        await first.start();
        await waitFor(
          'the first attempt to commit everything',
          async () =>
            [...(await groupLag(admin, config.sink.groupId, config.kafka.topic)).values()].every((l) => l === 0n),
          60_000,
        );
        const done = first.status();
        await first.close();
        expect(done.records).toBe(rows.length);

        const resume = HEARTBEATS[label](done);
        const retry = new LakeSink({ kafka, storage, settings, log: quiet, writerId, attempt: 2, resume });
        await retry.start();
        try {
          expect(retry.status()).toMatchObject({
            records: done.records,
            files: done.files,
            flushes: done.flushes,
            bytes: done.bytes,
            rewrittenRecords: 0,
            writtenOffsets: done.writtenOffsets,
          });
        } finally {
          await retry.close();
        }
      } finally {
        await admin.disconnect();
      }
    },
    120_000,
  );
});
