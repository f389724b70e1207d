import zlib from 'node:zlib';
import {
  answerDifference,
  cutManifest,
  dayCuts,
  encodeCut,
  symbolChunkBytes,
  type ColumnChunk,
  type LakeSpec,
} from '../../scripts/bench/compact-lake';
import { MarketGenerator } from '../../scripts/bench/market';
import { cutOfKey } from '../../src/compact/state';
import { parseDataObjectKey, tableRoot } from '../../src/lake-layout';
import { tickMessage } from '../../src/message';
import { symbolBucket } from '../../src/symbol-bucket';
import { parseRow } from '../../src/tick';

const spec: LakeSpec = {
  prefix: 'lake/',
  table: 'ticks',
  topic: 'ticks',
  groupId: 'sink-g',
  partitions: 4,
  partitionBy: ['year', 'symbol_bucket'],
  symbolBuckets: 4,
  compression: 'gzip',
  maxMessageBytes: 1024 * 1024,
  writer: 'sink/ticks/bench',
};

/** The day chunks of a small generated file, without the header. */
function days(symbols: number, n: number): string[][] {
  const gen = new MarketGenerator({ symbols, days: n, seed: 7 });
  return [...gen.chunks()].slice(1).map((c) => c.slice(0, -1).split('\n'));
}

describe('bench:compact raw lake: dayCuts', () => {
  const ingestedAt = new Date('2024-01-02T03:04:05.000Z');

  it('cuts a day into one cut per Kafka partition, each record in its symbol’s murmur2 partition', () => {
    const [lines] = days(40, 1);
    const next = [0, 0, 0, 0];
    const cuts = dayCuts(spec, lines, { source: 'm.csv', firstRow: 2, ingestedAt, next });
    expect(cuts.map((c) => c.partition)).toEqual([...cuts.map((c) => c.partition)].sort());
    expect(cuts.reduce((a, c) => a + (c.end - c.first), 0)).toBe(40);
    for (const c of cuts) {
      expect(c.first).toBe(0);
      expect(c.manifestKey).toBe(`lake/_ticklake/sink/sink-g/ticks/${c.partition}/${'0'.repeat(20)}.json`);
      for (const o of c.objects) {
        // The key is the sink's: the compaction reads its cut from it, the crawler its partition.
        expect(cutOfKey(o.key)).toEqual({ source: `ticks+${c.partition}`, first: 0n });
        const parsed = parseDataObjectKey(o.key, tableRoot('lake/', 'ticks'), spec.partitionBy)!;
        expect(parsed.partitionPath).toBe(o.partition);
        for (const v of o.values) {
          const r = JSON.parse(v.toString()) as { symbol: string; trade_date: string };
          expect(symbolBucket(r.symbol, 4)).toBe(c.partition);
          expect(parsed.values).toEqual([r.trade_date.slice(0, 4), String(c.partition)]);
        }
      }
    }
    expect(next).toEqual([0, 1, 2, 3].map((p) => cuts.find((c) => c.partition === p)?.end ?? 0));
  });

  it('stores the replay’s message value byte for byte, with the line number as the row', () => {
    const [lines] = days(5, 1);
    const cuts = dayCuts(spec, lines, { source: 'm.csv', firstRow: 2, ingestedAt, next: [0, 0, 0, 0] });
    const values = cuts.flatMap((c) => c.objects.flatMap((o) => o.values.map((v) => v.toString())));
    const expected = lines.map((line, i) => {
      const r = parseRow(line.split(','));
      if (!r.ok) throw new Error(r.reason);
      return tickMessage(r.tick, 'm.csv', 2 + i, ingestedAt).value;
    });
    expect(values.sort()).toEqual(expected.sort());
  });

  it('continues each partition’s offsets from one day to the next, in log order', () => {
    const d = days(30, 3);
    const next = [0, 0, 0, 0];
    let row = 2;
    const all = d.flatMap((lines) => {
      const cuts = dayCuts(spec, lines, { source: 'm.csv', firstRow: row, ingestedAt, next });
      row += lines.length;
      return cuts;
    });
    for (let p = 0; p < 4; p++) {
      const mine = all.filter((c) => c.partition === p);
      for (let i = 1; i < mine.length; i++) expect(mine[i].first).toBe(mine[i - 1].end);
    }
    expect(next.reduce((a, b) => a + b, 0)).toBe(90);
  });

  it('refuses a line the replay would refuse, naming it', () => {
    expect(() =>
      dayCuts(spec, ['AAA,2020-13-45,1,1,1,1,1,1,1'], { source: 'm.csv', firstRow: 9, ingestedAt, next: [0, 0, 0, 0] }),
    ).toThrow(/line 9 of m.csv/);
    expect(() => dayCuts(spec, [], { source: 'm.csv', firstRow: 2, ingestedAt, next: [0] })).toThrow(/partitions/);
  });

  it('writes the manifest the sink writes, and objects that decode to the values', async () => {
    const [lines] = days(12, 1);
    const [cut] = dayCuts(spec, lines, { source: 'm.csv', firstRow: 2, ingestedAt, next: [5, 5, 5, 5] });
    const bodies = await encodeCut(cut, 'gzip');
    expect(zlib.gunzipSync(bodies[0]).toString()).toBe(cut.objects[0].values.map((v) => `${v.toString()}\n`).join(''));
    const m = cutManifest(spec, cut, 123, new Date('2024-01-02T03:04:06.000Z'));
    expect(m).toMatchObject({
      topic: 'ticks',
      partition: cut.partition,
      first: '5',
      end: String(cut.end),
      records: cut.end - 5,
      bytes: 123,
      layout: { table: 'ticks', partitionBy: ['year', 'symbol_bucket'], symbolBuckets: 4, compression: 'gzip' },
      writtenAt: '2024-01-02T03:04:06.000Z',
    });
    expect((m.files as { records: number }[]).reduce((a, f) => a + f.records, 0)).toBe(cut.end - 5);
  });
});

describe('bench:compact: symbolChunkBytes', () => {
  const chunk = (file: string, rg: number, col: string, min: string | null, max: string | null, size: number) =>
    ({
      file_name: file,
      row_group_id: rg,
      path_in_schema: col,
      stats_min_value: min,
      stats_max_value: max,
      total_compressed_size: size,
    }) satisfies ColumnChunk;

  it('counts the wanted columns of the row groups whose symbol range holds the symbol', () => {
    const chunks = [
      chunk('a', 0, 'symbol', 'AAA', 'FFF', 10),
      chunk('a', 0, 'close', null, null, 100),
      chunk('a', 0, 'open', null, null, 1000),
      chunk('a', 1, 'symbol', 'GGG', 'MMM', 20),
      chunk('a', 1, 'close', null, null, 200),
      chunk('b', 0, 'symbol', 'KKK', 'ZZZ', 30),
      chunk('b', 0, 'close', null, null, 300),
    ];
    expect(symbolChunkBytes(chunks, 'LLL', ['symbol', 'close'])).toBe(20 + 200 + 30 + 300);
    expect(symbolChunkBytes(chunks, 'BBB', ['symbol', 'close'])).toBe(110);
    expect(symbolChunkBytes(chunks, 'BBB', ['symbol', 'close', 'open'])).toBe(1110);
    // The bounds are inclusive.
    expect(symbolChunkBytes(chunks, 'FFF', ['close'])).toBe(100);
    expect(symbolChunkBytes(chunks, 'ZZZZ', ['close'])).toBe(0);
  });

  it('keeps a row group without statistics on symbol', () => {
    const chunks = [chunk('a', 0, 'symbol', null, null, 10), chunk('a', 0, 'close', null, null, 100)];
    expect(symbolChunkBytes(chunks, 'QQQ', ['symbol', 'close'])).toBe(110);
  });
});

describe('bench:compact: answerDifference', () => {
  it('is undefined for the same rows, and names the first difference otherwise', () => {
    expect(answerDifference([['A', 1n]], [['A', '1']])).toBeUndefined();
    expect(answerDifference([['A', 1]], [])).toBe('1 rows before, 0 after');
    expect(
      answerDifference(
        [
          ['A', 1],
          ['B', 2],
        ],
        [
          ['A', 1],
          ['B', 3],
        ],
      ),
    ).toMatch(/^row 2: /);
    expect(answerDifference([['A', 1]], [['A', 1, 2]])).toMatch(/^row 1/);
  });
});
