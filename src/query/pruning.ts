/**
 * Partition pruning for the local engine: which Hive partitions a statement can possibly read. Pure.
 *
 * Input is DuckDB's own parse tree of the statement (`json_serialize_sql`), so quoting, comments and
 * nesting are DuckDB's business, not a regex's. The rule is to never change a result: a partition is
 * left out only when a predicate proves that no row of it can reach the output. Concretely, for a table
 * referenced exactly once in the statement, the WHERE clause of the SELECT that reads it is split into
 * AND-ed conjuncts, and only conjuncts of these forms are used:
 *
 *   col = const | const = col | col IN (const, ...) | (col = const OR col = const ...)
 *
 * where `col` is a partition column of that table (bare or qualified by the table's name or alias) and
 * each const is a string or integer literal or a bound parameter. Anything else (casts, functions, NOT,
 * ranges, decimals, NULL, named parameters) is ignored, which only means less pruning. Such a conjunct is
 * strict (NULL never satisfies it), so it may also be used when the table is one side of a join: a row of
 * the table that fails it cannot appear in the output whatever it joins with.
 *
 * Partition columns derived from data columns are constrained through them: `symbol = 'X'` (or IN) keeps
 * only the `symbol_bucket` partition of X; `trade_date = DATE 'yyyy-mm-dd'` (or a 'yyyy-mm-dd' string,
 * or IN) keeps only the `year`, `month` and `trade_date` partitions of those dates.
 */
import { symbolBucket } from '../symbol-bucket';

/** One value a partition column may have for a row to survive the WHERE clause. */
export type Candidate = { kind: 'string'; value: string } | { kind: 'integer'; value: bigint };

/**
 * Per partition column (lowercase), the constraints it must meet, each a list of values it may take (all
 * constraints hold: AND of ORs); a column not listed is unconstrained.
 */
export type PartitionPredicate = Map<string, Candidate[][]>;

type Json = unknown;
type Node = Record<string, Json>;

const isNode = (v: Json): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

function walk(value: Json, visit: (node: Node) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, visit);
  } else if (isNode(value)) {
    visit(value);
    for (const v of Object.values(value)) walk(v, visit);
  }
}

/** The unqualified tables a parsed statement reads, lowercase, with how many times each is referenced. */
export function referencedTables(tree: Json): Map<string, number> {
  const counts = new Map<string, number>();
  walk(tree, (n) => {
    if (n.type === 'BASE_TABLE' && typeof n.table_name === 'string' && !n.schema_name && !n.catalog_name) {
      const name = n.table_name.toLowerCase();
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  });
  return counts;
}

/** Leaves of a FROM clause made only of joins; undefined when it holds anything else (a subquery, a function). */
function joinLeaves(from: Json): Node[] | undefined {
  if (!isNode(from)) return undefined;
  if (from.type === 'BASE_TABLE') return [from];
  if (from.type === 'JOIN') {
    const left = joinLeaves(from.left);
    const right = joinLeaves(from.right);
    return left && right ? [...left, ...right] : undefined;
  }
  return undefined;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The value of a constant or parameter expression as a candidate, or undefined when unsure. */
function candidateOf(expr: Json, params: readonly unknown[], paramIndex: Map<string, number>): Candidate | undefined {
  if (!isNode(expr)) return undefined;
  if (expr.type === 'VALUE_CONSTANT' && isNode(expr.value)) {
    const v = expr.value;
    if (v.is_null) return undefined;
    const typeId = isNode(v.type) ? v.type.id : undefined;
    if (typeId === 'VARCHAR' && typeof v.value === 'string') return { kind: 'string', value: v.value };
    if (
      ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT'].includes(
        String(typeId),
      )
    ) {
      if (typeof v.value === 'number' && Number.isSafeInteger(v.value))
        return { kind: 'integer', value: BigInt(v.value) };
      if (typeof v.value === 'string' && /^-?\d+$/.test(v.value)) return { kind: 'integer', value: BigInt(v.value) };
    }
    return undefined;
  }
  // DATE 'yyyy-mm-dd' (a cast of a string constant): the date's text, which is how partitions hold it.
  if (
    expr.type === 'OPERATOR_CAST' &&
    expr.try_cast === false &&
    isNode(expr.cast_type) &&
    expr.cast_type.id === 'DATE'
  ) {
    const inner = candidateOf(expr.child, params, paramIndex);
    return inner?.kind === 'string' && ISO_DATE.test(inner.value) ? inner : undefined;
  }
  if (expr.type === 'VALUE_PARAMETER' && typeof expr.identifier === 'string') {
    const index = paramIndex.get(expr.identifier);
    if (index === undefined || index < 1 || index > params.length) return undefined;
    const p = params[index - 1];
    if (typeof p === 'string') return { kind: 'string', value: p };
    if (typeof p === 'number' && Number.isSafeInteger(p)) return { kind: 'integer', value: BigInt(p) };
    return undefined;
  }
  return undefined;
}

/** The partition column an expression names, lowercase, if it is a column of the table read. */
function partitionColumnOf(
  expr: Json,
  names: ReadonlySet<string>,
  partitionKeys: ReadonlySet<string>,
): string | undefined {
  if (!isNode(expr) || expr.type !== 'COLUMN_REF' || !Array.isArray(expr.column_names)) return undefined;
  const parts = (expr.column_names as Json[]).map((p) => String(p).toLowerCase());
  const column = parts[parts.length - 1];
  if (parts.length === 2 && !names.has(parts[0])) return undefined;
  if (parts.length > 2) return undefined;
  return partitionKeys.has(column) ? column : undefined;
}

type Constraint = { column: string; candidates: Candidate[] };

function constraintOf(
  expr: Json,
  names: ReadonlySet<string>,
  keys: ReadonlySet<string>,
  params: readonly unknown[],
  paramIndex: Map<string, number>,
): Constraint | undefined {
  if (!isNode(expr)) return undefined;
  if (expr.type === 'COMPARE_EQUAL') {
    for (const [colSide, valueSide] of [
      [expr.left, expr.right],
      [expr.right, expr.left],
    ]) {
      const column = partitionColumnOf(colSide, names, keys);
      const candidate = column && candidateOf(valueSide, params, paramIndex);
      if (column && candidate) return { column, candidates: [candidate] };
    }
    return undefined;
  }
  if (expr.type === 'COMPARE_IN' && Array.isArray(expr.children) && expr.children.length >= 2) {
    const [first, ...rest] = expr.children as Json[];
    const column = partitionColumnOf(first, names, keys);
    if (!column) return undefined;
    const candidates: Candidate[] = [];
    for (const r of rest) {
      const c = candidateOf(r, params, paramIndex);
      if (!c) return undefined;
      candidates.push(c);
    }
    return { column, candidates };
  }
  if (expr.type === 'CONJUNCTION_OR' && Array.isArray(expr.children)) {
    let column: string | undefined;
    const candidates: Candidate[] = [];
    for (const child of expr.children as Json[]) {
      const c = constraintOf(child, names, keys, params, paramIndex);
      if (!c || (column !== undefined && c.column !== column)) return undefined;
      column = c.column;
      candidates.push(...c.candidates);
    }
    return column ? { column, candidates } : undefined;
  }
  return undefined;
}

function conjuncts(expr: Json): Json[] {
  if (isNode(expr) && expr.type === 'CONJUNCTION_AND' && Array.isArray(expr.children)) {
    return (expr.children as Json[]).flatMap(conjuncts);
  }
  return expr === null || expr === undefined ? [] : [expr];
}

/**
 * The partition predicate of `table` in a parsed statement, or undefined when no partition can be
 * ruled out (the table is referenced more than once, read through something other than a plain FROM or
 * join, or not filtered on a partition column in a usable way).
 */
export function partitionPredicate(
  tree: Json,
  table: string,
  partitionKeys: readonly string[],
  params: readonly unknown[] = [],
  layout: { symbolBuckets?: number } = {},
): PartitionPredicate | undefined {
  const name = table.toLowerCase();
  if ((referencedTables(tree).get(name) ?? 0) !== 1 || partitionKeys.length === 0) return undefined;
  const keys = new Set([...partitionKeys.map((k) => k.toLowerCase()), ...DERIVED_FROM]);
  let predicate: PartitionPredicate | undefined;
  walk(tree, (n) => {
    const statement = n;
    if (!Array.isArray(statement.named_param_map)) return;
    const paramIndex = new Map<string, number>();
    for (const e of statement.named_param_map as Json[]) {
      if (isNode(e) && typeof e.key === 'string' && typeof e.value === 'number') paramIndex.set(e.key, e.value);
    }
    walk(statement.node, (select) => {
      if (select.type !== 'SELECT_NODE') return;
      const leaves = joinLeaves(select.from_table);
      const leaf = leaves?.find(
        (l) => l.type === 'BASE_TABLE' && String(l.table_name).toLowerCase() === name && !l.schema_name,
      );
      if (!leaf) return;
      const names = new Set([typeof leaf.alias === 'string' && leaf.alias !== '' ? leaf.alias.toLowerCase() : name]);
      const found: PartitionPredicate = new Map();
      for (const c of conjuncts(select.where_clause)) {
        const constraint = constraintOf(c, names, keys, params, paramIndex);
        if (!constraint) continue;
        found.set(constraint.column, [...(found.get(constraint.column) ?? []), constraint.candidates]);
      }
      if (found.size > 0) predicate = found;
    });
  });
  return predicate && derive(predicate, new Set(partitionKeys.map((k) => k.toLowerCase())), layout.symbolBuckets);
}

/** Data columns that partition columns are derived from. */
const DERIVED_FROM = ['symbol', 'trade_date'];

/** Adds the constraints that the data columns' constraints put on the derived partition columns. */
function derive(
  predicate: PartitionPredicate,
  keys: ReadonlySet<string>,
  symbolBuckets: number | undefined,
): PartitionPredicate | undefined {
  const out: PartitionPredicate = new Map();
  const add = (column: string, candidates: Candidate[]) => out.set(column, [...(out.get(column) ?? []), candidates]);
  for (const [column, constraints] of predicate) {
    if (keys.has(column)) for (const c of constraints) add(column, c);
    for (const candidates of constraints) {
      if (!candidates.every((c) => c.kind === 'string')) continue;
      const values = candidates.map((c) => String(c.value));
      const strings = (vs: string[]): Candidate[] => [...new Set(vs)].map((value) => ({ kind: 'string', value }));
      if (column === 'symbol' && keys.has('symbol_bucket') && symbolBuckets !== undefined) {
        add('symbol_bucket', strings(values.map((v) => String(symbolBucket(v, symbolBuckets)))));
      }
      if (column === 'trade_date' && values.every((v) => ISO_DATE.test(v))) {
        if (keys.has('year')) add('year', strings(values.map((v) => v.slice(0, 4))));
        if (keys.has('month')) add('month', strings(values.map((v) => v.slice(0, 7))));
      }
    }
  }
  return out.size > 0 ? out : undefined;
}

/** Whether a partition value may satisfy a candidate; true when unsure. */
export function valueMatches(value: string, candidate: Candidate): boolean {
  if (candidate.kind === 'string') return value === candidate.value;
  // VARCHAR = INTEGER compares after a cast; only a plain integer text can be ruled out for sure.
  if (!/^-?\d+$/.test(value)) return true;
  return BigInt(value) === candidate.value;
}

/** Whether a partition (its values, in the order of `partitionKeys`) may hold rows the statement reads. */
export function keepPartition(
  values: readonly string[],
  partitionKeys: readonly string[],
  predicate: PartitionPredicate | undefined,
): boolean {
  if (!predicate) return true;
  for (let i = 0; i < partitionKeys.length; i++) {
    const constraints = predicate.get(partitionKeys[i].toLowerCase());
    const value = values[i];
    if (!constraints || value === undefined) continue;
    if (!constraints.every((candidates) => candidates.some((c) => valueMatches(value, c)))) return false;
  }
  return true;
}

/** Characters a partition key or value may have for DuckDB to read it back from a path unchanged. */
const PLAIN_VALUE = /^[A-Za-z0-9_.-]+$/;

/**
 * Whether the `key=value` folders of a cached file's path are exactly the table's partition keys with
 * the partition's values, in order and nothing else: then DuckDB's Hive partitioning gives each row its
 * partition's values (as VARCHAR), so several files are read by one scan.
 */
export function hivePathMatches(file: string, keys: readonly string[], values: readonly string[]): boolean {
  const pairs = file.split(/[\\/]/).filter((segment) => segment.includes('='));
  return (
    keys.length > 0 &&
    pairs.length === keys.length &&
    keys.every((k, i) => PLAIN_VALUE.test(k) && PLAIN_VALUE.test(values[i] ?? '') && pairs[i] === `${k}=${values[i]}`)
  );
}
