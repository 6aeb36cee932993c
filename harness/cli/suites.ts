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

/**
 * Suites that choose their QEMUs themselves (every installed version, a fetched 7.2) or
 * test the harness rather than QEMU: a run on one QEMU version (--qemu) leaves them out of
 * a rotation.
 */
export const VERSION_PINNED_SUITES = ['cross-version', 'compat', 'qemu-versions', 'reaper', 'report-html', 'repro', 'two-hosts', 'accel-probe', 'bisect', 'user-image'];

/**
 * Suites whose cases need a newer QEMU than most hosts' default (cpr-exec: 10.2), so that
 * only the pass on the newest QEMU runs them: every share of a rotation includes them.
 */
export const NEWEST_ONLY_SUITES = ['cpr'];

/**
 * A rotating share of the suites: "k" (today's share of k, by the UTC day) or "i/k". Over k
 * days every suite (but the version-pinned ones) runs once; NEWEST_ONLY_SUITES run every day.
 * With `among` (suites the user named), a share of those, in the order given, and nothing else.
 */
export function rotationSuites(spec: string, today = new Date(), among?: string[]): { share: string; suites: string[] } {
  const m = /^(?:(\d+)\/)?(\d+)$/.exec(spec);
  const k = Number(m?.[2]);
  if (!m || !Number.isInteger(k) || k < 1 || k > 50) throw new ConfigError('--rotation', `'${spec}'`, 'k or i/k with 1 <= i <= k <= 50: a share of the suites, today\'s by default');
  const day = Math.floor(today.getTime() / 86_400_000);
  const i = m[1] ? Number(m[1]) : (day % k) + 1;
  if (i < 1 || i > k) throw new ConfigError('--rotation', `'${spec}'`, 'i/k with 1 <= i <= k');
  if (among && k > among.length) throw new ConfigError('--rotation', `'${spec}' shares ${among.length} suite(s) named ${k} ways: some days would run none`, `k at most ${among.length} with these suites`);
  if (among) return { share: `${i}/${k}`, suites: among.filter((_, n) => n % k === i - 1) };
  const eligible = availableSuites().filter((s) => !VERSION_PINNED_SUITES.includes(s));
  return { share: `${i}/${k}`, suites: eligible.filter((name, n) => n % k === i - 1 || NEWEST_ONLY_SUITES.includes(name)) };
}
