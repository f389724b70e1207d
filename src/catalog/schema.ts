/**
 * Where a lake field becomes a Glue column: schema inference from sample records and type merging.
 * Pure. Types are Hive/Glue type strings that Athena's OpenX JSON SerDe parses.
 */

export type GlueType = string;

export interface Column {
  name: string;
  type: GlueType;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;

/** Glue/Athena column names: lowercase snake_case. */
export function columnName(field: string): string {
  return field
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

export function inferType(value: unknown): GlueType | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isInteger(value) ? 'bigint' : 'double';
    case 'string':
      if (DATE.test(value)) return 'date';
      if (TIMESTAMP.test(value)) return 'timestamp';
      return 'string';
    case 'object': {
      if (Array.isArray(value)) {
        let element: GlueType | undefined;
        for (const v of value) element = mergeTypes(element, inferType(v)).type;
        return `array<${element ?? 'string'}>`;
      }
      const fields = Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => [columnName(k), inferType(v) ?? 'string'] as const)
        .map(([k, t]) => `${k}:${t}`);
      return `struct<${fields.join(',')}>`;
    }
    default:
      return 'string';
  }
}

/**
 * Merges two inferred types. bigint widens to double; date and timestamp fall back to string when
 * mixed with strings. Anything else that differs is incompatible: the existing type is kept and
 * the conflict is reported as drift.
 */
export function mergeTypes(a: GlueType | undefined, b: GlueType | undefined): { type: GlueType | undefined; conflict?: string } {
  if (a === undefined) return { type: b };
  if (b === undefined || a === b) return { type: a };
  const numeric = new Set(['bigint', 'double']);
  if (numeric.has(a) && numeric.has(b)) return { type: 'double' };
  const temporal = new Set(['date', 'timestamp']);
  if (temporal.has(a) && temporal.has(b)) return { type: 'timestamp' };
  return { type: a, conflict: `${a} vs ${b}` };
}

export interface InferredSchema {
  columns: Column[];
  drift: string[];
}

/**
 * Infers columns from records, in order of first appearance, merged onto an existing schema
 * (existing columns keep their position; new ones are appended).
 */
export function inferSchema(
  records: Iterable<Record<string, unknown>>,
  existing: readonly Column[] = [],
  exclude: readonly string[] = [],
): InferredSchema {
  const columns = new Map<string, GlueType | undefined>(existing.map((c) => [c.name, c.type]));
  const drift = new Set<string>();
  const skip = new Set(exclude);
  for (const record of records) {
    for (const [field, value] of Object.entries(record)) {
      const name = columnName(field);
      if (skip.has(name)) continue;
      const merged = mergeTypes(columns.get(name), inferType(value));
      if (merged.conflict) drift.add(`${name}: ${merged.conflict}`);
      columns.set(name, merged.type);
    }
  }
  return {
    columns: [...columns].map(([name, type]) => ({ name, type: type ?? 'string' })),
    drift: [...drift],
  };
}
