import { describe, expect } from 'vitest';
import { ARCH_DEFAULTS, caseRow, listBinaries, probeBinary, runAccel, runCase, scenario, testArches } from '../harness/index.js';

// The catalog's second QEMU (Debian bookworm's 7.2, placed by `migtest qemu fetch 7.2`)
// really runs from its own directory with its own firmware, and its probe matches its age.
describe.each(testArches())('qemu-versions %s', (arch) => {
  scenario('QEMU 7.2 from the cache: probe and live precopy', { suite: 'qemu-versions', arch, oneHost: 'probes QEMU builds on this machine (cross-version and compat run across hosts)' }, async (ctx) => {
    const bin = (await listBinaries(true)).find((b) => b.arch === arch && b.version.startsWith('7.2.'));
    if (!bin) return ctx.skip(`QEMU 7.2 for ${arch} is not fetched (run: migtest qemu fetch 7.2)`);
    const probe = await probeBinary(bin);
    ctx.artifacts.writeJson('probe.json', probe);
    expect(probe.oob).toBe(true);
    expect(probe.capabilities).toContain('postcopy-ram');
    // switchover-ack came in 8.1, mapped-ram in 9.0: a 7.2 binary must not claim them.
    expect(probe.capabilities).not.toContain('switchover-ack');
    expect(probe.capabilities).not.toContain('mapped-ram');
    const report = await runCase(ctx, { id: '7.2 precopy', arch, source: { binary: bin }, workload: false });
    expect(report.run.src.qmp.version).toMatchObject({ major: 7, minor: 2 });
    expect(report.migration!.status).toBe('completed');
    return { ...caseRow(report), extra: { qemu: bin.version } };
  });

  // A developer's "my build on the source, the release on the destination": the source named
  // by its binary's path, only the source. The destination (the system QEMU) takes the
  // source's versioned machine type, so the pair agrees on it; liveness and RAM are checked.
  scenario('a source QEMU named by path, on one side only: the destination takes its versioned machine type', { suite: 'qemu-versions', arch, oneHost: 'probes QEMU builds on this machine (cross-version and compat run across hosts)' }, async (ctx) => {
    const bins = (await listBinaries(true)).filter((b) => b.arch === arch);
    const older = bins.find((b) => b.source === 'cache' && b.version.startsWith('7.2.'));
    const system = bins.find((b) => b.source === 'system');
    if (!older || !system) return ctx.skip(`QEMU 7.2 for ${arch} is not fetched (run: migtest qemu fetch 7.2)`);
    if (arch === 'aarch64' && (await runAccel(system)).accel === 'tcg')
      return ctx.skip(`aarch64 under TCG: ${older.version} -> ${system.version} is refused by the destination's CPU register list (see cross-version); a path run needs a pair that migrates`);
    const report = await runCase(ctx, { id: 'source by path', arch, source: { qemu: older.path }, destination: { qemu: 'system' } });
    const machineOf = (argv: readonly string[]) => argv[argv.indexOf('-machine') + 1]!.split(',')[0];
    const family = ARCH_DEFAULTS[arch].machine;
    expect(report.run.src.binary).toMatchObject({ source: 'path', path: older.path });
    expect(report.run.dst.binary.path).toBe(system.path);
    expect(machineOf(report.run.src.argv)).toBe(family);
    // Its versioned name spelled out, not looked up the way the builder does: pc-q35-7.2, virt-7.2.
    const minor = older.version.split('.').slice(0, 2).join('.');
    expect(machineOf(report.run.dst.argv)).toBe(`${family === 'q35' ? 'pc-q35' : 'virt'}-${minor}`);
    expect(report.ram?.pages ?? 0).toBeGreaterThan(0);
    return caseRow(report);
  });
});
