/** The per-partition writer: cuts, manifests, adoption by a retry or zombie, dead letters. In-memory store. */
import zlib from 'node:zlib';
import type { IHeaders } from 'kafkajs';
import {
  ManifestMismatchError,
  PartitionWriter,
  type SinkMessage,
  type DeadLetterRecord,
  type FlushManifest,
  type SinkStorage,
  type WriterOptions,
} from '../../src/sink/partition-writer';
import { decodeLines } from '../../src/sink/format';

class MemoryStorage implements SinkStorage {
  readonly objects = new Map<string, Buffer>();
  readonly log: string[] = [];
  failPuts = 0;
  /** Resolves puts only when released (to interleave two writers). */
  gate: Promise<void> | undefined;

  putIfAbsent(key: string, body: string): Promise<boolean> {
    this.log.push(`putIfAbsent ${key}`);
    if (this.objects.has(key)) return Promise.resolve(false);
    this.objects.set(key, Buffer.from(body));
    return Promise.resolve(true);
  }
  getJson<T>(key: string): Promise<T | undefined> {
    const b = this.objects.get(key);
    return Promise.resolve(b && (JSON.parse(b.toString('utf8')) as T));
  }
  async put(key: string, body: Buffer): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failPuts > 0) {
      this.failPuts--;
      throw new Error('S3 unavailable');
    }
    this.log.push(`put ${key}`);
    this.objects.set(key, body);
  }
  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  lines(prefix: string): string[] {
    return this.keys(prefix).flatMap((k) => decodeLines(this.objects.get(k)!, k));
  }
}

const OPTS: WriterOptions = {
  topic: 'ticks',
  partition: 2,
  groupId: 'g',
  prefix: 'lake/',
  table: 'ticks',
  partitionBy: ['symbol', 'year'],
  compression: 'gzip',
  maxRecords: 1000,
  maxBytes: 1024 * 1024,
  maxMessageBytes: 1024,
  writer: 'sink/ticks',
};

function tick(symbol: string, date: string, close = 1): Buffer {
  return Buffer.from(JSON.stringify({ symbol, trade_date: date, close }));
}

function msg(offset: number, value: Buffer | null, key: string | null = null, headers?: IHeaders): SinkMessage {
  return {
    offset: String(offset),
    key: key === null ? null : Buffer.from(key),
    value,
    timestamp: String(offset),
    headers,
  };
}

function fill(
  w: PartitionWriter,
  from: number,
  to: number,
  value = (o: number) => tick('HSI', `19${70 + (o % 3)}-01-02`, o),
) {
  for (let o = from; o < to; o++) w.addBatch([msg(o, value(o), 'HSI')], 1000 + o);
}

const manifest = (s: MemoryStorage, first: number): FlushManifest =>
  JSON.parse(
    s.objects.get(`lake/_ticklake/sink/g/ticks/2/${String(first).padStart(20, '0')}.json`)!.toString(),
  ) as FlushManifest;

describe('PartitionWriter', () => {
  it('writes the manifest before the objects, one object per lake partition, keys from (topic, partition, first)', async () => {
    const s = new MemoryStorage();
    const w = new PartitionWriter(OPTS, s);
    fill(w, 10, 16);
    const r = await w.flush();
    expect(r).toBeDefined();
    expect(r!.adopted).toBe(false);
    expect(r!.records).toBe(6);
    expect(r!.lakePartitions).toEqual(['symbol=HSI/year=1970', 'symbol=HSI/year=1971', 'symbol=HSI/year=1972']);
    expect(s.log[0]).toBe('putIfAbsent lake/_ticklake/sink/g/ticks/2/00000000000000000010.json');
    expect(s.log.slice(1).every((l) => l.startsWith('put lake/ticks/symbol=HSI/year=197'))).toBe(true);
    expect(s.keys('lake/ticks/')).toEqual([
      'lake/ticks/symbol=HSI/year=1970/ticks+2+00000000000000000010.json.gz',
      'lake/ticks/symbol=HSI/year=1971/ticks+2+00000000000000000010.json.gz',
      'lake/ticks/symbol=HSI/year=1972/ticks+2+00000000000000000010.json.gz',
    ]);
    const m = manifest(s, 10);
    expect(m).toMatchObject({ first: '10', end: '16', records: 6, writer: 'sink/ticks' });
    expect(m.layout).toEqual({
      table: 'ticks',
      partitionBy: ['symbol', 'year'],
      compression: 'gzip',
      maxMessageBytes: 1024,
    });
    expect(m.files.map((f) => f.records)).toEqual([2, 2, 2]);
    // Values are stored byte for byte, one per line, in offset order.
    expect(s.lines('lake/ticks/symbol=HSI/year=1971/')).toEqual([
      tick('HSI', '1971-01-02', 10).toString(),
      tick('HSI', '1971-01-02', 13).toString(),
    ]);
    expect(w.size).toBe(0);
    expect(w.bufferedBytes).toBe(0);
    expect(await w.flush()).toBeUndefined();
  });

  it('cuts by record count and by bytes, always moving at least one record', async () => {
    const s = new MemoryStorage();
    const w = new PartitionWriter({ ...OPTS, maxRecords: 4 }, s);
    fill(w, 0, 10);
    expect(w.full()).toBe(true);
    expect((await w.flush())!.manifest.end).toBe('4');
    expect((await w.flush())!.manifest.end).toBe('8');
    expect(w.full()).toBe(false);
    expect((await w.flush())!.manifest).toMatchObject({ first: '8', end: '10', records: 2 });

    const size = tick('HSI', '1970-01-02', 0).length;
    const b = new PartitionWriter({ ...OPTS, maxBytes: size * 2 + 1 }, new MemoryStorage());
    fill(b, 0, 5, () => tick('HSI', '1970-01-02', 0));
    expect(b.full()).toBe(true);
    expect((await b.flush())!.records).toBe(2);
    const huge = new PartitionWriter({ ...OPTS, maxBytes: 5 }, new MemoryStorage());
    fill(huge, 0, 3);
    expect((await huge.flush())!.records).toBe(1);
  });

  it('a retry adopts the cut of an existing manifest, waits for the records it needs and rewrites identical objects', async () => {
    const s = new MemoryStorage();
    const first = new PartitionWriter(OPTS, s);
    fill(first, 0, 5);
    await first.flush();
    const before = new Map(s.objects);

    // The retry has fetched only part of the cut so far, and has a different configuration.
    const retry = new PartitionWriter({ ...OPTS, compression: 'none', maxRecords: 2 }, s);
    fill(retry, 0, 3);
    expect(retry.full()).toBe(true);
    expect(await retry.flush()).toBeUndefined();
    expect(retry.awaitingCut).toBe(true);
    expect(retry.full()).toBe(false); // it must read on to reach the adopted cut
    fill(retry, 3, 7);
    const r = await retry.flush();
    expect(r).toMatchObject({ adopted: true, records: 5 });
    expect(r!.manifest.end).toBe('5');
    // Same keys (the manifest's layout: gzip), same bytes; nothing else written.
    expect([...s.objects.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(s.objects.get(k)!.equals(v)).toBe(true);
    expect(retry.size).toBe(2);
    // The records after the adopted cut get a cut of their own (with the retry's own settings).
    const next = await retry.flush();
    expect(next).toMatchObject({ adopted: false, records: 2 });
    expect(next!.manifest.first).toBe('5');
    expect(s.keys('lake/ticks/').some((k) => k.endsWith('+00000000000000000005.json'))).toBe(true);
  });

  it('an adopter with other layout settings writes the objects that the manifest settings give', async () => {
    const s = new MemoryStorage();
    const big = Buffer.from(JSON.stringify({ symbol: 'HSI', trade_date: '1971-01-02', pad: 'x'.repeat(1500) }));
    const creator = new PartitionWriter(OPTS, s);
    fill(creator, 0, 4, (o) => (o === 2 ? big : tick('HSI', `19${70 + (o % 3)}-01-02`, o)));
    await creator.flush();
    const before = new Map(s.objects);
    // Another partitioning and a larger message limit: the big record would be data for it.
    const adopter = new PartitionWriter({ ...OPTS, partitionBy: ['symbol'], maxMessageBytes: 1 << 20 }, s);
    fill(adopter, 0, 4, (o) => (o === 2 ? big : tick('HSI', `19${70 + (o % 3)}-01-02`, o)));
    const r = await adopter.flush();
    expect(r).toMatchObject({ adopted: true, records: 3, deadLetters: 1 });
    expect([...s.objects.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) if (!k.includes('_ticklake')) expect(s.objects.get(k)!.equals(v)).toBe(true);
  });

  it('two writers racing on the same first offset write one cut between them: no record twice', async () => {
    const s = new MemoryStorage();
    const zombie = new PartitionWriter(OPTS, s);
    const owner = new PartitionWriter(OPTS, s);
    fill(zombie, 0, 8);
    fill(owner, 0, 3);
    let release!: () => void;
    s.gate = new Promise((r) => (release = r));
    const z = zombie.flush();
    const o = owner.flush();
    await Promise.resolve();
    release();
    s.gate = undefined;
    const [zr, or] = await Promise.all([z, o]);
    expect(zr!.manifest.end).toBe('8');
    expect(or).toBeUndefined(); // adopted [0, 8) and waits for offsets 3..7
    fill(owner, 3, 10);
    expect((await owner.flush())!.manifest).toMatchObject({ first: '0', end: '8' });
    expect((await owner.flush())!.manifest).toMatchObject({ first: '8', end: '10' });
    const closes = s.lines('lake/ticks/').map((l) => (JSON.parse(l) as { close: number }).close);
    expect(closes.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps the records when a write fails; the retry of the flush adopts its own manifest', async () => {
    const s = new MemoryStorage();
    const w = new PartitionWriter(OPTS, s);
    fill(w, 0, 4);
    s.failPuts = 1;
    await expect(w.flush()).rejects.toThrow('S3 unavailable');
    expect(w.size).toBe(4);
    fill(w, 4, 6);
    const r = await w.flush();
    expect(r).toMatchObject({ adopted: true, records: 4 });
    expect(await w.flush()).toMatchObject({ adopted: false, manifest: { first: '4', end: '6' } });
  });

  it('sends poison messages to the dead-letter prefix with raw bytes, offset and reason, and keeps going', async () => {
    const s = new MemoryStorage();
    const w = new PartitionWriter(OPTS, s);
    const poison: [number, Buffer | null, string][] = [
      [1, Buffer.from('not json {'), 'not valid JSON'],
      [2, Buffer.from(JSON.stringify({ trade_date: '1990-01-02' })), 'missing field: symbol'],
      [3, Buffer.alloc(2048, 0x61), 'exceeds 1024'],
      [4, null, 'empty message'],
      [5, Buffer.from(JSON.stringify({ symbol: 'HSI', trade_date: '1990-13' })), 'trade_date'],
    ];
    w.addBatch(
      [
        msg(0, tick('HSI', '1990-01-02')),
        ...poison.map(([o, v]) => msg(o, v, 'k', { reason: Buffer.from('x') })),
        msg(6, tick('HSI', '1990-01-03')),
      ],
      1,
    );
    const r = await w.flush();
    expect(r).toMatchObject({ records: 2, deadLetters: 5, files: 2 });
    expect(r!.manifest.deadLetters).toEqual({ key: 'lake/_dlq/ticks/2/00000000000000000000.json.gz', records: 5 });
    const letters = decodeLines(s.objects.get('lake/_dlq/ticks/2/00000000000000000000.json.gz')!, '.gz').map(
      (l) => JSON.parse(l) as DeadLetterRecord,
    );
    expect(letters.map((l) => l.offset)).toEqual(['1', '2', '3', '4', '5']);
    poison.forEach(([, v, reason], i) => {
      expect(letters[i]).toMatchObject({ topic: 'ticks', partition: 2, key_base64: 'aw==', headers: { reason: 'x' } });
      expect(letters[i].reason).toContain(reason);
      expect(letters[i].value_base64 === null ? null : Buffer.from(letters[i].value_base64, 'base64')).toEqual(v);
    });
    expect(s.lines('lake/ticks/')).toHaveLength(2);
    // Dead letters are gzip even when data objects are not: the key says .json.gz.
    expect(zlib.gunzipSync(s.objects.get(r!.manifest.deadLetters!.key)!).length).toBeGreaterThan(0);
  });

  it('refuses a manifest that does not describe a cut from its own first offset', async () => {
    const s = new MemoryStorage();
    const key = 'lake/_ticklake/sink/g/ticks/2/00000000000000000000.json';
    s.objects.set(key, Buffer.from(JSON.stringify({ first: '7', end: '9', records: 2, files: [] })));
    const w = new PartitionWriter(OPTS, s);
    fill(w, 0, 3);
    await expect(w.flush()).rejects.toThrow(ManifestMismatchError);
  });

  it('refuses to adopt a manifest whose objects differ from what the log gives (a recreated topic)', async () => {
    const s = new MemoryStorage();
    const a = new PartitionWriter(OPTS, s);
    fill(a, 0, 3);
    await a.flush();
    const b = new PartitionWriter(OPTS, s);
    fill(b, 0, 3, (o) => tick('DJI', '2001-05-05', o));
    await expect(b.flush()).rejects.toThrow(ManifestMismatchError);
  });

  it('is not reentrant, and skips messages of a batch delivered again', async () => {
    const w = new PartitionWriter(OPTS, new MemoryStorage());
    fill(w, 0, 2);
    const first = w.flush();
    await expect(w.flush()).rejects.toThrow('while a flush is running');
    await first;
    fill(w, 2, 5);
    w.addBatch(
      [3, 4, 5, 6].map((o) => msg(o, tick('HSI', '1970-01-02', o))),
      1,
    );
    expect(w.size).toBe(5);
    expect(w.bufferedEnd).toBe(7n);
    expect((await w.flush())!.manifest).toMatchObject({ first: '2', end: '7', records: 5 });
  });

  it('says which lake partitions a batch holds that it never buffered before, poison messages aside', async () => {
    const w = new PartitionWriter(OPTS, new MemoryStorage());
    expect(
      w.addBatch(
        [msg(0, tick('HSI', '1990-01-02')), msg(1, tick('DJI', '1990-01-02')), msg(2, tick('HSI', '1990-05-02'))],
        1,
      ),
    ).toEqual(['symbol=HSI/year=1990', 'symbol=DJI/year=1990']);
    expect(w.addBatch([msg(3, Buffer.from('not json')), msg(4, tick('HSI', '1991-01-02'))], 2)).toEqual([
      'symbol=HSI/year=1991',
    ]);
    // Written or not, a partition it has buffered before is not new.
    const r = await w.flush();
    expect(r).toMatchObject({ records: 4, deadLetters: 1 });
    expect(r!.lakePartitions.sort()).toEqual(['symbol=DJI/year=1990', 'symbol=HSI/year=1990', 'symbol=HSI/year=1991']);
    expect(w.addBatch([msg(5, tick('DJI', '1990-03-04')), msg(6, tick('N225', '1990-03-04'))], 3)).toEqual([
      'symbol=N225/year=1990',
    ]);
  });

  it('refuses, saying what to do, to rewrite a cut whose smaller message limit makes a dead letter of a record it kept slim', async () => {
    const s = new MemoryStorage();
    const mid = tick('HSI', '1971-01-02', 2); // about 50 bytes: a record for the adopter, a dead letter at 40
    const value = (o: number) => (o === 2 ? mid : Buffer.from(`{"symbol":"H","trade_date":"1970-01-0${o + 1}"}`));
    const creator = new PartitionWriter({ ...OPTS, maxMessageBytes: 48 }, s);
    fill(creator, 0, 4, value);
    expect(await creator.flush()).toMatchObject({ records: 3, deadLetters: 1 });
    const adopter = new PartitionWriter(OPTS, s);
    fill(adopter, 0, 4, value);
    await expect(adopter.flush()).rejects.toThrow(/message limit of 48 bytes.*start the sink with maxMessageBytes 48/);
    // A sink with the manifest's limit rewrites it as written, key and headers of the dead letter included.
    const before = new Map(s.objects);
    const again = new PartitionWriter({ ...OPTS, maxMessageBytes: 48 }, s);
    fill(again, 0, 4, value);
    expect(await again.flush()).toMatchObject({ adopted: true, records: 3, deadLetters: 1 });
    for (const [k, v] of before) if (!k.includes('_ticklake')) expect(s.objects.get(k)!.equals(v)).toBe(true);
  });
});
