import zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { gzipCodec, INFLATE_CHUNK_BYTES, inflateChunkBytes, useGzipCodec } from '../../src/adapters/kafka';

/** NDJSON ticks, like a record batch's records, `bytes` long or a little more. */
function ticks(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = JSON.stringify({
      symbol: `S${i % 13}`,
      trade_date: `20${String(i % 100).padStart(2, '0')}-01-02`,
      close: i / 7,
    });
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(lines.join('\n'));
}

describe('kafka gzip codec', () => {
  it('is the codec kafkajs uses for gzip batches once it is registered', () => {
    useGzipCodec();
    expect(CompressionCodecs[CompressionTypes.GZIP]()).toBe(gzipCodec);
  });

  it.each([
    ['empty', 0],
    ['smaller than a chunk', 10_000],
    ['several chunks', 3 * INFLATE_CHUNK_BYTES + 12_345],
  ])('inflates what a producer deflated (%s)', async (_, bytes) => {
    const raw = ticks(bytes);
    // What the replay's librdkafka producer writes: gzip at level 1.
    // Buffer.equals: jest's toEqual compares megabytes element by element, for tens of seconds.
    expect((await gzipCodec.decompress(zlib.gzipSync(raw, { level: 1 }))).equals(raw)).toBe(true);
    expect((await gzipCodec.decompress(await gzipCodec.compress({ buffer: raw }))).equals(raw)).toBe(true);
  });

  it.each([
    ['a small batch', 150_000],
    ['a batch of several chunks', 2 * INFLATE_CHUNK_BYTES + 777],
  ])('returns %s in a buffer of its own size, not a slice of a larger chunk', async (_, bytes) => {
    const raw = ticks(bytes);
    const out = await gzipCodec.decompress(zlib.gzipSync(raw, { level: 1 }));
    expect(out.equals(raw)).toBe(true);
    // What a buffered record's slice of this batch keeps alive.
    expect(out.buffer.byteLength).toBeLessThanOrEqual(raw.length + 1);
  });

  it('sizes the inflate chunk from the gzip trailer, within bounds', () => {
    expect(inflateChunkBytes(zlib.gzipSync(ticks(150_000)))).toBe(ticks(150_000).length + 1);
    expect(inflateChunkBytes(zlib.gzipSync(Buffer.alloc(0)))).toBe(zlib.constants.Z_MIN_CHUNK);
    expect(inflateChunkBytes(zlib.gzipSync(ticks(5 * INFLATE_CHUNK_BYTES)))).toBe(INFLATE_CHUNK_BYTES);
    // Too short to be gzip: the bounds alone (the inflate then fails on its own).
    expect(inflateChunkBytes(Buffer.from([1, 2, 3]))).toBe(zlib.constants.Z_MIN_CHUNK);
  });

  it('rejects a damaged batch instead of returning part of it', async () => {
    const packed = zlib.gzipSync(ticks(200_000));
    await expect(gzipCodec.decompress(packed.subarray(0, packed.length - 100))).rejects.toThrow();
  });
});
