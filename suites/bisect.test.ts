import { execa } from 'execa';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { listBinaries, repoRoot, scenario } from '../harness/index.js';

const MIGTEST = join(repoRoot, 'bin/migtest.mjs');

/**
 * `migtest bisect --git` for real: a small git tree whose commits name one of two installed
 * QEMU builds (11.1 up to commit 3, then 7.2), "built" by linking the named binary. The
 * scenario is a real red/green: a destination on 7.2 lacks the default QEMU's machine type.
 * The bisect must name commit 4 first bad and commit 3 last good, each with its run's artifacts.
 */
describe('bisect', () => {
  scenario('git bisect over a tree whose commits switch QEMU builds: first bad commit found', { suite: 'bisect', arch: 'x86_64', oneHost: 'bisects builds installed on this machine' }, async (ctx) => {
    const bins = await listBinaries(true);
    const pick = (v: string) => bins.find((b) => b.arch === 'x86_64' && b.version.startsWith(`${v}.`) && b.source === 'cache');
    const good = pick('11.1');
    const bad = pick('7.2');
    if (!good || !bad) return ctx.skip(`QEMU ${good ? '7.2' : '11.1'} for x86_64 is not fetched (run: migtest qemu fetch 7.2 11.1)`);

    const tree = join(ctx.artifacts.path, 'qemu-tree');
    mkdirSync(tree);
    const git = (...args: string[]) => execa('git', ['-c', 'user.email=migtest@localhost', '-c', 'user.name=migtest', ...args], { cwd: tree });
    await git('init', '-q', '-b', 'main');
    writeFileSync(join(tree, '.gitignore'), 'build/\n');
    const shas: string[] = [];
    for (let i = 1; i <= 5; i++) {
      writeFileSync(join(tree, 'qemu-path'), `${(i <= 3 ? good : bad).path}\n`);
      writeFileSync(join(tree, 'VERSION'), `${i}\n`);
      await git('add', '-A');
      await git('commit', '-q', '-m', `commit ${i}`);
      shas.push((await git('rev-parse', 'HEAD')).stdout.trim());
    }

    // The child is a whole migtest run of its own: not this run's directory nor vitest's worker state.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'MIGTEST_RUN_DIR'));
    const out = await execa(process.execPath, [
      MIGTEST, 'bisect', 'precopy-basic', '-t', 'over tcp', '--arch', 'x86_64', '--side', 'destination',
      '--git', tree, '--good', shas[0]!, '--bad', 'main',
      '--build', 'mkdir -p build && ln -sf "$(cat qemu-path)" build/qemu-system-x86_64',
    ], { cwd: repoRoot, env: { ...env, MIGTEST_ARTIFACTS: ctx.artifacts.path }, extendEnv: false, reject: false, all: true });
    ctx.artifacts.append('bisect.txt', out.all ?? '');
    expect(out.exitCode, out.all).toBe(0);

    const dir = readdirSync(ctx.artifacts.path).find((d) => d.startsWith('bisect-'));
    const report = JSON.parse(readFileSync(join(ctx.artifacts.path, dir!, 'bisect.json'), 'utf8')) as {
      result: { kind: string; firstBad: { build: { label: string }; attempts: { artifacts: string; reason?: string }[] }; lastGood: { build: { label: string } } };
    };
    expect(report.result.kind).toBe('found');
    expect(shas[3]!.startsWith(report.result.firstBad.build.label)).toBe(true);
    expect(shas[2]!.startsWith(report.result.lastGood.build.label)).toBe(true);
    expect(report.result.firstBad.attempts[0]!.reason).toMatch(/unsupported machine type/);
    // The tree is left as it was.
    expect((await git('rev-parse', 'HEAD')).stdout.trim()).toBe(shas[4]);
    return { extra: { firstBad: report.result.firstBad.build.label, steps: (report.result as unknown as { steps: number }).steps } };
  });
});
