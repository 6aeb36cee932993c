import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { ConfigError, MigtestError } from '../util/errors.js';
import { repoRoot } from '../util/paths.js';
import type { BisectResult } from './bisect.js';
import { stepsFile, testCheckout, type GitStepConfig, type RevisionStep } from './git-step.js';
import type { Build } from './order.js';
import { runStreaming } from './spawn.js';

const git = (dir: string, args: string[]) => execa('git', args, { cwd: dir, reject: false });

/** The two revisions as commits, and the tree ready for a bisect: checked before anything is built. */
export async function checkGitInputs(dir: string, good: string, bad: string): Promise<{ dir: string; good: string; bad: string }> {
  const full = resolve(dir);
  if (!existsSync(full) || !statSync(full).isDirectory()) throw new ConfigError('--git', `'${dir}' is not a directory`, 'a git work tree of QEMU sources');
  const top = await git(full, ['rev-parse', '--show-toplevel']);
  if (top.exitCode !== 0) throw new ConfigError('--git', `'${dir}' is not in a git work tree (${top.stderr.trim()})`, 'a git work tree of QEMU sources');
  const commit = async (field: string, rev: string) => {
    const r = await git(full, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    if (r.exitCode !== 0) throw new ConfigError(field, `'${rev}' is not a commit of ${full}`, 'a revision git rev-parse knows: a commit, tag or branch');
    return r.stdout.trim();
  };
  const g = await commit('--good', good);
  const b = await commit('--bad', bad);
  if (g === b) throw new ConfigError('--good/--bad', `both are commit ${g.slice(0, 12)}`, 'a good commit that is an ancestor of the bad one');
  if ((await git(full, ['merge-base', '--is-ancestor', g, b])).exitCode !== 0)
    throw new ConfigError('--good', `${good} (${g.slice(0, 12)}) is not an ancestor of --bad ${bad} (${b.slice(0, 12)})`, 'a good commit that is an ancestor of the bad one');
  const marker = (await git(full, ['rev-parse', '--git-path', 'BISECT_START'])).stdout.trim();
  if (existsSync(resolve(full, marker))) throw new ConfigError('--git', `a bisect is already in progress in ${full}`, 'a tree with no bisect in progress (finish it: git bisect reset)');
  return { dir: full, good: g, bad: b };
}

// By its place in the repository: the CLI runs bundled, where import.meta.url is the bundle's.
const gitStepScript = join(repoRoot, 'harness/bisect/git-step.mjs');

export interface GitBisectOptions {
  cfg: GitStepConfig;
  good: string;
  bad: string;
  line: (t: string) => void;
}

/**
 * `git bisect start BAD GOOD`, the endpoints tested first (good must pass, bad must fail), then
 * `git bisect run node git-step.mjs CONFIG` for the rest; `git bisect reset` always runs at
 * the end, after an error or an interruption too. Gives the same result shape as a bisect of
 * installed builds, the builds being revisions.
 */
export async function gitBisect(o: GitBisectOptions): Promise<BisectResult & { log: string; subjects: Record<string, string> }> {
  const { cfg, line } = o;
  const configFile = join(cfg.bisectDir, 'git-step.json');
  writeFileSync(configFile, `${JSON.stringify(cfg, null, 2)}\n`);
  const must = async (args: string[]) => {
    const r = await git(cfg.dir, args);
    if (r.exitCode !== 0) throw new MigtestError(`git ${args.join(' ')} failed in ${cfg.dir}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };
  const steps: RevisionStep[] = [];
  let started = false;
  try {
    await must(['bisect', 'start', o.bad, o.good]);
    started = true;
    const endpoint = async (sha: string, want: 'good' | 'bad') => {
      await must(['checkout', '-q', sha]);
      line(`[bisect] testing the ${want} endpoint ${sha.slice(0, 12)}`);
      const s = await testCheckout(cfg, line);
      steps.push(s);
      return s.result.verdict === want;
    };
    const result = (kind: BisectResult['kind'], extra: Partial<BisectResult> = {}) => ({ kind, steps: steps.map((s) => s.result), untested: [] as Build[], ...extra });
    const why = (s: RevisionStep) => s.result.attempts.find((a) => a.reason)?.reason;
    if (!(await endpoint(o.good, 'good')))
      return await finish(result('endpoint', { problem: `--good ${o.good.slice(0, 12)} is ${steps[0]!.result.verdict === 'skip' ? `untestable: ${why(steps[0]!)}` : 'bad: the scenario fails there'}; a bisect needs a revision where it passes` }), steps);
    if (!(await endpoint(o.bad, 'bad')))
      return await finish(result('endpoint', { problem: `--bad ${o.bad.slice(0, 12)} is ${steps[1]!.result.verdict === 'skip' ? `untestable: ${why(steps[1]!)}` : 'good: the scenario passes there'}; a bisect needs a revision where it fails` }), steps);
    // HEAD is the bad endpoint: marking it bad again makes git check out the first revision to test.
    const marked = await must(['bisect', 'bad']);
    let output = marked;
    if (!/is the first bad commit/.test(marked)) {
      line(`[bisect] git bisect run ${process.execPath} ${gitStepScript} ${configFile}`);
      const run = await runStreaming(['git', 'bisect', 'run', process.execPath, gitStepScript, configFile], { cwd: cfg.dir, line, logFile: join(cfg.bisectDir, 'git-bisect-run.log') });
      output = run.output.join('\n');
      if (existsSync(stepsFile(cfg.bisectDir)))
        for (const l of readFileSync(stepsFile(cfg.bisectDir), 'utf8').split('\n').filter(Boolean)) steps.push(JSON.parse(l) as RevisionStep);
      if (run.code !== 0 && !/is the first bad commit|could be any of/.test(output))
        throw new MigtestError(`git bisect run stopped (exit ${run.code}): ${run.output.filter((l) => l.trim()).slice(-3).join(' | ')}`);
    }
    const firstBad = /^([0-9a-f]{40}) is the first bad commit$/m.exec(output)?.[1];
    const anyOf = /could be any of:\n((?:[0-9a-f]{40}\n?)+)/.exec(output)?.[1]?.trim().split('\n');
    const bad = firstBad ?? (await must(['rev-parse', 'refs/bisect/bad'])).trim();
    const found = steps.find((s) => s.sha === bad);
    const lastGood = await newestGoodAncestor(cfg.dir, steps, bad);
    const stub = (sha: string): Build => ({ label: sha.slice(0, 12), version: '', spec: '', path: '', source: 'build' });
    return await finish(
      result(firstBad ? 'found' : 'range', {
        firstBad: found?.result,
        lastGood: lastGood?.result,
        untested: firstBad ? [] : (anyOf ?? []).filter((s) => s !== bad).map(stub),
      }),
      steps,
    );
  } finally {
    if (started) {
      const r = await git(cfg.dir, ['bisect', 'reset']);
      line(r.exitCode === 0 ? `[bisect] git bisect reset: ${cfg.dir} is back where it was` : `[bisect] git bisect reset failed in ${cfg.dir}: ${r.stderr.trim()} (run it yourself)`);
    }
  }

  async function finish(r: BisectResult, all: RevisionStep[]) {
    const log = (await git(cfg.dir, ['bisect', 'log'])).stdout;
    writeFileSync(join(cfg.bisectDir, 'git-bisect-log.txt'), log);
    const subjects: Record<string, string> = {};
    for (const s of all) subjects[s.result.build.label] = (await git(cfg.dir, ['log', '-1', '--format=%s', s.sha])).stdout.trim();
    return { ...r, log, subjects };
  }
}

/** Of the revisions tested good, the newest that is an ancestor of the first bad one. */
async function newestGoodAncestor(dir: string, steps: RevisionStep[], bad: string): Promise<RevisionStep | undefined> {
  let best: { s: RevisionStep; n: number } | undefined;
  for (const s of steps.filter((x) => x.result.verdict === 'good')) {
    if ((await git(dir, ['merge-base', '--is-ancestor', s.sha, bad])).exitCode !== 0) continue;
    const n = Number((await git(dir, ['rev-list', '--count', s.sha])).stdout.trim());
    if (!best || n > best.n) best = { s, n };
  }
  return best?.s;
}

