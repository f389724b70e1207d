/**
 * How `ticklake query` prints a result: a table, CSV or JSON, to stdout or `--output FILE`, and a chart
 * file. CSV, JSON and charts hold the whole result, read from the engine's result file when the inline
 * page is not all of it; the table shows the page and says how many rows there are and where they are.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { QueryResult } from '../../activities/types';
import { writeChart, type ChartOptions } from '../chart';
import { CHART_MAX_ROWS, allRows, openResultCsv, truncationNote, type ResultCell } from './full-result';
import { table } from './output';

export interface QueryOutputOptions {
  format: 'table' | 'csv' | 'json';
  /** Write the output to this file instead of stdout. */
  output?: string;
  chart?: string;
  chartOptions?: ChartOptions;
}

const csvField = (v: ResultCell) =>
  v === null ? '' : /[",\n\r]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** A chart of the whole result, or an error saying why there is none. */
export async function chartResult(
  r: QueryResult,
  file: string,
  s3: S3Client,
  opts: ChartOptions = {},
): Promise<string> {
  if (r.rowCount > CHART_MAX_ROWS) {
    throw new Error(
      `no chart: the result has ${r.rowCount} rows and a chart is drawn from at most ${CHART_MAX_ROWS}; ` +
        "aggregate in the query (e.g. GROUP BY date_trunc('month', trade_date)) or narrow it with WHERE",
    );
  }
  const rows: ResultCell[][] = [];
  for await (const row of allRows(r, s3)) rows.push(row);
  return writeChart({ ...r, rows, truncated: false }, file, opts);
}

/** Prints a result as asked; notes (row counts, where the rest is) go to stderr. */
export async function printQueryResult(r: QueryResult, o: QueryOutputOptions, s3: S3Client): Promise<void> {
  if (o.chart) {
    const file = await chartResult(r, o.chart, s3, o.chartOptions);
    console.error(`chart of ${r.rowCount} rows written to ${file}`);
  }
  const out: Writable = o.output ? fs.createWriteStream(o.output) : process.stdout;
  try {
    if (o.format === 'csv') {
      if (r.truncated && r.resultLocation) {
        // The engine's own CSV of the whole result, header included, byte for byte.
        await pipeline(await openResultCsv(r.resultLocation, s3), out, { end: out !== process.stdout });
      } else {
        await write(out, r.columns.map((c) => csvField(c.name)).join(',') + '\n');
        for (const row of r.rows) await write(out, row.map(csvField).join(',') + '\n');
      }
    } else if (o.format === 'json') {
      const { rows: _page, ...rest } = r;
      const head = JSON.stringify({ ...rest, truncated: false }, null, 2).replace(/\n}$/, ',\n  "rows": [');
      await write(out, head);
      let first = true;
      for await (const row of allRows(r, s3)) {
        await write(out, `${first ? '' : ','}\n    ${JSON.stringify(row)}`);
        first = false;
      }
      await write(out, '\n  ]\n}\n');
    } else {
      await write(
        out,
        table(
          r.columns.map((c) => c.name),
          r.rows,
        ) + '\n',
      );
    }
  } finally {
    if (out !== process.stdout && !out.writableFinished) {
      const finished = once(out, 'finish');
      out.end();
      await finished;
    }
  }
  const note = o.format === 'table' ? truncationNote(r) : undefined;
  const where = o.output ? `; written to ${o.output}` : '';
  const count = o.format === 'table' && r.truncated ? '' : `${r.rowCount} rows${where}; `;
  console.error(
    `${note ? `${note}\n` : ''}${count}${r.stats.engineMs} ms in the engine; ` +
      `objects downloaded ${r.stats.objectsDownloaded}, from cache ${r.stats.objectsCached}`,
  );
}
