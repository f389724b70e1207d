/**
 * The example queries of docs/queries.md, read from the document itself so that the tests and the
 * benchmark run exactly what the documentation shows. Pure.
 *
 * An example is a ```sql block whose first line is `-- example: <name>`, optionally followed by
 * `-- params: <JSON array>`.
 */
import type { QueryParam } from './sql-guard';

export interface DocExample {
  name: string;
  sql: string;
  params: QueryParam[];
}

export function parseExamples(markdown: string): DocExample[] {
  const examples: DocExample[] = [];
  for (const m of markdown.matchAll(/```sql\n([\s\S]*?)```/g)) {
    const lines = m[1].split('\n');
    const name = /^--\s*example:\s*(\S+)/.exec(lines[0])?.[1];
    if (!name) continue;
    let params: QueryParam[] = [];
    let body = lines.slice(1);
    const p = /^--\s*params:\s*(.+)$/.exec(body[0] ?? '');
    if (p) {
      params = JSON.parse(p[1]) as QueryParam[];
      body = body.slice(1);
    }
    examples.push({ name, sql: body.join('\n').trim(), params });
  }
  return examples;
}
