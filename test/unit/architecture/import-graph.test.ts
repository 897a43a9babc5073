import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The layers of `src/` and what each may import (docs/architecture.md): a rule here fails the build when an import
 * breaks it, instead of a reviewer noticing. Imports are read by TypeScript's own pre-processor, type-only and
 * dynamic ones included: a type import ties modules together as much as any other for a reader.
 */
const srcRoot = new URL('../../../src/', import.meta.url).pathname;

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Each module of `src/` (path relative to it) and the modules of `src/` it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(srcRoot)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const local = importedFiles
      .map((imported) => imported.fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => relative(srcRoot, resolve(dirname(file), specifier)));
    graph.set(relative(srcRoot, file), local);
  }
  return graph;
}

/** Strongly connected components of more than one module, or one importing itself (Tarjan's algorithm). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (module: string): void => {
    index.set(module, next);
    low.set(module, next);
    next += 1;
    stack.push(module);
    onStack.add(module);
    for (const imported of graph.get(module) ?? []) {
      if (!graph.has(imported)) continue;
      if (!index.has(imported)) {
        visit(imported);
        low.set(module, Math.min(low.get(module)!, low.get(imported)!));
      } else if (onStack.has(imported)) {
        low.set(module, Math.min(low.get(module)!, index.get(imported)!));
      }
    }
    if (low.get(module) !== index.get(module)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== module);
    if (component.length > 1 || graph.get(module)!.includes(module)) found.push(component.sort());
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return found;
}

const layerOf = (module: string) => (module.includes('/') ? module.split('/')[0]! : module);

/** Imports from modules of layer `from` into layers outside `allowed` (its own layer is always allowed). */
function importsOutside(graph: Map<string, string[]>, from: string, allowed: string[]): string[] {
  return [...graph].flatMap(([module, imports]) =>
    layerOf(module) === from
      ? imports
          .filter((imported) => layerOf(imported) !== from && !allowed.includes(layerOf(imported)))
          .map((imported) => `${module} -> ${imported}`)
      : [],
  );
}

describe('the layers of src/', () => {
  const graph = importGraph();

  it('reads every module and the imports between them', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('app.ts')).toContain('http-app.ts');
  });

  it('has no import cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps the named vocabularies free of imports from the rest of src/', () => {
    expect(importsOutside(graph, 'vocabulary', [])).toEqual([]);
  });

  it('keeps queries/ below everything else: it imports only db/, errors/ and the vocabularies', () => {
    expect(importsOutside(graph, 'queries', ['db', 'errors', 'vocabulary'])).toEqual([]);
  });

  it('keeps config/ and db/ at the bottom: configuration, connections and SQLSTATE know nothing above them', () => {
    expect(importsOutside(graph, 'config', ['errors', 'vocabulary'])).toEqual([]);
    expect(importsOutside(graph, 'db', ['config', 'errors', 'vocabulary'])).toEqual([]);
  });

  it('keeps storage/ (adapters, hot store) on queries/ and below, never libraries/ or oidc/', () => {
    expect(importsOutside(graph, 'storage', ['config', 'db', 'errors', 'queries', 'vocabulary'])).toEqual([]);
  });

  it('keeps oidc/ from importing routes/ (pages build on the provider, not the other way round)', () => {
    expect(
      importsOutside(graph, 'oidc', [
        'config',
        'db',
        'errors',
        'libraries',
        'middleware',
        'queries',
        'storage',
        'vocabulary',
      ]),
    ).toEqual([]);
  });

  it('keeps libraries/ free of HTTP and of the provider: no routes/, middleware/, oidc/ or cli/', () => {
    expect(
      importsOutside(graph, 'libraries', ['config', 'db', 'errors', 'queries', 'storage', 'vocabulary']),
    ).toEqual([]);
  });

  it('lets only the command line and main.ts import cli/', () => {
    const intoCli = [...graph].flatMap(([module, imports]) =>
      layerOf(module) !== 'cli' && module !== 'main.ts'
        ? imports
            .filter((imported) => layerOf(imported) === 'cli')
            .map((imported) => `${module} -> ${imported}`)
        : [],
    );
    expect(intoCli).toEqual([]);
  });

  it('finds a cycle and a layer breach when there is one (the checks can fail)', () => {
    const broken = new Map([
      ['queries/a.ts', ['libraries/b.ts']],
      ['libraries/b.ts', ['queries/a.ts']],
    ]);
    expect(cycles(broken)).toEqual([['libraries/b.ts', 'queries/a.ts']]);
    expect(importsOutside(broken, 'queries', ['db'])).toEqual(['queries/a.ts -> libraries/b.ts']);
  });
});
