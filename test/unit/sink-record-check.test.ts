/**
 * The fast record check gives the same answer as the reference (JSON.parse based) check on every
 * input: hand-picked edge cases and tens of thousands of random mutations of a real tick.
 */
import { checkRecordValue } from '../../src/message';
import { checkRecord } from '../../src/sink/record-check';

const tick = JSON.stringify({
  symbol: 'HSI',
  trade_date: '1987-01-02',
  open: 2540.100098,
  high: 2540.100098,
  low: 2540.100098,
  close: 2540.100098,
  adj_close: 2540.100098,
  volume: 0,
  close_usd: 330.21301274,
  source: 'indexProcessed.csv',
  row: 3,
  ingested_at: '2026-11-22T01:00:00.000Z',
});

const same = (value: Buffer | null, max = 1 << 20) =>
  expect(checkRecord(value, max)).toEqual(checkRecordValue(value, max));

describe('checkRecord', () => {
  it('agrees with the reference on edge cases', () => {
    const cases = [
      tick,
      `  ${tick}\n`,
      '{}',
      '[]',
      '"x"',
      'null',
      '',
      ' ',
      '{"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"symbol":"HSI","trade_date":"1987-1-02"}',
      '{"symbol":" ","trade_date":"1987-01-02"}',
      '{"symbol":"\\u0020","trade_date":"1987-01-02"}',
      '{"symbol":"H\\"SI","trade_date":"1987-01-02"}',
      '{"sym\\u0062ol":"HSI","trade_date":"1987-01-02"}',
      '{"symbol":"HSI","trade_date":"1987-01-02","symbol":""}',
      '{"symbol":"","trade_date":"1987-01-02","symbol":"N225"}',
      '{"symbol":1,"trade_date":"1987-01-02"}',
      '{"symbol":"HSI","trade_date":19870102}',
      '{"symbol":"HSI","trade_date":"1987-01-02"}x',
      '{"symbol":"HSI","trade_date":"1987-01-02",}',
      '{"symbol":"HSI",,"trade_date":"1987-01-02"}',
      '{"symbol":"HSI" "trade_date":"1987-01-02"}',
      '{"a":[1,2,{"b":[true,false,null]}],"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":[1,],"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":01,"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":-0.5e+10,"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":1.,"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":.5,"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":"\\x","symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":"\\u12G4","symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":"tab\there","symbol":"HSI","trade_date":"1987-01-02"}',
      '{"a":"é ☃","symbol":"ÉX","trade_date":"1987-01-02"}',
      '{"symbol":"\u00a0","trade_date":"1987-01-02"}',
      '\ufeff{"symbol":"HSI","trade_date":"1987-01-02"}',
      '{"symbol":"HSI","trade_date":"1987-01-02"}\u00a0',
      `{"a":${'['.repeat(100)}${']'.repeat(100)},"symbol":"HSI","trade_date":"1987-01-02"}`,
      `{"a":${'['.repeat(5000)}${']'.repeat(5000)},"symbol":"HSI","trade_date":"1987-01-02"}`,
      '{"symbol":"HSI","trade_date":"1987-01-02","x":tru}',
      '{"symbol":"HSI","trade_date":"1987-01-02","x":nul',
    ];
    for (const c of cases) same(Buffer.from(c));
    same(null);
    same(Buffer.from(tick), 10);
    same(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x22, 0x7d]));
    same(
      Buffer.concat([
        Buffer.from('{"symbol":"HS'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('","trade_date":"1987-01-02"}'),
      ]),
    );
  });

  it('agrees with the reference on random mutations of ticks', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = Buffer.from('{}[]",:\\ \t\n0123456789-+.eEtrufalsn"u\x00\x1f/symboltrade_date');
    const base = Buffer.from(tick);
    let accepted = 0;
    for (let n = 0; n < 60_000; n++) {
      let v = Buffer.from(base);
      for (let m = 1 + rand(3); m > 0; m--) {
        const at = rand(v.length + 1);
        const byte = rand(8) === 0 ? 0x80 + rand(128) : alphabet[rand(alphabet.length)];
        const op = rand(3);
        if (op === 0 && at < v.length) v[at] = byte;
        else if (op === 1) v = Buffer.concat([v.subarray(0, at), Buffer.from([byte]), v.subarray(at)]);
        else v = Buffer.concat([v.subarray(0, at), v.subarray(at + 1)]);
      }
      const fast = checkRecord(v, 1 << 20);
      const reference = checkRecordValue(v, 1 << 20);
      if (JSON.stringify(fast) !== JSON.stringify(reference)) {
        throw new Error(
          `differs on ${JSON.stringify(v.toString('latin1'))}: ${JSON.stringify(fast)} vs ${JSON.stringify(reference)}`,
        );
      }
      if (fast.ok) accepted++;
    }
    // The mutations hit both sides of the line.
    expect(accepted).toBeGreaterThan(3_000);
    expect(accepted).toBeLessThan(57_000);
  });
});
