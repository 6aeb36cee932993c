import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The harness's folders, lowest first; the README's architecture section lists the same.
 * A folder may import from its own layer's folders only as listed in SAME_LAYER, and from
 * lower layers freely; never from a higher one.
 */
export const LAYERS: string[][] = [
  ['util'],
  ['report'],
  ['history'],
  ['host'],
  ['qmp'],
  ['images'],
  ['qemu'],
  ['vm'],
  ['guest'],
  ['storage', 'faults'],
  ['net'],
  ['migration'],
  ['case'],
  ['matrix', 'compat'],
  ['testing'],
  ['bisect'],
  ['cli'],
];

const root = join(dirname(new URL(import.meta.url).pathname));
const repo = join(root, '..');
const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string, tests = false): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p, tests) : p.endsWith('.ts') && (tests || !p.endsWith('.test.ts')) ? [p] : [];
  });
}

/** Lines of the given files matching a pattern, as `file:line: text`. */
function offending(files: string[], pattern: RegExp): string[] {
  return files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((l, i) => (pattern.test(l) && !l.trim().startsWith('*') && !l.trim().startsWith('//') ? [`${relative(repo, f)}:${i + 1}: ${l.trim()}`] : [])),
  );
}

/** folder -> folders it imports from (relative imports only, type imports included). */
function folderImports(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const file of sources(root)) {
    const from = relative(root, file).split('/')[0]!;
    if (!layerOf.has(from)) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
      const to = relative(root, resolve(dirname(file), m[1]!)).split('/')[0]!;
      if (to !== from && layerOf.has(to)) (edges.get(from) ?? edges.set(from, new Set()).get(from)!).add(to);
    }
  }
  return edges;
}

describe('layers', () => {
  it('every folder of harness/ has a layer', () => {
    const folders = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory());
    expect(folders.filter((f) => !layerOf.has(f))).toEqual([]);
  });

  it('no folder imports from a higher layer', () => {
    const upward: string[] = [];
    for (const [from, tos] of folderImports())
      for (const to of tos) if (layerOf.get(to)! > layerOf.get(from)!) upward.push(`${from} -> ${to}`);
    expect(upward).toEqual([]);
  });

  it('no cycle between folders', () => {
    const edges = folderImports();
    const cycles: string[] = [];
    for (const [a, tos] of edges) for (const b of tos) if (edges.get(b)?.has(a) && a < b) cycles.push(`${a} <-> ${b}`);
    expect(cycles).toEqual([]);
  });
});

describe('one entry, one wait shape', () => {
  const suiteFiles = sources(join(repo, 'suites'), true);

  it('suites import the harness only through harness/index.ts', () => {
    const deep: string[] = [];
    for (const f of suiteFiles)
      for (const m of readFileSync(f, 'utf8').matchAll(/from\s*'(\.[^']+)'/g)) {
        const target = relative(repo, resolve(dirname(f), m[1]!));
        if (target.startsWith('harness/') && target !== 'harness/index.js') deep.push(`${relative(repo, f)}: ${m[1]}`);
      }
    expect(deep).toEqual([]);
  });

  it('no deadline is a bare number outside util/deadlines.ts (unit tests of the wait primitives aside)', () => {
    const code = [...sources(root).filter((f) => !f.endsWith('util/deadlines.ts')), ...suiteFiles, ...sources(join(repo, 'bench'), true)];
    const bare = /timeoutMs:\s*[\d_]+|(?:pollUntil|withDeadline)\([^,]+,\s*[\d_]+\s*,|(?:termMs|graceMs|killMs):\s*[\d_]+|waitExit\(\s*[\d_]+/;
    expect(offending(code, bare)).toEqual([]);
  });

  it('every wait takes the Wait shape last and gives what it awaited, never a boolean', () => {
    const decl = /^\s*(?:export\s+)?(?:async\s+)?(?:function\s+)?(wait\w*)\s*\(([^)]*)\)\s*:\s*([^{]+)/;
    const wrong: string[] = [];
    for (const f of sources(root))
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((l, i) => {
          const m = decl.exec(l);
          if (!m) return;
          const [, name, params, ret] = m;
          const last = params!.split(',').at(-1)!.trim();
          if (!/^opts\??: .*Wait/.test(last) || /Promise<boolean>/.test(ret!)) wrong.push(`${relative(repo, f)}:${i + 1}: ${name}(${params}): ${ret!.trim()}`);
        });
    expect(wrong).toEqual([]);
  });
});
