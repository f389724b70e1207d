import { formatInterval, parseInterval, ScheduleError } from '../../src/schedules';

describe('crawl schedule intervals', () => {
  it.each([
    ['2s', 2_000],
    ['5m', 300_000],
    ['1 hour', 3_600_000],
    ['1.5h', 5_400_000],
    ['2 days', 172_800_000],
    ['90 seconds', 90_000],
    [1500, 2_000],
  ])('%s is %d ms', (text, ms) => expect(parseInterval(text)).toBe(ms));

  it.each(['soon', '5', '5 fortnights', '', '-1s'])('rejects %j', (text) =>
    expect(() => parseInterval(text)).toThrow(ScheduleError),
  );
  it('is at least a second', () => expect(() => parseInterval('500ms')).toThrow(/at least 1 second/));

  it.each([
    [2_000, '2s'],
    [300_000, '5m'],
    [90_000, '90s'],
    [3_600_000, '1h'],
    [86_400_000, '1d'],
    [1_500, '1500ms'],
  ])('%d ms reads %s', (ms, text) => expect(formatInterval(ms)).toBe(text));
});
