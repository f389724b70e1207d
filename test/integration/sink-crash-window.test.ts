/**
 * The crash window, hit on purpose: a sink member has written a flush's manifest but dies before its
 * objects land and before committing its offsets. The next member reads those records again, adopts
 * the cut the manifest recorded, writes the objects and commits. Then the dead member comes back as a
 * zombie: its held object writes land late, and the committed offsets and the lake stay exactly as
 * the successor left them. Real Kafka and S3; the fault is a storage wrapper that holds every object
 * write from the third flush on before it reaches S3, until the test releases it.
 */
import { createAwsClients } from '../../src/adapters/aws';
import { committedOffsets, groupLag } from '../../src/adapters/kafka';
import type { S3Client } from '@aws-sdk/client-s3';
import { ensureBucket, getObjectBytes } from '../../src/adapters/s3';
import { LakeSink, type SinkLogger } from '../../src/sink/lake-sink';
import type { SinkStorage } from '../../src/sink/partition-writer';
import { s3SinkStorage } from '../../src/sink/storage';
import { uniqueConfig, waitFor } from './support';
import {
  lakeProblems,
  manifestOverlaps,
  readLake,
  readManifests,
  listKeys,
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

/** Writes through, but from the `holdFrom`-th manifest on, holds every object write before it reaches S3. */
class HoldingStorage implements SinkStorage {
  manifests = 0;
  /** Keys of the object writes held. */
  readonly held: string[] = [];
  /** Held writes that reached S3 after the release. */
  landed = 0;
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  constructor(
    private readonly inner: SinkStorage,
    private readonly holdFrom: number,
  ) {}
  async putIfAbsent(key: string, body: string): Promise<boolean> {
    const created = await this.inner.putIfAbsent(key, body);
    if (created) this.manifests++;
    return created;
  }
  getJson<T>(key: string): Promise<T | undefined> {
    return this.inner.getJson<T>(key);
  }
  list(prefix: string, startAfter: string): Promise<string[]> {
    return this.inner.list!(prefix, startAfter);
  }
  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    if (this.manifests < this.holdFrom) return this.inner.put(key, body, contentType);
    this.held.push(key);
    await this.gate;
    await this.inner.put(key, body, contentType);
    this.landed++;
  }
  wake(): void {
    this.release();
  }
}

/** The dead member's own attempt marker: its record of where it started, which only it writes. */
const isMarker = (key: string) =>
  key.includes('/_ticklake/sink-attempts/') || key.startsWith('_ticklake/sink-attempts/');

/** Every object of the bucket (data objects and manifests; not attempt markers) with its bytes, by key. */
async function snapshot(s3: S3Client, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await listKeys(s3, bucket, '')) {
    if (isMarker(key)) continue;
    out.set(key, (await getObjectBytes(s3, bucket, key))!.toString('base64'));
  }
  return out;
}

describe('sink crash between writing objects and committing offsets', () => {
  const config = uniqueConfig('sink-crash');
  afterAll(() => removeResources(config).catch(() => undefined));

  it('adopts the cut of a member that died before its objects landed, and its late writes change nothing', async () => {
    const { s3 } = createAwsClients(config.aws);
    await ensureBucket(s3, config.lake.bucket);
    const kafka = testKafka(config.kafka);
    const admin = kafka.admin();
    await admin.connect();
    const totalLag = async () =>
      [...(await groupLag(admin, config.sink.groupId, config.kafka.topic)).values()].reduce((a, b) => a + b, 0n);
    // Small transactions and small cuts: many flushes per partition.
    const { rows, settings } = await sampleInTopic(config, kafka, { perTransaction: 200, maxRecords: 300 });
    const real = s3SinkStorage(s3, config.lake.bucket);
    const holding = new HoldingStorage(real, 3);
    const doomed = new LakeSink({ kafka, storage: holding, settings, log: quiet, writerId: 'doomed' });
    await doomed.start();
    await waitFor(
      'a flush whose manifest is written and whose objects are held',
      () => Promise.resolve(holding.held.length > 0),
      60_000,
    );
    // The member "dies" with its writes in flight: it leaves without committing them.
    await doomed.close();
    const lake = () => readLake(s3, config.lake.bucket, config.lake.prefix, config.glue.table);
    expect(await totalLag()).toBeGreaterThan(0n);
    // None of the held objects is in the lake yet.
    const before = await snapshot(s3, config.lake.bucket);
    expect(holding.held.filter((k) => before.has(k))).toEqual([]);

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
    await waitFor('the next member to commit everything', async () => (await totalLag()) === 0n, 60_000);
    await next.drain();
    const committed = await committedOffsets(admin, config.sink.groupId, config.kafka.topic);
    expect(hooked.size).toBeGreaterThan(0);
    for (const [partition, offset] of hooked) expect(offset).toBe(committed.get(partition));
    // It adopted the cuts the dead member had started and wrote them (counted as rewrites, not records).
    expect(next.status().rewrittenRecords).toBeGreaterThan(0);
    expect(lakeProblems(rows, await lake(), 'sample.csv')).toEqual([]);
    // The successor wrote every object the dead member holds, under the same keys.
    const settled = await snapshot(s3, config.lake.bucket);
    const heldKeys = holding.held.filter((k) => !isMarker(k));
    expect(heldKeys.length).toBeGreaterThan(0);
    expect(heldKeys.filter((k) => !settled.has(k))).toEqual([]);

    // The zombie wakes up: its held writes land now, after the successor committed.
    holding.wake();
    await waitFor('every held write to land', () => Promise.resolve(holding.landed === holding.held.length), 30_000);
    expect(holding.held.filter((k) => !isMarker(k))).toEqual(expect.arrayContaining(heldKeys));

    expect(await committedOffsets(admin, config.sink.groupId, config.kafka.topic)).toEqual(committed);
    const after = await snapshot(s3, config.lake.bucket);
    expect([...after.keys()].sort()).toEqual([...settled.keys()].sort());
    expect([...after].filter(([key, bytes]) => settled.get(key) !== bytes).map(([key]) => key)).toEqual([]);
    expect(lakeProblems(rows, await lake(), 'sample.csv')).toEqual([]);
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
