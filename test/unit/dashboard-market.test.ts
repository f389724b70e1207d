import {
  aggregateSql,
  granularityFor,
  marketSql,
  seriesRequest,
  symbolRows,
  ticksSql,
  toSeries,
  EARLIEST_DAY,
  LATEST_DAY,
} from '../../src/dashboard/market';
import { percentile, SinkHistory } from '../../src/dashboard/history';
import { dashboardOptions, isLoopback, workflowLink } from '../../src/dashboard/options';

describe('dashboard statements', () => {
  it('binds every value the page sends; only the configured table name is part of the text', () => {
    for (const sql of [ticksSql('ticks', 1001), aggregateSql('ticks', 'month')]) {
      expect(sql.match(/\?/g)).toHaveLength(3);
      expect(sql).toMatch(/FROM ticks\n/);
    }
    expect(marketSql('my_ticks')).toMatch(/FROM my_ticks\n/);
    expect(() => marketSql('ticks; DROP TABLE x')).toThrow(/not a table name/);
    expect(() => ticksSql('ticks', 0)).toThrow(/limit/);
    expect(() => aggregateSql('ticks', 'day' as 'week')).toThrow(/granularity/);
  });

  it('picks the finest period that keeps a range within the points a chart draws', () => {
    expect(granularityFor('2017-06-01', '2021-05-28', 1000)).toBe('week');
    expect(granularityFor('1965-01-05', '2021-06-03', 1000)).toBe('month');
    expect(granularityFor('1900-01-01', '2021-06-03', 1000)).toBe('quarter');
    expect(granularityFor('1000-01-01', '2021-06-03', 1000)).toBe('year');
    expect(granularityFor('2020-01-01', '2020-12-31', 10)).toBe('quarter');
  });

  it('accepts a symbol and a range, and refuses anything else', () => {
    expect(seriesRequest(new URLSearchParams('symbol=HSI'))).toEqual({
      symbol: 'HSI',
      from: EARLIEST_DAY,
      to: LATEST_DAY,
    });
    expect(seriesRequest(new URLSearchParams('symbol=%5EGSPC&from=2020-01-01&to=2020-02-01'))).toEqual({
      symbol: '^GSPC',
      from: '2020-01-01',
      to: '2020-02-01',
    });
    expect(() => seriesRequest(new URLSearchParams("symbol=HSI' OR 1=1 --"))).toThrow(/not a symbol/);
    expect(() => seriesRequest(new URLSearchParams('symbol=HSI&from=2020-13-45'))).toThrow(/not a day/);
    expect(() => seriesRequest(new URLSearchParams('symbol=HSI&from=yesterday'))).toThrow(/not a day/);
    expect(() => seriesRequest(new URLSearchParams('symbol=HSI&from=2021-01-01&to=2020-01-01'))).toThrow(
      /after it ends/,
    );
  });

  it('shapes the answers: change from the previous close, columnar series, ticks behind aggregated points', () => {
    expect(
      symbolRows([
        ['HSI', 3, '2020-01-01', '2020-01-03', 110, 100],
        ['N225', 1, '2020-01-01', '2020-01-01T00:00:00.000Z', 50, null],
      ]),
    ).toEqual([
      {
        symbol: 'HSI',
        ticks: 3,
        firstDay: '2020-01-01',
        lastDay: '2020-01-03',
        close: 110,
        prevClose: 100,
        change: 10,
        changePct: 10,
      },
      {
        symbol: 'N225',
        ticks: 1,
        firstDay: '2020-01-01',
        lastDay: '2020-01-01',
        close: 50,
        prevClose: null,
        change: null,
        changePct: null,
      },
    ]);
    const req = { symbol: 'HSI', from: EARLIEST_DAY, to: LATEST_DAY };
    expect(toSeries(req, 'tick', [['2020-01-02', 1, 2, 0.5]])).toMatchObject({
      days: ['2020-01-02'],
      close: [1],
      high: [2],
      low: [0.5],
      ticks: 1,
    });
    expect(
      toSeries(req, 'week', [
        ['2020-01-06', 1, 2, 0.5, 5],
        ['2020-01-13', 1, 2, 0.5, 4],
      ]).ticks,
    ).toBe(9);
  });
});

describe('dashboard history', () => {
  it('takes percentiles by nearest rank', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], 99)).toBe(100);
  });

  it('derives the rate from successive samples, a freshness point per flush seen, and says when the lake changed', () => {
    const h = new SinkHistory(60_000);
    expect(h.add({ at: 0, records: 0 })).toBe(false);
    expect(h.add({ at: 1000, records: 500, lastFlushAt: 'a', lastFreshnessMs: 400 })).toBe(true);
    expect(h.add({ at: 2000, records: 500, lastFlushAt: 'a', lastFreshnessMs: 400 })).toBe(false);
    expect(h.add({ at: 4000, records: 1500, lastFlushAt: 'b', lastFreshnessMs: 800 })).toBe(true);
    // A new sink workflow counts from zero again: no negative rate.
    expect(h.add({ at: 5000, records: 10, lastFlushAt: 'c', lastFreshnessMs: 200 })).toBe(true);
    const v = h.view();
    expect(v.rate.map((p) => p.value)).toEqual([500, 0, 500]);
    expect(v.freshness.map((p) => p.value)).toEqual([400, 800, 200]);
    expect([v.freshnessP50, v.freshnessP99, v.flushesSeen]).toEqual([400, 800, 3]);
    // Points older than the window go.
    h.add({ at: 70_000, records: 10, lastFlushAt: 'c', lastFreshnessMs: 200 });
    expect(h.view().freshness).toEqual([]);
  });
});

describe('dashboard options', () => {
  it('is read-only on loopback by default, on 8300 plus the port offset', () => {
    const o = dashboardOptions({}, {});
    expect(o.host).toBe('127.0.0.1');
    expect(o.allowControl).toBe(false);
    expect(o.token).toBeUndefined();
    expect(o.port).toBe(8300 + Number(process.env.TICKLAKE_PORT_OFFSET ?? 0));
  });

  it('refuses another address without a token, and a short token', () => {
    expect(() => dashboardOptions({ host: '0.0.0.0' }, {})).toThrow(/only with a token/);
    expect(() => dashboardOptions({ host: '0.0.0.0', token: 'short' }, {})).toThrow(/at least 16/);
    const o = dashboardOptions(
      {},
      {
        TICKLAKE_DASHBOARD_HOST: '0.0.0.0',
        TICKLAKE_DASHBOARD_TOKEN: 'x'.repeat(32),
        TICKLAKE_DASHBOARD_CONTROL: 'true',
        TICKLAKE_DASHBOARD_PORT: '0',
      },
    );
    expect([o.host, o.allowControl, o.port]).toEqual(['0.0.0.0', true, 0]);
    expect(() => dashboardOptions({ port: 'http' }, {})).toThrow(/port/);
  });

  it('knows loopback addresses and links workflows to the Web UI', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', 'localhost.evil.com'].some(isLoopback)).toBe(false);
    expect(workflowLink('http://127.0.0.1:8233', 'default', 'replay/sample')).toBe(
      'http://127.0.0.1:8233/namespaces/default/workflows/replay%2Fsample',
    );
  });
});
