/**
 * The symbol bucket of a tick: which of a table's `symbol_bucket` partitions holds a symbol. Pure.
 *
 * The bucket is Kafka's own partitioner applied to the symbol: the positive part of murmur2 of its
 * UTF-8 bytes, modulo the number of buckets. The replay keys messages by symbol with the same function
 * (librdkafka's `murmur2_random`, Java's default), so when the table has as many buckets as the topic
 * has partitions, every Kafka partition feeds exactly one bucket and a flush writes one object per
 * time partition it touches, however many symbols stream.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of a byte string, as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2] << 16;
    // falls through
    case 2:
      h ^= data[whole + 1] << 8;
    // falls through
    case 1:
      h ^= data[whole];
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();

/** The bucket (0 to buckets - 1) of a symbol, as Kafka's default partitioner places its key. */
export function symbolBucket(symbol: string, buckets: number): number {
  if (!Number.isSafeInteger(buckets) || buckets < 1)
    throw new Error(`symbol buckets must be a positive integer; got ${buckets}`);
  return (murmur2(encoder.encode(symbol)) & 0x7fffffff) % buckets;
}
