/**
 * The local query engine over a real lake: the sample replayed through Kafka and the sink into S3,
 * crawled into Glue, queried through the query workflow. One lake serves every test of the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { DeleteObjectCommand, PutObjectCommand, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { CreatePartitionCommand, DeletePartitionCommand, GetPartitionsCommand } from '@aws-sdk/client-glue';
import { ActivityFailure, ApplicationFailure, CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { createAwsClients } from '../../src/adapters/aws';
import { REPO_ROOT } from '../../src/config';
import {
  runCrawl,
  runQuery,
  startQuery,
  startReplay,
  startSink,
  waitForSinkCaughtUp,
  type QueryOptions,
} from '../../src/pipeline';
import { DuckDBEngine } from '../../src/query/duckdb-engine';
import { parseExamples } from '../../src/query/examples';
import { symbolBucket } from '../../src/symbol-bucket';
import type { QueryParam } from '../../src/query/sql-guard';
import { csvStats, engineQuery, startHarness, uniqueConfig, waitFor, type CsvStats, type Harness } from './support';
import { SAMPLE_SYMBOLS } from '../../scripts/generate-sample';

const SAMPLE = path.join(REPO_ROOT, 'data', 'sample.csv');

/** The ApplicationFailure a query workflow failed with. */
async function queryFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const activity = (err as WorkflowFailedError).cause;
  expect(activity).toBeInstanceOf(ActivityFailure);
  const failure = (activity as ActivityFailure).cause;
  expect(failure).toBeInstanceOf(ApplicationFailure);
  return failure as ApplicationFailure;
}

/** Same rows; doubles compared to 9 significant digits (parallel aggregation may sum in another order). */
function expectSameRows(actual: unknown[][], expectedRows: unknown[][]): void {
  expect(actual).toHaveLength(expectedRows.length);
  actual.forEach((row, i) =>
    row.forEach((cell, j) => {
      const e = expectedRows[i][j];
      if (typeof e === 'number' && !Number.isInteger(e)) expect((cell as number) / e).toBeCloseTo(1, 9);
      else expect(cell).toEqual(e);
    }),
  );
}

describe('queries with DuckDB over a local lake', () => {
  let h: Harness;
  let expected: CsvStats;
  const query = (sql: string, params: QueryParam[] = [], opts: QueryOptions = {}) =>
    runQuery(h.client, h.config, sql, params, opts);

  beforeAll(async () => {
    expected = csvStats(SAMPLE);
    h = await startHarness(uniqueConfig('query-duckdb'));
    const sink = await startSink(h.client, h.config);
    // The replay id is unique to this test: workflow ids are shared by everyone on the namespace.
    const replay = await startReplay(h.client, h.config, { file: SAMPLE, replayId: h.config.kafka.topic });
    await replay.result();
    await waitForSinkCaughtUp(h.config, 120_000);
    await sink.terminate('lake built');
    const crawl = await runCrawl(h.client, h.config);
    expect(crawl.partitionsFound).toBeGreaterThan(0);
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it('answers counts and averages per symbol exactly as the CSV; a second identical query downloads nothing', async () => {
    const sql = 'SELECT symbol, count(*) AS ticks, avg(close) AS avg_close FROM ticks GROUP BY symbol ORDER BY symbol';
    const first = await query(sql);
    expect(first.columns.map((c) => c.name)).toEqual(['symbol', 'ticks', 'avg_close']);
    expect(first.rows.map((r) => r[0])).toEqual([...expected.perSymbol.keys()].sort());
    for (const [symbol, ticks, avgClose] of first.rows) {
      const e = expected.perSymbol.get(symbol as string)!;
      expect(ticks).toBe(e.count);
      expect(avgClose as number).toBeCloseTo(e.sumClose / e.count, 6);
    }
    expect(first.truncated).toBe(false);
    expect(first.stats.objectsDownloaded).toBeGreaterThan(0);
    expect(first.stats.objectsRead).toBe(first.stats.objectsDownloaded);

    const second = await query(sql);
    expectSameRows(second.rows, first.rows);
    expect(second.stats.objectsDownloaded).toBe(0);
    expect(second.stats.objectsCached).toBe(first.stats.objectsRead);

    // A fresh engine (a restarted worker) on the same cache directory downloads nothing either: the cache is keyed by ETag.
    const aws = createAwsClients(h.config.aws);
    const engine = new DuckDBEngine({
      s3: aws.s3,
      glue: aws.glue,
      cacheDir: path.join(h.config.dataDir, 'query-cache'),
      resultsDir: path.join(h.config.dataDir, 'results'),
    });
    try {
      const fresh = await engine.run(
        {
          sql,
          params: [],
          database: h.config.glue.database,
          maxRows: 100,
          maxBytes: 100_000,
          allowWrites: false,
          queryId: 'fresh-engine',
        },
        { heartbeat: () => undefined, signal: new AbortController().signal },
      );
      expectSameRows(fresh.rows, first.rows);
      expect(fresh.stats.objectsDownloaded).toBe(0);
      expect(fresh.stats.objectsCached).toBe(first.stats.objectsRead);
    } finally {
      await engine.close();
    }
  });

  it('reads from S3 only the objects that can hold the symbol or the day a filter selects', async () => {
    const symbol = [...expected.perSymbol.keys()].sort()[0];
    const bucket = symbolBucket(symbol, h.config.lake.symbolBuckets);
    const aws = createAwsClients(h.config.aws);
    const dataObjects: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: aws.s3 },
      { Bucket: h.config.lake.bucket, Prefix: `${h.config.lake.prefix}ticks/` },
    )) {
      for (const o of page.Contents ?? []) if (o.Key!.endsWith('.json.gz')) dataObjects.push(o.Key!);
    }
    const ofBucket = dataObjects.filter((k) => k.includes(`/symbol_bucket=${bucket}/`));
    expect(ofBucket.length).toBeGreaterThan(0);
    expect(ofBucket.length).toBeLessThan(dataObjects.length);

    // A fresh engine on an empty cache, with an S3 client that records every object it reads.
    const fetched: string[] = [];
    const s3 = createAwsClients(h.config.aws).s3;
    s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'GetObjectCommand') fetched.push((args.input as { Key: string }).Key);
        return next(args);
      },
      { step: 'initialize', name: 'recordObjectReads' },
    );
    const cacheDir = fs.mkdtempSync(path.join(h.config.dataDir, 'query-cache-pruning-'));
    const engine = new DuckDBEngine({
      s3,
      glue: aws.glue,
      cacheDir,
      resultsDir: path.join(h.config.dataDir, 'results'),
    });
    const run = (sql: string, params: QueryParam[] = []) =>
      engine.run(
        {
          sql,
          params,
          database: h.config.glue.database,
          maxRows: 100,
          maxBytes: 100_000,
          allowWrites: false,
          queryId: 'pruning',
        },
        { heartbeat: () => undefined, signal: new AbortController().signal },
      );
    try {
      const filtered = await run('SELECT count(*) AS n, avg(close) FROM ticks WHERE symbol = ?', [symbol]);
      expect(filtered.rows[0][0]).toBe(expected.perSymbol.get(symbol)!.count);
      expect([...fetched].sort()).toEqual([...ofBucket].sort());
      expect(filtered.stats.objectsRead).toBe(ofBucket.length);
      expect(filtered.stats.partitionsRead!).toBeLessThan(filtered.stats.partitionsTotal!);

      // One day of every symbol: only the objects of that day's year.
      const day = (await run('SELECT max(trade_date) FROM ticks WHERE symbol = ?', [symbol])).rows[0][0] as string;
      const year = day.slice(0, 4);
      fetched.length = 0;
      const oneDay = await run(`SELECT symbol, close FROM ticks WHERE trade_date = DATE '${day}' ORDER BY symbol`);
      expect(oneDay.rows.map((r) => r[0])).toContain(symbol);
      const ofYear = dataObjects.filter((k) => k.includes(`/year=${year}/`));
      expect(oneDay.stats.objectsRead).toBe(ofYear.length);
      expect(fetched.every((k) => k.includes(`/year=${year}/`))).toBe(true);

      // Symbol and year together: one partition.
      const one = await run('SELECT count(*) FROM ticks WHERE symbol IN (?, ?) AND year = ?', [symbol, symbol, year]);
      expect(one.stats.partitionsRead).toBe(1);
      const check = await run('SELECT count(*) FROM ticks WHERE symbol = ? AND year(trade_date) = ?', [
        symbol,
        Number(year),
      ]);
      expect(one.rows[0][0]).toBe(check.rows[0][0]);

      // A predicate it cannot use for pruning (OR across columns) reads everything, and still answers right.
      const all = await run('SELECT count(*) FROM ticks');
      expect(all.rows[0][0]).toBe(expected.rows);
      expect(all.stats.objectsRead).toBe(dataObjects.length);
      const or = await run('SELECT count(*) FROM ticks WHERE symbol = ? OR close < 0', [symbol]);
      expect(or.rows[0][0]).toBe(expected.perSymbol.get(symbol)!.count);
      expect(or.stats.objectsRead).toBe(dataObjects.length);
    } finally {
      await engine.close();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('rejects write and DDL statements with a clear, non-retryable error', async () => {
    for (const sql of [
      'DROP TABLE ticks',
      "INSERT INTO ticks (symbol) VALUES ('X')",
      'CREATE TABLE x AS SELECT * FROM ticks',
      "COPY ticks TO 'x.csv'",
      'SET threads = 1',
    ]) {
      const failure = await queryFailure(query(sql));
      expect(failure.type).toBe('QueryRefused');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toMatch(/QUERY_ALLOW_WRITES/);
    }
    const several = await queryFailure(query('SELECT 1; DROP TABLE ticks'));
    expect(several.type).toBe('QueryRefused');
    expect(several.message).toMatch(/one statement/);
    // Files outside the cache are out of reach even of a SELECT.
    const file = await queryFailure(query("SELECT * FROM read_text('/etc/hostname')"));
    expect(file.type).toBe('QueryFailed');
    expect(file.message).toMatch(/Permission/);
    expect((await query('SELECT count(*) FROM ticks')).rows[0][0]).toBe(expected.rows);
  });

  it('binds parameters: an injection attempt matches nothing and changes nothing', async () => {
    const injected = await query('SELECT * FROM ticks WHERE symbol = ?', ["x' OR '1'='1"]);
    expect(injected.rows).toEqual([]);
    expect(injected.rowCount).toBe(0);
    const dropped = await query('SELECT count(*) FROM ticks WHERE symbol = ?', ["x'; DROP TABLE ticks; --"]);
    expect(dropped.rows[0][0]).toBe(0);
    expect((await query('SELECT count(*) FROM ticks')).rows[0][0]).toBe(expected.rows);
    const mismatch = await queryFailure(query('SELECT * FROM ticks WHERE symbol = ? AND year = ?', ['x']));
    expect(mismatch.type).toBe('QueryFailed');
    expect(mismatch.message).toMatch(/2 \? placeholder/);
  });

  it('fails fast on syntax errors, unknown tables or columns and a missing database', async () => {
    const cases: [string, string, RegExp, QueryOptions?][] = [
      ['SELEC symbol FROM ticks', 'QueryFailed', /syntax error/i],
      ['SELECT nope FROM ticks', 'QueryFailed', /nope.*columns: ticks \(.*trade_date, .*year, symbol_bucket\)/s],
      ['SELECT * FROM tickz', 'QueryFailed', /tickz.*tables in database '.*': ticks/s],
      // Partition columns are strings (as on Athena): an order against a number says so.
      ['SELECT count(*) FROM ticks WHERE year > 2019', 'QueryFailed', /partition columns are strings.*CAST\(year/],
      [
        'SELECT count(*) FROM ticks',
        'MissingDatabase',
        /does not exist.*crawl/,
        { database: 'db_that_does_not_exist' },
      ],
    ];
    for (const [sql, type, message, opts] of cases) {
      const failure = await queryFailure(query(sql, [], opts));
      expect(failure.type).toBe(type);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toMatch(message);
    }
  });

  it('returns at most maxRows rows inline and the whole result as a CSV file', async () => {
    const result = await query('SELECT symbol, trade_date, close FROM ticks ORDER BY symbol, trade_date', [], {
      maxRows: 25,
      id: 'all-rows',
    });
    expect(result.rows).toHaveLength(25);
    expect(result.truncated).toBe(true);
    expect(result.rowCount).toBe(expected.rows);
    expect(result.resultLocation).toBe(path.join(h.config.dataDir, 'results', 'query_all-rows.csv'));
    const lines = fs.readFileSync(result.resultLocation!, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('symbol,trade_date,close');
    expect(lines).toHaveLength(expected.rows + 1);
    expect(lines[1]).toBe(result.rows[0].join(','));
    expect(lines[25]).toBe(result.rows[24].join(','));

    // The byte bound cuts the page too.
    const small = await query('SELECT * FROM ticks', [], { maxRows: 1000, maxBytes: 4096 });
    expect(small.truncated).toBe(true);
    expect(small.rows.length).toBeGreaterThan(0);
    expect(Buffer.byteLength(JSON.stringify(small.rows))).toBeLessThanOrEqual(4096);
  });

  it('runs every example of docs/queries.md', async () => {
    const examples = parseExamples(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'queries.md'), 'utf8'));
    expect(examples.map((e) => e.name)).toEqual(['per-symbol', 'yearly', 'monthly', 'widest-days', 'latest-close']);
    const results = new Map<string, Awaited<ReturnType<typeof query>>>();
    // The examples name real symbols (HSI, N225); this lake holds the sample, whose symbols are shaped after them.
    const sampleOf = new Map(SAMPLE_SYMBOLS.map((s) => [s.shapedLike, s.symbol]));
    for (const e of examples) {
      const params = e.params.map((p) => (typeof p === 'string' ? (sampleOf.get(p) ?? p) : p));
      results.set(e.name, await query(e.sql, params));
    }
    for (const [name, r] of results) expect([name, r.rows.length > 0]).toEqual([name, true]);
    const perSymbol = results.get('per-symbol')!;
    expect(perSymbol.rows.map((r) => [r[0], r[1]])).toEqual(
      [...expected.perSymbol.entries()].sort().map(([s, e]) => [s, e.count]),
    );
    const monthly = results.get('monthly')!;
    expect(monthly.rows.map((r) => r[0])).toEqual(
      Array.from({ length: 12 }, (_, i) => `2020-${String(i + 1).padStart(2, '0')}-01`),
    );
    expect(monthly.stats.partitionsRead).toBe(1);
    expect(results.get('latest-close')!.rows).toHaveLength(expected.perSymbol.size);
  });

  it('answers concurrent queries on one worker alike', async () => {
    const sql = 'SELECT symbol, count(*) FROM ticks WHERE symbol IN (?, ?) GROUP BY symbol ORDER BY symbol';
    const [a, b] = [...expected.perSymbol.keys()].sort();
    const results = await Promise.all([
      query(sql, [a, b]),
      query('SELECT count(*) FROM ticks'),
      query(sql, [a, b]),
      query('SELECT count(*) FROM ticks WHERE symbol = ?', [b]),
    ]);
    const pair = [
      [a, expected.perSymbol.get(a)!.count],
      [b, expected.perSymbol.get(b)!.count],
    ];
    expect(results.map((r) => r.rows)).toEqual([pair, [[expected.rows]], pair, [[expected.perSymbol.get(b)!.count]]]);
  });

  it('interrupts DuckDB when the query workflow is cancelled', async () => {
    const handle = await startQuery(h.client, h.config, 'SELECT sum(i) FROM range(1000000000000) t(i)');
    // Cancel once the activity runs (its first heartbeat), not before it started.
    await waitFor(
      'the query activity to run',
      async () => {
        const d = await handle.describe();
        return (d.raw.pendingActivities ?? []).some((p) => p.lastHeartbeatTime) || undefined;
      },
      30_000,
    );
    const cancelledAt = Date.now();
    await handle.cancel();
    const err: unknown = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    expect((await query('SELECT count(*) FROM ticks')).rows[0][0]).toBe(expected.rows);
  });

  it('runs the dialect shared with Athena: year(), date_trunc() of a date, typed values', async () => {
    const symbol = [...expected.perSymbol.keys()].sort()[0];
    const result = await query(
      `SELECT date_trunc('month', trade_date) AS month, year(trade_date) AS y, count(*) AS days, max(volume) AS max_volume,
              min(ingested_at) AS first_ingested, CAST(sum(close) AS DECIMAL(18, 2)) AS total
         FROM ticks WHERE symbol = ? AND trade_date >= DATE '2000-01-01'
        GROUP BY 1, 2 ORDER BY 1 LIMIT 3`,
      [symbol],
    );
    expect(result.columns.map((c) => c.type)).toEqual([
      'DATE',
      'BIGINT',
      'BIGINT',
      'BIGINT',
      'TIMESTAMP',
      'DECIMAL(18,2)',
    ]);
    const [month, y, days, maxVolume, firstIngested, total] = result.rows[0];
    expect(month).toMatch(/^\d{4}-\d{2}-01$/);
    expect(y).toBe(Number((month as string).slice(0, 4)));
    expect(days).toBeGreaterThan(0);
    expect(typeof maxVolume).toBe('number');
    expect(firstIngested).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(total).toMatch(/^\d+\.\d{2}$/);
  });

  // Last: it changes the lake (and puts it back).
  it('sees new, changed and removed objects and partitions on the next query', async () => {
    const aws = createAwsClients(h.config.aws);
    const key = `${h.config.lake.prefix}ticks/year=2030/symbol_bucket=${symbolBucket('ZZTEST', h.config.lake.symbolBuckets)}/extra.json.gz`;
    const put = async (days: string[]) => {
      const lines = days.map((d, i) =>
        JSON.stringify({
          symbol: 'ZZTEST',
          trade_date: d,
          open: 1,
          high: 2,
          low: 0.5,
          close: 1.5,
          adj_close: 1.5,
          volume: 10,
          close_usd: 1.5,
          source: 'test',
          row: i + 2,
          ingested_at: '2030-01-01T00:00:00.000Z',
        }),
      );
      await aws.s3.send(
        new PutObjectCommand({ Bucket: h.config.lake.bucket, Key: key, Body: zlib.gzipSync(lines.join('\n') + '\n') }),
      );
    };
    const count = async () => (await query("SELECT count(*) FROM ticks WHERE symbol = 'ZZTEST'")).rows[0][0];
    await put(['2030-01-02']);
    // Not registered in the catalog yet: like Athena, the local engine reads registered partitions only.
    expect(await count()).toBe(0);
    await runCrawl(h.client, h.config, { full: true });
    expect(await count()).toBe(1);
    // Same key, new content: a new ETag, the object is loaded again.
    await put(['2030-01-02', '2030-01-03']);
    expect(await count()).toBe(2);
    await aws.s3.send(new DeleteObjectCommand({ Bucket: h.config.lake.bucket, Key: key }));
    expect(await count()).toBe(0);
    expect((await query('SELECT count(*) FROM ticks')).rows[0][0]).toBe(expected.rows);
  });
  // Runs last: it adds rows to the lake.
  it('a remembered partition list never hides what the sink has just committed', async () => {
    const aws = createAwsClients(h.config.aws);
    const cacheDir = fs.mkdtempSync(path.join(h.config.dataDir, 'query-cache-memo-'));
    const engineOptions = {
      s3: aws.s3,
      glue: aws.glue,
      cacheDir,
      resultsDir: path.join(h.config.dataDir, 'results'),
    };
    const engine = new DuckDBEngine(engineOptions);
    // Reads folder by folder, as a table too large to list whole is read: the catalog is asked again by
    // every query, while the remembered partitions are listed.
    const byFolder = new DuckDBEngine({
      ...engineOptions,
      cacheDir: path.join(cacheDir, 'by-folder'),
      tableListingPages: 0,
    });
    const countIn = async (e: DuckDBEngine) => {
      const out = await engineQuery(
        e,
        h.config.glue.database,
        "SELECT count(*) FROM ticks WHERE symbol = 'ZZSINK'",
        'memo',
      );
      return {
        n: out.rows[0][0],
        remembered: out.stats.phases?.partitionsRemembered === 1,
        overlapped: out.stats.phases?.partitionsOverlapped === 1,
      };
    };
    const count = async () => {
      const { n, remembered } = await countIn(engine);
      return { n, remembered };
    };
    // Rows for existing partitions (2019, 2020) and for a year the lake has never had (2032).
    const csv = path.join(cacheDir, 'more.csv');
    const more = async (name: string, dates: string[]) => {
      fs.writeFileSync(
        csv,
        [
          'Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD',
          ...dates.map((d) => `ZZSINK,${d},1,2,0.5,1.5,1.5,10,1.5`),
        ].join('\n') + '\n',
      );
      const sink = await startSink(h.client, h.config);
      try {
        await (
          await startReplay(h.client, h.config, { file: csv, replayId: `${h.config.kafka.topic}-${name}` })
        ).result();
        await waitForSinkCaughtUp(h.config, 120_000);
      } finally {
        await sink.terminate('rows written');
      }
    };
    try {
      expect(await count()).toEqual({ n: 0, remembered: false });
      expect(await count()).toEqual({ n: 0, remembered: true });
      expect(await countIn(byFolder)).toEqual({ n: 0, remembered: false, overlapped: false });
      expect(await countIn(byFolder)).toEqual({ n: 0, remembered: false, overlapped: true });
      await more('existing', ['2019-03-04', '2020-03-04']);
      // Committed into folders the catalog has: seen by the very next query, whose partitions are remembered.
      expect(await count()).toEqual({ n: 2, remembered: true });
      expect((await countIn(byFolder)).n).toBe(2);
      await more('new-year', ['2032-03-04']);
      // A new folder: the catalog is read again. It holds the folder once the sink's notice has been
      // crawled, and until then the folder is not read (like Athena).
      const next = await count();
      expect(next.remembered).toBe(false);
      expect([2, 3]).toContain(next.n);
      await runCrawl(h.client, h.config);
      // Registered: read by the next query, well within the time partitions are remembered. When the
      // sink's notice was crawled before the query above, the catalog it read held the folder already,
      // and the list it remembered serves; otherwise the folder is new to the list and the catalog is
      // read again.
      expect(await count()).toEqual({ n: 3, remembered: next.n === 3 });
      expect(await count()).toEqual({ n: 3, remembered: true });
      // A partition the catalog gains after the folder-by-folder engine remembered its list is listed
      // after the catalog's answer, by the same query: taken out of the catalog, read, put back.
      const database = h.config.glue.database;
      const { Partitions = [] } = await aws.glue.send(
        new GetPartitionsCommand({ DatabaseName: database, TableName: 'ticks' }),
      );
      const added = Partitions.find((p) => p.Values?.[0] === '2032')!;
      expect(added).toBeDefined();
      const key = { DatabaseName: database, TableName: 'ticks', PartitionValues: added.Values };
      await aws.glue.send(new DeletePartitionCommand(key));
      expect((await countIn(byFolder)).n).toBe(2);
      await aws.glue.send(
        new CreatePartitionCommand({
          DatabaseName: database,
          TableName: 'ticks',
          PartitionInput: {
            Values: added.Values,
            StorageDescriptor: added.StorageDescriptor,
            Parameters: added.Parameters,
          },
        }),
      );
      expect(await countIn(byFolder)).toEqual({ n: 3, remembered: false, overlapped: true });
    } finally {
      await engine.close();
      await byFolder.close();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
  it('converts small objects in batches into the same copies as one by one, and large or empty ones alone', async () => {
    const aws = createAwsClients(h.config.aws);
    // A registered partition: one of a sample symbol's years.
    const bucket = symbolBucket([...expected.perSymbol.keys()].sort()[0], h.config.lake.symbolBuckets);
    const folder = `${h.config.lake.prefix}ticks/year=2019/symbol_bucket=${bucket}/`;
    const row = (i: number) =>
      JSON.stringify({
        symbol: 'ZZBATCH',
        trade_date: new Date(Date.UTC(2019, 0, 1) + (i % 365) * 86_400_000).toISOString().slice(0, 10),
        open: Math.random() * 1000,
        high: Math.random() * 1000,
        low: Math.random() * 1000,
        close: Math.random() * 1000,
        adj_close: Math.random() * 1000,
        volume: Math.floor(Math.random() * 1e9),
        close_usd: Math.random() * 1000,
        source: 'test',
        row: i,
        ingested_at: '2019-01-01T00:00:00.000Z',
      });
    // Larger than a batch takes (128 KiB of gzip), and without any row.
    const big = zlib.gzipSync(Array.from({ length: 6000 }, (_, i) => row(i)).join('\n') + '\n');
    expect(big.length).toBeGreaterThan(128 * 1024);
    const extra = { [`${folder}zz-big.json.gz`]: big, [`${folder}zz-empty.json.gz`]: zlib.gzipSync('') };
    for (const [key, body] of Object.entries(extra))
      await aws.s3.send(new PutObjectCommand({ Bucket: h.config.lake.bucket, Key: key, Body: body }));
    const engines = [1, undefined].map((batchObjects) => {
      const cacheDir = fs.mkdtempSync(path.join(h.config.dataDir, 'query-cache-batch-'));
      return {
        cacheDir,
        engine: new DuckDBEngine({
          s3: aws.s3,
          glue: aws.glue,
          cacheDir,
          resultsDir: path.join(h.config.dataDir, 'results'),
          batchObjects,
        }),
      };
    });
    const copies = (dir: string) =>
      (fs.readdirSync(dir, { recursive: true }) as string[])
        .filter((f) => f.endsWith('.parquet') && !f.includes('.work-'))
        .sort();
    try {
      const answers = [];
      for (const { engine, cacheDir } of engines) {
        const out = await engine.run(
          {
            sql: 'SELECT * FROM ticks ORDER BY symbol, trade_date, source, row',
            params: [],
            database: h.config.glue.database,
            maxRows: 100_000,
            maxBytes: 100_000_000,
            allowWrites: false,
            queryId: 'batch',
          },
          { heartbeat: () => undefined, signal: new AbortController().signal },
        );
        expect(out.truncated).toBe(false);
        expect(out.stats.objectsDownloaded).toBe(out.stats.objectsRead);
        // One copy per object, under the same names: the cache and its eviction see no difference.
        expect(copies(cacheDir)).toHaveLength(out.stats.objectsRead!);
        answers.push({ out, copies: copies(cacheDir) });
      }
      const [alone, batched] = answers;
      expect(batched.copies).toEqual(alone.copies);
      // Copies are LZ4 (cheaper to write and to scan than ZSTD), made alone or in a batch.
      const reader = await DuckDBInstance.create(':memory:');
      try {
        const c = await reader.connect();
        const files = engines.flatMap(({ cacheDir }) => copies(cacheDir).map((f) => path.join(cacheDir, f)));
        const codecs = await c.runAndReadAll(
          `SELECT DISTINCT compression FROM parquet_metadata([${files.map((f) => `'${f}'`).join(', ')}])`,
        );
        expect(codecs.getRowsJS().map((r) => r[0])).toEqual(['LZ4_RAW']);
        c.closeSync();
      } finally {
        reader.closeSync();
      }
      expect(batched.out.columns).toEqual(alone.out.columns);
      expect(batched.out.rows).toEqual(alone.out.rows);
      expect(batched.out.rows.filter((r) => r[0] === 'ZZBATCH')).toHaveLength(6000);
      expect(batched.out.rowCount).toBe(expected.rows + 6000 + 3);
    } finally {
      for (const { engine, cacheDir } of engines) {
        await engine.close();
        fs.rmSync(cacheDir, { recursive: true, force: true });
      }
      for (const key of Object.keys(extra))
        await aws.s3.send(new DeleteObjectCommand({ Bucket: h.config.lake.bucket, Key: key }));
    }
  });
});
