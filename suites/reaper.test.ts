import { execa } from 'execa';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { DEADLINES, isAlive, pollUntil, repoRoot, scenario, type ScenarioContext } from '../harness/index.js';

const MIGTEST = join(repoRoot, 'bin/migtest.mjs');

/** Starts the orphan runner, waits until its migration is active, SIGKILLs it; returns the QEMU pids. */
async function killRunnerMidMigration(ctx: ScenarioContext, env: Record<string, string>, mode = 'precopy') {
  const artifacts = ctx.artifacts.path;
  // Whatever the test's verdict, nothing the runner left may survive it: its groups are in
  // a private registry (MIGTEST_STATE) that only a reap with the same state directory sees.
  ctx.track({ stop: () => execa(process.execPath, [MIGTEST, 'reap'], { env, reject: false }) });
  const child = execa(process.execPath, ['--import', 'tsx', join(repoRoot, 'suites/helpers/orphan-runner.ts'), 'x86_64', artifacts, mode], {
    cwd: repoRoot,
    env,
    reject: false,
    stderr: 'inherit',
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const pids = await pollUntil('orphan runner to report an active migration', DEADLINES.orphan, () => {
    const m = /ACTIVE (\{.*\})/.exec(out);
    return {
      done: !!m || child.exitCode !== null,
      value: m ? (JSON.parse(m[1]!) as { src: number; dst: number; namespaces?: string[] }) : undefined,
      state: out || '(no output)',
    };
  });
  if (!pids) throw new Error(`orphan runner exited early: ${out}`);
  child.kill('SIGKILL');
  await child;
  return pids;
}

describe('reaper', () => {
  scenario('runner SIGKILLed mid-migration: the next run reports and removes its QEMUs', { suite: 'reaper', arch: 'x86_64', oneHost: 'SIGKILLs a runner on this machine (two-hosts covers reaping remote hosts)' }, async (ctx) => {
    const state = mkdtempSync('/tmp/migtest-reaper-state-');
    const env = { MIGTEST_STATE: state, MIGTEST_NO_WATCHDOG: '1' };
    const pids = await killRunnerMidMigration(ctx, env);
    // Without the watchdog nothing cleaned up: both QEMUs are orphans now.
    expect(isAlive(pids.src)).toBe(true);
    expect(isAlive(pids.dst)).toBe(true);
    const next = await execa(process.execPath, [MIGTEST, 'reap'], { env });
    ctx.artifacts.append('reap.txt', next.stdout);
    expect(next.stdout).toContain(`pgid ${pids.src}`);
    expect(next.stdout).toContain(`pgid ${pids.dst}`);
    await pollUntil('orphaned QEMUs to be gone', DEADLINES.killed, () => ({
      done: !isAlive(pids.src) && !isAlive(pids.dst),
      state: { src: isAlive(pids.src), dst: isAlive(pids.dst) },
    }));
    // And a second run finds nothing left.
    expect((await execa(process.execPath, [MIGTEST, 'reap'], { env })).stdout).toContain('nothing left behind');
  });

  scenario('runner SIGKILLed mid-migration: the watchdog removes its QEMUs and the next run reports it', { suite: 'reaper', arch: 'x86_64', oneHost: 'SIGKILLs a runner on this machine (two-hosts covers reaping remote hosts)' }, async (ctx) => {
    const state = mkdtempSync('/tmp/migtest-reaper-state-');
    const env = { MIGTEST_STATE: state };
    const pids = await killRunnerMidMigration(ctx, env);
    await pollUntil('the watchdog to kill the orphaned QEMUs', DEADLINES.watchdog, () => ({
      done: !isAlive(pids.src) && !isAlive(pids.dst),
      state: { src: isAlive(pids.src), dst: isAlive(pids.dst) },
    }));
    const next = await execa(process.execPath, [MIGTEST, 'reap'], { env });
    ctx.artifacts.append('reap.txt', next.stdout);
    expect(next.stdout).toMatch(new RegExp(`watchdog killed src \\(pgid ${pids.src}`));
    expect(next.stdout).toMatch(new RegExp(`watchdog killed dst \\(pgid ${pids.dst}`));
  });

  scenario('runner SIGKILLed with its pair paused in postcopy, in namespaces: the next run removes all of it', { suite: 'reaper', arch: 'x86_64', oneHost: 'SIGKILLs a runner on this machine (two-hosts covers reaping remote hosts)' }, async (ctx) => {
    const state = mkdtempSync('/tmp/migtest-reaper-state-');
    const env = { MIGTEST_STATE: state, MIGTEST_NO_WATCHDOG: '1' };
    const left = await killRunnerMidMigration(ctx, env, 'postcopy-paused');
    expect(isAlive(left.src) && isAlive(left.dst)).toBe(true);
    for (const ns of left.namespaces!) expect(existsSync(`/run/netns/${ns}`)).toBe(true);
    const next = await execa(process.execPath, [MIGTEST, 'reap'], { env });
    ctx.artifacts.append('reap.txt', next.stdout);
    expect(next.stdout).toContain(`pgid ${left.dst}`);
    for (const ns of left.namespaces!) expect(next.stdout).toContain(`network namespace ${ns}`);
    await pollUntil('the paused QEMUs to be gone', DEADLINES.killed, () => ({
      done: !isAlive(left.src) && !isAlive(left.dst),
      state: { src: isAlive(left.src), dst: isAlive(left.dst) },
    }));
    for (const ns of left.namespaces!) expect(existsSync(`/run/netns/${ns}`)).toBe(false);
  });
});
