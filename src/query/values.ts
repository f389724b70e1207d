/**
 * Where an engine's value becomes a JSON cell of a query result. Pure: no I/O.
 *
 * Both engines give the same JSON for the same SQL type, so a query answers alike on Athena and DuckDB:
 * - integers: a number when it fits in a double without loss, else its decimal text;
 * - double/real: a number; NaN and ±Infinity (which JSON cannot carry) as the strings 'NaN', 'Infinity', '-Infinity';
 * - decimal: its exact decimal text ('12.50');
 * - boolean: true/false;
 * - date: 'YYYY-MM-DD'; timestamp (with or without zone): ISO-8601 in UTC with milliseconds, 'YYYY-MM-DDTHH:MM:SS.sssZ';
 * - varchar: as is; array, map, row/struct, json, varbinary, time, interval, uuid: the engine's own text form;
 * - SQL NULL: null.
 */

export type Cell = string | number | boolean | null;

/** A bigint as a JSON number when exact, else as decimal text. */
export function integerCell(value: bigint): Cell {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

/** A double as a JSON number, or the text of a value JSON cannot carry. */
export function doubleCell(value: number): Cell {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}

/** Microseconds since the epoch (UTC) as 'YYYY-MM-DDTHH:MM:SS.sssZ', or undefined when out of JS Date's range. */
export function isoFromMicros(micros: bigint): string | undefined {
  const ms = Number(micros / 1000n) - (micros % 1000n < 0n ? 1 : 0);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

const ATHENA_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?: ?(UTC|Z|[+-]\d{2}:?\d{2}))?$/;

/**
 * Athena's text of a timestamp ('2020-01-02 03:04:05.678', with or without ' UTC' or an offset) as ISO-8601 UTC.
 * A zone given by name other than UTC (e.g. 'Europe/Paris') is kept as Athena wrote it: converting it would
 * need a time-zone database.
 */
export function athenaTimestampToIso(text: string): string {
  const m = ATHENA_TIMESTAMP.exec(text);
  if (!m) return text;
  const [, date, time, fraction = '', zone] = m;
  const millis = fraction.padEnd(3, '0').slice(0, 3);
  if (!zone || zone === 'UTC' || zone === 'Z') return `${date}T${time}.${millis}Z`;
  const offset = zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const d = new Date(`${date}T${time}.${millis}${offset}`);
  return Number.isNaN(d.getTime()) ? text : d.toISOString();
}

/**
 * One Athena result datum (always text, absent for NULL) as a JSON cell, typed by the column's
 * `ColumnInfo.Type` ('varchar', 'bigint', 'timestamp with time zone', 'array', ...).
 */
export function athenaCell(type: string, datum: { VarCharValue?: string } | undefined): Cell {
  const text = datum?.VarCharValue;
  if (text === undefined) return null;
  const base = type.toLowerCase().replace(/\(.*$/, '').trim();
  switch (base) {
    case 'tinyint':
    case 'smallint':
    case 'integer':
    case 'int':
    case 'bigint':
      return /^-?\d+$/.test(text) ? integerCell(BigInt(text)) : text;
    case 'double':
    case 'real':
    case 'float': {
      if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
      const n = Number(text);
      return text.trim() === '' || Number.isNaN(n) ? text : doubleCell(n);
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'timestamp':
    case 'timestamp with time zone':
      return athenaTimestampToIso(text);
    default:
      // varchar, char, date, decimal (exact text), array, map, row, json, varbinary, time, interval, uuid, ...
      return text;
  }
}

/** Bytes a cell adds to the JSON of a row (with its separator), used to keep payloads small. */
export function cellBytes(cell: Cell): number {
  return Buffer.byteLength(JSON.stringify(cell), 'utf8') + 1;
}
