/**
 * Exactly once on Athena: a query that names the table reads the curated Parquet table for what the
 * state's watermarks say is compacted and the raw JSON table for the rest. Pure: no I/O.
 *
 * Athena cannot mix formats in one table, so the raw table (`<table>`, JSON) and the curated table
 * (`<table>_curated`, Parquet) stay apart, and the Athena engine runs each statement that names the
 * table with a common table expression of that name in front of it: `WITH ticks AS (<union>) <statement>`.
 * The union reads, for each lake partition, the curated rows whose cut is below the partition's
 * watermark for its Kafka partition, and the raw rows (their cut read from `"$path"`, the object key
 * `<topic>+<partition>+<first offset>.json.gz`) at or above it. Both halves filter by the same
 * watermarks, so the result is exact even while the curated table's partitions move to a newer
 * generation (they then hold more rows, which the filter leaves out) and before raw objects expire.
 */
import { tokenize } from '../query/sql-guard';
import { CUT_COLUMN, SOURCE_COLUMN, type CompactState } from './state';

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The lake partition of a row, as the state names it (`year=1987/symbol_bucket=3`). */
function partitionExpr(partitionBy: readonly string[], alias: string): string {
  const parts = partitionBy.flatMap((k, i) => [literal(`${i > 0 ? '/' : ''}${k}=`), `${alias}.${ident(k)}`]);
  return `concat(${parts.join(', ')})`;
}

/** `CASE <partition> WHEN 'p' THEN CASE <source> WHEN 's' THEN <offset> ... END ... END`: the row's watermark. */
function watermarkExpr(state: CompactState, partition: string, source: string): string {
  const whens = Object.entries(state.partitions)
    .filter(([, p]) => Object.keys(p.watermarks).length > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, p]) => {
      const inner = Object.entries(p.watermarks)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([s, mark]) => `WHEN ${literal(s)} THEN BIGINT '${BigInt(mark).toString()}'`)
        .join(' ');
      return `WHEN ${literal(path)} THEN CASE ${source} ${inner} END`;
    });
  return whens.length === 0 ? 'CAST(NULL AS BIGINT)' : `CASE ${partition} ${whens.join(' ')} END`;
}

const RAW_CUT = `'([^/]+\\+[0-9]+)\\+([0-9]{20})\\.json[^/]*$'`;

/**
 * The SELECT of the exactly-once union over the raw table and the curated table of one state.
 * `columns` are the raw table's columns; a curated file of an older schema reads a later column as NULL.
 */
export function unionSql(args: {
  database: string;
  table: string;
  curatedTable: string;
  columns: readonly string[];
  partitionBy: readonly string[];
  state: CompactState;
}): string {
  const { database, table, curatedTable, columns, partitionBy, state } = args;
  const select = (alias: string) => [...columns, ...partitionBy].map((c) => `${alias}.${ident(c)}`).join(', ');
  const curatedMark = watermarkExpr(state, partitionExpr(partitionBy, 'c'), `c.${SOURCE_COLUMN}`);
  const rawSource = `nullif(regexp_extract(r."$path", ${RAW_CUT}, 1), '')`;
  const rawCut = `try_cast(nullif(regexp_extract(r."$path", ${RAW_CUT}, 2), '') AS BIGINT)`;
  const rawMark = watermarkExpr(state, partitionExpr(partitionBy, 'r'), rawSource);
  return (
    `SELECT ${select('c')} FROM ${ident(database)}.${ident(curatedTable)} c WHERE c.${CUT_COLUMN} < ${curatedMark}` +
    ` UNION ALL ` +
    `SELECT ${select('r')} FROM ${ident(database)}.${ident(table)} r WHERE ${rawSource} IS NULL OR NOT coalesce(${rawCut} < ${rawMark}, false)`
  );
}

const LEADING_COMMENTS = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;

/** Whether a statement names `table` unqualified (as a word or a quoted identifier). */
export function namesTable(sql: string, table: string): boolean {
  const t = table.toLowerCase();
  return tokenize(sql).some((statement) =>
    statement.some(
      (tok, i) =>
        (tok.text.toLowerCase() === t || tok.text.toLowerCase() === `"${t}"`) && statement[i - 1]?.text !== '.',
    ),
  );
}

/**
 * The statement with the union in front, as a common table expression named after the table; a
 * statement that does not read (SHOW, DESCRIBE, EXPLAIN, DDL) or does not name the table is unchanged.
 */
export function withUnion(sql: string, table: string, union: string): string {
  if (!namesTable(sql, table)) return sql;
  const lead = LEADING_COMMENTS.exec(sql)?.[0] ?? '';
  const rest = sql.slice(lead.length);
  const cte = `${ident(table)} AS (${union})`;
  const withClause = /^WITH\s+(?!RECURSIVE\b)/i.exec(rest);
  if (withClause) return `${lead}WITH ${cte}, ${rest.slice(withClause[0].length)}`;
  if (/^(SELECT|VALUES|TABLE|\()/i.test(rest)) return `${lead}WITH ${cte} ${rest}`;
  return sql;
}
