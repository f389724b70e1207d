import { parse } from 'csv-parse/sync';
import { plainRecords, plainFields } from '../../src/replay/csv-records';

/** What csv-parse reads from a buffer without quotes, with the reader's former options. */
const csvParse = (buf: Buffer): string[][] =>
  parse(buf, {
    relax_column_count: true,
    skip_empty_lines: false,
    quote: false,
    record_delimiter: ['\r\n', '\n'],
    bom: false,
  });

describe('plainRecords (a buffer without a double quote)', () => {
  it.each([
    ['', []],
    ['a', [['a']]],
    ['a,b\nc\n', [['a', 'b'], ['c']]],
    [
      'a,b\r\nc,,d\r\n',
      [
        ['a', 'b'],
        ['c', '', 'd'],
      ],
    ],
    ['\n\nx\n', [[''], [''], ['x']]],
    ['x\ry,z\n', [['x\ry', 'z']]],
    ['é,€\n', [['é', '€']]],
  ])('splits %j as RFC 4180 reads it', (text, expected) => {
    expect(plainRecords(Buffer.from(text, 'utf8'))).toEqual(expected);
  });

  it('reads what csv-parse reads, on random quote-free data ending in a line break', () => {
    const alphabet = ['a', 'Z', '0', '.', ',', ',', '\n', '\r\n', 'é', '€', ' ', '\r', '-'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 500; n++) {
      let text = '';
      const len = next() % 200;
      for (let i = 0; i < len; i++) text += alphabet[next() % alphabet.length];
      const buf = Buffer.from(`${text}\n`, 'utf8');
      expect(plainRecords(buf)).toEqual(csvParse(buf));
    }
  });

  it('drops a CR that ends the data, as plainFields does for a last record without a line break', () => {
    const buf = Buffer.from('a,b\r', 'utf8');
    expect(plainRecords(buf)).toEqual([plainFields(buf, 0, buf.length)]);
    expect(plainRecords(buf)).toEqual([['a', 'b']]);
  });

  it('keeps invalid UTF-8 as csv-parse did (replacement characters)', () => {
    const buf = Buffer.from([0x61, 0xff, 0x2c, 0x62, 0x0a]);
    expect(plainRecords(buf)).toEqual(csvParse(buf));
  });
});
