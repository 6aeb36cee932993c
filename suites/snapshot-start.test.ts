import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { caseRow, DEFAULT_WORKLOAD, RamWorkload, runCase, runConfig, scenario, SnapshotCache, snapshotKey, testArches, VmBuilder } from '../harness/index.js';

// Snapshot start: the first boot of a configuration saves the ready guest, later starts
// restore it. A restored guest must be as good as a booted one: its heartbeat continues
// where the saved guest's stopped, its agent answers, the RAM workload runs and checks,
// and it migrates. A configuration that differs in its argv boots.
describe.each(testArches())('snapshot-start %s', (arch) => {
  // A memory size no other suite uses: this configuration's snapshot is this suite's own.
  const mine = (name: string) => new VmBuilder(name, arch).withMemory(320);

  scenario('a configuration booted once is restored the second time, and works like a booted guest', { suite: 'snapshot-start', arch, oneHost: "the snapshot cache is this machine's; a VM on another host boots for real" }, async (ctx) => {
    if (!runConfig().snapshotStart) return ctx.skip('snapshot start is off in this run (--fresh-boot): there is nothing to restore');
    // A disk image of the user's own (--image FILE) keys on the file, whatever overlay the probe names.
    const probe = mine('probe').withRootOverlay(join(ctx.artifacts.path, 'probe-overlay.qcow2'));
    new SnapshotCache().drop(snapshotKey(await probe.resolveSpec(), (await probe.resolveBinary()).version));
    const modes: string[] = [];
    for (const name of ['first', 'second']) {
      const vm = await ctx.vms.start(mine(name));
      await vm.waitReady();
      modes.push(vm.startMode);
      if (name === 'second') {
        // The saved guest had beaten and said READY; the restored one goes on from there
        // (--liveness agent: no heartbeat, the agent alone said it was ready).
        if (vm.heartbeat) {
          expect(vm.heartbeat.readyBoot).toBeUndefined();
          expect(vm.heartbeat.beats[0]!.n).toBeGreaterThan(1);
        }
        await (await vm.agent()).ping();
        const ram = await RamWorkload.start(vm, DEFAULT_WORKLOAD);
        await (vm.heartbeat ? vm.heartbeat.waitForBeats(50) : ram.waitForPass(vm, 1));
        await ram.check(vm);
      }
      await vm.stop();
    }
    // First boot: booted and saved; second: restored.
    expect(modes).toEqual(['booted+saved', 'restored']);
    return { extra: { modes } };
  });

  scenario('a restored source migrates with liveness and RAM checked', { suite: 'snapshot-start', arch, oneHost: "the snapshot cache is this machine's; a VM on another host boots for real" }, async (ctx) => {
    if (!runConfig().snapshotStart) return ctx.skip('snapshot start is off in this run (--fresh-boot): there is nothing to restore');
    const report = await runCase(ctx, { id: 'restored source', arch, source: { memoryMiB: 320 } });
    expect(report.run.src.startMode).toBe('restored');
    return caseRow(report);
  });

  scenario('--fresh-boot or withFreshBoot: a real boot, READY seen', { suite: 'snapshot-start', arch, oneHost: "the snapshot cache is this machine's; a VM on another host boots for real" }, async (ctx) => {
    const vm = await ctx.vms.start(mine('fresh').withFreshBoot());
    await vm.waitReady();
    expect(vm.startMode).toBe('booted');
    // READY from the heartbeat (--liveness agent: none; the agent answered).
    if (vm.heartbeat) expect(vm.heartbeat.readyBoot).toBeDefined();
  });
});
