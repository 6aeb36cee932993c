import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (harness/util/ is two levels down). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where built images, fetched QEMUs and probe results are cached. */
export function cacheDir(): string {
  return process.env.MIGTEST_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'migtest');
}

/** Per-run state shared by the runner and its test workers (registry of process groups). */
export function stateDir(): string {
  return process.env.MIGTEST_STATE ?? join(cacheDir(), 'state');
}

export function artifactsRoot(): string {
  return process.env.MIGTEST_ARTIFACTS ?? join(repoRoot, 'artifacts');
}
