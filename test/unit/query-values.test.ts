import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbCell, duckdbType } from '../../src/query/duckdb-values';
import { athenaCell, athenaTimestampToIso, doubleCell, integerCell, isoFromMicros } from '../../src/query/values';

const v = (text?: string) => (text === undefined ? {} : { VarCharValue: text });

describe('Athena result values become typed JSON cells', () => {
  it.each([
    ['varchar', 'HSI', 'HSI'],
    ['varchar', '', ''],
    ['char', 'ab', 'ab'],
    ['tinyint', '-7', -7],
    ['smallint', '300', 300],
    ['integer', '2020', 2020],
    ['bigint', '11787', 11787],
    ['bigint', '-9007199254740991', -9007199254740991],
    ['bigint', '9223372036854775807', '9223372036854775807'],
    ['double', '2383.069134972024', 2383.069134972024],
    ['double', '1.0E10', 1e10],
    ['double', 'NaN', 'NaN'],
    ['double', 'Infinity', 'Infinity'],
    ['double', '-Infinity', '-Infinity'],
    ['real', '1.5', 1.5],
    ['boolean', 'true', true],
    ['boolean', 'false', false],
    ['date', '1987-01-02', '1987-01-02'],
    ['timestamp', '2024-05-06 07:08:09.123', '2024-05-06T07:08:09.123Z'],
    ['timestamp', '2024-05-06 07:08:09', '2024-05-06T07:08:09.000Z'],
    ['timestamp', '2024-05-06 07:08:09.123456', '2024-05-06T07:08:09.123Z'],
    ['timestamp with time zone', '2024-05-06 07:08:09.123 UTC', '2024-05-06T07:08:09.123Z'],
    ['timestamp with time zone', '2024-05-06 07:08:09.123 +02:00', '2024-05-06T05:08:09.123Z'],
    ['timestamp with time zone', '2024-05-06 07:08:09.123 Europe/Paris', '2024-05-06 07:08:09.123 Europe/Paris'],
    ['decimal', '12.50', '12.50'],
    ['decimal(38,2)', '123456789012345678901234567890.10', '123456789012345678901234567890.10'],
    ['array', '[1, 2, 3]', '[1, 2, 3]'],
    ['map', '{a=1, b=2}', '{a=1, b=2}'],
    ['row', '{x=1, y=abc}', '{x=1, y=abc}'],
    ['json', '{"a":1}', '{"a":1}'],
    ['varbinary', '61 62', '61 62'],
  ])('%s %j → %j', (type, text, expected) => {
    expect(athenaCell(type, v(text))).toEqual(expected);
  });

  it.each(['varchar', 'integer', 'bigint', 'double', 'boolean', 'date', 'timestamp', 'decimal', 'array', 'map', 'row'])(
    'a missing value of %s is null',
    (type) => {
      expect(athenaCell(type, v())).toBeNull();
      expect(athenaCell(type, undefined)).toBeNull();
    },
  );

  it('keeps text it cannot read as the declared type', () => {
    expect(athenaCell('integer', v('12x'))).toBe('12x');
    expect(athenaCell('double', v('abc'))).toBe('abc');
    expect(athenaCell('boolean', v('yes'))).toBe('yes');
    expect(athenaTimestampToIso('not a time')).toBe('not a time');
  });

  it('converts numbers and instants without loss', () => {
    expect(integerCell(2n ** 53n - 1n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(integerCell(2n ** 53n)).toBe('9007199254740992');
    expect(doubleCell(Number.NaN)).toBe('NaN');
    expect(isoFromMicros(0n)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoFromMicros(-1n)).toBe('1969-12-31T23:59:59.999Z');
    expect(isoFromMicros(1_714_979_289_123_456n)).toBe('2024-05-06T07:08:09.123Z');
  });
});

describe('DuckDB values become the same JSON cells', () => {
  it('converts each type of a real DuckDB result like Athena does', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    try {
      const reader = await c.runAndReadAll(`SELECT
        'HSI'::VARCHAR, 2020::INTEGER, 11787::BIGINT, 9223372036854775807::BIGINT, 2383.5::DOUBLE, 'NaN'::DOUBLE,
        true, DATE '1987-01-02', TIMESTAMP '2024-05-06 07:08:09.123', TIMESTAMPTZ '2024-05-06 07:08:09.123+00',
        12.50::DECIMAL(10,2), [1, 2, 3], MAP {'a': 1}, {'x': 1}, NULL::VARCHAR, NULL::INTEGER, 170141183460469231731687303715884105727::HUGEINT`);
      expect(reader.getRows()[0].map(duckdbCell)).toEqual([
        'HSI',
        2020,
        11787,
        '9223372036854775807',
        2383.5,
        'NaN',
        true,
        '1987-01-02',
        '2024-05-06T07:08:09.123Z',
        '2024-05-06T07:08:09.123Z',
        '12.50',
        '[1, 2, 3]',
        expect.stringMatching(/a.*1/),
        expect.stringMatching(/x.*1/),
        null,
        null,
        '170141183460469231731687303715884105727',
      ]);
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  });

  it.each([
    ['string', 'VARCHAR'],
    ['varchar(20)', 'VARCHAR'],
    ['int', 'BIGINT'],
    ['bigint', 'BIGINT'],
    ['double', 'DOUBLE'],
    ['decimal(10,2)', 'DECIMAL(10,2)'],
    ['boolean', 'BOOLEAN'],
    ['date', 'DATE'],
    ['timestamp', 'TIMESTAMP'],
    ['array<string>', 'JSON'],
    ['struct<a:int>', 'JSON'],
  ])('Glue type %s is read as DuckDB %s', (glue, duck) => {
    expect(duckdbType(glue)).toBe(duck);
  });
});
