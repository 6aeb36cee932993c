import { existsSync } from 'node:fs';
import { delimiter, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runConfig } from './run-config.js';

/** Repository root (harness/util/ is two levels down). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where built images, fetched QEMUs and probe results are cached. */
export const cacheDir = (): string => runConfig().cacheDir;

/** Per-run state shared by the runner and its test workers (registry of process groups). */
export const stateDir = (): string => runConfig().stateDir;

export const artifactsRoot = (): string => runConfig().artifactsRoot ?? join(repoRoot, 'artifacts');

/** Where `name` is on PATH, if it is. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}
