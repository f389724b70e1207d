import { fields } from '../../src/cli/output';

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
