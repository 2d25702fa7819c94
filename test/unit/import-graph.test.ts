// No import cycles anywhere: every .ts file of the repo (node_modules and build output aside), every
// relative import (type-only ones too, static and dynamic), one direction only.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');
const SKIP = new Set(['node_modules', '.tools', '.git', 'build', 'dist']);

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) tsFiles(p, out);
    else if (e.isFile() && e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** file (repo-relative) -> the repo files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(REPO)) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const deps = new Set<string>();
    for (const { fileName: spec } of importedFiles) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) continue;
      const target = path.resolve(path.dirname(file), spec);
      // ./x.js may name a .ts source (or the .d.ts next to generated JavaScript).
      const found = [target, target.replace(/\.js$/, '.ts'), target.replace(/\.js$/, '.d.ts')].find((f) => fs.existsSync(f));
      if (found) deps.add(path.relative(REPO, found));
    }
    graph.set(path.relative(REPO, file), [...deps].sort());
  }
  return graph;
}

/** Every cycle's files in import order (one per strongly connected group), found by depth-first search. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return cycles;
}

describe('import graph', () => {
  it('finds a cycle when there is one, naming its files in order', () => {
    const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    expect(findCycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
    expect(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]]))).toEqual([]);
  });

  it('has no cycle anywhere in the repo', () => {
    const g = importGraph();
    // The walk saw the code: both processes' entry points and their imports.
    expect(g.get('agent/main.ts')).toContain('agent/agent.ts');
    expect(g.get('controlplane/server.ts')).toContain('proto/contract.ts');
    const cycles = findCycles(g).map((c) => c.join(' -> '));
    expect(cycles, `import cycles:\n${cycles.join('\n')}`).toEqual([]);
  });

  it('keeps the agent independent of the control plane', () => {
    const g = importGraph();
    const offending = [...g].filter(([f]) => f.startsWith('agent/')).flatMap(([f, deps]) => deps.filter((d) => d.startsWith('controlplane/')).map((d) => `${f} -> ${d}`));
    expect(offending).toEqual([]);
  });
});
