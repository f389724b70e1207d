/** How the CLI prints: aligned tables for people, JSON for scripts, one-line errors. */
import Table from 'cli-table3';

export interface OutputOptions {
  json?: boolean;
  verbose?: boolean;
}

export type Cell = string | number | boolean | null | undefined;

export function table(head: string[], rows: Cell[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
  return t.toString();
}

/**
 * Key/value pairs as a two-column table, no wider than `width` (the terminal's, else 100 columns):
 * a long value (a table's column list) wraps at word boundaries instead of widening every row.
 */
export function fields(pairs: [string, Cell][], width = process.stdout.columns || 100): string {
  const values = pairs.map(([, v]) => (v === null || v === undefined ? '' : String(v)));
  const keyWidth = Math.max(0, ...pairs.map(([k]) => k.length)) + 2;
  const longest = Math.max(0, ...values.map((v) => v.length)) + 2;
  // Two cells take their widths plus three border characters.
  const valueWidth = Math.min(longest, Math.max(20, width - keyWidth - 3));
  const t = new Table({
    style: { head: [], border: [] },
    colWidths: [keyWidth, valueWidth],
    wordWrap: true,
    wrapOnWordBoundary: true,
  });
  pairs.forEach(([k], i) => t.push({ [k]: values[i] }));
  return t.toString();
}

export function print(opts: OutputOptions, data: unknown, human: () => string): void {
  if (opts.json) console.log(JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
  else console.log(human());
}

/** Reduces any failure to the message a user can act on (Temporal wraps activity failures twice). */
export function errorMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown; name?: string } | undefined;
  let message = e?.message ?? String(err);
  for (let depth = 0; e?.cause && depth < 5; depth++) {
    e = e.cause;
    if (e?.message) message = e.message;
  }
  const line = message.split('\n')[0];
  if (/no poller seen/i.test(line)) {
    return `${line}: start one with 'npx ticklake worker' (or npm start) and try again`;
  }
  return line;
}

/**
 * The last line: the file's ticks in the table. The table holds every replay of the file (a replay id
 * is one stream of its rows), so when it holds more than this replay produced, the line says so.
 */
export function replaySummary(r: {
  total: number;
  symbols: number;
  file: string;
  replayId: string;
  produced: number;
  table: string;
  seconds: number;
}): string {
  const whose =
    r.total > r.produced
      ? `replay id '${r.replayId}' (${r.produced} rows) and earlier replays of the same file under other ids`
      : `replay id '${r.replayId}'`;
  return `${r.total} ticks of ${r.file} over ${r.symbols} symbols in table ${r.table}, from ${whose} (${r.seconds.toFixed(1)} s)`;
}

/** The line under a table that shows the first symbols of many: how many more, and how to get them all. */
export function moreSymbols(symbols: number, shown: number, sql: string, param: string): string {
  const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return (
    `… and ${symbols - shown} more symbols (${symbols} in all). All of them: ` +
    `npx ticklake query ${quoted(sql)} --param ${quoted(param)} --format csv --output symbols.csv`
  );
}
