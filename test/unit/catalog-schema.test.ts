import {
  columnName,
  evolve,
  formatType,
  inferSchema,
  inferType,
  parseType,
  unify,
  type Column,
} from '../../src/catalog/schema';

describe('columnName', () => {
  it.each([
    ['Adj Close', 'adj_close'],
    ['adjClose', 'adj_close'],
    ['CloseUSD', 'close_usd'],
    ['  trade-date ', 'trade_date'],
    ['__x__', 'x'],
    ['volume', 'volume'],
  ])('%s → %s', (field, column) => expect(columnName(field)).toBe(column));
});

describe('inferType', () => {
  it.each([
    [true, 'boolean'],
    [42, 'bigint'],
    [4.5, 'double'],
    ['HSI', 'string'],
    ['1987-12-31', 'date'],
    ['2024-05-01T10:00:00.000Z', 'timestamp'],
    ['2024-05-01 10:00:00', 'timestamp'],
    ['2024-05-01T10:00:00+02:00', 'timestamp'],
    ['2024-13', 'string'],
    [[1, 2.5], 'array<double>'],
    [[], 'array<string>'],
    [{ Bid: 1, ask: { x: 'a' } }, 'struct<bid:bigint,ask:struct<x:string>>'],
    [[{ a: 1 }, { b: true }], 'array<struct<a:bigint,b:boolean>>'],
  ])('%j → %s', (value, type) => expect(inferType(value)).toBe(type));

  it('null is unknown', () => expect(inferType(null)).toBeUndefined());
});

describe('parseType / formatType', () => {
  it.each([
    'string',
    'bigint',
    'array<struct<a:bigint,b:array<string>>>',
    'struct<x:double,y:struct<z:timestamp>>',
    'map<string,bigint>',
    'decimal(10,2)',
    'int',
  ])('round-trips %s', (t) => expect(formatType(parseType(t))).toBe(t));

  it('keeps unknown types opaque', () => {
    expect(parseType('map<string,array<int>>')).toEqual({ kind: 'opaque', text: 'map<string,array<int>>' });
    expect(parseType('decimal(10,2)')).toEqual({ kind: 'opaque', text: 'decimal(10,2)' });
  });

  it('rejects malformed types', () => {
    expect(() => parseType('struct<a:bigint')).toThrow(/malformed Glue type/);
    expect(() => parseType('array<string>>')).toThrow(/malformed Glue type/);
  });
});

describe('unify (samples of one crawl, order does not matter)', () => {
  const t = (s: string) => parseType(s);
  it.each([
    ['bigint', 'double', 'double'],
    ['double', 'bigint', 'double'],
    ['date', 'timestamp', 'timestamp'],
    ['date', 'string', 'string'],
    ['string', 'bigint', 'string'],
    ['boolean', 'bigint', 'string'],
    ['array<bigint>', 'array<double>', 'array<double>'],
    ['struct<a:bigint>', 'struct<b:string>', 'struct<a:bigint,b:string>'],
  ])('%s + %s → %s', (a, b, out) => {
    expect(formatType(unify(t(a), t(b)).type)).toBe(out);
    expect(unify(t(a), t(b)).conflict).toBeUndefined();
  });

  it('a struct against a scalar is a conflict and falls back to string', () => {
    const u = unify(t('struct<a:bigint>'), t('bigint'));
    expect(formatType(u.type)).toBe('string');
    expect(u.conflict).toBe('struct<a:bigint> and bigint');
  });

  it('unknown (null) takes the other side', () => {
    expect(formatType(unify(undefined, t('bigint')).type)).toBe('bigint');
    expect(formatType(unify(t('bigint'), undefined).type)).toBe('bigint');
  });
});

describe('evolve (table type by a newly seen type)', () => {
  const t = (s: string) => parseType(s);
  it.each([
    ['bigint', 'double', 'widened', 'double'],
    ['date', 'timestamp', 'widened', 'timestamp'],
    ['double', 'bigint', 'none', 'double'],
    ['timestamp', 'date', 'none', 'timestamp'],
    ['string', 'bigint', 'none', 'string'],
    ['string', 'date', 'none', 'string'],
    ['struct<a:bigint>', 'struct<a:bigint,b:string>', 'widened', 'struct<a:bigint,b:string>'],
    ['struct<a:bigint>', 'struct<a:double>', 'widened', 'struct<a:double>'],
    ['array<bigint>', 'array<double>', 'widened', 'array<double>'],
    ['bigint', 'string', 'drift', 'bigint'],
    ['boolean', 'string', 'drift', 'boolean'],
    ['date', 'string', 'drift', 'date'],
    ['double', 'struct<a:bigint>', 'drift', 'double'],
    ['decimal(10,2)', 'double', 'drift', 'decimal(10,2)'],
  ])('%s by %s: %s → %s', (table, seen, change, out) => {
    const e = evolve(t(table), t(seen));
    expect(e.change).toBe(change);
    expect(formatType(e.type)).toBe(out);
  });

  it('widens what it can inside a struct and reports the rest as drift', () => {
    const e = evolve(t('struct<a:bigint,b:boolean>'), t('struct<a:double,b:string,c:date>'));
    expect(e.change).toBe('drift');
    expect(formatType(e.type)).toBe('struct<a:double,b:boolean,c:date>');
    expect(e.change === 'drift' && e.reason).toBe('b: table has boolean, new data has string');
  });

  it('an unseen value changes nothing', () => expect(evolve(t('bigint'), undefined).change).toBe('none'));
});

describe('inferSchema', () => {
  const existing: Column[] = [
    { name: 'trade_date', type: 'date' },
    { name: 'close', type: 'double' },
    { name: 'volume', type: 'bigint' },
    { name: 'halted', type: 'boolean' },
  ];

  it('infers a first schema in order of first appearance, skipping partition keys', () => {
    const s = inferSchema(
      [
        { symbol: 'HSI', trade_date: '1987-01-02', Close: 7, volume: null },
        { symbol: 'HSI', trade_date: '1987-01-05', Close: 7.5, volume: 100, 'Adj Close': 1.5 },
      ],
      [],
      ['symbol', 'year'],
    );
    expect(s.columns).toEqual([
      { name: 'trade_date', type: 'date' },
      { name: 'close', type: 'double' },
      { name: 'volume', type: 'bigint' },
      { name: 'adj_close', type: 'double' },
    ]);
    expect(s.added).toEqual(['trade_date', 'close', 'volume', 'adj_close']);
    expect(s.mappings).toEqual({ adj_close: 'Adj Close' });
    expect(s.drift).toEqual([]);
  });

  it('appends new fields, widens bigint to double, keeps the table type on drift', () => {
    const s = inferSchema([{ trade_date: '2001-01-02', volume: 1.5, halted: 'maybe', vwap: 3.25 }], existing, [
      'symbol',
    ]);
    expect(s.columns).toEqual([
      { name: 'trade_date', type: 'date' },
      { name: 'close', type: 'double' },
      { name: 'volume', type: 'double' },
      { name: 'halted', type: 'boolean' },
      { name: 'vwap', type: 'double' },
    ]);
    expect(s.added).toEqual(['vwap']);
    expect(s.widened).toEqual(['volume']);
    expect(s.drift).toEqual(['halted: table has boolean, new data has string']);
  });

  it('reports types mixed within the samples as drift', () => {
    const s = inferSchema([{ quote: { bid: 1 } }, { quote: 5 }]);
    expect(s.columns).toEqual([{ name: 'quote', type: 'string' }]);
    expect(s.drift).toEqual(['quote: mixed types in the lake (struct<bid:bigint> and bigint)']);
  });

  it('leaves an unchanged schema unchanged', () => {
    const s = inferSchema([{ trade_date: '2001-01-02', close: 1, volume: 5, halted: false }], existing);
    expect(s.columns).toEqual(existing);
    expect(s.added).toEqual([]);
    expect(s.widened).toEqual([]);
    expect(s.drift).toEqual([]);
  });

  it('keeps columns of types it does not parse', () => {
    const s = inferSchema([{ x: 1 }], [{ name: 'odd', type: 'struct<' }]);
    expect(s.columns).toEqual([
      { name: 'odd', type: 'struct<' },
      { name: 'x', type: 'bigint' },
    ]);
  });
});
