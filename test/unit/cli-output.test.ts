import { fields, replaySummary } from '../../src/cli/output';

const visibleWidth = (line: string) => [...line].length;

describe('fields', () => {
  it('wraps a long value at word boundaries within the given width, keeping every word', () => {
    const columns = Array.from({ length: 12 }, (_, i) => `column_${i}:double`).join(', ');
    const out = fields(
      [
        ['table', 'ticklake.ticks'],
        ['columns', columns],
      ],
      60,
    );
    const lines = out.split('\n');
    for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(60);
    expect(lines.length).toBeGreaterThan(5); // the value took several lines
    const text = lines.map((l) => l.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ')).join(' ');
    for (let i = 0; i < 12; i++) expect(text).toContain(`column_${i}:double`);
  });

  it('stays as narrow as its longest value when that fits', () => {
    const out = fields(
      [
        ['state', 'running'],
        ['files written', 20],
      ],
      200,
    );
    const widths = out.split('\n').map(visibleWidth);
    expect(Math.max(...widths)).toBe('│ files written │ running │'.length);
    expect(out).toContain('20');
  });
});

describe('replaySummary', () => {
  const base = { symbols: 5, file: 'sample.csv', replayId: 'sample', table: 'ticklake.ticks', seconds: 7.46 };

  it('names the replay alone when the table holds just what it produced', () => {
    expect(replaySummary({ ...base, total: 4086, produced: 4086 })).toBe(
      "4086 ticks of sample.csv over 5 symbols in table ticklake.ticks, from replay id 'sample' (7.5 s)",
    );
  });

  it('says that other replays of the file count too when the table holds more', () => {
    expect(replaySummary({ ...base, total: 8172, produced: 4086 })).toBe(
      "8172 ticks of sample.csv over 5 symbols in table ticklake.ticks, from replay id 'sample' (4086 rows) " +
        'and earlier replays of the same file under other ids (7.5 s)',
    );
  });
});
