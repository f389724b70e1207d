/**
 * The crash window, hit on purpose: a sink member has written a flush's manifest and objects but
 * dies before committing its offsets. The next member reads those records again, adopts the cut the
 * manifest recorded and rewrites the same objects; when the dead member comes back as a zombie and
 * finishes its writes late, nothing changes. Real Kafka and S3; the fault is a storage wrapper that
 * never returns from the writes of the third flush (after they are durable).
 */
import { createAwsClients } from '../../src/adapters/aws';
import { committedOffsets, groupLag } from '../../src/adapters/kafka';
import { ensureBucket } from '../../src/adapters/s3';
import { LakeSink, type SinkLogger } from '../../src/sink/lake-sink';
import type { SinkStorage } from '../../src/sink/partition-writer';
import { s3SinkStorage } from '../../src/sink/storage';
import { uniqueConfig, waitFor } from './support';
import {
  lakeProblems,
  manifestOverlaps,
  readLake,
  readManifests,
  removeResources,
  sampleInTopic,
  testKafka,
} from './sink-support';

const quiet: SinkLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Writes through, but from the `hangFrom`-th manifest on, holds every object write after it is durable. */
class HangingStorage implements SinkStorage {
  manifests = 0;
  held = 0;
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  constructor(
    private readonly inner: SinkStorage,
    private readonly hangFrom: number,
  ) {}
  async putIfAbsent(key: string, body: string): Promise<boolean> {
    const created = await this.inner.putIfAbsent(key, body);
    if (created) this.manifests++;
    return created;
  }
  getJson<T>(key: string): Promise<T | undefined> {
    return this.inner.getJson<T>(key);
  }
  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    const hang = this.manifests >= this.hangFrom;
    await this.inner.put(key, body, contentType);
    if (hang) {
      this.held++;
      await this.gate;
    }
  }
  wake(): void {
    this.release();
  }
}

describe('sink crash between writing objects and committing offsets', () => {
  const config = uniqueConfig('sink-crash');
  afterAll(() => removeResources(config).catch(() => undefined));

  it('rewrites the same cut after the crash, and a zombie finishing late changes nothing', async () => {
    const { s3 } = createAwsClients(config.aws);
    await ensureBucket(s3, config.lake.bucket);
    const kafka = testKafka(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    // Small transactions and small cuts: many flushes per partition.
    const { rows, settings } = await sampleInTopic(config, kafka, { perTransaction: 200, maxRecords: 300 });
    const real = s3SinkStorage(s3, config.lake.bucket);
    const hanging = new HangingStorage(real, 3);
    const doomed = new LakeSink({ kafka, storage: hanging, settings, log: quiet, writerId: 'doomed' });
    await doomed.start();
    await waitFor('a flush to be durable but not committed', () => Promise.resolve(hanging.held > 0), 60_000);
    // Let every write of the held flushes land, then the member "dies": it leaves without committing.
    await new Promise((r) => setTimeout(r, 1000));
    const lagAtCrash = [...(await groupLag(admin, config.sink.groupId, config.kafka.topic)).values()].reduce(
      (a, b) => a + b,
      0n,
    );
    expect(lagAtCrash).toBeGreaterThan(0n);
    await doomed.close();

    // The commit hook reports what the broker accepted: at the end, the group's committed offsets.
    const hooked = new Map<number, bigint>();
    const next = new LakeSink({
      kafka,
      storage: real,
      settings,
      log: quiet,
      writerId: 'next',
      onCommit: (partition, offset) => hooked.set(partition, offset),
    });
    await next.start();
    await waitFor(
      'the next member to commit everything',
      async () => [...(await groupLag(admin, config.sink.groupId, config.kafka.topic)).values()].every((l) => l === 0n),
      60_000,
    );
    const committed = await committedOffsets(admin, config.sink.groupId, config.kafka.topic);
    expect(hooked.size).toBeGreaterThan(0);
    for (const [partition, offset] of hooked) expect(offset).toBe(committed.get(partition));
    // It adopted the cuts the dead member had written and rewrote them (counted as rewrites, not records).
    const st = next.status();
    expect(st.rewrittenRecords).toBeGreaterThan(0);

    // The zombie wakes up and finishes its writes: identical objects, its commits refused or harmless.
    hanging.wake();
    await new Promise((r) => setTimeout(r, 1000));
    await next.drain();

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
    expect(new Set(manifests.map((m) => m.writer))).toEqual(new Set(['doomed', 'next']));
    await admin.disconnect();
  }, 120_000);
});
