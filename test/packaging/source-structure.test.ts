import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The source layout rules of issue 13: small modules by concern (no file over
// ~400 lines) and no import circles anywhere in packages/*/src, type-only
// imports included (they tie modules together for a reader just the same).
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const MAX_LINES = 400;

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) {
    try {
      walk(join(root, 'packages', pkg, 'src'));
    } catch {
      // A package without src/.
    }
  }
  return files.sort();
}

/** Every `import … from`, `export … from`, side-effect `import '…'` and `import('…')` specifier. */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

/** A relative specifier, or `@drainkit/<pkg>[/<subpath>]`, resolved to the source file it names. */
function resolve(from: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return join(dirname(from), specifier).replace(/\.js$/, '.ts');
  const own = /^@drainkit\/([a-z]+)(?:\/([a-z-]+))?$/.exec(specifier);
  if (own) return join(root, 'packages', own[1]!, 'src', `${own[2] ?? 'index'}.ts`);
  return undefined;
}

/** The first cycle found in the graph, as the path of files that closes on itself; undefined if none. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (seen === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (seen === undefined) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (state.has(node)) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('source structure (packages/*/src)', () => {
  const files = sourceFiles();

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(20);
    expect(files.some((f) => f.endsWith(join('core', 'src', 'drainer.ts')))).toBe(true);
  });

  it(`has no source file over ${MAX_LINES} lines`, () => {
    const long = files
      .map((file) => ({ file: relative(root, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('the cycle finder finds a cycle and accepts a graph without one', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeUndefined();
    expect(specifiers("import type { A } from './a.js';\nexport { b } from './b.js';\nimport './c.js';\nconst d = await import('./d.js');")).toEqual([
      './a.js',
      './b.js',
      './c.js',
      './d.js',
    ]);
  });

  it('has no import circles, type-only imports included', () => {
    const graph = new Map<string, string[]>();
    for (const file of files) {
      const targets = specifiers(readFileSync(file, 'utf8'))
        .map((specifier) => resolve(file, specifier))
        .filter((target): target is string => target !== undefined);
      graph.set(file, targets);
    }
    const cycle = findCycle(graph);
    expect(cycle?.map((file) => relative(root, file))).toBeUndefined();
  });
});
