/**
 * Where a lake field becomes a Glue column: schema inference from sample records, and schema
 * evolution against the table's current columns. Pure.
 *
 * Types are Hive/Glue type strings that Athena's OpenX JSON SerDe parses: string, bigint, double,
 * boolean, date, timestamp, struct<...> and array<...>. Any other type found in an existing table
 * (map<...>, decimal(10,2), int ...) is kept as it is.
 *
 * Two steps, on purpose different:
 * - the samples of one crawl are unified symmetrically (order does not matter): bigint and double
 *   give double, date and timestamp give timestamp, a scalar mixed with a string gives string (what
 *   a Glue crawler does); a struct or array mixed with a scalar cannot be unified and is drift;
 * - the result is then evolved against the table: new columns are appended, bigint widens to double,
 *   date to timestamp, new struct fields are appended; anything else keeps the table's type and is
 *   reported as drift, so the table never breaks. A string column accepts any scalar (the SerDe reads
 *   numbers and booleans into strings).
 */

export type GlueType = string;

export interface Column {
  name: string;
  type: GlueType;
}

/** A parsed Glue type. `undefined` members mean "not seen yet" (only nulls or empty arrays). */
export type TypeNode =
  | { kind: 'scalar'; name: string }
  | { kind: 'array'; element: TypeNode | undefined }
  | { kind: 'struct'; fields: { name: string; type: TypeNode | undefined }[] }
  /** A type the crawler never infers (map, decimal, ...): kept verbatim. */
  | { kind: 'opaque'; text: string };

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;
const SCALARS = new Set(['string', 'bigint', 'double', 'boolean', 'date', 'timestamp']);

/** Field names already turned into column names: a crawl meets the same dozen fields in every record. */
const columnNames = new Map<string, string>();
const MAX_COLUMN_NAMES = 10_000;

/** Glue/Athena column names: lowercase snake_case. */
export function columnName(field: string): string {
  let name = columnNames.get(field);
  if (name === undefined) {
    name = field
      .trim()
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '');
    // Records with ever-new field names (a lake of maps written as objects) must not grow it without end.
    if (columnNames.size >= MAX_COLUMN_NAMES) columnNames.clear();
    columnNames.set(field, name);
  }
  return name;
}

// ---- type strings ---------------------------------------------------------------------------------

/** Parses a Glue type string such as `struct<a:bigint,b:array<string>>`. Unknown types are opaque. */
export function parseType(text: string): TypeNode {
  let pos = 0;
  const s = text.trim();

  function readUntil(stops: string): string {
    const start = pos;
    let depth = 0;
    while (pos < s.length) {
      const c = s[pos];
      if (depth === 0 && stops.includes(c)) break;
      if (c === '<' || c === '(') depth++;
      else if (c === '>' || c === ')') {
        if (depth === 0) break;
        depth--;
      }
      pos++;
    }
    return s.slice(start, pos).trim();
  }

  function expect(c: string): void {
    if (s[pos] !== c) throw new Error(`malformed Glue type '${text}': expected '${c}' at ${pos}`);
    pos++;
  }

  function node(): TypeNode {
    const head = readUntil('<,>:').toLowerCase();
    if (s[pos] === '<' && head === 'array') {
      pos++;
      const element = node();
      expect('>');
      return { kind: 'array', element };
    }
    if (s[pos] === '<' && head === 'struct') {
      pos++;
      const fields: { name: string; type: TypeNode }[] = [];
      while (s[pos] !== '>') {
        const name = readUntil(':').trim();
        expect(':');
        fields.push({ name, type: node() });
        if (s[pos] === ',') pos++;
        else if (s[pos] !== '>') throw new Error(`malformed Glue type '${text}': expected ',' or '>' at ${pos}`);
      }
      pos++;
      return { kind: 'struct', fields };
    }
    if (s[pos] === '<') {
      // map<k,v> and other parameterised types: keep the whole text.
      const start = pos;
      let depth = 0;
      do {
        if (s[pos] === '<') depth++;
        else if (s[pos] === '>') depth--;
        pos++;
      } while (depth > 0 && pos < s.length);
      return { kind: 'opaque', text: head + s.slice(start, pos) };
    }
    return SCALARS.has(head) ? { kind: 'scalar', name: head } : { kind: 'opaque', text: head };
  }

  const out = node();
  if (pos !== s.length) throw new Error(`malformed Glue type '${text}': unexpected '${s.slice(pos)}'`);
  return out;
}

/** Formats a type; members never seen (only nulls) become string, which the SerDe reads anything into. */
export function formatType(t: TypeNode | undefined): GlueType {
  if (t === undefined) return 'string';
  switch (t.kind) {
    case 'scalar':
      return t.name;
    case 'opaque':
      return t.text;
    case 'array':
      return `array<${formatType(t.element)}>`;
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}:${formatType(f.type)}`).join(',')}>`;
  }
}

// ---- inference ------------------------------------------------------------------------------------

// Scalar nodes are shared (never mutated): inference allocates nothing per scalar value.
const SCALAR_NODES = new Map<string, TypeNode>([...SCALARS].map((name) => [name, { kind: 'scalar', name }]));
const scalar = (name: string): TypeNode => SCALAR_NODES.get(name) ?? { kind: 'scalar', name };

/** The type of one JSON value, or undefined for null. */
export function inferNode(value: unknown): TypeNode | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'boolean':
      return scalar('boolean');
    case 'number':
      return scalar(Number.isInteger(value) ? 'bigint' : 'double');
    case 'string':
      if (DATE.test(value)) return scalar('date');
      if (TIMESTAMP.test(value)) return scalar('timestamp');
      return scalar('string');
    case 'object': {
      if (Array.isArray(value)) {
        let element: TypeNode | undefined;
        for (const v of value) element = unify(element, inferNode(v)).type;
        return { kind: 'array', element };
      }
      const fields: { name: string; type: TypeNode | undefined }[] = [];
      const index = new Map<string, number>();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const name = columnName(k);
        const t = inferNode(v);
        const at = index.get(name);
        if (at === undefined) {
          index.set(name, fields.length);
          fields.push({ name, type: t });
        } else {
          fields[at].type = unify(fields[at].type, t).type;
        }
      }
      return { kind: 'struct', fields };
    }
    default:
      return scalar('string');
  }
}

/** The Glue type string of one JSON value, or undefined for null. */
export function inferType(value: unknown): GlueType | undefined {
  const t = inferNode(value);
  return t === undefined ? undefined : formatType(t);
}

function same(a: TypeNode | undefined, b: TypeNode | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  if (a.kind === 'scalar' && b.kind === 'scalar') return a.name === b.name;
  return formatType(a) === formatType(b);
}

/**
 * Symmetric union of two sampled types (used among the samples of one crawl). `conflict` is set
 * when the two cannot be unified (struct or array against something else); the result is string.
 */
export function unify(
  a: TypeNode | undefined,
  b: TypeNode | undefined,
): { type: TypeNode | undefined; conflict?: string } {
  if (a === undefined) return { type: b };
  if (b === undefined || same(a, b)) return { type: a };
  if (a.kind === 'scalar' && b.kind === 'scalar') {
    const pair = new Set([a.name, b.name]);
    if (pair.has('bigint') && pair.has('double')) return { type: scalar('double') };
    if (pair.has('date') && pair.has('timestamp')) return { type: scalar('timestamp') };
    return { type: scalar('string') };
  }
  if (a.kind === 'array' && b.kind === 'array') {
    const e = unify(a.element, b.element);
    return { type: { kind: 'array', element: e.type }, conflict: e.conflict };
  }
  if (a.kind === 'struct' && b.kind === 'struct') {
    const fields = a.fields.map((f) => ({ ...f }));
    const conflicts: string[] = [];
    for (const f of b.fields) {
      const mine = fields.find((x) => x.name === f.name);
      if (!mine) {
        fields.push({ ...f });
        continue;
      }
      const u = unify(mine.type, f.type);
      mine.type = u.type;
      if (u.conflict) conflicts.push(`${f.name}: ${u.conflict}`);
    }
    return { type: { kind: 'struct', fields }, conflict: conflicts.length > 0 ? conflicts.join(', ') : undefined };
  }
  return { type: scalar('string'), conflict: `${formatType(a)} and ${formatType(b)}` };
}

export type Evolution =
  | { change: 'none'; type: TypeNode }
  | { change: 'widened'; type: TypeNode }
  | { change: 'drift'; type: TypeNode; reason: string };

/**
 * Evolves a table column's type by a newly seen type. Never narrows and never changes a type in a
 * way the table's existing data could not be read with: what cannot be widened is drift.
 */
export function evolve(table: TypeNode, seen: TypeNode | undefined): Evolution {
  if (seen === undefined || same(table, seen)) return { change: 'none', type: table };
  if (table.kind === 'scalar' && seen.kind === 'scalar') {
    if (table.name === 'string') return { change: 'none', type: table };
    if (table.name === 'double' && seen.name === 'bigint') return { change: 'none', type: table };
    if (table.name === 'timestamp' && seen.name === 'date') return { change: 'none', type: table };
    if (table.name === 'bigint' && seen.name === 'double') return { change: 'widened', type: seen };
    if (table.name === 'date' && seen.name === 'timestamp') return { change: 'widened', type: seen };
  }
  if (table.kind === 'array' && seen.kind === 'array') {
    if (table.element === undefined) return { change: 'widened', type: seen };
    const e = evolve(table.element, seen.element);
    return e.change === 'drift'
      ? { change: 'drift', type: table, reason: `array element: ${e.reason}` }
      : { change: e.change, type: { kind: 'array', element: e.type } };
  }
  if (table.kind === 'struct' && seen.kind === 'struct') {
    let widened = false;
    const reasons: string[] = [];
    const fields = table.fields.map((f) => {
      const other = seen.fields.find((x) => x.name === f.name);
      if (!other) return f;
      if (f.type === undefined) {
        widened ||= other.type !== undefined;
        return { name: f.name, type: other.type };
      }
      const e = evolve(f.type, other.type);
      if (e.change === 'drift') reasons.push(`${f.name}: ${e.reason}`);
      if (e.change === 'widened') widened = true;
      return { name: f.name, type: e.change === 'drift' ? f.type : e.type };
    });
    for (const f of seen.fields) {
      if (!fields.some((x) => x.name === f.name)) {
        fields.push(f);
        widened = true;
      }
    }
    if (reasons.length > 0) {
      // Widen what can be widened, keep the rest: the drift is still reported.
      return { change: 'drift', type: { kind: 'struct', fields }, reason: reasons.join(', ') };
    }
    return { change: widened ? 'widened' : 'none', type: { kind: 'struct', fields } };
  }
  return { change: 'drift', type: table, reason: `table has ${formatType(table)}, new data has ${formatType(seen)}` };
}

// ---- schemas --------------------------------------------------------------------------------------

export interface InferredSchema {
  /** Existing columns first, in their order, then new columns in order of first appearance. */
  columns: Column[];
  /** Columns appended to the table. */
  added: string[];
  /** Columns whose type was widened (bigint to double, date to timestamp, new struct fields). */
  widened: string[];
  /** Incompatible changes: the table keeps its type, the conflict is reported here. */
  drift: string[];
  /** JSON field names that differ from their column name: SerDe `mapping.<column>` parameters. */
  mappings: Record<string, string>;
}

/**
 * Accumulates the column types of sample records (symmetric union), so a crawl can feed records
 * object by object and keep only the types, not the records.
 */
export class SchemaSampler {
  private readonly skip: Set<string>;
  private readonly seen = new Map<string, TypeNode | undefined>();
  private readonly mappings: Record<string, string> = {};
  private readonly drift = new Set<string>();

  /** @param exclude columns that are partition keys (Athena rejects a column that repeats one). */
  constructor(exclude: readonly string[] = []) {
    this.skip = new Set(exclude);
  }

  add(record: Record<string, unknown>): void {
    for (const [field, value] of Object.entries(record)) {
      const name = columnName(field);
      if (name === '' || this.skip.has(name)) continue;
      if (name !== field && name !== field.toLowerCase()) this.mappings[name] = field;
      const u = unify(this.seen.get(name), inferNode(value));
      if (u.conflict) this.drift.add(`${name}: mixed types in the lake (${u.conflict})`);
      this.seen.set(name, u.type);
    }
  }

  /** The sampled columns evolved onto the table's existing columns. */
  evolve(existing: readonly Column[] = []): InferredSchema {
    const drift = new Set(this.drift);
    const columns: Column[] = [];
    const added: string[] = [];
    const widened: string[] = [];
    for (const c of existing) {
      let table: TypeNode;
      try {
        table = parseType(c.type);
      } catch {
        columns.push({ ...c });
        continue;
      }
      const e = evolve(table, this.seen.get(c.name));
      if (e.change === 'drift') drift.add(`${c.name}: ${e.reason}`);
      const type = formatType(e.type);
      if (type !== c.type) widened.push(c.name);
      columns.push({ name: c.name, type });
    }
    const known = new Set(existing.map((c) => c.name));
    for (const [name, type] of this.seen) {
      if (known.has(name)) continue;
      columns.push({ name, type: formatType(type) });
      added.push(name);
    }
    return { columns, added, widened, drift: [...drift], mappings: { ...this.mappings } };
  }
}

/**
 * Infers columns from sample records and evolves them onto the table's existing columns.
 * `exclude` names columns that are partition keys.
 */
export function inferSchema(
  records: Iterable<Record<string, unknown>>,
  existing: readonly Column[] = [],
  exclude: readonly string[] = [],
): InferredSchema {
  const sampler = new SchemaSampler(exclude);
  for (const record of records) sampler.add(record);
  return sampler.evolve(existing);
}
