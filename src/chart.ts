/**
 * Query results as a line chart (one series per value of the series column), written as SVG, PNG or
 * HTML. Built with Vega-Lite, rendered server-side to SVG; PNG through resvg.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { QueryResult } from '../activities/types';

export interface ChartOptions {
  /** Column on the x axis; default: the first date/time column, else the first column. */
  x?: string;
  /** Column on the y axis; default: the first numeric column that is not x. */
  y?: string;
  /** Column whose values are the series; default: the first text column that is not x or y. */
  series?: string;
  title?: string;
}

const isTemporal = (type: string) => /^(DATE|TIMESTAMP|date|timestamp)/.test(type);
const isNumeric = (type: string) =>
  /^(BIGINT|INTEGER|DOUBLE|FLOAT|DECIMAL|HUGEINT|SMALLINT|TINYINT|REAL|bigint|integer|double|float|decimal)/i.test(
    type,
  );
const isText = (type: string) => /^(VARCHAR|varchar|string|char)/i.test(type);

export function chartEncoding(
  result: QueryResult,
  opts: ChartOptions = {},
): { x: string; y: string; series?: string; temporal: boolean } {
  const cols = result.columns;
  const named = (name: string | undefined, what: string) => {
    if (name !== undefined && !cols.some((c) => c.name === name)) {
      throw new Error(
        `--${what} '${name}' is not a column of the result (columns: ${cols.map((c) => c.name).join(', ')})`,
      );
    }
    return name;
  };
  const x = named(opts.x, 'x') ?? cols.find((c) => isTemporal(c.type))?.name ?? cols[0]?.name;
  const y = named(opts.y, 'y') ?? cols.find((c) => c.name !== x && isNumeric(c.type))?.name;
  if (!x || !y) throw new Error('a chart needs a column for the x axis and a numeric column for the y axis');
  const series = named(opts.series, 'series') ?? cols.find((c) => c.name !== x && c.name !== y && isText(c.type))?.name;
  const xType = cols.find((c) => c.name === x)!.type;
  return { x, y, series, temporal: isTemporal(xType) };
}

export function vegaLiteSpec(result: QueryResult, opts: ChartOptions = {}): Record<string, unknown> {
  const enc = chartEncoding(result, opts);
  const index = (name: string) => result.columns.findIndex((c) => c.name === name);
  const [xi, yi, si] = [index(enc.x), index(enc.y), enc.series ? index(enc.series) : -1];
  const values = result.rows.map((r) => ({ x: r[xi], y: r[yi], series: si >= 0 ? r[si] : enc.y }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title ?? `${enc.y} by ${enc.x}${enc.series ? ` per ${enc.series}` : ''}`,
    width: 800,
    height: 400,
    background: 'white',
    data: { values },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'x', type: enc.temporal ? 'temporal' : 'ordinal', title: enc.x },
      y: { field: 'y', type: 'quantitative', title: enc.y },
      color: { field: 'series', type: 'nominal', title: enc.series ?? '' },
    },
  };
}

export async function renderSvg(result: QueryResult, opts: ChartOptions = {}): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const spec = vl.compile(vegaLiteSpec(result, opts)).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes the chart; the format follows the file extension (.svg, .png, .html). Returns the path. */
export async function writeChart(result: QueryResult, file: string, opts: ChartOptions = {}): Promise<string> {
  const ext = path.extname(file).toLowerCase();
  if (!['.svg', '.png', '.html'].includes(ext)) {
    throw new Error(`chart file '${file}' must end in .svg, .png or .html`);
  }
  if (result.rows.length === 0) throw new Error('the query returned no rows: nothing to chart');
  const svg = await renderSvg(result, opts);
  let body: string | Buffer = svg;
  if (ext === '.png') {
    const { Resvg } = await import('@resvg/resvg-js');
    body = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, background: 'white' }).render().asPng();
  } else if (ext === '.html') {
    const title = opts.title ?? 'ticklake chart';
    body = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${title.replace(/</g, '&lt;')}</title></head>\n<body>\n${svg}\n</body></html>\n`;
  }
  await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await fs.promises.writeFile(file, body);
  return path.resolve(file);
}
