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
  ['cli'],
];

const root = join(dirname(new URL(import.meta.url).pathname));
const layerOf = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
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
