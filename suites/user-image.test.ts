import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect } from 'vitest';
import { buildImage, findImage, repoRoot, runConfig, scenario, SnapshotCache, testArches, userDiskFormat, VmBuilder } from '../harness/index.js';

const MIGTEST = join(repoRoot, 'bin/migtest.mjs');

const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Every file named `name` below `dir`. */
const findAll = (dir: string, name: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? findAll(p, name) : n === name ? [p] : [];
  });

/**
 * `--image FILE`: a guest disk of the user's own, in the user's own folder, run as a user runs
 * it (`migtest run ... --image FILE --arch A`, a whole run of its own). The disk is made here
 * as a user would copy a prepared guest (qemu-img convert of the system image's disk, outside
 * migtest's cache); the run must check its contract before migrating, migrate it and never
 * write the file.
 */
describe.each(testArches())('user-image %s', (arch) => {
  // With the heartbeat installed (as the system image's units do), and without it: --liveness
  // agent adds no heartbeat port, so the guest's unit never starts and only the agent answers.
  for (const liveness of ['heartbeat', 'agent'] as const)
    scenario(
      liveness === 'heartbeat'
        ? "a disk image of the user's own, passed with --image: contract checked, migrated, the file never written"
        : "a disk image of the user's own without the heartbeat (--liveness agent): liveness from the agent, its resolution in the row",
      { suite: 'user-image', arch, oneHost: 'a whole run of its own on this machine (two-hosts runs a user\'s image across hosts)' },
      async (ctx) => {
        const system = findImage(arch, 'system') ?? (await buildImage(arch, { name: 'system' }));
        const mine = join(ctx.artifacts.path, 'my-guest.qcow2');
        await execa('qemu-img', ['convert', '-O', 'qcow2', system.rootDisk, mine]);
        const before = { digest: digest(mine), mtimeMs: statSync(mine).mtimeMs };

        // The child is a whole migtest run of its own: not this run's directory nor vitest's worker state.
        const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !['MIGTEST_RUN_DIR', 'MIGTEST_IMAGE', 'MIGTEST_LIVENESS'].includes(k)));
        const results = join(ctx.artifacts.path, 'child-results.json');
        // With the heartbeat, twice: the second pair's source starts from the first one's snapshot (RAM and disk).
        const repeat = liveness === 'heartbeat' ? 2 : 1;
        const snapshots = runConfig().snapshotStart;
        const out = await execa(process.execPath, [MIGTEST, 'run', 'precopy-basic', '-t', 'over tcp', '--image', mine, '--arch', arch, '--liveness', liveness, '--repeat', String(repeat), '--results', results], {
          cwd: repoRoot, env: { ...env, MIGTEST_ARTIFACTS: ctx.artifacts.path }, extendEnv: false, reject: false, all: true,
        });
        ctx.artifacts.append('child.txt', out.all ?? '');
        expect(out.exitCode, out.all?.slice(-3000)).toBe(0);
        const rows = (JSON.parse(readFileSync(results, 'utf8')) as { results: Array<{ outcome: string; scenario: string; guestDowntimeMs?: number; guestDowntimeResolutionMs?: number }> }).results;
        expect(rows.map((r) => r.outcome)).toEqual(Array(repeat).fill('passed'));
        // From the agent, the row says how coarse its guest downtime is; from the heartbeat, nothing.
        const row = rows[0]!;
        expect(row.guestDowntimeMs).toBeGreaterThan(0);
        if (liveness === 'agent') expect(row.guestDowntimeResolutionMs).toBeGreaterThan(0);
        else expect(row.guestDowntimeResolutionMs).toBeUndefined();

        // The contract was checked on the source before the migration, and the guest meets it.
        const reports = findAll(ctx.artifacts.path, 'src.contract.json').map((f) => JSON.parse(readFileSync(f, 'utf8')) as { image: string; exec: boolean; missing: unknown[] });
        expect(reports.length).toBeGreaterThan(0);
        for (const r of reports) expect(r).toEqual({ image: mine, exec: true, missing: [] });
        // The pair booted one overlay of it, its own (shared storage): the user's file is as it was.
        const drives = ['src', 'dst'].flatMap((side) => findAll(ctx.artifacts.path, `${side}.argv.json`).map((f) => [...new Set(readFileSync(f, 'utf8').match(/root-overlay[-\w]*\.qcow2/g))]));
        expect(drives).toEqual(Array(2 * repeat).fill(['root-overlay-1.qcow2']));
        // The first source booted and saved its RAM and its overlay; the second was given that overlay and restored.
        const starts = findAll(ctx.artifacts.path, 'src.start.json').map((f) => JSON.parse(readFileSync(f, 'utf8')) as { booted?: boolean; restoredFrom?: string; disksFrom?: string[] });
        if (repeat === 2 && snapshots) expect(starts.map((s) => (s.restoredFrom ? `restored, disk ${s.disksFrom?.length}` : s.booted ? 'booted' : 'other')).sort()).toEqual(['booted', 'restored, disk 1']);
        expect({ digest: digest(mine), mtimeMs: statSync(mine).mtimeMs }).toEqual(before);
        // Snapshots of a file made for this test are of no use to anyone after it.
        for (const s of starts as Array<{ key?: string }>) if (s.key) new SnapshotCache().drop(s.key);
        return { guestDowntimeMs: row.guestDowntimeMs, guestDowntimeResolutionMs: row.guestDowntimeResolutionMs, extra: { image: mine, contract: 'met', liveness, repeat } };
      },
    );

  // A user's guest writes to its root while it boots; a restored source must get that disk with
  // its RAM, not a fresh overlay. The test image mounts its root read-only (so its boot writes
  // nothing), so the saved disk is marked here in its unpartitioned last MiB, where the guest
  // then must read it.
  scenario("snapshot start of a user's image: a later source gets the saved guest's disk with its RAM", { suite: 'user-image', arch, oneHost: "the snapshot cache is this machine's" }, async (ctx) => {
    if (!runConfig().snapshotStart) return ctx.skip('snapshot start is off in this run (--fresh-boot)');
    const system = findImage(arch, 'system') ?? (await buildImage(arch, { name: 'system' }));
    const mine = join(ctx.artifacts.path, 'my-guest.qcow2');
    await execa('qemu-img', ['convert', '-O', 'qcow2', system.rootDisk, mine]);
    const before = { digest: digest(mine), mtimeMs: statSync(mine).mtimeMs };
    const image = { kernel: '', initrd: '', rootDisk: mine, rootFormat: 'qcow2' as const, boot: 'firmware' as const, user: true };
    const first = await ctx.vms.start(new VmBuilder('first', arch).withImage(image));
    await first.waitReady();
    await first.stop();
    const saved = JSON.parse(readFileSync(join(ctx.artifacts.path, 'first.start.json'), 'utf8')) as { key: string; savesSnapshot?: boolean };
    expect(saved.savesSnapshot).toBe(true);
    expect(first.startMode).toBe('booted+saved');
    const disk = new SnapshotCache().diskFile(saved.key, 'root');
    const at = (await userDiskFormat(mine)).virtualSize - 1024 * 1024;
    await execa('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x6d ${at} 4k`, disk]);

    const second = await ctx.vms.start(new VmBuilder('second', arch).withImage(image));
    await second.waitReady();
    expect(second.startMode).toBe('restored');
    // From the device, not the guest's page cache.
    const read = await (await second.agent()).sh(`sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=4096 skip=${at / 4096} count=1 2>/dev/null | od -An -tx1 -v | tr -s ' \\n' '\\n\\n' | sort -u`);
    expect(read.stdout.trim().split('\n')).toEqual(['6d']);
    // Each source its own overlay, the user's file as it was.
    expect([first, second].map((vm) => basename(vm.spec.disks[0]!.file))).toEqual(['root-overlay-1.qcow2', 'root-overlay-2.qcow2']);
    expect({ digest: digest(mine), mtimeMs: statSync(mine).mtimeMs }).toEqual(before);
    new SnapshotCache().drop(saved.key);
    return { extra: { image: mine, modes: ['booted+saved', 'restored'], marker: 'read back' } };
  });
});
