/**
 * The answers a query must give, computed without the pipeline: DuckDB in memory reads the source CSV
 * files themselves (`read_csv`) into a `ticks` table with the lake's column names and types, and runs
 * the same SQL. `bench:query` checks every answer of the lake against these.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { QueryResult } from '../../activities/types';

export type Cell = string | number | boolean | null;

/** An in-memory `ticks` table of the rows of `files` (schema of indexProcessed.csv). */
export class ReferenceTicks {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async load(files: readonly string[]): Promise<ReferenceTicks> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const sources = files
      .map(
        (f) =>
          `SELECT * FROM read_csv(${sqlString(f)}, header = true, columns = {'Index': 'VARCHAR', 'Date': 'DATE', ` +
          `'Open': 'DOUBLE', 'High': 'DOUBLE', 'Low': 'DOUBLE', 'Close': 'DOUBLE', 'Adj Close': 'DOUBLE', ` +
          `'Volume': 'DOUBLE', 'CloseUSD': 'DOUBLE'})`,
      )
      .join(' UNION ALL ');
    await connection.run(
      `CREATE TABLE ticks AS SELECT "Index" AS symbol, "Date" AS trade_date, "Open" AS open, "High" AS high, ` +
        `"Low" AS low, "Close" AS close, "Adj Close" AS adj_close, CAST("Volume" AS BIGINT) AS volume, ` +
        `"CloseUSD" AS close_usd, strftime("Date", '%Y') AS year FROM (${sources})`,
    );
    return new ReferenceTicks(instance, connection);
  }

  /** The rows of `sql` with `params` bound, as JSON cells. */
  async answer(sql: string, params: readonly (string | number)[]): Promise<Cell[][]> {
    const reader = await this.connection.runAndReadAll(sql, params as (string | number)[]);
    return reader.getRowsJson() as Cell[][];
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

const DECIMALS_2 = /^-?\d+(\.\d{1,2})?$/;
const MIDNIGHT = /^(\d{4}-\d{2}-\d{2})(?:[ T]00:00:00(?:\.0+)?Z?)?$/;

/** A date, or a timestamp at midnight, as 'YYYY-MM-DD' (date_trunc of a date is a timestamp in DuckDB). */
const day = (v: string) => MIDNIGHT.exec(v)?.[1];

/** Whether two cells hold the same value: numbers within 1e-9 relative (or one cent of a round(x, 2)). */
export function sameCell(expected: Cell, got: Cell): boolean {
  if (expected === got) return true;
  if (expected === null || got === null) return false;
  const a = Number(expected);
  const b = Number(got);
  const numeric = (v: Cell) =>
    typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !/[^\d.eE+-]/.test(v));
  if (numeric(expected) && numeric(got) && Number.isFinite(a) && Number.isFinite(b)) {
    if (Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) return true;
    // round(avg(x), 2) of sums taken in another order can land on the other side of a half cent.
    return DECIMALS_2.test(String(expected)) && DECIMALS_2.test(String(got)) && Math.abs(a - b) <= 0.0100001;
  }
  const [da, db] = [day(String(expected)), day(String(got))];
  return da !== undefined ? da === db : String(expected) === String(got);
}

/**
 * What differs between an answer and the reference rows: row count, then each shown row cell by cell
 * (a truncated answer is checked on the rows it shows). Empty when the answer is right.
 */
export function answerProblems(expected: readonly Cell[][], got: QueryResult, maxProblems = 5): string[] {
  const problems: string[] = [];
  if (got.rowCount !== expected.length) problems.push(`${got.rowCount} rows, expected ${expected.length}`);
  if (!got.truncated && got.rows.length !== got.rowCount) {
    problems.push(`${got.rows.length} rows shown of ${got.rowCount}, not truncated`);
  }
  for (let i = 0; i < Math.min(got.rows.length, expected.length) && problems.length < maxProblems; i++) {
    const want = expected[i];
    const row = got.rows[i];
    if (row.length !== want.length || row.some((cell, j) => !sameCell(want[j], cell))) {
      problems.push(`row ${i + 1} is ${JSON.stringify(row)}, expected ${JSON.stringify(want)}`);
    }
  }
  return problems;
}
