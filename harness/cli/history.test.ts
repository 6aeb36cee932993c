import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metadata, night, row, tmpDir, writeRun } from '../history/fixtures.js';
import { repoRoot } from '../util/paths.js';

const migtest = (args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/migtest.mjs'), ...args], { cwd: repoRoot, reject: false, env: { MIGTEST_QUIET: '1' } });

describe('migtest history', () => {
  it('ingest says what it added and what it knew; regressions exits 1 on a worse figure, with --json for machines; bad input exits 2', async () => {
    const root = tmpDir();
    for (let i = 0; i < 13; i++)
      writeRun(root, metadata(night(i), { binary: '/qemu/build/qemu-system-x86_64', qemu: i >= 10 ? '11.2.0' : '11.1.3' }), [row('plain', { qemuDowntimeMs: (i >= 10 ? 80 : 50) + (i % 3) }), row('racy', i === 4 ? { outcome: 'failed', error: 'boom' } : {})]);
    const db = join(root, 'h.sqlite');
    const first = await migtest(['history', 'ingest', join(root, 'run-2026-01-01T02-00-00-000Z'), '--db', db]);
    expect(first.stdout).toBe(`ingested 1 run (0 already known), 2 new rows into ${db}`);
    expect((await migtest(['history', 'ingest', root, '--db', db])).stdout).toBe(`ingested 13 runs (1 already known), 24 new rows into ${db}`);

    const reg = await migtest(['history', 'regressions', '--db', db, '--json']);
    expect(reg.exitCode).toBe(1);
    const found = JSON.parse(reg.stdout) as { findings: Array<{ scenario: string; figure: string; firstMovedRun: { startedAt: string; qemu: string } }> };
    expect(found.findings.map((f) => [f.scenario, f.figure, f.firstMovedRun.startedAt, f.firstMovedRun.qemu])).toEqual([['plain', 'qemuDowntimeMs', night(10), '11.2.0->11.2.0']]);

    const flakes = await migtest(['history', 'flakes', '--db', db]);
    expect(flakes.exitCode).toBe(0);
    expect(flakes.stdout).toMatch(/precopy-basic: racy .* 11.1.3->11.1.3 +9\/10 +90%/);
    expect(flakes.stdout).toMatch(/1 flaky of 4 scenario inputs over their last 20 runs$/);

    writeFileSync(join(root, 'bad.json'), JSON.stringify({ results: [{ suite: 's', scenario: 'x', outcome: 'ok' }] }));
    const bad = await migtest(['history', 'ingest', join(root, 'bad.json'), '--db', db]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`invalid ${join(root, 'bad.json')}: results[0].outcome: "ok"; allowed: passed, failed, skipped`);
    expect((await migtest(['history', 'regressions', '--window', 'three', '--db', db])).exitCode).toBe(2);
    expect((await migtest(['history', 'show', '--scenario', 'nope', '--db', db])).exitCode).toBe(2);
  }, 120_000);
});
