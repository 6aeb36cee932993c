import { execa } from 'execa';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../util/paths.js';
import { runConfig } from '../util/run-config.js';
import { BAD_INPUTS, type BadInput } from './bad-input.rows.js';

/**
 * The bad-input table (bad-input.rows.ts), each row through the real CLI in a process of its
 * own: refused with exit 2 (or what the CLI documents), a message on stderr naming the flag,
 * variable or file, the field and what is allowed, no stack trace, and nothing created: not
 * under MIGTEST_ARTIFACTS, not under HOME, not beside the row's own files. Each row gets a
 * clean environment (no MIGTEST_* of the run that runs this test) but the real cache
 * (MIGTEST_CACHE), where the fetched QEMUs and their probes are that validation looks up.
 */

/** Everything under a directory, as relative paths. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => relative(dir, join(dir, p))).sort();
}

interface Outcome {
  code: number | undefined;
  stdout: string;
  stderr: string;
  made: { artifacts: string[]; home: string[]; beside: string[] };
  ms: number;
}

const cache = runConfig().cacheDir;
/** The parent environment, without what configures a migtest run (a `migtest run --unit` sets some). */
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MIGTEST_|QTEST_|XDG_CACHE_HOME$)/.test(k)));

async function refuse(root: string, row: BadInput, n: number): Promise<Outcome> {
  const [work, artifacts, home] = ['work', 'artifacts', 'home'].map((d) => join(root, String(n), d)) as [string, string, string];
  for (const d of [work, artifacts, home]) mkdirSync(d, { recursive: true });
  const sub = (s: string) => s.replaceAll('$D', work);
  for (const [name, text] of Object.entries(row.files ?? {})) {
    if (text === null) mkdirSync(join(work, name), { recursive: true });
    else writeFileSync(join(work, name), sub(text));
  }
  const before = tree(work);
  const t0 = Date.now();
  const r = await execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), ...row.args.map(sub)], {
    cwd: work,
    reject: false,
    timeout: 120_000,
    extendEnv: false,
    env: { ...baseEnv, HOME: home, MIGTEST_CACHE: cache, MIGTEST_ARTIFACTS: artifacts, MIGTEST_QUIET: '1', FORCE_COLOR: '0', ...Object.fromEntries(Object.entries(row.env ?? {}).map(([k, v]) => [k, sub(v)])) },
  });
  const beside = tree(work).filter((p) => !before.includes(p));
  // Paths in messages as the rows write them.
  const said = (s: string) => s.replaceAll(work, '$D');
  return { code: r.exitCode, stdout: said(r.stdout), stderr: said(r.stderr), made: { artifacts: tree(artifacts), home: tree(home), beside }, ms: Date.now() - t0 };
}

/** Runs rows a few at a time: each is a node process of its own (about a second of CPU). */
async function pooled<T, R>(xs: readonly T[], n: number, f: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < xs.length) {
        const i = next++;
        out[i] = await f(xs[i]!, i);
      }
    }),
  );
  return out;
}

describe('bad input is refused before anything runs', () => {
  let root: Awaited<ReturnType<typeof tmpDir>>;
  let results: Promise<Outcome[]>;
  beforeAll(async () => {
    root = await tmpDir({ prefix: 'migtest-bad-input-', unsafeCleanup: true });
    results = pooled(BAD_INPUTS, 4, (row, i) => refuse(root.path, row, i));
    // Surfaced by the rows themselves; here only so a rejection is never unhandled.
    results.catch(() => undefined);
  });
  afterAll(async () => {
    await results?.catch(() => undefined);
    await root?.cleanup();
  });

  it('has at least 110 rows, across every kind of input, with distinct names', () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(110);
    const kinds = new Set(BAD_INPUTS.map((r) => r.kind));
    for (const k of ['cli', 'env', 'matrix', 'grid', 'hosts', 'merge', 'repro']) expect(kinds, k).toContain(k);
    const names = BAD_INPUTS.map((r) => `${r.kind}: ${r.name}`);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    // The safety net: a run or compat row the CLI wrongly accepted prints a plan, never starts a VM.
    for (const r of BAD_INPUTS) if (r.args[0] === 'run' || r.args[0] === 'compat') expect(r.args.includes('--dry-run') || r.args.includes('--list'), r.name).toBe(true);
  });

  BAD_INPUTS.forEach((row, i) => {
    it(`${row.kind}: ${row.name}`, { timeout: 900_000 }, async () => {
      const r = (await results)[i]!;
      const where = `migtest ${row.args.join(' ')}${row.env ? ` (env ${JSON.stringify(row.env)})` : ''}\nexit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`;
      expect(r.code, where).toBe(row.code ?? 2);
      expect(row.stream === 'stdout' ? r.stdout : r.stderr, where).toMatch(row.want);
      for (const text of [r.stderr, r.stdout]) expect(text, where).not.toMatch(/\n\s+at .+:\d+:\d+\)?$/m);
      expect(r.stderr, where).not.toMatch(/an unexpected error/);
      expect(r.made, where).toEqual({ artifacts: [], home: [], beside: [] });
    });
  });
});

describe('a checkout without its npm dependencies', () => {
  it('says to run npm ci instead of printing a stack trace', async () => {
    const d = await tmpDir({ prefix: 'migtest-nodeps-', unsafeCleanup: true });
    try {
      mkdirSync(join(d.path, 'bin'));
      writeFileSync(join(d.path, 'bin/migtest.mjs'), readFileSync(join(repoRoot, 'bin/migtest.mjs')));
      const r = await execa(process.execPath, [join(d.path, 'bin/migtest.mjs'), 'run', 'precopy-basic'], { reject: false, env: { MIGTEST_QUIET: '1' } });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toBe(`migtest: the npm dependencies are not installed in ${d.path}; run \`npm ci\` there (or the README's set-up line, \`bash ci/setup.sh\`)`);
    } finally {
      await d.cleanup();
    }
  });
});
