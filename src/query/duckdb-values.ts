/** Where a DuckDB value becomes a JSON cell, with the same conventions as Athena's (see values.ts). Pure. */
import {
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { doubleCell, integerCell, isoFromMicros, type Cell } from './values';

export function duckdbCell(value: DuckDBValue): Cell {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      return doubleCell(value);
    case 'bigint':
      return integerCell(value);
  }
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) {
    return (value.isFinite && isoFromMicros(value.micros)) || value.toString();
  }
  if (value instanceof DuckDBDateValue || value instanceof DuckDBDecimalValue) return value.toString();
  // Lists, structs, maps, arrays, blobs, intervals, times, UUIDs: DuckDB's text form.
  return String(value);
}

/** Glue/Hive column type → DuckDB type of the local view. Types DuckDB cannot read from JSON as such stay JSON text. */
export function duckdbType(glueType: string): string {
  const t = glueType.toLowerCase().trim();
  if (t === 'string' || t.startsWith('varchar') || t.startsWith('char')) return 'VARCHAR';
  if (t === 'tinyint' || t === 'smallint' || t === 'int' || t === 'integer' || t === 'bigint') return 'BIGINT';
  if (t === 'double' || t === 'float') return 'DOUBLE';
  const decimal = /^decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(t);
  if (decimal && Number(decimal[1]) <= 38) return `DECIMAL(${decimal[1]},${decimal[2]})`;
  if (t === 'decimal') return 'DECIMAL(10,0)';
  if (t === 'boolean') return 'BOOLEAN';
  if (t === 'date') return 'DATE';
  if (t === 'timestamp') return 'TIMESTAMP';
  return 'JSON';
}
