/**
 * A retried sink attempt counts the flushes its dead predecessor wrote after its last heartbeat, also
 * when that heartbeat knew nothing yet of a partition (no flush written, no committed offset: it was
 * sent between the join and the partition's first fetch). Real Kafka and S3; the dead attempt is a
 * sink that wrote and committed everything, and the "last heartbeat" is a progress from before that.
 */
import { createAwsClients } from '../../src/adapters/aws';
import { groupLag } from '../../src/adapters/kafka';
import { ensureBucket } from '../../src/adapters/s3';
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

describe('sink: counting a dead attempt’s flushes', () => {
  const config = uniqueConfig('sink-reconcile');
  afterAll(() => removeResources(config).catch(() => undefined));

  it('counts every flush of the activity when the last heartbeat knew nothing of a partition', async () => {
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
      const first = new LakeSink({ kafka, storage, settings, log: quiet, writerId });
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

      const heartbeat: SinkProgress = {
        records: 0,
        deadLetters: 0,
        bytes: 0,
        files: 0,
        flushes: 0,
        rewrittenRecords: 0,
        partitions: done.partitions.map((p) => ({
          ...p,
          committed: '-1',
          position: '-1',
          lag: '0',
          buffered: 0,
          written: '-1',
        })),
        updatedAt: new Date(0).toISOString(),
      };
      const retry = new LakeSink({ kafka, storage, settings, log: quiet, writerId, resume: heartbeat });
      await retry.start();
      try {
        const counted = retry.status();
        expect(counted).toMatchObject({
          records: done.records,
          files: done.files,
          flushes: done.flushes,
          bytes: done.bytes,
          rewrittenRecords: 0,
        });
      } finally {
        await retry.close();
      }
    } finally {
      await admin.disconnect();
    }
  }, 120_000);
});
