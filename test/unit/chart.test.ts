/**
 * Charts. Vega is an ES module, which jest's CommonJS runtime cannot import, so rendering runs in a
 * child process the way the CLI runs it (node with tsx's loader).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { QueryResult } from '../../activities/types';
import { REPO_ROOT } from '../../src/config';
import { chartEncoding } from '../../src/chart';

const symbols = ['HSI', 'NYA', 'N225'];
const result: QueryResult = {
  columns: [
    { name: 'trade_date', type: 'DATE' },
    { name: 'symbol', type: 'VARCHAR' },
    { name: 'close', type: 'DOUBLE' },
  ],
  rows: symbols.flatMap((s, i) =>
    ['2021-01-04', '2021-01-05', '2021-01-06'].map((d, j) => [d, s, 1000 * (i + 1) + j * 10] as (string | number)[]),
  ),
  truncated: false,
  rowCount: 9,
  stats: { engineMs: 1, objectsDownloaded: 0, objectsCached: 0 },
};

/** Writes the chart of `r` to `file` in a child process; returns its error message, if any. */
function writeChartInChild(r: QueryResult, file: string): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-in-'));
  const input = path.join(dir, 'result.json');
  fs.writeFileSync(input, JSON.stringify(r));
  const script =
    `const { writeChart } = require(${JSON.stringify(path.join(REPO_ROOT, 'src', 'chart.ts'))});` +
    `const fs = require('node:fs');` +
    `writeChart(JSON.parse(fs.readFileSync(process.argv[1], 'utf8')), process.argv[2]).then(` +
    `() => process.exit(0), (e) => { process.stderr.write(e.message); process.exit(3); });`;
  try {
    execFileSync(process.execPath, ['--import', 'tsx', '-e', script, input, file], { cwd: REPO_ROOT, stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err);
  }
}

describe('charts', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-'));

  it('picks the date column for x, the numeric one for y and the text one for series', () => {
    expect(chartEncoding(result)).toEqual({ x: 'trade_date', y: 'close', series: 'symbol', temporal: true });
    expect(() => chartEncoding(result, { y: 'nope' })).toThrow(/--y 'nope' is not a column/);
  });

  it('draws one line per symbol in a valid SVG, with a legend entry each', () => {
    const file = path.join(dir, 'c.svg');
    expect(writeChartInChild(result, file)).toBeUndefined();
    const svg = fs.readFileSync(file, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(symbols.length);
    expect(svg).toMatch(
      new RegExp(
        `legend titled 'symbol' for stroke color with ${symbols.length} values: ${[...symbols].sort().join(', ')}`,
      ),
    );
  }, 60_000);

  it('writes PNG and HTML by extension and refuses other extensions and empty results', () => {
    expect(writeChartInChild(result, path.join(dir, 'c.png'))).toBeUndefined();
    const png = fs.readFileSync(path.join(dir, 'c.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(writeChartInChild(result, path.join(dir, 'c.html'))).toBeUndefined();
    const html = fs.readFileSync(path.join(dir, 'c.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/aria-roledescription="line mark"/g)).toHaveLength(symbols.length);
    expect(writeChartInChild(result, path.join(dir, 'c.jpg'))).toMatch(/\.svg, \.png or \.html/);
    expect(writeChartInChild({ ...result, rows: [] }, path.join(dir, 'e.svg'))).toMatch(/no rows/);
  }, 60_000);
});
