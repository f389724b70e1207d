import { Pacer, describeSpeed, parseSpeed, validateSpeed } from '../../src/replay/pacing';

describe('parseSpeed', () => {
  it.each([
    ['max', { mode: 'max' }],
    ['fast', { mode: 'max' }],
    ['500', { mode: 'rows', rowsPerSecond: 500 }],
    ['500rows', { mode: 'rows', rowsPerSecond: 500 }],
    ['2.5rows/s', { mode: 'rows', rowsPerSecond: 2.5 }],
    ['2days', { mode: 'days', tradingDaysPerSecond: 2 }],
    [' 0.5DAY/s ', { mode: 'days', tradingDaysPerSecond: 0.5 }],
  ])('reads %j', (text, speed) => {
    expect(parseSpeed(text)).toEqual(speed);
  });

  it('says what is allowed for anything else', () => {
    expect(() => parseSpeed('quick')).toThrow(
      "speed 'quick' is not understood: use 'max', '<n>rows' (rows per second) or '<n>days'",
    );
    expect(() => parseSpeed('0rows')).toThrow('speed in rows per second must be a positive number');
    expect(() => parseSpeed('0days')).toThrow('speed in trading days per second must be a positive number');
    expect(() => validateSpeed({ mode: 'rows', rowsPerSecond: Infinity })).toThrow('rows per second');
  });

  it('describes each mode', () => {
    expect(describeSpeed({ mode: 'max' })).toBe('as fast as possible');
    expect(describeSpeed({ mode: 'rows', rowsPerSecond: 10 })).toBe('10 rows/s');
    expect(describeSpeed({ mode: 'days', tradingDaysPerSecond: 3 })).toBe('3 trading days/s');
  });
});

describe('Pacer', () => {
  it('never waits at full speed', () => {
    expect(new Pacer({ mode: 'max' }, 1000).waitMs(1e9, 1e6, 0)).toBe(0);
  });

  it('schedules the n-th row at n / rate seconds after the start', () => {
    const p = new Pacer({ mode: 'rows', rowsPerSecond: 100 }, 10_000);
    expect(p.waitMs(0, 0, 10_000)).toBe(0);
    expect(p.waitMs(1, 0, 10_000)).toBe(10);
    expect(p.waitMs(50, 0, 10_200)).toBe(300);
    // Behind schedule: no wait, and no burst either beyond catching up to the schedule.
    expect(p.waitMs(50, 0, 11_000)).toBe(0);
  });

  it('schedules the d-th trading day at d / rate seconds after the start, whatever the rows per day', () => {
    const p = new Pacer({ mode: 'days', tradingDaysPerSecond: 4 }, 0);
    expect(p.waitMs(0, 0, 0)).toBe(0);
    expect(p.waitMs(12, 0, 5)).toBe(0);
    expect(p.waitMs(13, 1, 5)).toBe(245);
    expect(p.waitMs(400, 8, 1000)).toBe(1000);
  });

  it('keeps a long replay on schedule: the average rate is the set rate', () => {
    const rate = 250;
    const p = new Pacer({ mode: 'rows', rowsPerSecond: rate }, 0);
    let now = 0;
    for (let row = 0; row < 5000; row++) {
      now += p.waitMs(row, 0, now) + 0.1; // the wait, plus some work per row
    }
    expect(5000 / (now / 1000)).toBeGreaterThan(rate * 0.98);
    expect(5000 / (now / 1000)).toBeLessThanOrEqual(rate * 1.001);
  });
});
