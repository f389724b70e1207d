/**
 * The sink on a store whose fence fails: two writers of the same Kafka partition (a zombie and the
 * owner) whose creates of the same manifest both succeed, as on an S3-compatible server whose
 * If-None-Match is not atomic or is ignored. The objects go to the real local S3 server; the store is
 * a wrapper over the sink's own S3 storage that turns the manifest's conditional create into a plain
 * PUT that always answers "created", and holds writes to force the interleaving under test.
 *
 * The two writers cut the same records differently (150 and 100 records per cut; rows 0-119 fall in
 * year 2000, 120-299 in 2001), so a mix of their cuts shows up as rows in the lake twice. What the
 * design says (docs/architecture.md, "Exactly once"): a writer reads the manifest before creating it,
 * so a late writer adopts the recorded cut; and it commits a cut only if the store still holds its
 * manifest after its objects are written, undoing its objects and writing the recorded cut otherwise.
 * Either way every row is in the lake exactly once.
 */
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { createAwsClients } from '../../src/adapters/aws';
import { ensureBucket, getObjectBytes } from '../../src/adapters/s3';
import { decodeLines } from '../../src/sink/format';
import {
  PartitionWriter,
  type FlushResult,
  type SinkMessage,
  type SinkStorage,
  type WriterOptions,
} from '../../src/sink/partition-writer';
import { s3SinkStorage } from '../../src/sink/storage';
import { deleteBucketAndObjects } from './sink-support';
import { uniqueConfig } from './support';

const ROWS = 300;

/** Rows 0-299 of one symbol as the replay writes them, at offsets 0-299 of one Kafka partition. */
function messages(): SinkMessage[] {
  return Array.from({ length: ROWS }, (_, row) => {
    const day = new Date(Date.UTC(row < 120 ? 2000 : 2001, 0, 1 + (row % 120)));
    const value = { symbol: 'FENCE', trade_date: day.toISOString().slice(0, 10), close: row, row };
    return {
      offset: String(row),
      key: Buffer.from('FENCE'),
      value: Buffer.from(JSON.stringify(value)),
      timestamp: '0',
    };
  });
}

/** A gate: `wait()` resolves once `open()` was called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, wait: () => opened };
}

/**
 * The sink's S3 storage with a failed fence: a manifest create always writes and answers "created".
 * `beforeCreate` and `beforePut` run before the write, so that a test can order the writers.
 */
class LyingStorage implements SinkStorage {
  creates = 0;
  beforeCreate: () => Promise<void> = () => Promise.resolve();
  beforePut: () => Promise<void> = () => Promise.resolve();
  afterCreate: () => void = () => undefined;
  constructor(private readonly real: SinkStorage) {}
  async putIfAbsent(key: string, body: string): Promise<boolean> {
    await this.beforeCreate();
    await this.real.put(key, Buffer.from(body), 'application/json');
    this.creates++;
    this.afterCreate();
    return true;
  }
  getJson<T>(key: string): Promise<T | undefined> {
    return this.real.getJson<T>(key);
  }
  async put(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.beforePut();
    await this.real.put(key, body, contentType);
  }
  delete(key: string): Promise<void> {
    return this.real.delete!(key);
  }
}

async function flushAll(w: PartitionWriter): Promise<FlushResult[]> {
  const out: FlushResult[] = [];
  for (let r = await w.flush(); r; r = await w.flush()) out.push(r);
  return out;
}

describe('the sink when two writers both believe they created a manifest', () => {
  const config = uniqueConfig('sink-fence');
  const { s3 } = createAwsClients(config.aws);
  const bucket = config.lake.bucket;
  const real = s3SinkStorage(s3, bucket);
  let run = 0;

  beforeAll(async () => {
    await ensureBucket(s3, bucket);
  });
  afterAll(async () => {
    await deleteBucketAndObjects(s3, bucket);
  });

  function writers() {
    const prefix = `fence-${++run}/`;
    const opts = (maxRecords: number): WriterOptions => ({
      topic: 'ticks',
      partition: 0,
      groupId: 'g',
      prefix,
      table: 'ticks',
      partitionBy: ['year'],
      compression: 'gzip',
      maxRecords,
      maxBytes: 64 * 1024 * 1024,
      maxMessageBytes: 4096,
    });
    const storeA = new LyingStorage(real);
    const storeB = new LyingStorage(real);
    const a = new PartitionWriter({ ...opts(150), writer: 'owner' }, storeA);
    const b = new PartitionWriter({ ...opts(100), writer: 'zombie' }, storeB);
    a.addBatch(messages(), Date.now());
    b.addBatch(messages(), Date.now());
    return { prefix, a, b, storeA, storeB };
  }

  /** How many times each row is in the lake's data objects (the table folder), read from S3. */
  async function rowsInLake(prefix: string): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: `${prefix}ticks/` })) {
      for (const o of page.Contents ?? []) {
        const body = await getObjectBytes(s3, bucket, o.Key!);
        for (const line of decodeLines(body!, o.Key!)) {
          const row = (JSON.parse(line) as { row: number }).row;
          counts.set(row, (counts.get(row) ?? 0) + 1);
        }
      }
    }
    return counts;
  }

  function expectEachRowOnce(counts: Map<number, number>): void {
    const wrong = Array.from({ length: ROWS }, (_, row) => [row, counts.get(row) ?? 0]).filter(([, n]) => n !== 1);
    expect(wrong).toEqual([]);
    expect(counts.size).toBe(ROWS);
  }

  it('a zombie that arrives after the owner wrote adopts the owner’s cuts although its creates would succeed', async () => {
    const { prefix, a, b, storeB } = writers();
    const owner = await flushAll(a);
    expect(owner.map((r) => [r.manifest.first, r.manifest.end])).toEqual([
      ['0', '150'],
      ['150', '300'],
    ]);
    const zombie = await flushAll(b);
    // First what a reader sees, then how the writers got there.
    expectEachRowOnce(await rowsInLake(prefix));
    // Its own cut would have been [0, 100): it writes the owner's cuts instead, and creates nothing.
    expect(zombie.map((r) => [r.manifest.first, r.manifest.end, r.adopted])).toEqual([
      ['0', '150', true],
      ['150', '300', true],
    ]);
    expect(storeB.creates).toBe(0);
  }, 60_000);

  it('of two writers racing to create the same manifest, the one whose manifest was replaced undoes its objects and writes the recorded cut', async () => {
    const { prefix, a, b, storeA, storeB } = writers();
    // Both creates wait until both writers have read the key (and found nothing); then the owner's
    // create lands first and the zombie's replaces it. The owner's objects land after the zombie's
    // flush is over, over the zombie's objects.
    const bothCreating = gate();
    const ownerCreated = gate();
    const zombieDone = gate();
    let arrived = 0;
    const arrive = () => {
      if (++arrived === 2) bothCreating.open();
      return bothCreating.wait();
    };
    storeA.beforeCreate = async () => {
      await arrive();
      storeA.beforeCreate = () => Promise.resolve();
    };
    storeA.afterCreate = () => ownerCreated.open();
    storeA.beforePut = () => zombieDone.wait();
    storeB.beforeCreate = async () => {
      await arrive();
      await ownerCreated.wait();
      storeB.beforeCreate = () => Promise.resolve();
    };
    const ownerFirst = a.flush();
    const zombieFirst = b.flush().finally(() => zombieDone.open());
    const [o1, z1] = await Promise.all([ownerFirst, zombieFirst]);
    const firstCreates = [storeA.creates, storeB.creates];
    // Then each went on along the recorded chain (the owner first, the zombie adopting its cuts).
    const ownerRest = await flushAll(a);
    const zombieRest = await flushAll(b);
    // First what a reader sees, then how the writers got there.
    expectEachRowOnce(await rowsInLake(prefix));
    // Both creates of the first manifest succeeded.
    expect(firstCreates).toEqual([1, 1]);
    // The zombie's manifest is the one the store holds: its flush stands.
    expect([z1!.manifest.first, z1!.manifest.end, z1!.adopted, z1!.fenceFailure]).toEqual([
      '0',
      '100',
      false,
      undefined,
    ]);
    // The owner found its manifest replaced: it took the recorded cut, and says why.
    expect([o1!.manifest.first, o1!.manifest.end, o1!.adopted]).toEqual(['0', '100', true]);
    expect(o1!.fenceFailure).toMatch(
      /accepted two creates of manifest .*: this writer's cut \[0, 150\) was replaced by \[0, 100\)/,
    );
    expect(ownerRest.map((r) => [r.manifest.first, r.manifest.end])).toEqual([
      ['100', '250'],
      ['250', '300'],
    ]);
    expect(zombieRest.every((r) => r.adopted)).toBe(true);
  }, 60_000);
});
