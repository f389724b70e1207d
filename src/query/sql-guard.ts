/**
 * The read-only guard for SQL sent to Athena, and the SQL literals of Athena's execution parameters. Pure.
 *
 * DuckDB checks its statements with its own parser (see duckdb-engine.ts); Athena has no parse-only
 * call, so its statements are checked here before anything is sent. The check is conservative: a
 * statement runs only when its first keyword is a read (SELECT, WITH, VALUES, TABLE, SHOW, DESCRIBE,
 * EXPLAIN of a read) and it is a single statement. Values are never spliced into SQL: they travel as
 * Athena execution parameters or DuckDB bound parameters.
 */

const READ_KEYWORDS = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN']);
const WRITE_KEYWORDS = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'CREATE',
  'DROP',
  'ALTER',
  'UNLOAD',
  'TRUNCATE',
  'VACUUM',
  'OPTIMIZE',
]);

export const ALLOW_WRITES_HINT = 'set QUERY_ALLOW_WRITES=true (input allowWrites) to run writes and DDL';

interface Token {
  kind: 'word' | 'punct' | 'literal';
  text: string;
  depth: number;
}

/** Splits SQL into statements of tokens, skipping comments; quoted strings and identifiers become single tokens. */
export function tokenize(sql: string): Token[][] {
  const statements: Token[][] = [[]];
  let depth = 0;
  let i = 0;
  const push = (t: Token) => statements[statements.length - 1].push(t);
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new SqlGuardError('the query has an unterminated /* comment');
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length)
          throw new SqlGuardError(`the query has an unterminated ${c === "'" ? 'string' : 'quoted identifier'}`);
        if (sql[j] === c) {
          if (sql[j + 1] === c) j += 2;
          else break;
        } else j++;
      }
      push({ kind: c === "'" ? 'literal' : 'word', text: sql.slice(i, j + 1), depth });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j])) j++;
      push({ kind: 'word', text: sql.slice(i, j).toUpperCase(), depth });
      i = j;
    } else if (c === ';') {
      statements.push([]);
      i++;
    } else {
      if (c === '(') depth++;
      push({ kind: 'punct', text: c, depth });
      if (c === ')') depth = Math.max(0, depth - 1);
      i++;
    }
  }
  return statements.filter((s) => s.length > 0);
}

export class SqlGuardError extends Error {
  override name = 'SqlGuardError';
}

/** The first keyword of a statement that decides what it does: EXPLAIN [ANALYZE] [VERBOSE] [(options)] is looked through. */
function leadingKeyword(tokens: Token[]): { keyword: string; index: number } | undefined {
  let i = 0;
  while (i < tokens.length && tokens[i].text === '(') i++;
  const first = tokens[i];
  if (!first || first.kind !== 'word') return undefined;
  if (first.text !== 'EXPLAIN') return { keyword: first.text, index: i };
  i++;
  while (i < tokens.length && (tokens[i].text === 'ANALYZE' || tokens[i].text === 'VERBOSE')) i++;
  if (
    tokens[i]?.text === '(' &&
    tokens[i + 1]?.kind === 'word' &&
    tokens[i + 1].text !== 'SELECT' &&
    tokens[i + 1].text !== 'WITH'
  ) {
    const depth = tokens[i].depth;
    i++;
    while (i < tokens.length && !(tokens[i].text === ')' && tokens[i].depth === depth)) i++;
    i++;
  }
  const inner = leadingKeyword(tokens.slice(i));
  return inner && { keyword: inner.keyword, index: inner.index + i };
}

/**
 * Returns undefined when the SQL is one read statement, else the reason it is refused (a sentence that
 * says what to do). Throws nothing: malformed SQL is refused with the reason.
 */
export function checkReadOnly(sql: string): string | undefined {
  let statements: Token[][];
  try {
    statements = tokenize(sql);
  } catch (err) {
    return (err as Error).message;
  }
  if (statements.length === 0) return 'the query is empty';
  if (statements.length > 1) return `only one statement may run at a time; the query has ${statements.length}`;
  const tokens = statements[0];
  const lead = leadingKeyword(tokens);
  if (!lead) return `the query does not start with a statement keyword ('${tokens[0].text}')`;
  if (!READ_KEYWORDS.has(lead.keyword)) {
    return `only read statements (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN) run by default; ${lead.keyword} writes data or changes the catalog; ${ALLOW_WRITES_HINT}`;
  }
  if (lead.keyword === 'WITH') {
    // A WITH clause may prefix a write in some dialects: any write keyword outside parentheses decides.
    const write = tokens.find(
      (t, i) => i > lead.index && t.depth === 0 && t.kind === 'word' && WRITE_KEYWORDS.has(t.text),
    );
    if (write) return `the WITH query ends in ${write.text}, which writes data; ${ALLOW_WRITES_HINT}`;
  }
  return undefined;
}

/** Whether the SQL is exactly one statement, whatever it does (writes included). */
export function checkSingleStatement(sql: string): string | undefined {
  try {
    const n = tokenize(sql).length;
    if (n === 0) return 'the query is empty';
    if (n > 1) return `only one statement may run at a time; the query has ${n}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export type QueryParam = string | number | boolean | null;

/**
 * One value as the SQL literal Athena's ExecutionParameters expect: Athena parses each parameter as a
 * single literal, so a string must be quoted (with its quotes doubled) and can never become SQL.
 */
export function athenaLiteral(value: QueryParam): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new SqlGuardError(`parameter ${value} is not a finite number; pass it as a string`);
    if (Number.isInteger(value)) return String(value);
    // A DOUBLE literal (an exponent), as DuckDB binds a non-integer JS number as DOUBLE.
    const text = String(value);
    return text.includes('e') ? text : `${text}e0`;
  }
  if (typeof value === 'string') return `'${value.replace(/'/g, "''")}'`;
  throw new SqlGuardError(`parameter of type ${typeof value} is not supported: use a string, number, boolean or null`);
}
