import zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { gzipCodec, INFLATE_CHUNK_BYTES, useGzipCodec } from '../../src/adapters/kafka';

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
    await expect(gzipCodec.decompress(zlib.gzipSync(raw, { level: 1 }))).resolves.toEqual(raw);
    await expect(gzipCodec.decompress(await gzipCodec.compress({ buffer: raw }))).resolves.toEqual(raw);
  });

  it('rejects a damaged batch instead of returning part of it', async () => {
    const packed = zlib.gzipSync(ticks(200_000));
    await expect(gzipCodec.decompress(packed.subarray(0, packed.length - 100))).rejects.toThrow();
  });
});
