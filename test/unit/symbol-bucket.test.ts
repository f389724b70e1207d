import { partitionPath, partitionValues } from '../../src/lake-layout';
import { murmur2, symbolBucket } from '../../src/symbol-bucket';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('symbol buckets', () => {
  // Values of Kafka's own murmur2 tests (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('murmur2(%j) is Kafka’s %d', (input, expected) => {
    expect(murmur2(bytes(input))).toBe(expected);
  });

  it('places a symbol as Kafka’s default partitioner places its key', () => {
    // Utils.toPositive(murmur2(key)) % partitions
    for (const symbol of ['HSI', 'NYA', 'GSPC', '^GDAXI', '000001.SS', 'N225', 'ÆØÅ']) {
      for (const n of [1, 3, 4, 16]) {
        expect(symbolBucket(symbol, n)).toBe((murmur2(bytes(symbol)) & 0x7fffffff) % n);
        expect(symbolBucket(symbol, n)).toBeGreaterThanOrEqual(0);
        expect(symbolBucket(symbol, n)).toBeLessThan(n);
      }
    }
  });

  it('spreads many symbols evenly over the buckets', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[symbolBucket(`S${i.toString(36).toUpperCase()}`, 4)]++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
  });

  it('refuses a bucket count that is not a positive whole number', () => {
    expect(() => symbolBucket('HSI', 0)).toThrow(/positive integer/);
    expect(() => symbolBucket('HSI', 1.5)).toThrow(/positive integer/);
  });

  it('builds the default layout’s partition path', () => {
    const record = { symbol: 'HSI', trade_date: '1987-12-31' };
    const values = partitionValues(record, ['year', 'symbol_bucket'], 4);
    expect(values).toEqual(['1987', String(symbolBucket('HSI', 4))]);
    expect(partitionPath(['year', 'symbol_bucket'], values)).toBe(`year=1987/symbol_bucket=${values[1]}`);
    expect(() => partitionValues(record, ['year', 'symbol_bucket'])).toThrow(/number of symbol buckets/);
  });
});
