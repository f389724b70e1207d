/** Packing rows into Kafka messages (on the feed thread) and unpacking them (on the producing thread). */
import path from 'node:path';
import { scanSource, type SourceRow } from '../../src/replay/csv-source';
import { planRuns } from '../../src/replay/ordered-rows';
import { openOrderedSource } from '../../src/replay/ordered-source';
import {
  ChunkPacker,
  DEAD_LETTER,
  TICK,
  chunkBytes,
  messageAt,
  restamp,
  stampOf,
  type PackedChunk,
} from '../../src/replay/packed-chunk';
import { openInlineFeed, openThreadFeed, type FeedOptions } from '../../src/replay/row-feed';
import { deadLetterMessage, tickMessage } from '../../src/message';
import { parseRow } from '../../src/tick';
import { UNCLOSED_QUOTE } from '../../src/replay/csv-records';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE = path.join(ROOT, 'data', 'sample.csv');
const BAD = path.join(ROOT, 'test', 'fixtures', 'bad-rows.csv');

async function rowsOf(file: string): Promise<SourceRow[]> {
  const runs = planRuns(await scanSource(file), 'file');
  const src = await openOrderedSource(
    file,
    runs,
    'file',
    runs.map((r) => r.start),
  );
  const rows: SourceRow[] = [];
  for (let got = await src.next(10_000); got !== null; got = await src.next(10_000)) rows.push(...got);
  await src.close();
  return rows;
}

function text(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

describe('ChunkPacker and messageAt', () => {
  it('gives exactly the messages of src/message.ts, ticks and dead letters', async () => {
    const rows = await rowsOf(BAD);
    const at = new Date('2026-01-02T03:04:05.678Z');
    const chunk = new ChunkPacker('bad-rows.csv').pack(rows, at);
    const bytes = chunkBytes(chunk);
    expect(chunk.count).toBe(27);
    for (let i = 0; i < chunk.count; i++) {
      const r = parseRow(rows[i].fields);
      const want = r.ok
        ? tickMessage(r.tick, 'bad-rows.csv', rows[i].line, at)
        : deadLetterMessage(
            {
              source: 'bad-rows.csv',
              row: rows[i].line,
              reason: r.reason,
              raw: rows[i].chunk.toString('utf8', rows[i].start, rows[i].stop),
            },
            at,
          );
      const got = messageAt(chunk, bytes, i);
      expect(chunk.kinds[i]).toBe(r.ok ? TICK : DEAD_LETTER);
      expect(text(got.key)).toBe(want.key);
      expect(text(got.value)).toBe(want.value);
      expect(got.timestamp).toBe(want.timestamp);
      expect(Object.fromEntries(got.headers.flatMap((h) => Object.entries(h)).map(([k, v]) => [k, text(v)]))).toEqual(
        want.headers,
      );
      expect(chunk.lines[i]).toBe(rows[i].line);
      expect(chunk.ends[i]).toBe(rows[i].end);
      expect(chunk.keyTable[chunk.keyIds[i]]).toBe(rows[i].key);
    }
    const dead = JSON.parse(text(messageAt(chunk, bytes, 1).value)) as Record<string, unknown>;
    expect(dead).toEqual({
      source: 'bad-rows.csv',
      row: 3,
      reason: "open is not a number: 'abc'",
      raw: 'HSI,2021-05-25,abc,28933.57031,28467.03906,28910.86914,28910.86914,1662390800.0,3758.4129882',
    });
  });

  it('restamps the rows from one on: their messages are those of tickMessage at the new time, the others unchanged', async () => {
    const rows = await rowsOf(BAD);
    const before = new Date('2026-01-02T03:04:05.678Z');
    const after = new Date('2026-01-02T03:04:06.9Z');
    const chunk = new ChunkPacker('bad-rows.csv').pack(rows, before);
    const from = 5;
    expect(chunk.kinds.slice(from).includes(DEAD_LETTER)).toBe(true);
    restamp(chunk, from, after.getTime());
    const bytes = chunkBytes(chunk);
    for (let i = 0; i < chunk.count; i++) {
      const at = i < from ? before : after;
      const got = messageAt(chunk, bytes, i);
      expect(stampOf(chunk, i)).toBe(at.getTime());
      expect(got.timestamp).toBe(String(at.getTime()));
      const r = parseRow(rows[i].fields);
      if (r.ok) expect(text(got.value)).toBe(tickMessage(r.tick, 'bad-rows.csv', rows[i].line, at).value);
      else expect(JSON.parse(text(got.value))).toMatchObject({ row: rows[i].line });
    }
    // A second restamp moves only the rows it is given.
    const later = new Date('2026-01-02T03:04:08.000Z');
    restamp(chunk, chunk.count - 1, later.getTime());
    expect(stampOf(chunk, chunk.count - 2)).toBe(after.getTime());
    expect(stampOf(chunk, chunk.count - 1)).toBe(later.getTime());
  });

  it('refuses to restamp a tick whose value does not end with its ingestion time', async () => {
    const rows = await rowsOf(SAMPLE);
    const chunk = new ChunkPacker('sample.csv').pack(rows.slice(0, 3), new Date('2026-01-02T03:04:05.678Z'));
    const bytes = chunkBytes(chunk);
    const value = messageAt(chunk, bytes, 1).value;
    value[value.length - 1] = 0x20;
    expect(() => restamp(chunk, 0, Date.now())).toThrow(/cannot be restamped/);
  });

  it('keeps the JSON of every sample tick identical to tickMessage, lineage included', async () => {
    const rows = await rowsOf(SAMPLE);
    const at = new Date();
    const chunk = new ChunkPacker('sample.csv').pack(rows, at);
    const bytes = chunkBytes(chunk);
    let differ = 0;
    rows.forEach((row, i) => {
      const r = parseRow(row.fields);
      if (!r.ok || text(messageAt(chunk, bytes, i).value) !== tickMessage(r.tick, 'sample.csv', row.line, at).value)
        differ++;
    });
    expect(differ).toBe(0);
    const first = JSON.parse(text(messageAt(chunk, bytes, 0).value)) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual([
      'symbol',
      'trade_date',
      'open',
      'high',
      'low',
      'close',
      'adj_close',
      'volume',
      'close_usd',
      'source',
      'row',
      'ingested_at',
    ]);
    expect(first).toMatchObject({ source: 'sample.csv', row: 2, ingested_at: at.toISOString() });
  });

  it('truncates very long raw lines in dead letters', () => {
    const long = {
      line: 9,
      nextLine: 10,
      fields: ['x'.repeat(20_000)],
      problem: undefined,
      run: 0,
      key: '',
      end: 20_001,
      chunk: Buffer.from('x'.repeat(20_000)),
      start: 0,
      stop: 20_000,
    };
    const chunk = new ChunkPacker('f.csv').pack([long], new Date());
    const value = JSON.parse(text(messageAt(chunk, chunkBytes(chunk), 0).value)) as { raw: string };
    expect(value.raw).toHaveLength(16 * 1024 + '... (20000 characters)'.length);
    expect(value.raw.endsWith('... (20000 characters)')).toBe(true);
  });

  it('dead-letters a row the reader could not split into fields, with its reason and whole raw text', () => {
    const raw = '"A,2020-01-02,1,1,1,1,1,1,1';
    const unclosed: SourceRow = {
      line: 7,
      nextLine: 8,
      fields: [],
      problem: UNCLOSED_QUOTE,
      run: 0,
      key: '',
      end: raw.length + 1,
      chunk: Buffer.from(`${raw}\n`),
      start: 0,
      stop: raw.length,
    };
    const chunk = new ChunkPacker('f.csv').pack([unclosed], new Date());
    expect(chunk.kinds[0]).toBe(DEAD_LETTER);
    expect(chunk.nextLines[0]).toBe(8);
    expect(JSON.parse(text(messageAt(chunk, chunkBytes(chunk), 0).value))).toEqual({
      source: 'f.csv',
      row: 7,
      reason: UNCLOSED_QUOTE,
      raw,
    });
  });
});

describe('row feeds', () => {
  async function collect(
    open: (o: FeedOptions) => Promise<{ next(): Promise<PackedChunk | null>; close(): Promise<void> }>,
    order: 'file' | 'market',
  ) {
    const runs = planRuns(await scanSource(SAMPLE), order);
    const feed = await open({ file: SAMPLE, runs, order, from: runs.map((r) => r.start), rowsPerChunk: 500 });
    const out: { line: number; value: string }[] = [];
    try {
      for (let c = await feed.next(); c !== null; c = await feed.next()) {
        const bytes = chunkBytes(c);
        for (let i = 0; i < c.count; i++) {
          const v = JSON.parse(text(messageAt(c, bytes, i).value)) as Record<string, unknown>;
          delete v.ingested_at;
          out.push({ line: c.lines[i], value: JSON.stringify(v) });
        }
      }
    } finally {
      await feed.close();
    }
    return out;
  }

  it.each(['file', 'market'] as const)(
    'gives the same messages in %s order from a thread as inline',
    async (order) => {
      const inline = await collect(openInlineFeed, order);
      const threaded = await collect((o) => Promise.resolve(openThreadFeed(o)), order);
      expect(inline).toHaveLength(4086);
      expect(threaded).toEqual(inline);
    },
    30_000,
  );

  it('reports a source error from the thread as a SourceFileError', async () => {
    const runs = [{ start: { offset: 0, line: 2, key: '' }, end: 10 }];
    const feed = openThreadFeed({
      file: path.join(ROOT, 'no-such-file.csv'),
      runs,
      order: 'file',
      from: runs.map((r) => r.start),
    });
    await expect(feed.next()).rejects.toMatchObject({
      name: 'SourceFileError',
      message: expect.stringContaining('no-such-file.csv') as string,
    });
    await feed.close();
  });
});
