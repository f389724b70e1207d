/**
 * No import cycle, value or type, among the modules of activities/, workflows/ and src/: the layers
 * read one way (workflows and activities use src's pure helpers and types; src's clients start
 * workflows by their types), so a reader can follow a tick from the CLI to its workflow, and the
 * workflow bundle never pulls in a module that pulls the bundle's own modules back in.
 *
 * Imports are read with TypeScript's own pre-processor (every `import`, `import type`,
 * `export ... from` and `require`), relative paths resolved to files.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../src/config';

const ROOTS = ['activities', 'workflows', 'src'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => f.endsWith('.ts') && fs.existsSync(f));
}

/** The module graph: file → files it imports (inside the three trees). */
export function importGraph(): Map<string, string[]> {
  const files = ROOTS.flatMap((r) => sourceFiles(path.join(REPO_ROOT, r)));
  const inside = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const info = ts.preProcessFile(fs.readFileSync(f, 'utf8'), true, true);
    const deps = info.importedFiles
      .map((i) => resolve(f, i.fileName))
      .filter((d): d is string => d !== undefined && inside.has(d));
    graph.set(f, [...new Set(deps)]);
  }
  return graph;
}

/** Strongly connected components of more than one module (Tarjan), or a module importing itself. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v))
        out.push(scc.map((f) => path.relative(REPO_ROOT, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

test('the checker finds a cycle when there is one', () => {
  const g = new Map([
    ['/r/a.ts', ['/r/b.ts']],
    ['/r/b.ts', ['/r/c.ts']],
    ['/r/c.ts', ['/r/a.ts']],
    ['/r/d.ts', ['/r/a.ts']],
  ]);
  expect(cycles(g)).toHaveLength(1);
  expect(cycles(g)[0]).toHaveLength(3);
});

test('no import cycle among activities/, workflows/ and src/', () => {
  const graph = importGraph();
  expect(graph.size).toBeGreaterThan(50);
  expect(cycles(graph)).toEqual([]);
});
