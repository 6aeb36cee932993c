/** What every part of `npm run bench` shares: repetitions, medians, formatting, the child environment. */

export const REPS = Number(process.env.BENCH_REPS ?? 3);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`BENCH_REPS='${process.env.BENCH_REPS}': a whole number >= 1`);

/** The median of the defined, finite numbers; undefined when there are none. */
export function median(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : undefined;
}

export const s = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(2)}s`);
export const ms = (n: number | undefined) => (n === undefined ? '-' : `${Math.round(n)}ms`);

export async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

/** A table with a header row, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (c: string[]) => c.map((x, i) => (x ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The environment for a child `migtest run`: without this process's run directory and fresh-boot setting. */
export function childEnv(): Record<string, string> {
  const { MIGTEST_RUN_DIR: _r, MIGTEST_FRESH_BOOT: _f, ...rest } = process.env;
  return Object.fromEntries(Object.entries(rest).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Extra words from an environment variable (split on spaces; no quoting). */
export const words = (name: string): string[] => (process.env[name]?.trim() ? process.env[name]!.trim().split(/\s+/) : []);
