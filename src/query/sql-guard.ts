/** Read-only guard for user SQL. Pure. Parameters are always bound, never spliced. */

const READ_KEYWORDS = new Set(['select', 'with', 'values', 'show', 'describe', 'explain', 'table', 'from', 'summarize']);

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
}

/** Returns undefined for one read statement, else the reason it is refused. */
export function checkReadOnly(sql: string): string | undefined {
  const text = stripComments(sql).trim().replace(/;\s*$/, '');
  if (text === '') return 'the query is empty';
  // A ';' outside string literals means a second statement.
  const withoutStrings = text.replace(/'(?:[^']|'')*'/g, "''").replace(/"(?:[^"]|"")*"/g, '""');
  if (withoutStrings.includes(';')) return 'only one statement may run at a time';
  const first = /^\(*\s*([a-zA-Z]+)/.exec(text)?.[1]?.toLowerCase();
  if (!first || !READ_KEYWORDS.has(first)) {
    return `only read statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) may run; '${first ?? text.slice(0, 20)}' changes data or schema`;
  }
  if (/\b(copy|attach|install|load|pragma|export|import)\b/i.test(withoutStrings) && first !== 'select' && first !== 'with') {
    return 'statements that touch files or extensions may not run';
  }
  return undefined;
}

export type JsonValue = string | number | boolean | null;

/** Converts an engine value to something JSON can carry without loss of meaning. */
export function toJsonValue(value: unknown, engineType?: string): JsonValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Date) return engineType === 'DATE' ? value.toISOString().slice(0, 10) : value.toISOString();
  if (typeof value === 'object' && 'toString' in value) {
    const s = String(value);
    if (s !== '[object Object]') return s;
  }
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The statement with `?` placeholders outside literals replaced by NULL (DuckDB's table-name extraction cannot parse them). */
export function withoutPlaceholders(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (m) => (m === '?' ? 'NULL' : m));
}
