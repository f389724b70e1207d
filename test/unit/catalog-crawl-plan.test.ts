import {
  advanceWatermark,
  crawlStateKey,
  groupByPartition,
  isManifestKey,
  mergeKnown,
  mergeWatermarks,
  MAX_KNOWN_PARTITIONS,
  parsePartitionPath,
  pickSamples,
  sampleLines,
  sinkManifestRoot,
  usableState,
  type LakePartition,
} from '../../src/catalog/crawl-plan';
import { manifestKey } from '../../src/lake-layout';
import type { Crawler } from '@aws-sdk/client-glue';
import { crawlerDefinition, crawlerDifferences, crawlOutcome } from '../../src/catalog/managed-crawler';
import { mergeDrift, storageDescriptor, tableInput, tableMappings } from '../../src/catalog/glue-table';

describe('crawl state', () => {
  const args = { database: 'db', table: 't', tableCreatedAt: '2024-01-01T00:00:00.000Z' };
  const state = {
    version: 1,
    database: 'db',
    table: 't',
    tableCreatedAt: args.tableCreatedAt,
    watermarks: { 'g/t/0/': 'k1' },
    updatedAt: '',
  };

  it('lives next to the sink manifests', () => {
    expect(crawlStateKey('lake/', 'db', 't')).toBe('lake/_ticklake/crawler/db.t.json');
    expect(sinkManifestRoot('lake/')).toBe('lake/_ticklake/sink/');
    expect(isManifestKey(manifestKey('lake/', 'g', 'ticks', 3, '42'))).toBe(true);
    expect(isManifestKey('lake/_ticklake/sink/g/ticks/3/readme.txt')).toBe(false);
  });

  it('is used only for the very table it was written for', () => {
    expect(usableState(state, args)).toEqual(state);
    expect(usableState(state, { ...args, tableCreatedAt: '2025-01-01T00:00:00.000Z' })).toBeUndefined(); // table recreated
    expect(usableState(state, { ...args, tableCreatedAt: undefined })).toBeUndefined(); // table missing
    expect(usableState(state, { ...args, table: 'other' })).toBeUndefined();
    expect(usableState({ ...state, version: 2 }, args)).toBeUndefined();
    expect(usableState('garbage', args)).toBeUndefined();
    expect(usableState(undefined, args)).toBeUndefined();
  });

  it('merges watermarks folder by folder, never moving one back', () => {
    expect(mergeWatermarks({ a: '0002', b: '0005' }, { a: '0001', b: '0006', c: '0001' })).toEqual({
      a: '0002',
      b: '0006',
      c: '0001',
    });
  });

  it('remembers registered partitions up to a bound', () => {
    expect(mergeKnown(undefined, undefined)).toBeUndefined();
    expect(mergeKnown(['b', 'a'], undefined)).toEqual(['a', 'b']);
    expect(mergeKnown(['b'], ['a', 'b'])).toEqual(['a', 'b']);
    const many = Array.from({ length: MAX_KNOWN_PARTITIONS }, (_, i) => `p${i}`);
    expect(mergeKnown(many, ['one more'])).toBeUndefined();
    expect(usableState({ ...state, partitions: ['a', 3] }, args)?.partitions).toEqual(['a']);
    expect(usableState(state, args)?.partitions).toBeUndefined();
  });

  it('advances a watermark up to the first manifest whose objects are not all there', () => {
    const m = (key: string, complete = true) => ({ key, complete });
    expect(advanceWatermark('0', [m('1'), m('2'), m('3')])).toBe('3');
    expect(advanceWatermark('0', [m('1'), m('2', false), m('3')])).toBe('1');
    expect(advanceWatermark('0', [m('1', false)])).toBe('0');
    expect(advanceWatermark(undefined, [m('1', false)])).toBeUndefined();
    expect(advanceWatermark(undefined, [])).toBeUndefined();
  });
});

describe('lake partitions', () => {
  const root = 'lake/ticks/';
  const by = ['symbol', 'year'];

  it('groups data object keys by partition, sorted, ignoring what is not a data object', () => {
    const groups = groupByPartition(
      [
        'lake/ticks/symbol=HSI/year=1987/t+0+00000000000000000010.json.gz',
        'lake/ticks/symbol=HSI/year=1987/t+0+00000000000000000000.json.gz',
        'lake/ticks/symbol=N%2F225/year=1987/t+1+00000000000000000000.json',
        'lake/ticks/symbol=HSI/year=1987/',
        'lake/ticks/symbol=HSI/notes.txt',
        'lake/other/symbol=HSI/year=1987/t+0+00000000000000000000.json.gz',
      ],
      root,
      by,
    );
    expect([...groups.keys()]).toEqual(['symbol=HSI/year=1987', 'symbol=N%2F225/year=1987']);
    expect(groups.get('symbol=HSI/year=1987')!.keys).toEqual([
      'lake/ticks/symbol=HSI/year=1987/t+0+00000000000000000000.json.gz',
      'lake/ticks/symbol=HSI/year=1987/t+0+00000000000000000010.json.gz',
    ]);
    expect(groups.get('symbol=N%2F225/year=1987')!.values).toEqual(['N/225', '1987']);
  });

  it('parses notified partition paths against the layout', () => {
    expect(parsePartitionPath('symbol=HSI/year=1987', by)).toEqual(['HSI', '1987']);
    expect(parsePartitionPath('/symbol=N%2F225/year=1987/', by)).toEqual(['N/225', '1987']);
    expect(parsePartitionPath('year=1987/symbol=HSI', by)).toBeUndefined();
    expect(parsePartitionPath('symbol=HSI', by)).toBeUndefined();
    expect(parsePartitionPath('symbol=/year=1987', by)).toBeUndefined();
  });

  const part = (path: string, n: number): LakePartition => ({
    path,
    values: [path],
    keys: Array.from({ length: n }, (_, i) => `${path}/${String(i).padStart(3, '0')}`),
  });

  it('samples every object up to the budget', () => {
    expect(pickSamples([part('a', 2), part('b', 1)], 10)).toEqual(['a/000', 'a/001', 'b/000']);
  });

  // random() = 0 makes the shuffle a rotation by one: deterministic, and visibly not the input order.
  const zero = () => 0;

  it('beyond the budget: the newest of each partition, then the oldest, then the rest', () => {
    const two = pickSamples([part('a', 5), part('b', 1)], 4, zero);
    expect(two.slice(0, 3).sort()).toEqual(['a/000', 'a/004', 'b/000']);
    expect(['a/001', 'a/002', 'a/003']).toContain(two[3]);
    const three = pickSamples([part('a', 5), part('b', 5), part('c', 5)], 4, zero);
    expect(three.slice(0, 3).sort()).toEqual(['a/004', 'b/004', 'c/004']);
    expect(['a/000', 'b/000', 'c/000']).toContain(three[3]);
  });

  it('when not even the newest fit, a random choice of partitions that changes from crawl to crawl', () => {
    const many = Array.from({ length: 50 }, (_, i) => part(`p${i}`, 2));
    const picks = new Set<string>();
    for (let crawl = 0; crawl < 20; crawl++) {
      const chosen = pickSamples(many, 10);
      expect(chosen).toHaveLength(10);
      expect(chosen.every((k) => k.endsWith('/001'))).toBe(true);
      for (const k of chosen) picks.add(k);
    }
    expect(picks.size).toBeGreaterThan(30); // 20 crawls of 10 cover most of the 50 partitions
  });

  it('samples lines evenly over an object', () => {
    expect(sampleLines([1, 2, 3], 5)).toEqual([1, 2, 3]);
    expect(
      sampleLines(
        Array.from({ length: 10 }, (_, i) => i),
        5,
      ),
    ).toEqual([0, 2, 4, 6, 8]);
  });
});

describe('Glue table definition', () => {
  it('is a JSON SerDe table with string partition keys and classification json', () => {
    const t = tableInput({
      table: 'ticks',
      location: 's3://b/lake/ticks/',
      columns: [{ name: 'close', type: 'double' }],
      partitionBy: ['symbol', 'year'],
      mappings: { adj_close: 'Adj Close' },
      parameters: { 'ticklake.drift': '[]', classification: 'csv' },
    });
    expect(t.Parameters).toMatchObject({ classification: 'json', EXTERNAL: 'TRUE', 'ticklake.drift': '[]' });
    expect(t.PartitionKeys).toEqual([
      { Name: 'symbol', Type: 'string' },
      { Name: 'year', Type: 'string' },
    ]);
    expect(t.StorageDescriptor?.SerdeInfo?.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(t.StorageDescriptor?.SerdeInfo?.Parameters).toMatchObject({
      'mapping.adj_close': 'Adj Close',
      'ignore.malformed.json': 'true',
    });
    expect(tableMappings(t.StorageDescriptor)).toEqual({ adj_close: 'Adj Close' });
    expect(storageDescriptor('s3://x/', []).SerdeInfo?.Parameters?.['timestamp.formats']).toContain(
      "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
    );
  });

  it('keeps drift entries in order, appends new ones, bounds the list', () => {
    expect(mergeDrift(undefined, ['a'])).toEqual(['a']);
    expect(mergeDrift('["a","b"]', ['b', 'c', 'c'])).toEqual(['a', 'b', 'c']);
    expect(mergeDrift('["a","b"]', ['a'])).toEqual(['a', 'b']);
    expect(mergeDrift('not json', ['x'])).toEqual(['x']);
    expect(mergeDrift('["a","b","c"]', ['d'], 3)).toEqual(['b', 'c', 'd']);
  });
});

describe('managed Glue crawler', () => {
  const wanted = crawlerDefinition({ name: 'c', role: 'r', database: 'db', path: 's3://b/lake/ticks/' });
  const existing = (changes: Partial<Crawler>): Crawler => ({ ...(wanted as Crawler), ...changes });

  it('crawls new folders only, logging schema changes (what CRAWL_NEW_FOLDERS_ONLY requires)', () => {
    expect(wanted).toMatchObject({
      Targets: { S3Targets: [{ Path: 's3://b/lake/ticks/' }] },
      RecrawlPolicy: { RecrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
      SchemaChangePolicy: { UpdateBehavior: 'LOG', DeleteBehavior: 'LOG' },
    });
  });

  it('names the fields that differ from the wanted definition', () => {
    expect(
      crawlerDifferences(existing({ Configuration: JSON.stringify(JSON.parse(wanted.Configuration!)) }), wanted),
    ).toEqual([]);
    expect(
      crawlerDifferences(
        existing({
          Role: 'other',
          Targets: { S3Targets: [{ Path: 's3://b/x/' }] },
          RecrawlPolicy: { RecrawlBehavior: 'CRAWL_EVERYTHING' },
        }),
        wanted,
      ),
    ).toEqual(['Role', 'Targets', 'RecrawlPolicy']);
  });

  it.each([
    ['COMPLETED', 'succeeded'],
    ['SUCCEEDED', 'succeeded'],
    ['FAILED', 'failed'],
    ['STOPPED', 'cancelled'],
    ['CANCELLED', 'cancelled'],
    ['RUNNING', 'running'],
    [undefined, 'running'],
  ])('%s is %s', (state, outcome) => expect(crawlOutcome(state)).toBe(outcome));
});
