import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../util/paths.js';
import { checkGitInputs, gitBisect } from './git.js';
import type { GitStepConfig } from './git-step.js';

/**
 * A bisect of a git tree, with no QEMU anywhere: the tree's commits hold `qemu-path`, naming
 * one of two fake "binaries" (a file saying good or bad); --build copies it to
 * build/qemu-system-x86_64; a fake program stands in for bin/migtest.mjs (the real step's
 * arguments, a results.json with one row, passed on good and failed on bad).
 */
const root = mkdtempSync(join(tmpdir(), 'migtest-bisect-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FAKE_MIGTEST = `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const a = process.argv.slice(2);
const val = (f) => (a.includes(f) ? a[a.indexOf(f) + 1] : undefined);
appendFileSync(process.env.FAKE_LOG, JSON.stringify(a) + '\\n');
if (a.includes('--list')) { console.log(a[1] + ' x86_64 > ' + (process.env.FAKE_NAMES ?? 'the scenario')); process.exit(0); }
const qemu = val('--qemu') ?? val('--src-qemu') ?? val('--dst-qemu');
const kind = readFileSync(qemu, 'utf8').trim();
console.log('fake run of ' + a[1] + ' on ' + qemu + ': ' + kind);
const row = (scenario) => ({ suite: a[1], scenario, arch: val('--arch'), outcome: kind === 'good' ? 'passed' : 'failed', wallMs: 1, artifacts: a[1] + '/x86_64/' + scenario, error: kind === 'good' ? undefined : 'fake failure' });
const rows = process.env.FAKE_ROWS === '2' ? [row('one'), row('two')] : [row('the scenario')];
writeFileSync(val('--results'), JSON.stringify({ runDir: process.env.MIGTEST_RUN_DIR, results: rows }));
process.exit(kind === 'good' ? 0 : 1);
`;

let n = 0;
/** A git tree whose commit i (1-based) names the good binary up to `lastGood`, then the bad one; `broken` commits name a missing file (their build fails). */
async function makeTree(commits: number, lastGood: number, broken: number[] = []) {
  const dir = join(root, `t${++n}`);
  const tree = join(dir, 'qemu');
  mkdirSync(tree, { recursive: true });
  writeFileSync(join(dir, 'good-qemu'), 'good\n');
  writeFileSync(join(dir, 'bad-qemu'), 'bad\n');
  writeFileSync(join(dir, 'fake-migtest.mjs'), FAKE_MIGTEST);
  const git = (...args: string[]) => execa('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: tree });
  await git('init', '-q', '-b', 'main');
  writeFileSync(join(tree, '.gitignore'), 'build/\n');
  const shas: string[] = [];
  for (let i = 1; i <= commits; i++) {
    writeFileSync(join(tree, 'qemu-path'), broken.includes(i) ? join(dir, 'missing') : join(dir, i <= lastGood ? 'good-qemu' : 'bad-qemu'));
    writeFileSync(join(tree, 'version'), `${i}\n`);
    await git('add', '-A');
    await git('commit', '-q', '-m', `commit ${i}`);
    shas.push((await git('rev-parse', 'HEAD')).stdout.trim());
  }
  const bisectDir = join(dir, 'bisect');
  mkdirSync(bisectDir);
  const cfg: GitStepConfig = {
    suite: 'precopy-basic', pattern: 'the scenario', arch: 'x86_64', side: 'both', repeat: 1,
    dir: tree, build: 'mkdir -p build && cp "$(cat qemu-path)" build/qemu-system-x86_64', binary: 'build/qemu-system-x86_64',
    bisectDir, program: join(dir, 'fake-migtest.mjs'),
  };
  process.env.FAKE_LOG = join(dir, 'calls.jsonl');
  const calls = () => (existsSync(join(dir, 'calls.jsonl')) ? readFileSync(join(dir, 'calls.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []);
  /** The tree is back on main with no bisect going. */
  const isReset = async () => (await git('rev-parse', '--abbrev-ref', 'HEAD')).stdout.trim() === 'main' && !existsSync(join(tree, '.git', 'BISECT_START'));
  return { dir, tree, shas, cfg, calls, isReset };
}

const quiet = () => undefined;

describe('bisect --git: git bisect over a tree, with a fake step', () => {
  it('finds the first bad commit, tests the endpoints first, and resets the tree', async () => {
    const t = await makeTree(8, 5);
    const r = await gitBisect({ cfg: t.cfg, good: t.shas[0]!, bad: t.shas[7]!, line: quiet });
    expect(r.kind).toBe('found');
    expect(r.firstBad!.build.label).toBe(t.shas[5]!.slice(0, 12));
    expect(r.lastGood!.build.label).toBe(t.shas[4]!.slice(0, 12));
    expect(r.steps.slice(0, 2).map((s) => [s.build.label, s.verdict])).toEqual([[t.shas[0]!.slice(0, 12), 'good'], [t.shas[7]!.slice(0, 12), 'bad']]);
    expect(r.subjects[t.shas[5]!.slice(0, 12)]).toBe('commit 6');
    // The real step's arguments, the built binary as --qemu, an argv (the scenario's spaces intact).
    const run = t.calls().find((c) => c[0] === 'run')!;
    expect(run).toEqual(['run', 'precopy-basic', '-t', 'the scenario', '--qemu', join(t.tree, 'build/qemu-system-x86_64'), '--arch', 'x86_64', '--results', expect.stringMatching(/results\.json$/)]);
    // Each step's run directory holds its results.json; the first bad one's artifacts point into it.
    expect(r.firstBad!.attempts[0]!.artifacts).toMatch(new RegExp(`^${t.cfg.bisectDir}/.*/precopy-basic/x86_64/the scenario$`));
    expect(readdirSync(t.cfg.bisectDir)).toEqual(expect.arrayContaining(['git-step.json', 'git-bisect-log.txt', `build-${t.shas[0]!.slice(0, 12)}.log`]));
    expect(await t.isReset()).toBe(true);
  }, 120_000);

  it('adjacent endpoints: no git bisect run needed', async () => {
    const t = await makeTree(2, 1);
    const r = await gitBisect({ cfg: t.cfg, good: t.shas[0]!, bad: t.shas[1]!, line: quiet });
    expect(r).toMatchObject({ kind: 'found', firstBad: { build: { label: t.shas[1]!.slice(0, 12) } }, lastGood: { build: { label: t.shas[0]!.slice(0, 12) } } });
    expect(await t.isReset()).toBe(true);
  }, 60_000);

  it('a build failure is a skip (125); one next to the boundary leaves a range', async () => {
    const t = await makeTree(6, 3, [4]);
    const r = await gitBisect({ cfg: t.cfg, good: t.shas[0]!, bad: t.shas[5]!, line: quiet });
    expect(r.kind).toBe('range');
    expect(r.firstBad!.build.label).toBe(t.shas[4]!.slice(0, 12));
    expect(r.untested.map((b) => b.label)).toEqual([t.shas[3]!.slice(0, 12)]);
    expect(r.steps.find((s) => s.verdict === 'skip')!.attempts[0]!.reason).toMatch(/^the build failed \(exit 1\); its log: /);
    expect(await t.isReset()).toBe(true);
  }, 120_000);

  it('stops when the good endpoint fails, and resets the tree', async () => {
    const t = await makeTree(4, 0);
    const r = await gitBisect({ cfg: t.cfg, good: t.shas[0]!, bad: t.shas[3]!, line: quiet });
    expect(r.kind).toBe('endpoint');
    expect(r.problem).toMatch(/^--good [0-9a-f]{12} is bad: the scenario fails there/);
    expect(await t.isReset()).toBe(true);
  }, 60_000);

  it('a pattern selecting two scenarios stops the bisect with an error; the tree is reset all the same', async () => {
    const t = await makeTree(4, 2);
    process.env.FAKE_ROWS = '2';
    try {
      await expect(gitBisect({ cfg: t.cfg, good: t.shas[0]!, bad: t.shas[3]!, line: quiet })).rejects.toThrow(/selects 2 scenarios of precopy-basic on x86_64: 'one', 'two'/);
    } finally {
      delete process.env.FAKE_ROWS;
    }
    expect(await t.isReset()).toBe(true);
  }, 60_000);

  it('refuses revisions that are not commits, a good one that is not an ancestor, a bisect in progress', async () => {
    const t = await makeTree(3, 1);
    await expect(checkGitInputs(t.tree, 'nope', t.shas[2]!)).rejects.toThrow(/invalid --good: 'nope' is not a commit/);
    await expect(checkGitInputs(t.tree, t.shas[2]!, t.shas[0]!)).rejects.toThrow(/invalid --good: .* is not an ancestor of --bad/);
    await expect(checkGitInputs(t.tree, 'main', t.shas[2]!)).rejects.toThrow(/invalid --good\/--bad: both are commit/);
    await expect(checkGitInputs(t.dir, t.shas[0]!, t.shas[2]!)).rejects.toThrow(/invalid --git: .* is not in a git work tree/);
    await execa('git', ['bisect', 'start'], { cwd: t.tree });
    await expect(checkGitInputs(t.tree, t.shas[0]!, t.shas[2]!)).rejects.toThrow(/invalid --git: a bisect is already in progress/);
    await execa('git', ['bisect', 'reset'], { cwd: t.tree });
  }, 60_000);

  it('migtest bisect --git from the command line: exit 0, the first bad commit on stdout, bad input exit 2 with nothing made', async () => {
    const t = await makeTree(4, 2);
    const artifacts = join(t.dir, 'artifacts');
    const env = { MIGTEST_ARTIFACTS: artifacts, MIGTEST_BISECT_STEP_CMD: t.cfg.program!, FAKE_LOG: join(t.dir, 'calls.jsonl') };
    const cli = (...args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), 'bisect', ...args], { cwd: t.dir, reject: false, env });
    const r = await cli('precopy-basic', '-t', 'the scenario', '--good', t.shas[0]!, '--bad', t.shas[3]!, '--git', t.tree, '--build', t.cfg.build);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`first bad: ${t.shas[2]!.slice(0, 12)} (0 passed, 1 failed)`);
    expect(r.stdout).toContain(`last good: ${t.shas[1]!.slice(0, 12)} (1 passed, 0 failed)`);
    expect(r.stdout).toMatch(/bisect: .*bisect-.*\/bisect\.json/);
    expect(r.stderr).toMatch(/\[[0-9a-f]{12}\] fake run of precopy-basic on /);
    expect(await t.isReset()).toBe(true);
    const made = readdirSync(artifacts);
    const bad = [
      ['precopy-basic', '-t', 'x', '--good', 'a', '--bad', 'b', '--build', 'make'],
      ['precopy-basic', '-t', 'x', '--good', t.shas[0]!, '--bad', t.shas[0]!, '--git', t.tree, '--build', 'make'],
      ['precopy-basic', '-t', 'x', '--good', t.shas[0]!, '--bad', t.shas[3]!, '--git', t.tree],
      ['precopy-basic', '-t', 'x', '--good', t.shas[0]!, '--bad', t.shas[3]!, '--git', t.tree, '--build', 'make', '--repeat', '0'],
      ['precopy-basic', '-t', 'x', '--good', t.shas[0]!, '--bad', t.shas[3]!, '--git', t.tree, '--build', 'make', '--side', 'left'],
      ['no-such-suite', '-t', 'x', '--good', t.shas[0]!, '--bad', t.shas[3]!, '--git', t.tree, '--build', 'make'],
      ['precopy-basic', '--good', t.shas[0]!, '--bad', t.shas[3]!, '--git', t.tree, '--build', 'make'],
    ];
    for (const args of bad) {
      const x = await cli(...args);
      expect(x.exitCode, `${args.join(' ')}: ${x.stderr}`).toBe(2);
      expect(x.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(artifacts)).toEqual(made);
  }, 180_000);
});
