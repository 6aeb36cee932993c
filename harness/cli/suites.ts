import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';

/** Suite names are the test files under suites/ without ".test.ts". */
export function availableSuites(): string[] {
  return readdirSync(join(repoRoot, 'suites'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => f.replace(/\.test\.ts$/, ''))
    .sort();
}

export function suiteFiles(names: string[]): string[] {
  const all = availableSuites();
  return names.map((n) => {
    if (!all.includes(n)) throw new ConfigError('suite', `'${n}' does not exist`, all);
    return join('suites', `${n}.test.ts`);
  });
}

/** "i/n" with 1 <= i <= n. */
export function parseShard(v: string): string {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2]))
    throw new ConfigError('--shard', `'${v}'`, 'i/n with 1 <= i <= n, e.g. 1/2');
  return v;
}
